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
    "GAP_LAYER_LABELS",
    "GRID_HEADERS",
    "LEADER_STATUS_LABELS",
    "NO_DATA_COLOR",
    "PRECISION_LABELS",
    "RATE_CLASS_COLORS",
    "UNIT_TYPE_LABELS",
    "rate_class",
    "rate_class_edges",
    "rate_class_labels",
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

#: Short names of the gap rules the maps draw as layers (G1, G2, G7, G8, G9).
GAP_LAYER_LABELS: Final = {"G1": "50人以上无党员", "G2": "100人以上未建党组织", "G7": "3名以上党员未单独组建",
                           "G8": "规上企业未单独组建", "G9": "远离党群服务中心"}

#: Colours of the coverage classes (maps and coverage.png), low to high; the last is 100 %.
RATE_CLASS_COLORS: Final = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")
NO_DATA_COLOR: Final = "#d9d9d9"


def rate_class_edges(target: float, full: float = 1.0) -> tuple[float, float, float, float]:
    """Lower edges of the coverage classes 2–5, anchored at the M4 targets.

    The classes are ``< target/3``, ``target/3 – 2·target/3``, ``2·target/3 – target``,
    ``target – < full`` and ``full`` (with the RULES.md defaults 90 % and 100 %: < 30 %,
    30–60 %, 60–90 %, 90–<100 %, 100 %).

    Examples
    --------
    >>> rate_class_edges(0.9)
    (0.3, 0.6, 0.9, 1.0)
    """
    return (round(target / 3, 6), round(2 * target / 3, 6), float(target), float(full))


def rate_class(rate: float | None, target: float, full: float = 1.0) -> int:
    """The class (0–4) of a coverage rate, -1 without enterprises (no rate).

    Examples
    --------
    >>> [rate_class(r, 0.9) for r in (0.0, 0.3, 0.59, 0.9, 0.999, 1.0, float("nan"))]
    [0, 1, 1, 3, 3, 4, -1]
    """
    if rate is None or rate != rate:
        return -1
    edges = rate_class_edges(target, full)
    k = 0
    for i, edge in enumerate(edges):
        if rate >= edge - 1e-12:
            k = i + 1
    return k


def rate_class_labels(target: float, full: float = 1.0) -> tuple[str, str, str, str, str]:
    """Legend texts of the five coverage classes.

    Examples
    --------
    >>> rate_class_labels(0.9)
    ('< 30%', '30%–60%', '60%–90%', '90%–<100%', '100%')
    """
    a, b, t, f = (f"{v * 100:.4g}%" for v in rate_class_edges(target, full))
    return (f"< {a}", f"{a}–{b}", f"{b}–{t}", f"{t}–<{f}", f)
