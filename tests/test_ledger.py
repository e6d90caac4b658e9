"""Ledger (台账) ingest and validation: what a planner sees when a ledger is read.

Every fixture is a small synthetic ledger built here (no bundled data needed).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from gridcover import Config, LedgerError
from gridcover import ledger as ledger_module
from gridcover._uscc import make_uscc
from gridcover.coords import in_china
from gridcover.ledger import Ledger, read_ledger
from gridcover.schema import LEDGER_COLUMNS, REJECT_COLUMNS

HEADERS = {
    "uscc": "统一社会信用代码", "name": "企业名称", "address": "地址", "lon": "经度", "lat": "纬度",
    "crs": "坐标系", "township": "乡镇（街道）", "village": "村（社区）", "park": "所属园区", "industry": "行业",
    "staff": "职工人数", "fixed_premises": "有无固定经营场所", "above_scale": "是否规上企业",
    "members": "正式党员数", "probationary": "预备党员数", "org_type": "党组织组建方式",
    "org_name": "所在党组织", "instructor": "党建工作指导员", "investor_member": "出资人是否党员",
}
FIELDS = list(HEADERS)
STR_COLUMNS = ["name", "address", "crs", "township_declared", "village", "park_declared", "industry",
               "org_type", "org_name", "instructor"]


def codes(n: int, seed: int = 1) -> list[str]:
    rng = np.random.default_rng(seed)
    out: list[str] = []
    while len(out) < n:
        c = make_uscc(rng)
        if c not in out:
            out.append(c)
    return out


def good(code: str, i: int = 0, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "uscc": code, "name": f"示例{i}号有限公司", "address": f"示例县示例路{i}号", "lon": "119.30",
        "lat": "26.08", "crs": "", "township": "示例镇", "village": "示例村", "park": "", "industry": "C",
        "staff": "25", "fixed_premises": "是", "above_scale": "否", "members": "2", "probationary": "",
        "org_type": "未建", "org_name": "", "instructor": "", "investor_member": "",
    }
    row.update(changes)
    return row


def write_csv(path: Path, rows: list[dict], *, encoding: str = "utf-8", headers: dict | None = None,
              title: str | None = None) -> Path:
    headers = headers or HEADERS
    lines = [] if title is None else [title]
    lines.append(",".join(headers.values()))
    for row in rows:
        lines.append(",".join("" if not row else str(row.get(f, "")) for f in headers))
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[dict], *, title_rows: int = 0, merged: bool = True,
               sheet: str = "台账", extra_sheets: tuple[str, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    for t in range(title_rows):
        ws.cell(row=t + 1, column=1, value="示例县非公企业党建工作台账（合成）" if t == 0 else None)
        if merged and t == 0:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    for j, h in enumerate(HEADERS.values()):
        ws.cell(row=title_rows + 1, column=j + 1, value=h)
    for r, row in enumerate(rows, start=title_rows + 2):
        for j, f in enumerate(HEADERS):
            value = row.get(f, None) if row else None
            if value not in (None, ""):
                ws.cell(row=r, column=j + 1, value=value)
    for name in extra_sheets:
        book.create_sheet(name)
    book.save(path)
    return path


@pytest.fixture
def five() -> list[str]:
    return codes(5)


def read_rows(tmp_path: Path, rows: list[dict], **options: object) -> Ledger:
    return read_ledger(write_csv(tmp_path / "ledger.csv", rows), **options)


def one_reject(ledger: Ledger) -> tuple[int, str, str]:
    assert len(ledger.rejects) == 1, ledger.rejects
    r = ledger.rejects.iloc[0]
    return int(r["source_row"]), str(r["uscc"]), str(r["reason"])


# --- the contract of the enterprise table ----------------------------------------------------

def test_enterprise_table_follows_the_schema(tmp_path: Path, five: list[str]) -> None:
    rows = [good(c, i) for i, c in enumerate(five)]
    rows[1].update(instructor="张三", investor_member="是", org_type="单独建", members="3")
    ledger = read_rows(tmp_path, rows)
    ent = ledger.enterprises
    assert tuple(ent.columns) == LEDGER_COLUMNS
    assert ent.index.name == "uscc" and "uscc" not in ent.columns
    assert ent.index.tolist() == five and ent.index.is_unique
    assert ent["source_row"].tolist() == [2, 3, 4, 5, 6]
    for c in ("source_row", "staff", "members", "probationary"):
        assert ent[c].dtype == np.int64, c
    for c in ("lon_src", "lat_src"):
        assert ent[c].dtype == np.float64, c
    for c in ("fixed_premises", "above_scale"):
        assert ent[c].dtype == bool, c
    assert ent["investor_member"].dtype == "boolean"
    for c in STR_COLUMNS:
        assert pd.api.types.is_string_dtype(ent[c].dtype) and not ent[c].isna().any(), c
    assert ent.loc[five[1], "instructor"] == "张三" and ent.loc[five[0], "instructor"] == ""
    assert ent["investor_member"].isna().tolist() == [True, False, True, True, True]
    assert ent.loc[five[1], "org_type"] == "own"
    assert tuple(ledger.rejects.columns) == REJECT_COLUMNS
    assert ledger.n_rows == 5 and ledger.rejects.empty and ledger.warnings.empty


def test_blank_optional_cells_take_the_defaults(tmp_path: Path, five: list[str]) -> None:
    row = good(five[0], fixed_premises="", above_scale="", probationary="", org_type="", crs="",
               industry="", investor_member="")
    ent = read_rows(tmp_path, [row]).enterprises.iloc[0]
    assert bool(ent["fixed_premises"]) is True and bool(ent["above_scale"]) is False
    assert ent["probationary"] == 0 and ent["org_type"] == "none" and ent["crs"] == "wgs84"
    assert ent["industry"] == "" and pd.isna(ent["investor_member"])


def test_fingerprint_source_and_determinism(tmp_path: Path, five: list[str]) -> None:
    path = write_csv(tmp_path / "l.csv", [good(c, i) for i, c in enumerate(five)])
    a, b = read_ledger(path), read_ledger(str(path))
    assert a.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert b.source == str(path)
    pd.testing.assert_frame_equal(a.enterprises, b.enterprises)


def test_only_the_needed_columns_are_required(tmp_path: Path, five: list[str]) -> None:
    headers = {f: HEADERS[f] for f in ("uscc", "name", "address", "staff", "members")}
    ledger = read_ledger(write_csv(tmp_path / "l.csv", [good(five[0])], headers=headers))
    assert len(ledger.enterprises) == 1
    assert ledger.enterprises.iloc[0]["crs"] == "wgs84" and np.isnan(ledger.enterprises.iloc[0]["lon_src"])


# --- encodings --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings_are_detected(tmp_path: Path, five: list[str], encoding: str) -> None:
    rows = [good(c, i, name=f"福州{i}号纺织有限公司", township="鼓楼街道") for i, c in enumerate(five)]
    ledger = read_ledger(write_csv(tmp_path / "l.csv", rows, encoding=encoding))
    assert ledger.enterprises["name"].tolist() == [f"福州{i}号纺织有限公司" for i in range(5)]
    assert ledger.enterprises["township_declared"].eq("鼓楼街道").all()
    assert ledger.encoding in {"utf-8", "utf-8-sig", "gb18030", "utf-16"}


def test_gb18030_characters_outside_gbk(tmp_path: Path, five: list[str]) -> None:
    rows = [good(five[0], name="䶮科技有限公司")]  # 䶮 is in GB18030, not in GBK
    path = write_csv(tmp_path / "l.csv", rows, encoding="gb18030")
    assert read_ledger(path).enterprises["name"].tolist() == ["䶮科技有限公司"]


def test_encoding_override(tmp_path: Path, five: list[str]) -> None:
    path = write_csv(tmp_path / "l.csv", [good(five[0], name="甲公司")], encoding="gbk")
    assert read_ledger(path, encoding="gbk").enterprises["name"].tolist() == ["甲公司"]
    with pytest.raises(LedgerError, match="not valid utf-8"):
        read_ledger(path, encoding="utf-8")
    with pytest.raises(LedgerError, match="unknown text encoding"):
        read_ledger(path, encoding="klingon")


def test_tab_separated_export(tmp_path: Path, five: list[str]) -> None:
    lines = ["\t".join(HEADERS.values())] + ["\t".join(str(good(c, i)[f]) for f in HEADERS) for i, c in enumerate(five)]
    path = tmp_path / "l.txt"
    path.write_text("\n".join(lines), encoding="utf-16")
    assert read_ledger(path).enterprises.index.tolist() == five


# --- headers ----------------------------------------------------------------------------------

def test_header_variants_match(tmp_path: Path, five: list[str]) -> None:
    headers = dict(HEADERS)
    headers.update(uscc=" 统一社会信用代码 ", township="乡镇(街道)", village="村（社区）", staff="职工人数（人）",
                   members="正式党员", org_type="组建方式", fixed_premises="固定经营场所", above_scale="规上",
                   address="经营地址", name="*企业名称")
    ledger = read_ledger(write_csv(tmp_path / "l.csv", [good(five[0], township="示例街道")], headers=headers))
    assert len(ledger.enterprises) == 1 and ledger.enterprises.iloc[0]["township_declared"] == "示例街道"


def test_canonical_english_and_full_width_headers(tmp_path: Path, five: list[str]) -> None:
    english = {f: f.upper() if i % 2 else f for i, f in enumerate(FIELDS)}
    ledger = read_ledger(write_csv(tmp_path / "e.csv", [good(five[0])], headers=english))
    assert len(ledger.enterprises) == 1
    full_width = {f: "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in f) for f in FIELDS}
    ledger = read_ledger(write_csv(tmp_path / "f.csv", [good(five[0])], headers=full_width))
    assert len(ledger.enterprises) == 1 and ledger.enterprises.iloc[0]["staff"] == 25


def test_unknown_columns_are_ignored_and_logged(tmp_path: Path, five: list[str], caplog: pytest.LogCaptureFixture) -> None:
    headers = {"seq": "序号", **HEADERS, "remark": "备注"}
    rows = [dict(good(c, i), seq=i + 1, remark="无") for i, c in enumerate(five)]
    with caplog.at_level(logging.INFO, logger="gridcover.ledger"):
        ledger = read_ledger(write_csv(tmp_path / "l.csv", rows, headers=headers))
    assert ledger.ignored_columns == ("序号", "备注")
    assert "序号" in caplog.text and len(ledger.enterprises) == 5


def test_two_columns_for_one_field_the_first_non_blank_wins(tmp_path: Path, five: list[str]) -> None:
    headers = {**HEADERS, "address2": "详细地址"}
    rows = [good(five[0], address="", address2="示例路1号", lon="", lat=""), good(five[1], address="甲路", address2="乙路")]
    ent = read_ledger(write_csv(tmp_path / "l.csv", rows, headers=headers)).enterprises
    assert ent["address"].tolist() == ["示例路1号", "甲路"]


def test_missing_required_columns_name_the_column_and_the_headers_found(tmp_path: Path, five: list[str]) -> None:
    headers = {f: h for f, h in HEADERS.items() if f not in ("staff", "members")}
    with pytest.raises(LedgerError) as err:
        read_ledger(write_csv(tmp_path / "l.csv", [good(five[0])], headers=headers))
    text = str(err.value)
    assert "staff (职工人数)" in text and "members (正式党员数)" in text
    assert "headers found (row 1): 统一社会信用代码, 企业名称" in text
    assert "\n" not in text


def test_neither_address_nor_lon_lat_columns(tmp_path: Path, five: list[str]) -> None:
    headers = {f: h for f, h in HEADERS.items() if f not in ("address", "lat")}
    with pytest.raises(LedgerError, match=r"address \(地址\) or lon/lat"):
        read_ledger(write_csv(tmp_path / "l.csv", [good(five[0])], headers=headers))


def test_csv_title_row_is_skipped(tmp_path: Path, five: list[str]) -> None:
    path = write_csv(tmp_path / "l.csv", [good(c, i) for i, c in enumerate(five)], title="示例县非公企业台账,,,")
    ledger = read_ledger(path)
    assert ledger.header_row == 2
    assert ledger.enterprises["source_row"].tolist() == [3, 4, 5, 6, 7]


# --- unreadable files -------------------------------------------------------------------------

def test_unreadable_files_raise_one_clear_line(tmp_path: Path) -> None:
    cases = {
        "missing.csv": None,
        "empty.csv": b"",
        "blank.csv": b"\n\n  \n",
        "junk.csv": bytes(range(256)) * 4,
        "notes.csv": "会议记录\n今天讨论了党建工作\n".encode(),
        "broken.xlsx": b"PK\x03\x04 this is not a zip",
        "fake.xlsx": b"just text",
        "legacy.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(LedgerError) as err:
            read_ledger(path)
        assert str(err.value) and "\n" not in str(err.value), name
        assert isinstance(err.value, ValueError)
    with pytest.raises(LedgerError, match="folder"):
        read_ledger(tmp_path)


def test_not_a_ledger_names_what_was_read(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("日期,金额\n2024-01-01,100\n", encoding="utf-8")
    with pytest.raises(LedgerError, match="no header row.*first row read: 日期, 金额"):
        read_ledger(path)


def test_header_only_ledger_is_empty_not_an_error(tmp_path: Path) -> None:
    ledger = read_rows(tmp_path, [])
    assert ledger.n_rows == 0 and ledger.enterprises.empty and ledger.rejects.empty
    assert tuple(ledger.enterprises.columns) == LEDGER_COLUMNS
    assert ledger.enterprises["staff"].dtype == np.int64


# --- XLSX -------------------------------------------------------------------------------------

def test_xlsx_title_rows_and_merged_title_cell_are_skipped(tmp_path: Path, five: list[str]) -> None:
    rows = [good(c, i) for i, c in enumerate(five)]
    rows[3]["staff"] = "-1"
    path = write_xlsx(tmp_path / "l.xlsx", rows[:2] + [{}] + rows[2:], title_rows=2)
    ledger = read_ledger(path)
    # title row 1 (merged), blank row 2, header row 3, data from row 4, blank row 6
    assert ledger.header_row == 3 and ledger.n_rows == 5
    assert ledger.enterprises["source_row"].tolist() == [4, 5, 7, 9]
    assert one_reject(ledger)[:2] == (8, five[3])


def test_xlsx_numbers_read_as_a_person_sees_them(tmp_path: Path, five: list[str]) -> None:
    rows = [good(five[0], staff=25.0, members=2, lon=119.301234, lat=26.08, above_scale=True, industry=13)]
    ent = read_ledger(write_xlsx(tmp_path / "l.xlsx", rows)).enterprises.iloc[0]
    assert ent["staff"] == 25 and ent["members"] == 2 and ent["lon_src"] == 119.301234
    assert bool(ent["above_scale"]) is True and ent["industry"] == "C"


def test_xlsx_two_row_header_under_a_merged_group_cell(tmp_path: Path, five: list[str]) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["示例县台账"])
    ws.append(["统一社会信用代码", "企业名称", "地址", "职工人数", "党员情况", None])
    ws.merge_cells("E2:F2")
    ws.append([None, None, None, None, "正式党员", "预备党员"])
    ws.append([five[0], "甲公司", "示例路1号", 30, 2, 1])
    book.save(tmp_path / "l.xlsx")
    ledger = read_ledger(tmp_path / "l.xlsx")
    ent = ledger.enterprises.iloc[0]
    assert (ent["members"], ent["probationary"], ent["source_row"]) == (2, 1, 4)


def test_xlsx_sheet_by_name_or_index(tmp_path: Path, five: list[str]) -> None:
    path = write_xlsx(tmp_path / "l.xlsx", [good(five[0])], sheet="说明", extra_sheets=("台账",))
    book = openpyxl.load_workbook(path)
    ws = book["台账"]
    ws.append(list(HEADERS.values()))
    ws.append([good(five[1])[f] for f in HEADERS])
    book.save(path)
    assert read_ledger(path).enterprises.index.tolist() == [five[0]]
    assert read_ledger(path, sheet="台账").enterprises.index.tolist() == [five[1]]
    assert read_ledger(path, sheet=1).enterprises.index.tolist() == [five[1]]
    with pytest.raises(LedgerError, match="no sheet '汇总'; sheets: 说明, 台账"):
        read_ledger(path, sheet="汇总")
    with pytest.raises(LedgerError, match="sheet index 5"):
        read_ledger(path, sheet=5)


@pytest.mark.parametrize("engine", ["openpyxl", "calamine"])
def test_xlsx_engines_agree(tmp_path: Path, five: list[str], engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "calamine":
        pytest.importorskip("python_calamine")
    monkeypatch.setattr(ledger_module, "XLSX_ENGINES", (engine,))
    rows = [good(c, i) for i, c in enumerate(five)]
    rows[2]["members"] = 99
    ledger = read_ledger(write_xlsx(tmp_path / "l.xlsx", rows[:1] + [{}] + rows[1:], title_rows=1))
    assert ledger.enterprises["source_row"].tolist() == [3, 5, 7, 8]
    assert one_reject(ledger) == (6, five[2], "formal members 99 exceed staff 25")


# --- values -----------------------------------------------------------------------------------

@pytest.mark.parametrize("written", ["25", "25人", "25.0", " 25 ", "２５", "２５人", "25 人", "25名"])
def test_counts_written_in_many_ways(tmp_path: Path, five: list[str], written: str) -> None:
    assert read_rows(tmp_path, [good(five[0], staff=written)]).enterprises["staff"].tolist() == [25]


@pytest.mark.parametrize(("written", "expected"), [
    ("是", True), ("否", False), ("Y", True), ("n", False), ("yes", True), ("No", False), ("TRUE", True),
    ("false", False), ("1", True), ("0", False), ("有", True), ("无", False), ("√", True), ("Ｙ", True),
])
def test_yes_no_values(tmp_path: Path, five: list[str], written: str, expected: bool) -> None:
    ent = read_rows(tmp_path, [good(five[0], above_scale=written, fixed_premises=written)]).enterprises
    assert ent["above_scale"].tolist() == [expected] and ent["fixed_premises"].tolist() == [expected]


def test_unknown_yes_no_value_keeps_the_default_with_a_warning(tmp_path: Path, five: list[str]) -> None:
    ledger = read_rows(tmp_path, [good(five[0], fixed_premises="不清楚")])
    assert ledger.enterprises["fixed_premises"].tolist() == [True]
    assert ledger.warnings["message"].tolist() == ["fixed_premises '不清楚' is not yes/no; read as yes"]


@pytest.mark.parametrize(("written", "code"), [
    ("单独建", "own"), ("单建", "own"), ("联合建", "joint"), ("联建", "joint"), ("挂靠建", "attached"),
    ("挂靠", "attached"), ("未建", "none"), ("无", "none"), ("", "none"), ("joint", "joint"),
    ("联合组建", "joint"), (" 单独建 ", "own"),
])
def test_org_type_labels(tmp_path: Path, five: list[str], written: str, code: str) -> None:
    row = good(five[0], org_type=written, members="3")
    assert read_rows(tmp_path, [row]).enterprises["org_type"].tolist() == [code]


@pytest.mark.parametrize(("written", "code"), [
    ("wgs84", "wgs84"), ("WGS-84", "wgs84"), ("GPS", "wgs84"), ("CGCS2000", "wgs84"), ("gcj02", "gcj02"),
    ("GCJ-02", "gcj02"), ("高德", "gcj02"), ("火星坐标", "gcj02"), ("bd09", "bd09"), ("BD-09", "bd09"),
    ("百度", "bd09"), ("百度坐标系", "bd09"), ("", "wgs84"),
])
def test_crs_labels(tmp_path: Path, five: list[str], written: str, code: str) -> None:
    assert read_rows(tmp_path, [good(five[0], crs=written)]).enterprises["crs"].tolist() == [code]


@pytest.mark.parametrize(("written", "letter"), [
    ("C", "C"), ("c", "C"), ("C13", "C"), ("C1311", "C"), ("13", "C"), ("43", "C"), ("12", "B"), ("01", "A"),
    ("65", "I"), ("制造业", "C"), ("批发和零售业", "F"), ("信息传输、软件和信息技术服务业", "I"),
    ("C 制造业", "C"), ("Ｆ", "F"), ("", ""),
])
def test_industry_section_letter_code_or_name(tmp_path: Path, five: list[str], written: str, letter: str) -> None:
    ledger = read_rows(tmp_path, [good(five[0], industry=written)])
    assert ledger.enterprises["industry"].tolist() == [letter] and ledger.warnings.empty


@pytest.mark.parametrize("written", ["99", "宇宙开发", "Z", "C01"])
def test_unknown_industry_is_blank_with_a_warning_not_a_reject(tmp_path: Path, five: list[str], written: str) -> None:
    ledger = read_rows(tmp_path, [good(five[0], industry=written)])
    assert ledger.enterprises["industry"].tolist() == [""] and ledger.rejects.empty
    assert ledger.warnings["source_row"].tolist() == [2] and f"'{written}'" in ledger.warnings["message"].iloc[0]


def test_uscc_is_uppercased_and_spaces_removed(tmp_path: Path, five: list[str]) -> None:
    messy = " " + five[0][:6].lower() + " " + five[0][6:] + " "
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in five[1])
    ledger = read_rows(tmp_path, [good(messy), good(full_width, 1)])
    assert ledger.enterprises.index.tolist() == five[:2]


def test_full_width_coordinates_and_degree_signs(tmp_path: Path, five: list[str]) -> None:
    ent = read_rows(tmp_path, [good(five[0], lon="１１９.３°", lat="26.08N")]).enterprises
    assert ent["lon_src"].tolist() == [119.3] and ent["lat_src"].tolist() == [26.08]


# --- one test per reject reason ----------------------------------------------------------------

BAD_CHECK = "91350100M000100Y44"  # the valid code ends in 3

REJECTS = {
    "blank uscc": ({"uscc": ""}, "uscc is blank"),
    "short uscc": ({"uscc": "91350100M000100Y4"}, "uscc '91350100M000100Y4' has 17 characters, expected 18"),
    "bad characters": ({"uscc": "91350100M000100IO3"}, "uscc '91350100M000100IO3' contains characters not allowed in a USCC: I O"),
    "bad check character": ({"uscc": BAD_CHECK}, f"uscc '{BAD_CHECK}' check character is 4, expected 3"),
    "missing name": ({"name": " "}, "name is blank"),
    "missing staff": ({"staff": ""}, "staff is blank"),
    "negative staff": ({"staff": "-5"}, "staff '-5' is negative"),
    "non-numeric staff": ({"staff": "约20人"}, "staff '约20人' is not a number"),
    "fractional staff": ({"staff": "2.5"}, "staff '2.5' is not a whole number"),
    "missing members": ({"members": ""}, "members is blank"),
    "negative members": ({"members": "-1"}, "members '-1' is negative"),
    "non-numeric members": ({"members": "两名"}, "members '两名' is not a number"),
    "negative probationary": ({"probationary": "-2"}, "probationary '-2' is negative"),
    "non-numeric probationary": ({"probationary": "x"}, "probationary 'x' is not a number"),
    "members above staff": ({"staff": "3", "members": "5"}, "formal members 5 exceed staff 3"),
    "unknown org_type": ({"org_type": "党小组"}, "org_type '党小组' is unknown (expected 单独建, 联合建, 挂靠建 or 未建)"),
    "unknown crs": ({"crs": "北京54"}, "crs '北京54' is unknown (expected wgs84, gcj02 or bd09)"),
    "no address no coordinates": ({"address": "", "lon": "", "lat": ""}, "neither address nor coordinates (lon/lat) given"),
    "only lon": ({"lat": ""}, "only one of lon/lat given (lon '119.30', lat blank)"),
    "only lat": ({"lon": ""}, "only one of lon/lat given (lon blank, lat '26.08')"),
    "non-numeric lon": ({"lon": "东经119"}, "lon '东经119' is not a number"),
    "outside China": ({"lon": "2.35", "lat": "48.85"}, "coordinates lon '2.35', lat '48.85' lie outside China"),
    "zero coordinates": ({"lon": "0", "lat": "0"}, "coordinates lon '0', lat '0' lie outside China"),
}


@pytest.mark.parametrize("case", list(REJECTS))
def test_reject_reason_names_the_value_and_the_row(tmp_path: Path, case: str) -> None:
    changes, reason = REJECTS[case]
    cs = codes(3, seed=7)
    rows = [good(cs[0], 0), good(cs[1], 1, **changes), good(cs[2], 2)]
    ledger = read_rows(tmp_path, rows)
    row, code, text = one_reject(ledger)
    assert (row, text) == (3, reason)
    assert code == str(changes.get("uscc", cs[1])).strip()
    assert ledger.enterprises["source_row"].tolist() == [2, 4]
    assert len(ledger.enterprises) + len(ledger.rejects) == ledger.n_rows == 3


def test_duplicate_uscc_keeps_the_first(tmp_path: Path, five: list[str]) -> None:
    rows = [good(five[0], 0), good(five[1], 1), good(five[0].lower(), 2, name="重复公司")]
    ledger = read_rows(tmp_path, rows)
    assert one_reject(ledger) == (4, five[0].lower(), f"uscc '{five[0]}' duplicate of row 2")
    assert ledger.enterprises.loc[five[0], "name"] == "示例0号有限公司"


def test_every_problem_of_a_row_is_named(tmp_path: Path, five: list[str]) -> None:
    ledger = read_rows(tmp_path, [good(five[0], name="", staff="-1", org_type="乱建")])
    assert one_reject(ledger)[2] == ("name is blank; staff '-1' is negative; "
                                     "org_type '乱建' is unknown (expected 单独建, 联合建, 挂靠建 or 未建)")


def test_failed_check_character_is_a_warning_when_switched_off(tmp_path: Path) -> None:
    ledger = read_rows(tmp_path, [good(BAD_CHECK)], config=Config(uscc_checksum_reject=False))
    assert ledger.rejects.empty and ledger.enterprises.index.tolist() == [BAD_CHECK]
    assert ledger.warnings.to_dict("records") == [{
        "source_row": 2, "uscc": BAD_CHECK,
        "message": f"uscc '{BAD_CHECK}' check character is 4, expected 3 (kept: uscc_checksum_reject is off)"}]


def test_swapped_coordinates_are_fixed_with_a_warning(tmp_path: Path, five: list[str]) -> None:
    ledger = read_rows(tmp_path, [good(five[0], lon="26.08", lat="119.30")])
    ent = ledger.enterprises.iloc[0]
    assert (ent["lon_src"], ent["lat_src"]) == (119.30, 26.08)
    assert ledger.warnings["message"].tolist() == [
        "lon/lat swapped: lon '26.08', lat '119.30' lie outside China; read as lon 119.30, lat 26.08"]


def test_swapped_coordinates_are_rejected_when_fixing_is_off(tmp_path: Path, five: list[str]) -> None:
    ledger = read_rows(tmp_path, [good(five[0], lon="26.08", lat="119.30")],
                       config=Config(fix_swapped_coordinates=False))
    row, _, reason = one_reject(ledger)
    assert row == 2 and reason.startswith("lon '26.08', lat '119.30' look swapped")


def test_coordinates_at_the_edges_of_china(tmp_path: Path, five: list[str]) -> None:
    # Mohe (northern Heilongjiang) and Sansha (South China Sea) lie inside the generous box
    rows = [good(five[0], lon="122.53", lat="53.48"), good(five[1], 1, lon="112.34", lat="16.83")]
    assert len(read_rows(tmp_path, rows).enterprises) == 2


def test_address_alone_is_enough(tmp_path: Path, five: list[str]) -> None:
    ent = read_rows(tmp_path, [good(five[0], lon="", lat="")]).enterprises
    assert len(ent) == 1 and np.isnan(ent["lon_src"].iloc[0])


def test_warnings_are_only_for_accepted_rows(tmp_path: Path, five: list[str]) -> None:
    ledger = read_rows(tmp_path, [good(five[0], industry="宇宙", staff="-1"), good(five[1], 1, industry="宇宙")])
    assert ledger.warnings["source_row"].tolist() == [3]


# --- row numbers ------------------------------------------------------------------------------

def test_empty_rows_are_skipped_and_not_counted(tmp_path: Path, five: list[str]) -> None:
    rows = [good(five[0]), {}, {}, good(five[1], 1, staff="x"), {}, good(five[2], 2)]
    ledger = read_rows(tmp_path, rows)
    assert ledger.n_rows == 3
    assert ledger.enterprises["source_row"].tolist() == [2, 7]
    assert one_reject(ledger)[0] == 5


def test_csv_line_numbers_count_line_breaks_inside_quoted_cells(tmp_path: Path, five: list[str]) -> None:
    header = ",".join(HEADERS.values())
    line = lambda i, name: ",".join(name if f == "name" else str(good(five[i], i)[f]) for f in HEADERS)  # noqa: E731
    text = "\n".join([header, line(0, '"甲公司\n（原乙厂）"'), "", line(1, "丙公司").replace(",25,", ",-1,")])
    path = tmp_path / "l.csv"
    path.write_text(text + "\n", encoding="utf-8")
    ledger = read_ledger(path)
    assert ledger.enterprises["name"].tolist() == ["甲公司\n（原乙厂）"]
    assert ledger.enterprises["source_row"].tolist() == [2]
    assert one_reject(ledger)[0] == 5


def test_crlf_line_endings(tmp_path: Path, five: list[str]) -> None:
    path = write_csv(tmp_path / "l.csv", [good(five[0]), {}, good(five[1], 1, staff="-1")])
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    ledger = read_ledger(path)
    assert ledger.enterprises["source_row"].tolist() == [2] and one_reject(ledger)[0] == 4


# --- GeoJSON / GeoPackage points ---------------------------------------------------------------

def _features(cs: list[str]) -> dict:
    feats = []
    for i, c in enumerate(cs):
        props = {HEADERS[f]: good(c, i)[f] for f in ("uscc", "name", "staff", "members", "org_type")}
        props[HEADERS["staff"]] = 25 + i
        feats.append({"type": "Feature", "properties": props,
                      "geometry": {"type": "Point", "coordinates": [119.3 + i / 100, 26.08]}})
    return {"type": "FeatureCollection", "features": feats}


def test_geojson_points_give_lon_lat(tmp_path: Path, five: list[str]) -> None:
    path = tmp_path / "l.geojson"
    path.write_text(json.dumps(_features(five[:3]), ensure_ascii=False), encoding="utf-8")
    ledger = read_ledger(path)
    ent = ledger.enterprises
    assert ent.index.tolist() == five[:3] and ent["staff"].tolist() == [25, 26, 27]
    assert ent["lon_src"].round(6).tolist() == [119.3, 119.31, 119.32] and ent["source_row"].tolist() == [1, 2, 3]


def test_geopackage_points_in_another_crs(tmp_path: Path, five: list[str]) -> None:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame.from_features(_features(five[:2])["features"], crs="EPSG:4326").to_crs("EPSG:32650")
    gdf.loc[1, HEADERS["staff"]] = -4
    path = tmp_path / "l.gpkg"
    gdf.to_file(path, layer="台账", driver="GPKG")
    ledger = read_ledger(path)
    assert ledger.enterprises["lon_src"].round(6).tolist() == [119.3]
    assert one_reject(ledger) == (2, five[1], "staff '-4' is negative")


def test_quoted_cells_with_commas(tmp_path: Path, five: list[str]) -> None:
    import csv

    path = tmp_path / "l.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        writer.writerow(HEADERS.values())
        writer.writerow([good(five[0], address="示例县,示例路1号")[k] for k in HEADERS])
        writer.writerow([])
        writer.writerow([good(five[1], 1, staff="-2")[k] for k in HEADERS])
    ledger = read_ledger(path)
    assert ledger.enterprises["address"].tolist() == ["示例县,示例路1号"]
    assert one_reject(ledger)[0] == 4


def test_a_sparse_first_data_row_is_not_taken_for_a_second_header(tmp_path: Path, five: list[str]) -> None:
    # a row holding only "园区" under 所属园区 names a field, but not a new one: it stays a data row
    rows = [{"park": "园区"}, good(five[0])]
    ledger = read_rows(tmp_path, rows)
    assert ledger.n_rows == 2 and ledger.header_row == 1
    assert one_reject(ledger)[0] == 2 and ledger.enterprises["source_row"].tolist() == [3]


def test_the_bundled_sample_ledger(sample_paths: dict) -> None:
    path = sample_paths["ledger"]
    truth_path = sample_paths["ledger"].parent / "truth.csv"
    if not path.exists() or not truth_path.exists():
        pytest.skip("sample county not generated yet")
    ledger = read_ledger(path)
    truth = pd.read_csv(truth_path, encoding="utf-8-sig", dtype={"uscc": str})
    assert len(ledger.enterprises) + len(ledger.rejects) == ledger.n_rows
    assert truth["uscc"].isin(ledger.enterprises.index).all()  # every good row is accepted
    assert ledger.header_row == 2  # below the merged title row
    points = ledger.enterprises.loc[truth["uscc"], ["lon_src", "lat_src"]].dropna()
    assert in_china(points["lon_src"], points["lat_src"]).all()  # a swapped pair was swapped back


def test_geopackage_table_without_geometry_uses_its_lon_lat_columns(tmp_path: Path, five: list[str]) -> None:
    import pyogrio

    frame = pd.DataFrame({HEADERS[f]: [good(five[0])[f]] for f in ("uscc", "name", "lon", "lat", "staff", "members")})
    pyogrio.write_dataframe(frame, tmp_path / "t.gpkg", layer="台账", driver="GPKG")
    ent = read_ledger(tmp_path / "t.gpkg", sheet="台账").enterprises
    assert ent.index.tolist() == [five[0]] and (ent["lon_src"].iloc[0], ent["staff"].iloc[0]) == (119.3, 25)


def test_a_byte_order_mark_read_as_utf8_still_matches_the_header(tmp_path: Path, five: list[str]) -> None:
    path = write_csv(tmp_path / "l.csv", [good(five[0])], encoding="utf-8-sig")
    assert read_ledger(path, encoding="utf-8").enterprises.index.tolist() == [five[0]]
