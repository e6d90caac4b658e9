"""Header and value normalisation of ledger (台账) cells.

Private helpers of :mod:`gridcover.ledger`. Each value parser takes one cell's text;
the ledger calls it once per *distinct* value of a column, so a 100,000-row ledger
costs one Python call per distinct value, not per cell.

Examples
--------
>>> header_field("乡镇 (街道)"), header_field("ＳＴＡＦＦ"), header_field("备注")
('township', 'staff', None)
>>> parse_count("２５人"), parse_count("25.0"), parse_count("-3"), parse_count("约25")
(25, 25, 'negative', 'not_number')
>>> parse_bool("√"), parse_bool("否"), parse_bool(""), parse_bool("maybe")
(True, False, None, 'unknown')
>>> parse_org_type("联建"), parse_crs("高德"), parse_industry("C1311"), parse_industry("34")
('joint', 'gcj02', 'C', 'C')
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time
from typing import Any, Final

import numpy as np
import pandas as pd

from .schema import INDUSTRY_SECTIONS

__all__ = [
    "FIELD_LABELS",
    "HEADER_ALIASES",
    "cell_text",
    "header_field",
    "normalize_header",
    "parse_bool",
    "parse_count",
    "parse_crs",
    "parse_industry",
    "parse_org_type",
]

# --- headers ----------------------------------------------------------------------------

#: Header names accepted for each canonical field (DESIGN.md ledger contract, plus
#: obvious variants). The canonical English name is always accepted too.
HEADER_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "uscc": ("统一社会信用代码", "社会信用代码", "信用代码", "统一信用代码"),
    "name": ("企业名称", "单位名称", "企业(单位)名称", "名称"),
    "address": ("地址", "经营地址", "详细地址", "企业地址", "单位地址", "经营场所地址", "注册地址", "address"),
    "lon": ("经度", "lng", "longitude", "x经度"),
    "lat": ("纬度", "latitude", "y纬度"),
    "crs": ("坐标系", "坐标系统", "坐标类型"),
    "township": ("乡镇(街道)", "所属乡镇", "街道", "乡镇", "乡镇街道", "所属乡镇(街道)", "所属街道",
                 "乡镇(街道、园区)"),
    "village": ("村(社区)", "所属村(社区)", "村社区", "村(居)", "社区"),
    "park": ("所属园区", "园区"),
    "industry": ("行业", "行业门类", "行业代码", "所属行业", "行业类别", "行业分类"),
    "staff": ("职工人数", "从业人数", "员工人数", "职工数", "从业人员数", "从业人员"),
    "fixed_premises": ("有无固定经营场所", "固定经营场所", "是否有固定经营场所"),
    "above_scale": ("是否规上企业", "规上", "规上企业", "是否规上", "是否规模以上企业"),
    "members": ("正式党员数", "正式党员", "正式党员人数"),
    "probationary": ("预备党员数", "预备党员", "预备党员人数"),
    "org_type": ("党组织组建方式", "组建方式", "党组织组建形式", "组建形式", "组建情况"),
    "org_name": ("所在党组织", "党组织名称", "所在党组织名称"),
    "org_level": ("党组织类别", "党组织层级", "党组织级别", "组织类别"),
    "instructor": ("党建工作指导员", "指导员", "党建指导员"),
    "investor_member": ("出资人是否党员", "出资人是否为党员", "出资人党员"),
}

#: The primary (Chinese) header of each field, for messages.
FIELD_LABELS: Final[dict[str, str]] = {f: names[0] for f, names in HEADER_ALIASES.items()}

_BRACKETS = str.maketrans({"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")",
                           "{": "(", "}": ")", "<": "(", ">": ")", "〈": "(", "〉": ")"})
_SPACE = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))
_MARKS = re.compile(r"^[*※★]+|[*※★:：]+$")
_TRAILING_GROUP = re.compile(r"\([^()]*\)$")


def normalize_header(text: Any) -> str:
    """Comparable form of a header cell: NFKC, no whitespace, lower case, ``()`` brackets.

    >>> normalize_header(" 乡镇（街道） "), normalize_header("Staff\\n"), normalize_header("*企业名称：")
    ('乡镇(街道)', 'staff', '企业名称')
    """
    key = unicodedata.normalize("NFKC", str(text)).translate(_BRACKETS)
    key = _SPACE.sub("", key).lower()
    return _MARKS.sub("", key.translate(_INVISIBLE))


_HEADER_INDEX: Final[dict[str, str]] = {}
for _field, _names in HEADER_ALIASES.items():
    for _n in (_field, *_names):
        _HEADER_INDEX.setdefault(normalize_header(_n), _field)


def header_field(text: Any) -> str | None:
    """The canonical field a header cell names, or ``None``.

    Matches the whole normalised cell first, then without a trailing bracketed unit
    (``职工人数（人）`` → staff).
    """
    if text is None:
        return None
    key = normalize_header(text)
    if not key:
        return None
    found = _HEADER_INDEX.get(key)
    if found is None:
        stripped = _TRAILING_GROUP.sub("", key)
        if stripped and stripped != key:
            found = _HEADER_INDEX.get(stripped)
    return found


# --- cells ------------------------------------------------------------------------------

def cell_text(value: Any) -> str:
    """Text of one spreadsheet cell as a person reads it ("" for an empty cell).

    >>> cell_text(25.0), cell_text(None), cell_text(119.30125), cell_text(True)
    ('25', '', '119.30125', 'true')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return ""
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return repr(f)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if value is pd.NA or value is pd.NaT:
        return ""
    return str(value)


def _key(value: str) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", value)).lower()


# --- counts -----------------------------------------------------------------------------

#: Largest count :func:`parse_count` returns (fits a 64-bit integer with room for sums).
COUNT_LIMIT: Final = 2**62 - 1
_COUNT = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:人|名|个|位)?$")


def parse_count(value: str) -> int | str | None:
    """A head count: an int, ``None`` when blank, or a problem code.

    Problem codes: ``"not_number"``, ``"not_whole"``, ``"negative"``, ``"too_large"``
    (more than :data:`COUNT_LIMIT`, e.g. 2**63 or a 30-digit number: read exactly, never
    through a float). Full-width digits, a trailing 人/名, thousands separators and
    ``25.0`` are accepted.

    >>> parse_count("9223372036854775808"), parse_count("1" * 30), parse_count("4611686018427387903")
    ('too_large', 'too_large', 4611686018427387903)
    """
    key = _key(value).replace(",", "")
    if not key:
        return None
    m = _COUNT.match(key)
    if m is None:
        return "not_number"
    number = m.group(1)
    negative = number.startswith("-")
    whole, _, fraction = number.lstrip("+-").partition(".")
    if fraction.strip("0"):
        return "not_whole"
    whole = whole.lstrip("0")
    if len(whole) > len(str(COUNT_LIMIT)):
        return "negative" if negative else "too_large"
    count = int(whole or "0")
    if negative and count:
        return "negative"
    if count > COUNT_LIMIT:
        return "too_large"
    return count


# --- booleans ---------------------------------------------------------------------------

_TRUE: Final = frozenset({"是", "有", "y", "yes", "true", "t", "1", "1.0", "√", "✓", "✔", "对", "规上",
                          "是的", "有固定经营场所"})
_FALSE: Final = frozenset({"否", "无", "n", "no", "false", "f", "0", "0.0", "×", "✗", "✘", "没有",
                           "不是", "规下", "无固定经营场所"})


def parse_bool(value: str) -> bool | str | None:
    """是/否, Y/N, yes/no, true/false, 1/0, 有/无, √/× → bool; blank → ``None``;
    anything else → ``"unknown"``."""
    key = _key(value)
    if not key:
        return None
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return "unknown"


# --- organisation type ------------------------------------------------------------------

_ORG_EXACT: Final = {
    "own": "own", "单独建": "own", "单建": "own", "单独组建": "own", "独立组建": "own", "独建": "own",
    "单独": "own", "独立建": "own",
    "joint": "joint", "联合建": "joint", "联建": "joint", "联合组建": "joint", "联合": "joint",
    "attached": "attached", "挂靠建": "attached", "挂靠": "attached", "挂靠组建": "attached",
    "none": "none", "未建": "none", "无": "none", "未组建": "none", "未建立": "none", "没有": "none",
    "否": "none", "暂无": "none", "未成立": "none", "-": "none", "—": "none", "/": "none",
    "未建党组织": "none", "无党组织": "none",
}


def parse_org_type(value: str) -> str | None:
    """单独建/联合建/挂靠建/未建 (and variants such as 单建, 联建, 挂靠, 无) → code;
    blank → ``None``; unknown → ``"unknown"``."""
    key = _key(value)
    if not key:
        return None
    found = _ORG_EXACT.get(key)
    if found is not None:
        return found
    for part, code in (("联合", "joint"), ("挂靠", "attached"), ("单独", "own"), ("独立", "own")):
        if part in key:
            return code
    return "unknown"


# --- coordinate systems -----------------------------------------------------------------

_CRS: Final = {
    "wgs84": "wgs84", "gps": "wgs84", "cgcs2000": "wgs84", "epsg4326": "wgs84", "4326": "wgs84",
    "epsg4490": "wgs84", "4490": "wgs84", "天地图": "wgs84", "2000国家大地": "wgs84", "国家2000": "wgs84",
    "gcj02": "gcj02", "高德": "gcj02", "火星": "gcj02", "国测局": "gcj02", "腾讯": "gcj02",
    "amap": "gcj02", "gaode": "gcj02", "gcj": "gcj02",
    "bd09": "bd09", "bd09ll": "bd09", "百度": "bd09", "baidu": "bd09",
}
_CRS_PUNCT = re.compile(r"[\s\-_:：.]")
_CRS_SUFFIX = re.compile(r"(坐标系统|坐标系|坐标|地图)$")


def parse_crs(value: str) -> str | None:
    """wgs84/WGS-84/GPS/CGCS2000, gcj02/GCJ-02/高德/火星, bd09/BD-09/百度 → code;
    blank → ``None``; unknown → ``"unknown"``."""
    key = _CRS_PUNCT.sub("", unicodedata.normalize("NFKC", value).lower())
    if not key:
        return None
    found = _CRS.get(key)
    if found is None:
        found = _CRS.get(_CRS_SUFFIX.sub("", key))
    return found or "unknown"


# --- industry (GB/T 4754-2017) ----------------------------------------------------------

#: 2-digit divisions (大类) of each section (门类).
_DIVISIONS: Final = {
    "A": (1, 5), "B": (6, 12), "C": (13, 43), "D": (44, 46), "E": (47, 50), "F": (51, 52),
    "G": (53, 60), "H": (61, 62), "I": (63, 65), "J": (66, 69), "K": (70, 70), "L": (71, 72),
    "M": (73, 75), "N": (76, 79), "O": (80, 82), "P": (83, 83), "Q": (84, 85), "R": (86, 90),
    "S": (91, 97), "T": (98, 98),
}
_DIVISION_SECTION: Final = {d: s for s, (lo, hi) in _DIVISIONS.items() for d in range(lo, hi + 1)}
_NAME_PUNCT = re.compile(r"[\s、,，;；.。·()]")


def _name_key(text: str) -> str:
    return _NAME_PUNCT.sub("", unicodedata.normalize("NFKC", text))


_SECTION_NAMES: Final = {_name_key(n): s for s, n in INDUSTRY_SECTIONS.items()}
_SECTION_NAMES.update({_name_key(k): v for k, v in {
    "农林牧渔": "A", "农业": "A", "林业": "A", "畜牧业": "A", "渔业": "A", "采矿": "B",
    "制造": "C", "工业": "C", "电力": "D", "燃气": "D", "建筑": "E", "建筑施工": "E",
    "批发零售": "F", "批发零售业": "F", "批发": "F", "零售": "F", "商贸": "F", "交通运输": "G",
    "物流": "G", "仓储": "G", "运输": "G", "住宿餐饮": "H", "餐饮": "H", "餐饮业": "H", "住宿": "H",
    "信息技术": "I", "软件": "I", "互联网": "I", "信息传输": "I", "金融": "J", "房地产": "K",
    "租赁和商务服务": "L", "商务服务": "L", "科技服务": "M", "科学研究": "M", "技术服务": "M",
    "环境": "N", "公共设施管理": "N", "居民服务": "O", "修理": "O", "教育": "P", "卫生": "Q",
    "医疗": "Q", "社会工作": "Q", "文化": "R", "体育": "R", "娱乐": "R", "文化体育娱乐": "R",
}.items()})
_CODE = re.compile(r"^([A-T])?(\d{1,4})$")
_LETTER_NAME = re.compile(r"^([A-T])(?:[\s\-—:：.、)]+|(?=[\u4e00-\u9fff]))(.*)$")


def parse_industry(value: str) -> str | None:
    """GB/T 4754 section letter, code (letter + up to 4 digits, or a 2–4 digit code
    whose first two digits are the 大类) or section name → letter; blank → ``None``;
    unknown → ``"unknown"``; a letter whose digits belong to another section →
    ``"mismatch"``."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", value)).upper()
    if not text:
        return None
    if len(text) == 1 and text in _DIVISIONS:
        return text
    m = _CODE.match(text)
    if m is not None:
        letter, digits = m.group(1), m.group(2)
        division = int(digits.zfill(2)[:2])
        section = _DIVISION_SECTION.get(division)
        if letter is None:
            return section or "unknown"
        if section is not None and section != letter:
            return "mismatch"
        return letter
    m = _LETTER_NAME.match(text)
    if m is not None:
        rest = _name_key(m.group(2))
        named = _SECTION_NAMES.get(rest)
        if not rest or named is None or named == m.group(1):
            return m.group(1)
        return "mismatch"
    key = _name_key(text)
    found = _SECTION_NAMES.get(key)
    if found is None and key.endswith("业"):
        found = _SECTION_NAMES.get(key[:-1])
    return found or "unknown"
