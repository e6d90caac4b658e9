"""The enterprise table's column contract, declared once.

Every stage passes the enterprise table on as a :class:`pandas.DataFrame` indexed by
``uscc`` (统一社会信用代码; the index is named ``uscc`` and there is no ``uscc``
column), one row per accepted ledger row, in ledger order, and adds its own columns;
no stage drops a row or renames a column of an earlier one.

Columns by the stage that adds them:

``read_ledger`` (:data:`LEDGER_COLUMNS`)
    source_row (int, the spreadsheet row a person sees), name, address,
    lon_src / lat_src (float, as written, NaN when absent), crs (``wgs84``/``gcj02``/
    ``bd09``), township_declared, village, park_declared, industry (GB/T 4754 section
    letter or ""), staff, members, probationary (int), fixed_premises, above_scale
    (bool), org_type (:data:`ORG_TYPES` code), org_name, org_level (党组织类别 as written:
    党委 / 党总支 / 党支部, "" when not given), instructor (str, "" when none),
    investor_member (bool or NA).

``geocode`` / jurisdictions (:data:`LOCATION_COLUMNS`)
    lon, lat (float, WGS-84, NaN when unlocated), precision (:data:`PRECISIONS`),
    township, park ("" outside parks), unit (the park if any, else the township;
    "" when unlocated), unit_type (``park``/``township``/"").

``classify`` (:data:`CLASS_COLUMNS`)
    size_class (:data:`SIZE_CLASSES`), eligible (bool, E1 and located).

``partition`` and later (:data:`PLAN_COLUMNS`)
    grid_id, branch_id ("" when none), action (:data:`ACTIONS`), gaps (``;``-joined
    rule ids, sorted), advice (O2 advice in Chinese, "" when none).

Strings are plain ``str`` (never NaN: missing text is ""), counts are ``int64``.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "CLASS_COLUMNS",
    "CRS_CODES",
    "ENTERPRISE_OUTPUT_COLUMNS",
    "INDUSTRY_SECTIONS",
    "LEDGER_COLUMNS",
    "LOCATION_COLUMNS",
    "ORG_TYPES",
    "ORG_TYPE_LABELS",
    "PLAN_COLUMNS",
    "PRECISIONS",
    "REJECT_COLUMNS",
    "REJECT_FILE_COLUMNS",
    "SIZE_CLASSES",
]

LEDGER_COLUMNS: Final = (
    "source_row", "name", "address", "lon_src", "lat_src", "crs",
    "township_declared", "village", "park_declared", "industry", "staff",
    "fixed_premises", "above_scale", "members", "probationary", "org_type",
    "org_name", "org_level", "instructor", "investor_member",
)
LOCATION_COLUMNS: Final = ("lon", "lat", "precision", "township", "park", "unit", "unit_type")
CLASS_COLUMNS: Final = ("size_class", "eligible")
PLAN_COLUMNS: Final = ("grid_id", "branch_id", "action", "gaps", "advice")

#: Columns of ``enterprises.csv`` (DESIGN.md), in order.
ENTERPRISE_OUTPUT_COLUMNS: Final = (
    "uscc", "name", "township", "park", "unit", "lon", "lat", "precision", "size_class",
    "grid_id", "branch_id", "action", "action_cn", "gaps",
)
#: Columns of ``rejects.csv``: the reason in English (stable text) and in Chinese.
REJECT_COLUMNS: Final = ("source_row", "uscc", "reason", "reason_cn")
#: Columns of ``rejects.csv`` (DESIGN.md).
REJECT_FILE_COLUMNS: Final = tuple(dict.fromkeys((*REJECT_COLUMNS, "reason_cn")))

#: Organisation codes (组建方式) and their ledger labels.
ORG_TYPES: Final = ("own", "joint", "attached", "none")
ORG_TYPE_LABELS: Final = {"own": "单独建", "joint": "联合建", "attached": "挂靠建", "none": "未建"}

CRS_CODES: Final = ("wgs84", "gcj02", "bd09")

#: Geocoding precision of an enterprise's point.
PRECISIONS: Final = ("exact", "village", "township", "park", "unlocated")

#: S1 size classes (labels for the default bounds 6/50/100; the bounds are config).
SIZE_CLASSES: Final = ("<6", "6-49", "50-99", ">=100")

#: One action per enterprise (issue: organisation actions) and its Chinese label.
ACTION_LABELS: Final = {
    "keep": "保持现状",
    "build_branch": "单独组建党支部",
    "build_general_branch": "组建党总支",
    "build_committee": "组建基层党委",
    "join_branch": "加入联合党支部",
    "split_joint": "拆分联合党组织",
    "attach": "挂靠乡镇（村社区）党组织",
    "instructor": "选派党建工作指导员",
    "revoke_shell": "撤销空壳党支部",
    "not_gridded": "不入网格（属地兜底）",
}
ACTIONS: Final = tuple(ACTION_LABELS)

#: GB/T 4754-2017 sections (门类).
INDUSTRY_SECTIONS: Final = {
    "A": "农、林、牧、渔业", "B": "采矿业", "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业", "E": "建筑业", "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业", "I": "信息传输、软件和信息技术服务业",
    "J": "金融业", "K": "房地产业", "L": "租赁和商务服务业", "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业", "O": "居民服务、修理和其他服务业", "P": "教育",
    "Q": "卫生和社会工作", "R": "文化、体育和娱乐业", "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}
