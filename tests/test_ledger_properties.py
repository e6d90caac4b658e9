"""Invariants of ledger ingest over generated messy ledgers (hypothesis).

Random mixes of good rows, bad rows of every kind and empty rows, written as CSV
(UTF-8, UTF-8 with BOM, GBK; optional title line) or XLSX (0–2 title rows, the first
merged): every non-empty row is accepted or rejected, never both, and every reject
points at the line or Excel row the bad row was written on, with the right reason.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcover import Config
from gridcover._uscc import make_uscc
from gridcover.ledger import read_ledger

HEADERS = ("统一社会信用代码", "企业名称", "地址", "经度", "纬度", "坐标系", "职工人数", "正式党员数", "预备党员数",
           "党组织组建方式", "行业", "出资人是否党员")
_rng = np.random.default_rng(42)
POOL = list(dict.fromkeys(make_uscc(_rng) for _ in range(80)))

# kind -> (changes to a good row, expected reason fragment or None when accepted)
KINDS: dict[str, tuple[dict[str, str], str | None]] = {
    "good": ({}, None),
    "messy good": ({"staff": " ２５人 ", "org_type": "联建", "crs": "高德", "industry": "C13", "investor": "Y",
                    "lower": "1"}, None),
    "quoted good": ({"name": "示例公司\n（原示例厂）", "address": "示例县, 示例路\n1号"}, None),
    "bad check": ({"check": "1"}, "check character is"),
    "short uscc": ({"uscc": "91350100ABC"}, "has 11 characters, expected 18"),
    "blank uscc": ({"uscc": ""}, "uscc is blank"),
    "letters not allowed": ({"uscc": "91350100MA5CJQ4NIO"}, "contains characters not allowed in a USCC: I O"),
    "blank members": ({"members": ""}, "members is blank"),
    "text lon": ({"lon": "东经119度"}, "lon '东经119度' is not a number"),
    "missing name": ({"name": ""}, "name is blank"),
    "negative staff": ({"staff": "-4"}, "staff '-4' is negative"),
    "text staff": ({"staff": "十多人"}, "staff '十多人' is not a number"),
    "members above staff": ({"staff": "2", "members": "3"}, "formal members 3 exceed staff 2"),
    "negative probationary": ({"probationary": "-1"}, "probationary '-1' is negative"),
    "unknown org_type": ({"org_type": "临时党支部"}, "org_type '临时党支部' is unknown"),
    "unknown crs": ({"crs": "西安80"}, "crs '西安80' is unknown"),
    "no location": ({"address": "", "lon": "", "lat": ""}, "neither address nor coordinates"),
    "only lon": ({"lat": ""}, "only one of lon/lat given"),
    "outside China": ({"lon": "-74.0", "lat": "40.7"}, "lie outside China"),
    "swapped": ({"lon": "26.08", "lat": "119.3"}, "swapped"),
    "duplicate": ({}, "duplicate of row"),
    "empty": ({}, None),
}


def _cells(kind: str, code: str, i: int) -> list[str]:
    changes = KINDS[kind][0]
    row = {"uscc": code, "name": f"示例{i}号公司", "address": f"示例路{i}号", "lon": "119.3", "lat": "26.08",
           "crs": "", "staff": "25", "members": "1", "probationary": "", "org_type": "未建", "industry": "F",
           "investor": "否"}
    row.update({k: v for k, v in changes.items() if k in row})
    if "check" in changes:
        last = "0" if code[-1] != "0" else "1"
        row["uscc"] = code[:-1] + last
    if "lower" in changes:
        row["uscc"] = " " + code[:9].lower() + " " + code[9:]
    order = ("uscc", "name", "address", "lon", "lat", "crs", "staff", "members", "probationary", "org_type",
             "industry", "investor")
    return [row[k] for k in order]


def _write(folder: Path, fmt: str, titles: int, table: list[list[str] | None], *, quote_all: bool = False,
           crlf: bool = False) -> Path:
    if fmt == "xlsx":
        book = openpyxl.Workbook()
        ws = book.active
        if titles:
            ws.cell(row=1, column=1, value="示例县非公企业台账（合成）")
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
        for j, h in enumerate(HEADERS):
            ws.cell(row=titles + 1, column=j + 1, value=h)
        for r, cells in enumerate(table, start=titles + 2):
            for j, v in enumerate(cells or []):
                if v != "":
                    ws.cell(row=r, column=j + 1, value=v)
        path = folder / "ledger.xlsx"
        book.save(path)
        return path
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                        lineterminator="\r\n" if crlf else "\n")
    for t in range(titles):
        writer.writerow(["示例县非公企业台账（合成）"] + [""] * (len(HEADERS) - 1) if t == 0 else [])
    writer.writerow(HEADERS)
    for k, cells in enumerate(table):
        writer.writerow(cells if cells is not None else ([] if k % 2 else [""] * len(HEADERS)))
    path = folder / "ledger.csv"
    path.write_bytes(buffer.getvalue().encode(fmt))
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kinds=st.lists(st.sampled_from(sorted(KINDS)), max_size=30),
    fmt=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "xlsx"]),
    titles=st.integers(min_value=0, max_value=2),
    fix_swapped=st.booleans(),
    quote_all=st.booleans(),
    crlf=st.booleans(),
)
def test_every_row_is_accepted_or_rejected_at_its_own_row(kinds: list[str], fmt: str, titles: int,
                                                          fix_swapped: bool, quote_all: bool, crlf: bool) -> None:
    table: list[list[str] | None] = []
    expected: dict[int, str | None] = {}  # source row -> reason fragment (None: accepted)
    used: list[tuple[str, int]] = []  # (code, row) of rows that introduced a code
    next_code = iter(POOL)
    row = titles + 1  # the header's line (CSV) or Excel row
    for i, kind in enumerate(kinds):
        row += 1 if fmt == "xlsx" or not table or table[-1] is None else 1 + "".join(table[-1]).count("\n")
        if kind == "empty":
            table.append(None)
            continue
        if kind == "duplicate" and used:
            code, first = used[0]
            reason: str | None = f"duplicate of row {first}"
        else:
            code = next(next_code)
            reason = KINDS[kind][1] if kind != "duplicate" else None
            if kind not in ("blank uscc", "short uscc", "bad check", "letters not allowed"):
                used.append((code, row))
        if kind == "swapped" and fix_swapped:
            reason = None
        table.append(_cells(kind, code, i))
        expected[row] = reason

    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), fmt, titles, table, quote_all=quote_all, crlf=crlf)
        ledger = read_ledger(path, config=Config(fix_swapped_coordinates=fix_swapped))

    accepted = set(ledger.enterprises["source_row"].tolist())
    rejected = dict(zip(ledger.rejects["source_row"].tolist(), ledger.rejects["reason"].tolist(), strict=True))
    assert ledger.n_rows == len(expected)
    assert len(ledger.enterprises) + len(ledger.rejects) == ledger.n_rows
    assert not accepted & set(rejected)
    assert len(rejected) == len(ledger.rejects)
    assert accepted == {r for r, why in expected.items() if why is None}
    assert set(rejected) == {r for r, why in expected.items() if why is not None}
    for row, fragment in expected.items():
        if fragment is not None:
            assert fragment in rejected[row], (row, rejected[row])
    assert ledger.enterprises.index.is_unique
    assert set(ledger.warnings["source_row"].tolist()) <= accepted
