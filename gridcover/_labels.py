"""The Chinese display vocabulary of gridcover's reports and maps (one place).

Excel (:mod:`gridcover.report`), the GIS files (:mod:`gridcover.gis`) and the maps
(:mod:`gridcover.maps`) take their headers and value labels from here, so a planner
reads the same word for the same thing everywhere.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BRANCH_STATUS_LABELS",
    "CRS_LABELS",
    "ENTERPRISE_HEADERS",
    "GRID_HEADERS",
    "LEADER_STATUS_LABELS",
    "PRECISION_LABELS",
    "UNIT_TYPE_LABELS",
]

#: Chinese headers of the enterprise table (企业台账), in sheet order.
ENTERPRISE_HEADERS: Final = {
    "uscc": "统一社会信用代码", "name": "企业名称", "unit": "管理单元", "unit_type": "单元类型",
    "township": "乡镇（街道）", "park": "园区", "village": "村（社区）", "address": "地址",
    "industry": "行业门类", "staff": "职工人数", "size_class": "规模", "above_scale": "是否规上企业",
    "members": "正式党员数", "probationary": "预备党员数", "org_type": "党组织组建方式",
    "org_name": "所在党组织", "instructor": "党建工作指导员", "investor_member": "出资人是否党员",
    "fixed_premises": "有无固定经营场所", "eligible": "是否入网格", "grid_id": "网格编号",
    "branch_id": "联合党支部编号", "action": "规划措施", "gaps": "问题", "advice": "建议", "lon": "经度", "lat": "纬度",
    "precision": "定位精度", "crs": "原始坐标系", "lon_src": "原始经度", "lat_src": "原始纬度",
    "township_declared": "所属乡镇（台账）", "park_declared": "所属园区（台账）", "source_row": "台账行号",
}
PRECISION_LABELS: Final = {"exact": "精确坐标", "village": "村（社区）", "township": "乡镇（街道）",
                           "park": "园区", "unlocated": "未定位"}
UNIT_TYPE_LABELS: Final = {"park": "园区", "township": "乡镇（街道）", "total": "全域"}
CRS_LABELS: Final = {"wgs84": "WGS-84", "gcj02": "GCJ-02（高德、腾讯）", "bd09": "BD-09（百度）"}
#: Status of a joint branch in a re-plan (new/kept/split), in legend order.
BRANCH_STATUS_LABELS: Final = {"new": "新建", "kept": "保留", "split": "拆分重组"}
LEADER_STATUS_LABELS: Final = {"member": "党员企业担任", "instructor post to fill": "待选派党建工作指导员"}

GRID_HEADERS: Final = {"grid_id": "网格编号", "unit": "管理单元", "unit_type": "单元类型",
                       "n_enterprises": "企业数", "staff": "职工人数", "members": "正式党员数",
                       "leader_uscc": "网格长单位代码", "leader_name": "网格长单位",
                       "leader_status": "网格长状态"}
