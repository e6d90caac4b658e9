"""Reports for planners: the Excel workbook and a printed map (GIS files: :mod:`gridcover.gis`).

* :func:`write_excel` — ``plan.xlsx`` with Chinese sheets and headers (汇总, 企业台账, 网格,
  联合党支部, 网格长, 指导员, 问题清单, 经费测算, 未入库), frozen header rows, number and
  percent formats, fixed document properties (same plan → same bytes).
* :func:`write_geopackage`, :func:`write_shapefiles` — re-exported from
  :mod:`gridcover.gis`.
* :func:`coverage_png` — a static choropleth of organisational coverage after the plan,
  by unit, with a CJK font, for printed reports.

Every writer writes into a temporary file in the target's folder and renames it over
the target (:func:`gridcover._io.atomic_file`), so a reader never sees a half-written
file. Every text cell of the workbook is a typed string, never a formula.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ._io import atomic_file
from ._labels import (
    BRANCH_STATUS_LABELS,
    CRS_LABELS,
    ENTERPRISE_HEADERS,
    GRID_HEADERS,
    LEADER_STATUS_LABELS,
    PRECISION_LABELS,
    UNIT_TYPE_LABELS,
)
from .coverage import SCOPE_LABELS, By, Scope, measured
from .gaps import RULE_IDS, rule_text
from .gis import FIXED_TIMESTAMP, _as_layer, _is_boolish, write_geopackage, write_shapefiles
from .plan import Plan
from .schema import ACTION_LABELS, ACTIONS, INDUSTRY_SECTIONS, ORG_TYPE_LABELS

__all__ = [
    "ENTERPRISE_HEADERS",
    "SHEETS",
    "SUMMARY_SHEETS",
    "coverage_png",
    "write_excel",
    "write_geopackage",
    "write_unit_books",
    "write_shapefiles",
]

logger = logging.getLogger(__name__)

#: Sheets of ``plan.xlsx``, in order.
SHEETS: Final = ("汇总", "企业台账", "网格", "联合党支部", "网格长", "指导员", "问题清单", "经费测算", "未入库",
                  "达标路径", "发展党员", "服务中心选址", "分片包干")
#: Headers of the 达标路径 sheet (targets.csv in Chinese).
TARGET_HEADERS: Final = {"scope": "口径", "unit_type": "单元类型", "unit": "管理单元", "year": "目标年份",
                         "target": "目标覆盖率", "org_rate_now": "现覆盖率", "org_rate_plan": "规划后覆盖率",
                         "ceiling_base": "现行规则上限", "L1": "+L1龙头企业带建", "L2": "+L2区域兜底",
                         "L3": "+L3挂靠单位牵头", "L4": "+L4补足联合党组织空位", "L5": "+L5行业优先",
                         "gap_after_levers": "用尽措施后差距", "members_needed": "需发展正式党员数"}
MEMBER_HEADERS: Final = {"uscc": "统一社会信用代码", "grid_id": "网格编号", "new_members": "需发展正式党员数",
                         "reason": "说明"}
SITE_HEADERS: Final = {"rank": "序号", "name": "选址", "lon": "经度", "lat": "纬度", "source": "来源",
                       "new_enterprises_covered": "新覆盖企业数", "new_staff_covered": "新覆盖职工数"}

BRANCH_HEADERS: Final = {"branch_id": "联合党支部编号", "grid_id": "网格编号", "unit": "管理单元",
                         "status": "状态", "n_units": "覆盖单位数", "members": "正式党员数",
                         "max_distance_m": "单位最大间距（米）", "approx_points": "近似定位单位数",
                         "lever": "组建方式（措施）", "uscc": "成员单位代码",
                         "names": "成员单位"}
LEADER_HEADERS: Final = {"grid_id": "网格编号", "rank": "排序", "uscc": "统一社会信用代码",
                         "name": "企业名称", "reason": "推荐理由"}
INSTRUCTOR_HEADERS: Final = {"uscc": "统一社会信用代码", "name": "企业名称", "unit": "管理单元",
                             "instructor": "党建工作指导员", "distance_m": "距离（米）", "source": "来源"}
GAP_HEADERS: Final = {"uscc": "统一社会信用代码", "name": "企业名称", "unit": "管理单元",
                      "rule_id": "规则", "rule": "规则内容", "message": "问题说明"}
REJECT_HEADERS: Final = {"source_row": "台账行号", "uscc": "统一社会信用代码", "reason_cn": "未入库原因",
                         "reason": "原因代码（英文）"}
#: Columns of the compact print view of 企业台账 (two enterprises a printed row).
PRINT_ENTERPRISE_COLUMNS: Final = ("序号", "企业名称", "管理单元", "职工", "党员", "规划措施", "问题")
#: Characters of an enterprise name in the print view (longer names are cut with …).
_PRINT_NAME_CHARS: Final = 14
COVERAGE_HEADERS: Final = {
    "unit_type": "单元类型", "unit": "单元", "park": "园区", "township": "乡镇（街道）",
    "industry": "行业门类", "size_class": "规模", "enterprises": "企业数",
    "org_rate_before": "党组织覆盖率（规划前）", "org_rate_after": "党组织覆盖率（规划后）",
    "work_rate_before": "工作覆盖率（规划前）", "work_rate_after": "工作覆盖率（规划后）",
    "backstop_rate_after": "仅属地兜底（M5，规划后）", "instructors_needed": "需选派指导员的企业",
    "instructors_short": "其中尚无指导员", "above_scale": "规上企业数",
    "m3_rate_before": "规上企业组建率（规划前）", "m3_rate_after": "规上企业组建率（规划后）",
}
FUNDING_HEADERS: Final = {
    "unit_type": "单元类型", "unit": "管理单元",
    **{f"{k}_{p}": f"{v}（{pl}）" for p, pl in (("before", "规划前"), ("after", "规划后")) for k, v in (
        ("committees", "基层党委"), ("general_branches", "党总支"), ("branches", "单独党支部"),
        ("joint_branches", "联合党支部"), ("secretaries", "书记"), ("formal_members", "正式党员"),
        ("amount_organisations", "组织经费（元）"), ("amount_secretaries", "书记补贴（元）"),
        ("amount_members", "党员经费（元）"), ("amount_total", "合计（元）"))},
    "amount_change": "增减（元）",
}

# --- table preparation ------------------------------------------------------------------


def _yes_no(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return "是" if bool(value) else "否"


def _names(plan: Plan) -> pd.Series:
    ent = plan.enterprises
    if "name" in ent:
        return ent["name"].fillna("").astype(str).set_axis(ent.index.astype(str))
    return pd.Series(dtype="str")


def _units(plan: Plan) -> pd.Series:
    ent = plan.enterprises
    if "unit" in ent:
        return ent["unit"].fillna("").astype(str).set_axis(ent.index.astype(str))
    return pd.Series(dtype="str")


def _industry_label(code: str) -> str:
    return f"{code} {INDUSTRY_SECTIONS[code]}" if code in INDUSTRY_SECTIONS else code


def _enterprise_sheet(plan: Plan) -> pd.DataFrame:
    ent = plan.enterprises.reset_index()
    if "uscc" not in ent:
        ent = ent.rename(columns={ent.columns[0]: "uscc"})
    known = [c for c in ENTERPRISE_HEADERS if c in ent]
    extra = [c for c in ent.columns if c not in ENTERPRISE_HEADERS]
    df = ent[known + extra].copy()
    labels = {"org_type": ORG_TYPE_LABELS, "action": ACTION_LABELS, "precision": PRECISION_LABELS,
              "unit_type": UNIT_TYPE_LABELS, "crs": CRS_LABELS}
    for col, mapping in labels.items():
        if col in df:
            text = df[col].fillna("").astype(str)
            df[col] = text.map(mapping).fillna(text)
    if "industry" in df:
        df["industry"] = df["industry"].fillna("").astype(str).map(_industry_label)
    for col in df.columns:
        if _is_boolish(df[col]):
            df[col] = df[col].astype(object).map(_yes_no)
    return df.rename(columns=ENTERPRISE_HEADERS)


def _grid_sheet(plan: Plan) -> pd.DataFrame:
    grids = pd.DataFrame(plan.grids).drop(columns=[c for c in ("geometry",) if c in plan.grids])
    if "leader_uscc" in grids:
        pos = list(grids.columns).index("leader_uscc") + 1
        grids.insert(pos, "leader_name", grids["leader_uscc"].fillna("").astype(str).map(_names(plan)).fillna(""))
    if "leader_status" in grids:
        text = grids["leader_status"].fillna("").astype(str)
        grids["leader_status"] = text.map(LEADER_STATUS_LABELS).fillna(text)
    if "unit_type" in grids:
        text = grids["unit_type"].fillna("").astype(str)
        grids["unit_type"] = text.map(UNIT_TYPE_LABELS).fillna(text)
    return _ordered(grids, GRID_HEADERS)


def _branch_sheet(plan: Plan) -> pd.DataFrame:
    br = plan.branches.copy()
    if "uscc" in br:
        names = _names(plan)
        br["names"] = br["uscc"].fillna("").astype(str).map(
            lambda s: "、".join(names.get(u, u) for u in s.split(";") if u))
    if "status" in br:
        text = br["status"].fillna("").astype(str)
        br["status"] = text.map(BRANCH_STATUS_LABELS).fillna(text)
    return _ordered(br, BRANCH_HEADERS)


def _instructor_sheet(plan: Plan) -> pd.DataFrame:
    ent = plan.enterprises
    names, units = _names(plan), _units(plan)
    parts = []
    if "instructor" in ent:
        have = ent["instructor"].fillna("").astype(str).str.strip()
        have = have[have.ne("")]
        parts.append(pd.DataFrame({"uscc": have.index.astype(str), "instructor": have.to_numpy(),
                                   "distance_m": np.nan, "source": "台账已有"}))
    assigned = plan.instructors
    if assigned is not None and len(assigned) and "uscc" in assigned:
        a = assigned.copy()
        a["uscc"] = a["uscc"].astype(str)
        named = a["instructor"].fillna("").astype(str).str.strip().ne("") if "instructor" in a else False
        a["source"] = np.where(named, "规划选派", "待选派（名册不足，缺额）")
        parts.append(a[[c for c in ("uscc", "instructor", "distance_m", "source") if c in a]])
    frames = [p for p in parts if len(p)]
    if not frames:
        return _ordered(pd.DataFrame(columns=list(INSTRUCTOR_HEADERS)), INSTRUCTOR_HEADERS)
    df = pd.concat(frames, ignore_index=True)
    df["name"] = df["uscc"].map(names).fillna("")
    df["unit"] = df["uscc"].map(units).fillna("")
    return _ordered(df, INSTRUCTOR_HEADERS)


def _gap_sheet(plan: Plan) -> pd.DataFrame:
    gaps = plan.gaps.copy() if plan.gaps is not None else pd.DataFrame()
    if len(gaps) and "uscc" in gaps:
        gaps["uscc"] = gaps["uscc"].astype(str)
        gaps["name"] = gaps["uscc"].map(_names(plan)).fillna("")
        gaps["unit"] = gaps["uscc"].map(_units(plan)).fillna("")
    if len(gaps) and "rule_id" in gaps:
        texts = {rid: rule_text(rid, plan.config) for rid in RULE_IDS}
        gaps["rule"] = gaps["rule_id"].astype(str).map(texts).fillna("")
    return _ordered(gaps, GAP_HEADERS)


def _reject_sheet(plan: Plan) -> pd.DataFrame:
    """未入库: the Chinese reason first (``reason_cn``, else the reason translated), the code after."""
    from ._messages import reason_cn

    rejects = plan.rejects.copy() if plan.rejects is not None else pd.DataFrame()
    if len(rejects) and "reason" in rejects:
        given = (rejects["reason_cn"].astype("string").fillna("").str.strip() if "reason_cn" in rejects
                 else pd.Series("", index=rejects.index))
        rejects["reason_cn"] = given.where(given.ne(""), rejects["reason"].fillna("").astype(str).map(reason_cn))
        rejects = rejects.sort_values("source_row", kind="stable")
    return _ordered(rejects, REJECT_HEADERS)


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _enterprise_print_view(plan: Plan) -> pd.DataFrame:
    """企业台账 for print: every enterprise, two a row (1 | 2, 3 | 4, …), the essential columns."""
    ent = plan.enterprises

    def col(name: str) -> pd.Series:
        return (ent[name].fillna("").astype(str) if name in ent else pd.Series("", index=ent.index)).reset_index(drop=True)

    action = col("action")
    one = pd.DataFrame({
        "序号": np.arange(1, len(ent) + 1),
        "企业名称": col("name").map(lambda t: _cut(t, _PRINT_NAME_CHARS)),
        "管理单元": col("unit"),
        "职工": pd.to_numeric(col("staff"), errors="coerce"),
        "党员": pd.to_numeric(col("members"), errors="coerce"),
        "规划措施": action.map(ACTION_LABELS).fillna(action),
        "问题": col("gaps").str.replace(";", " ", regex=False),
    })
    left = one.iloc[0::2].reset_index(drop=True)
    right = one.iloc[1::2].reset_index(drop=True).reindex(range(len(left)))
    right.columns = [f"{c} " for c in one.columns]  # the same header, a distinct column
    return pd.concat([left, right], axis=1)


_PRINT_KINDS: Final = {**{c: "small" for c in PRINT_ENTERPRISE_COLUMNS}, "序号": "small_int", "职工": "small_int",
                       "党员": "small_int", "序号 ": "small_sep", "职工 ": "small_int", "党员 ": "small_int"}


def _gap_print_view(plan: Plan) -> pd.DataFrame:
    """问题清单 for print: the number of enterprises per unit and rule (the list stays beside it)."""
    gaps = plan.gaps
    if gaps is None or not len(gaps) or "rule_id" not in gaps:
        return pd.DataFrame(columns=["管理单元", *RULE_IDS, "合计"])
    units = gaps["uscc"].astype(str).map(_units(plan)).fillna("")
    table = pd.crosstab(units.replace("", "（未定位）"), gaps["rule_id"].astype(str))
    table = table.reindex(columns=[r for r in RULE_IDS if r in table.columns], fill_value=0)
    table["合计"] = table.sum(axis=1)
    table.loc["合计"] = table.sum(axis=0)
    return table.rename_axis("管理单元").reset_index()


def _leader_print_view(plan: Plan) -> pd.DataFrame:
    """网格长 for print: the first-ranked candidate of each grid."""
    leaders = plan.leaders
    if leaders is None or not len(leaders) or "rank" not in leaders:
        return pd.DataFrame(columns=["网格编号", "企业名称", "推荐理由"])
    first = leaders[pd.to_numeric(leaders["rank"], errors="coerce").eq(1)]
    return pd.DataFrame({"网格编号": first.get("grid_id", ""), "企业名称": first.get("name", ""),
                         "推荐理由": first.get("reason", "")}).reset_index(drop=True)


def _ordered(df: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    cols = [c for c in headers if c in df] + [c for c in df.columns if c not in headers]
    if not cols:
        cols = list(headers)
        df = pd.DataFrame(columns=cols)
    return df[cols].rename(columns=headers).reset_index(drop=True)


# --- xlsx writing -----------------------------------------------------------------------


def _display_width(value: Any) -> int:
    text = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


class _Book:
    """xlsxwriter workbook with the report's formats."""

    def __init__(self, path: Path, *, stream: bool = False) -> None:
        import xlsxwriter

        # ``stream``: xlsxwriter's constant memory, each row goes to disk as it is written
        # (rows in order, strings inline), so a sheet of any length holds one row in memory;
        # it costs about a quarter more time than shared strings, so only large books stream
        self.wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                                  "strings_to_urls": False, "constant_memory": stream})
        self.wb.set_properties({"title": "非公企业党建网格化规划", "subject": "gridcover plan",
                                "author": "gridcover", "company": "", "comments": "",
                                "created": FIXED_TIMESTAMP})
        base = {"font_name": "等线", "font_size": 10, "valign": "vcenter"}
        f = self.wb.add_format
        self.fmt = {
            "header": f({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True,
                         "align": "center"}),
            "title": f({**base, "bold": True, "font_size": 16}),
            "section": f({**base, "bold": True, "font_size": 12, "font_color": "#1F4E78"}),
            "note": f({**base, "italic": True, "font_color": "#595959"}),
            "text": f(base),
            "label": f({**base, "bold": True}),
            "int": f({**base, "num_format": "#,##0"}),
            "float": f({**base, "num_format": "#,##0.0"}),
            "coord": f({**base, "num_format": "0.000000"}),
            "pct": f({**base, "num_format": "0.0%"}),
            "money": f({**base, "num_format": "#,##0"}),
            "met": f({**base, "font_color": "#006100", "bg_color": "#C6EFCE"}),
            "unmet": f({**base, "font_color": "#9C0006", "bg_color": "#FFC7CE"}),
            "small": f({**base, "font_size": 8}),
            "small_int": f({**base, "font_size": 8, "num_format": "#,##0"}),
            "small_sep": f({**base, "font_size": 8, "left": 2}),
        }

    def close(self) -> None:
        self.wb.close()

    def abandon(self) -> None:
        """Close the sheets' row files of a workbook that will not be written (an error
        while filling it: constant memory keeps one open file per sheet)."""
        for ws in self.wb.worksheets():
            fh = getattr(ws, "row_data_fh", None)
            if fh is not None and not fh.closed:
                fh.close()

    def sheet(self, name: str) -> Any:
        """A sheet with the print layout: A4 landscape, one page wide, narrow margins,
        the sheet name above and the page number below (the header row is repeated and
        the panes frozen by the writer of each sheet)."""
        ws = self.wb.add_worksheet(name)
        ws.set_paper(9)  # A4
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.55, bottom=0.5)
        ws.set_header("&C&A", {"margin": 0.25})
        ws.set_footer("&C第 &P 页，共 &N 页", {"margin": 0.25})
        return ws

    def cell(self, ws: Any, row: int, col: int, value: Any, kind: str = "text") -> None:
        fmt = self.fmt[kind] if kind in self.fmt else self.fmt["text"]
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, bool | np.bool_):
            ws.write_string(row, col, "是" if value else "否", fmt)
        elif isinstance(value, int | float | np.integer | np.floating):
            ws.write_number(row, col, float(value), fmt)
        else:
            ws.write_string(row, col, str(value), fmt)

    def table(self, ws: Any, df: pd.DataFrame, *, row: int = 0, kinds: dict[str, str] | None = None,
              filter_: bool = True, header_height: float | None = None) -> int:
        """Write a header row and the data at ``row``; return the next free row."""
        kinds = kinds or {}
        cols = list(df.columns)
        if header_height is not None:
            ws.set_row(row, header_height)
        self.rows(ws, row, [(0, df, [kinds.get(c) or _kind(df[c]) for c in cols])])
        if filter_ and cols:
            ws.autofilter(row, 0, row + len(df), len(cols) - 1)
        return row + len(df) + 1

    def rows(self, ws: Any, row: int, blocks: list[tuple[int, pd.DataFrame, list[str]]],
             extra: dict[int, tuple[int, Any, str]] | None = None) -> None:
        """Write tables side by side, row by row (the constant-memory order): each block
        is (first column, table, kind of each column); the headers at ``row``, the data
        below; ``extra`` adds one cell (column, value, kind) to a row below ``row``. A cell
        is written as :meth:`cell` writes it."""
        extra = extra or {}
        columns: list[tuple[int, Callable[[int, int, Any], Any], list[Any]]] = []
        for first, df, kinds in blocks:
            for j, c in enumerate(df.columns):
                ws.write_string(row, first + j, str(c), self.fmt["header"])
                columns.append((first + j, *self._column(ws, df.iloc[:, j], kinds[j])))
        n = max([len(df) for _, df, _ in blocks] + [r - row for r in extra])
        for i in range(n):
            r = row + 1 + i
            for col, write, values in columns:
                if i < len(values):
                    write(r, col, values[i])
            if r in extra:  # the row's cells are kept until the next row starts: any column order
                c, value, kind = extra[r]
                self.cell(ws, r, c, value, kind)

    def _column(self, ws: Any, s: pd.Series, kind: str) -> tuple[Callable[[int, int, Any], Any], list[Any]]:
        """The writer and values of one column: numbers and yes/no of a typed column are
        converted once; other columns go cell by cell through :meth:`cell`."""
        fmt = self.fmt[kind] if kind in self.fmt else self.fmt["text"]
        if pd.api.types.is_bool_dtype(s) and not s.isna().any():
            def yes_no(r: int, c: int, v: str) -> None:
                ws.write_string(r, c, v, fmt)

            return yes_no, np.where(s.to_numpy(dtype=bool), "是", "否").tolist()
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            def number(r: int, c: int, v: float) -> None:
                if v != v:  # NaN: blank
                    ws.write_blank(r, c, None, fmt)
                else:
                    ws.write_number(r, c, v, fmt)

            return number, s.astype("float64").tolist()

        def any_cell(r: int, c: int, v: Any) -> None:
            if type(v) is str:
                ws.write_string(r, c, v, fmt)
            else:
                self.cell(ws, r, c, v, kind)

        return any_cell, s.to_numpy(dtype=object).tolist()

    def widths(self, ws: Any, df: pd.DataFrame, *, minimum: int = 6, maximum: int = 50, first_col: int = 0,
               scale: float = 1.0) -> None:
        """Column widths from the header and the first 2,000 values (CJK characters count 2;
        ``scale`` 0.8 for the 8-point print views)."""
        sample = df.head(2000).to_numpy(dtype=object)
        for j, c in enumerate(df.columns):
            widths = [_display_width(c)]
            widths += [_display_width(v) for v in sample[:, j]
                       if v is not None and v is not pd.NA and not (isinstance(v, float) and math.isnan(v))]
            ws.set_column(first_col + j, first_col + j, min(max(max(widths) * scale + 1.5, minimum), maximum))


def _kind(s: pd.Series) -> str:
    name = str(s.name)
    if "率" in name:
        return "pct"
    if "（元）" in name:
        return "money"
    if name in ("经度", "纬度", "原始经度", "原始纬度"):
        return "coord"
    if pd.api.types.is_bool_dtype(s):
        return "text"
    if pd.api.types.is_integer_dtype(s):
        return "int"
    if pd.api.types.is_float_dtype(s):
        values = s.dropna()
        return "int" if len(values) and (values == values.round()).all() else "float"
    return "text"


def _data_sheet(book: _Book, name: str, df: pd.DataFrame, *, note: str = "",
                print_view: pd.DataFrame | None = None, print_kinds: dict[str, str] | None = None) -> None:
    """A data sheet: the full table from A1 (filter, frozen header). With ``print_view``,
    a compact table is written beside it (after one blank column) and is the sheet's
    print area, so the printed report stays short while the full table is kept."""
    ws = book.sheet(name)
    blocks = [(0, df, [_kind(df[c]) for c in df.columns])]
    col = len(df.columns) + 1
    beside = print_view is not None and len(print_view.columns) > 0
    if print_view is not None and beside:
        kinds = print_kinds or {}
        blocks.append((col, print_view, [kinds.get(str(c), "small") for c in print_view.columns]))
    extra = {2: (0, note, "note")} if note and not len(df) else None
    book.rows(ws, 0, blocks, extra)  # the full table, its print view and a note, row by row
    if len(df.columns):
        ws.autofilter(0, 0, len(df), len(df.columns) - 1)
    ws.freeze_panes(1, 0)
    ws.repeat_rows(0)
    book.widths(ws, df)
    if print_view is not None and beside:
        ws.set_column(col - 1, col - 1, 2)
        book.widths(ws, print_view, minimum=4, maximum=30, first_col=col, scale=0.8)
        ws.print_area(0, col, max(len(print_view), 1), col + len(print_view.columns) - 1)


def _coverage_for_sheet(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in COVERAGE_HEADERS if c in df]
    out = df[keep].copy()
    if "unit_type" in out:
        out["unit_type"] = out["unit_type"].map(UNIT_TYPE_LABELS).fillna(out["unit_type"])
    if "industry" in out:
        out["industry"] = out["industry"].astype(str).map(_industry_label)
    return out.rename(columns=COVERAGE_HEADERS)


def _summary_sheet(book: _Book, plan: Plan) -> None:
    ws = book.sheet("汇总")
    fmt = book.fmt
    ws.set_column(0, 0, 34)
    ws.set_column(1, 12, 19)
    ws.write_string(0, 0, "非公企业党建网格化规划 · 汇总", fmt["title"])
    source = ""
    files = plan.inputs.get("files", {}) if plan.inputs else {}
    if isinstance(files, dict) and "ledger" in files:
        source = f"台账文件：{files['ledger'].get('file', '')}"
    ws.write_string(1, 0, source or "由 gridcover 生成；覆盖率口径见 RULES.md（M1–M4）", fmt["note"])
    ws.freeze_panes(1, 0)
    ws.repeat_rows(0)

    cov = measured(plan)
    total = cov.total()
    tgt = cov.targets().iloc[-1]
    fund = cov.funding.iloc[-1]
    config = plan.config
    row = 3
    ws.write_string(row, 0, "一、覆盖率与目标", fmt["section"])
    row += 1
    for j, h in enumerate(("指标", "规划前", "规划后", "说明")):
        ws.write_string(row, j, h, fmt["header"])
    row += 1

    def met(value: Any) -> tuple[str, str]:
        if value is pd.NA or value is None:
            return "—", "text"
        return ("达标", "met") if bool(value) else ("未达标", "unmet")

    n = int(total["enterprises"])
    lines: list[tuple[str, Any, Any, str, str]] = [
        ("入库企业数", n, n, "int", "未入库行见“未入库”表"),
        ("党组织覆盖率（M1）", total["org_rate_before"], total["org_rate_after"], "pct",
         "单独建＋联合建" + ("＋挂靠建" if config.org_coverage_counts_attached else "") + "，÷企业数"),
        ("党的工作覆盖率（M2）", total["work_rate_before"], total["work_rate_after"], "pct",
         "有党组织或有具体人选的党建工作指导员；规划岗位无人选、属地兜底均不计入"),
        ("仅属地兜底（M5）", None, total["backstop_rate_after"], "pct",
         f"{int(total['backstop_after'])}家小微或未定位企业仅由乡镇（街道）、村（社区）党组织兜底，不计入M2"),
        ("需选派指导员的企业", None, int(total["instructors_needed"]), "int",
         f"其中{int(total['instructors_short'])}家名册不足、尚无人选（缺额）"),
        ("规上企业党组织组建率（M3）", total["m3_rate_before"], total["m3_rate_after"], "pct",
         f"规上企业{int(total['above_scale'])}家，单独建：规划前{int(total['above_scale_own_before'])}家，"
         f"规划后{int(total['above_scale_own_after'])}家"),
    ]
    for scope in ("eligible", "survey"):
        t = cov.total(scope)
        lines.append((f"党组织覆盖率 · {SCOPE_LABELS[scope]}", t["org_rate_before"], t["org_rate_after"], "pct",
                      f"{int(t['enterprises'])}家企业"))
        lines.append((f"党的工作覆盖率 · {SCOPE_LABELS[scope]}", t["work_rate_before"], t["work_rate_after"],
                      "pct", f"{int(t['enterprises'])}家企业"))
    for label, before, after, kind, note in lines:
        book.cell(ws, row, 0, label, "label")
        book.cell(ws, row, 1, "—" if before is None else before, "text" if before is None else kind)
        book.cell(ws, row, 2, after, kind)
        book.cell(ws, row, 3, note, "note")
        row += 1
    for label, key in ((f"目标：党组织覆盖率≥{config.org_coverage_target:.0%}（M4）", "org_target_met"),
                       (f"目标：党组织覆盖率{config.org_coverage_full_target:.0%}（M4）", "org_full_met"),
                       (f"目标：党的工作覆盖率{config.work_coverage_target:.0%}（M4）", "work_target_met")):
        book.cell(ws, row, 0, label, "label")
        for j, phase in ((1, "before"), (2, "after")):
            text, kind = met(tgt[f"{key}_{phase}"])
            book.cell(ws, row, j, text, kind)
        row += 1
    for line in cov.shortfall():
        book.cell(ws, row, 0, "注意", "label")
        book.cell(ws, row, 1, line, "unmet")
        row += 1
    book.cell(ws, row, 0, "年度经费测算（元，“15311”）", "label")
    book.cell(ws, row, 1, fund["amount_total_before"], "money")
    book.cell(ws, row, 2, fund["amount_total_after"], "money")
    book.cell(ws, row, 3, "明细见“经费测算”表", "note")
    row += 2

    ws.write_string(row, 0, "二、规划概况", fmt["section"])
    row += 1
    branches = plan.branches
    status = branches["status"].astype(str).value_counts() if "status" in branches else pd.Series(dtype="int64")
    to_fill = (int(plan.grids["leader_status"].astype(str).eq("instructor post to fill").sum())
               if "leader_status" in plan.grids else 0)
    overview = [
        ("网格数", len(plan.grids)),
        ("联合党支部数", len(branches)),
        *((f"　其中{BRANCH_STATUS_LABELS[s]}", int(status.get(s, 0))) for s in BRANCH_STATUS_LABELS),
        ("待选派网格长（无党员网格）", to_fill),
        ("规划选派指导员的企业（有人选）", int(total["instructors_needed"]) - int(total["instructors_short"])),
        ("待选派指导员的企业（名册不足，缺额）", int(total["instructors_short"])),
        ("问题条数（问题清单）", len(plan.gaps) if plan.gaps is not None else 0),
        ("未入库行数", len(plan.rejects) if plan.rejects is not None else 0),
    ]
    for label, value in overview:
        book.cell(ws, row, 0, label, "label")
        book.cell(ws, row, 1, int(value), "int")
        row += 1
    row += 1

    ws.write_string(row, 0, "三、规划措施", fmt["section"])
    row += 1
    actions = (plan.enterprises["action"].astype(str).value_counts() if "action" in plan.enterprises
               else pd.Series(dtype="int64"))
    for j, h in enumerate(("措施", "企业数")):
        ws.write_string(row, j, h, fmt["header"])
    row += 1
    for action in ACTIONS:
        if int(actions.get(action, 0)):
            book.cell(ws, row, 0, ACTION_LABELS[action], "text")
            book.cell(ws, row, 1, int(actions[action]), "int")
            row += 1
    row += 1

    ws.write_string(row, 0, "四、问题统计", fmt["section"])
    row += 1
    counts = (plan.gaps["rule_id"].astype(str).value_counts()
              if plan.gaps is not None and "rule_id" in plan.gaps else pd.Series(dtype="int64"))
    for j, h in enumerate(("规则", "企业数", "规则内容")):
        ws.write_string(row, j, h, fmt["header"])
    row += 1
    for rid in RULE_IDS:
        book.cell(ws, row, 0, rid, "text")
        book.cell(ws, row, 1, int(counts.get(rid, 0)), "int")
        book.cell(ws, row, 2, rule_text(rid, config), "text")
        row += 1
    row += 1

    blocks: tuple[tuple[str, By], ...] = (("五、各园区、乡镇（街道）覆盖率", "unit"), ("六、按行业门类", "industry"),
                                         ("七、按企业规模", "size_class"))
    for title, by in blocks:
        ws.write_string(row, 0, title, fmt["section"])
        row += 1
        table = cov.by(by)
        if by == "unit":
            table = pd.concat([table, cov.by("total")], ignore_index=True)
        row = book.table(ws, _coverage_for_sheet(table), row=row, filter_=False, header_height=30) + 1
    scoped: tuple[tuple[str, Scope], ...] = (
        (f"八、网格范围（E1：有固定经营场所、职工{config.eligible_min_staff}人以上）", "eligible"),
        (f"九、调查口径（三有：职工{config.survey_min_staff}人以上）", "survey"))
    for title, scope in scoped:
        ws.write_string(row, 0, title, fmt["section"])
        row += 1
        table = pd.concat([cov.by("unit", scope), cov.by("total", scope)], ignore_index=True)
        row = book.table(ws, _coverage_for_sheet(table), row=row, filter_=False, header_height=30) + 1


#: From this many enterprises ``plan.xlsx`` is streamed (xlsxwriter's constant memory):
#: its cells would otherwise be held in memory until the book is closed.
STREAM_MIN_ROWS: Final = 200_000
#: Sheets of a summary workbook (``write_excel(summary_only=True)``, a province-size plan).
SUMMARY_SHEETS: Final = ("汇总", "指导员", "经费测算", "达标路径", "发展党员")


def write_excel(plan: Plan, path: str | Path, *, summary_only: bool = False) -> Path:
    """Write ``plan.xlsx``: the plan's tables in Chinese for planners.

    Sheets: 汇总 (headline coverage before/after, M3, M4 targets, funding, counts of
    grids, branches, actions, gaps and rejects, coverage by unit, industry and size
    class), 企业台账 (every enterprise, Chinese headers and labels), 网格, 联合党支部,
    网格长, 指导员 (ledger and planned), 问题清单, 经费测算, 未入库. Headers are frozen,
    rates are percent-formatted, the document properties are fixed (same plan, same
    bytes). Every sheet is written row by row; from :data:`STREAM_MIN_ROWS` enterprises
    the rows are streamed to disk as they are written (xlsxwriter's constant memory).

    Parameters
    ----------
    plan
        The plan to report.
    path
        Target file; written atomically.
    summary_only
        Only the summary sheets (:data:`SUMMARY_SHEETS`: 汇总 with the coverage by unit,
        industry and size class, 指导员 — which ``gridcover map`` reads the planned
        assignment from —, 经费测算, 达标路径, 发展党员): a province-size plan, whose
        tables are in its CSV and Parquet files.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    target = Path(path)
    with atomic_file(target) as tmp:
        book = _Book(tmp, stream=not summary_only and len(plan.enterprises) >= STREAM_MIN_ROWS)
        try:
            _fill_book(book, plan, summary_only=summary_only)
        except BaseException:
            book.abandon()
            raise
        book.close()
    logger.info("wrote %s%s", target, " (summary sheets)" if summary_only else "")
    return target


def _fill_book(book: _Book, plan: Plan, *, summary_only: bool) -> None:
    """Every sheet of ``plan.xlsx`` (or its summary sheets) into ``book``."""
    _summary_sheet(book, plan)
    if summary_only:
        _data_sheet(book, "指导员", _instructor_sheet(plan), note="无党建工作指导员")
        _funding_sheet(book, plan)
        _targets_sheet(book, plan)
        return
    _data_sheet(book, "企业台账", _enterprise_sheet(plan), print_view=_enterprise_print_view(plan),
                print_kinds=_PRINT_KINDS)
    _data_sheet(book, "网格", _grid_sheet(plan), note="本规划未划分网格")
    _data_sheet(book, "联合党支部", _branch_sheet(plan), note="本规划无联合党支部")
    _data_sheet(book, "网格长", _ordered(plan.leaders, LEADER_HEADERS), note="本规划无网格长候选",
                print_view=_leader_print_view(plan))
    _data_sheet(book, "指导员", _instructor_sheet(plan), note="无党建工作指导员")
    _data_sheet(book, "问题清单", _gap_sheet(plan), note="无问题", print_view=_gap_print_view(plan),
                print_kinds={"管理单元": "text", **{r: "int" for r in (*RULE_IDS, "合计")}})
    _funding_sheet(book, plan)
    _data_sheet(book, "未入库", _reject_sheet(plan), note="全部入库")
    _targets_sheet(book, plan)
    sites = pd.DataFrame(plan.new_sites).drop(columns="geometry", errors="ignore") \
        if plan.new_sites is not None else pd.DataFrame()
    _data_sheet(book, "服务中心选址", _ordered(sites, SITE_HEADERS), note="未提出新服务中心选址")
    _responsible_sheet(book, plan)
    if len(plan.changes):  # a re-plan from a previous plan: what changed and why
        labels = {"grid": "网格", "branch": "联合党支部", "enterprise": "企业", "kept": "保留",
                  "changed": "调整", "new": "新增", "dissolved": "撤销", "moved": "变动"}
        changes = plan.changes.assign(object=lambda d: d["object"].map(labels).fillna(d["object"]),
                                      change=lambda d: d["change"].map(labels).fillna(d["change"]))
        _data_sheet(book, "变更", changes.rename(columns={"object": "对象", "id": "编号", "change": "变更",
                                                           "reason": "原因"}))


# --- printed map ------------------------------------------------------------------------

CJK_FONTS: Final = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei",
                    "SimHei", "Microsoft YaHei")


def _funding_sheet(book: _Book, plan: Plan) -> None:
    _data_sheet(book, "经费测算", measured(plan).funding.assign(
        unit_type=lambda d: d["unit_type"].map(UNIT_TYPE_LABELS).fillna(d["unit_type"]))
                .rename(columns=FUNDING_HEADERS))


def _responsible_sheet(book: Any, plan: Plan) -> None:
    """分片包干 (W4): each grid's and joint branch's responsible instructor, then the shortfall per unit."""
    from .resources import responsible_shortfall

    r = plan.responsible
    if r is None or not len(r):
        _data_sheet(book, "分片包干", pd.DataFrame(), note="无指导员名册，未安排分片包干")
        return
    table = r.assign(object=r["object"].map({"grid": "网格", "branch": "联合党支部"}),
                     instructor=r["instructor"].replace("", "（缺）"))
    short = responsible_shortfall(r).rename(columns={"unit": "id"}).assign(object="缺口（网格/支部）")
    short["instructor"] = ("网格" + short["grids_short"].astype(str) + "/" + short["grids"].astype(str)
                           + "，支部" + short["branches_short"].astype(str) + "/" + short["branches"].astype(str))
    body = pd.concat([table, short[["object", "id", "instructor"]]], ignore_index=True)
    headers = {"object": "对象", "id": "编号", "unit": "管理单元", "instructor": "责任指导员", "distance_m": "距离（米）"}
    _data_sheet(book, "分片包干", _ordered(body, headers))
    book.wb.get_worksheet_by_name("分片包干").fit_to_pages(1, 3)  # the printed report stays short


def _targets_sheet(book: Any, plan: Plan) -> None:
    """达标路径: targets.csv in Chinese (with the target year); 发展党员: members_needed.csv."""
    tg = plan.targets
    if tg is None:
        _data_sheet(book, "达标路径", pd.DataFrame(), note="未测算达标路径")
        _data_sheet(book, "发展党员", pd.DataFrame(), note="未测算")
        return
    table = tg.table.copy()
    if len(tg.years) == len(table):
        table["year"] = list(tg.years)
    table["scope"] = table["scope"].map({"all": "全部企业", "eligible": "网格范围（E1）",
                                         "survey": "调查口径（三有）"}).fillna(table["scope"])
    table["unit_type"] = table["unit_type"].map(UNIT_TYPE_LABELS).fillna(table["unit_type"])
    _data_sheet(book, "达标路径", _ordered(table, TARGET_HEADERS), note="未测算达标路径")
    book.wb.get_worksheet_by_name("达标路径").fit_to_pages(1, 3)  # the printed report stays short
    _data_sheet(book, "发展党员", _ordered(tg.members, MEMBER_HEADERS), note="各目标用尽措施后已可实现，无需新发展党员")


def _cjk_font() -> str:
    from matplotlib import font_manager

    for family in CJK_FONTS:
        try:
            font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        except ValueError:
            continue
        return family
    msg = f"no CJK font found for the printed map; install one of: {', '.join(CJK_FONTS)} (Debian: fonts-noto-cjk)"
    raise RuntimeError(msg)


def _label_point(geometry: Any) -> Any:
    """Label position: the pole of inaccessibility of the largest part (away from holes
    such as the parks cut out of a township)."""
    from shapely.ops import polylabel

    parts = getattr(geometry, "geoms", [geometry])
    largest = max(parts, key=lambda g: g.area)
    if largest.geom_type != "Polygon" or largest.area == 0:
        return geometry.representative_point()
    return polylabel(largest, tolerance=max(largest.length / 1000.0, 1.0))


def coverage_png(plan: Plan, path: str | Path, *, dpi: int = 150) -> Path:
    """A printed-report map: organisational coverage (M1) by unit, before and after the plan.

    Two panels (规划前, 规划后) shade each park and each township outside parks on the
    maps' five classes anchored at the M4 targets (< 30 %, 30–60 %, 60–90 %, 90–<100 %,
    100 % with the defaults; :func:`gridcover._labels.rate_class`), each unit labelled
    with its name and rate; a legend of the classes (no colour bar) and the whole area's
    rates below. Rates are read from the plan's coverage record. Text uses a CJK font
    (Noto Sans CJK, Debian's ``fonts-noto-cjk``). Drawn in an estimated UTM projection.

    Parameters
    ----------
    plan
        A plan with ``units`` (jurisdiction polygons).
    path
        Target PNG; written atomically.
    dpi
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        When the plan has no unit polygons to draw.
    RuntimeError
        When no CJK font is installed.
    """
    import matplotlib
    from matplotlib import patheffects
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from ._labels import NO_DATA_COLOR, RATE_CLASS_COLORS, rate_class, rate_class_labels

    units = plan.units
    if units is None or len(units) == 0 or "unit" not in units:
        msg = "the plan has no jurisdiction units (plan.units) to map"
        raise ValueError(msg)
    config = plan.config
    cov = measured(plan)
    rows = cov.by("unit").set_index("unit")
    total = cov.total()
    gdf = _as_layer(units)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    gdf = gdf.to_crs(gdf.estimate_utm_crs())
    family = _cjk_font()
    target, full = config.org_coverage_target, config.org_coverage_full_target

    def colour(rate: float) -> str:
        k = rate_class(rate, target, full)
        return NO_DATA_COLOR if k < 0 else RATE_CLASS_COLORS[k]

    with matplotlib.rc_context({"font.family": [family], "axes.unicode_minus": False}):
        fig = Figure(figsize=(11.69, 7.2), dpi=dpi)
        FigureCanvasAgg(fig)
        parks = gdf["unit_type"].astype(str).eq("park") if "unit_type" in gdf else pd.Series(False, index=gdf.index)
        for k, (phase, label) in enumerate((("before", "规划前"), ("after", "规划后"))):
            ax = fig.add_axes((0.01 + 0.49 * k, 0.14, 0.48, 0.74))
            rate = gdf["unit"].astype(str).map(rows[f"org_rate_{phase}"]).astype("float64")
            gdf.plot(ax=ax, color=[colour(v) for v in rate], edgecolor="white", linewidth=1.2)
            if parks.any():
                gdf[parks].boundary.plot(ax=ax, color="#1F4E78", linewidth=1.6)
            for (_, r), v in zip(gdf.iterrows(), rate, strict=True):
                p = _label_point(r.geometry)
                text = "无企业" if math.isnan(v) else f"{v:.0%}"
                ax.annotate(f"{r['unit']}\n{text}", (p.x, p.y), ha="center", va="center", fontsize=7.5,
                            color="#111111", path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")])
            ax.set_axis_off()
            ax.set_aspect("equal")
            ax.set_title(f"{label}：{total[f'org_rate_{phase}']:.1%}" if int(total["enterprises"]) else label,
                         fontsize=12)
        fig.suptitle("党组织覆盖率（M1），按园区、乡镇（街道）", fontsize=14, y=0.97)
        handles = [Patch(facecolor=c, edgecolor="#999999", label=t)
                   for c, t in zip(RATE_CLASS_COLORS, rate_class_labels(target, full), strict=True)]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=9,
                   title=f"覆盖率分级（目标{target:.0%}，蓝框为园区）", title_fontsize=9, bbox_to_anchor=(0.5, 0.045))
        summary = (f"全域：规划前 {total['org_rate_before']:.1%} → 规划后 {total['org_rate_after']:.1%}；"
                   f"企业 {int(total['enterprises'])} 家" if int(total["enterprises"]) else "全域：无企业")
        fig.text(0.01, 0.01, summary, fontsize=9)
        target_path = Path(path)
        with atomic_file(target_path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
    logger.info("wrote %s", target_path)
    return target_path


# --- one workbook per unit (一园一策) ----------------------------------------------------------


def _unit_plan(plan: Plan, unit: str) -> Plan:
    """The part of a plan in one unit (park or township outside parks), measured by the
    one definition of coverage (:func:`gridcover.coverage.measure`) on its enterprises."""
    ent = plan.enterprises
    units = _units(plan)
    mine = ent[units.reindex(ent.index.astype(str)).fillna("").to_numpy() == unit]
    ids = set(mine.index.astype(str))

    def by_uscc(df: pd.DataFrame | None) -> pd.DataFrame | None:
        if df is None or "uscc" not in df:
            return df
        return df[df["uscc"].astype(str).isin(ids)]

    def by_unit(df: Any) -> Any:
        if df is None or "unit" not in df:
            return df
        return df[df["unit"].astype(str).eq(unit)]

    grids = by_unit(plan.grids)
    grid_ids = set(grids["grid_id"].astype(str)) if grids is not None and "grid_id" in grids else set()
    leaders = plan.leaders
    if leaders is not None and "grid_id" in leaders:
        leaders = leaders[leaders["grid_id"].astype(str).isin(grid_ids)]
    branches = plan.branches
    if branches is not None and len(branches) and "unit" in branches:
        branches = by_unit(branches)
    elif branches is not None and "grid_id" in branches:
        branches = branches[branches["grid_id"].astype(str).isin(grid_ids)]
    rejects = plan.rejects.iloc[0:0] if plan.rejects is not None else None
    return plan.replace(enterprises=mine, grids=grids, units=by_unit(plan.units), leaders=leaders,
                        branches=branches, gaps=by_uscc(plan.gaps), instructors=by_uscc(plan.instructors),
                        rejects=rejects, coverage=None)


def write_unit_books(plan: Plan, folder: str | Path) -> list[Path]:
    """One workbook per park and per township (一园一策): ``<folder>/<unit>.xlsx``.

    Each is :func:`write_excel` of the unit's part of the plan (its enterprises, grids,
    joint branches, leaders, instructors and gaps; its own coverage and funding), with
    the same sheets and print layout. File names are made safe and unique as the unit
    maps' (:func:`gridcover.maps.safe_filename`).

    Returns
    -------
    list of pathlib.Path
        The workbooks, sorted by unit name.
    """
    from .maps import _unit_filenames

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(set(_units(plan)) - {""})
    files = _unit_filenames(names)
    written = []
    for unit in names:
        path = out / (files[unit][: -len(".html")] + ".xlsx")
        written.append(write_excel(_unit_plan(plan, unit), path))
    logger.info("wrote %d unit workbook(s) to %s", len(written), out)
    return written
