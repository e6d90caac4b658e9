"""Reports: Excel workbook (opened by openpyxl and LibreOffice), GeoPackage, Shapefiles, PNG."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

from gridcover import Config, Plan
from gridcover.gaps import find_gaps, gap_column
from gridcover.report import SHEETS, coverage_png, write_excel, write_geopackage, write_shapefiles

EAST_BOX = box(118.00, 24.50, 118.10, 24.60)
WEST_BOX = box(117.90, 24.50, 118.00, 24.60)
PARK_BOX = box(118.05, 24.55, 118.08, 24.58)

BASE = {
    "source_row": 2, "name": "某企业", "address": "", "lon_src": np.nan, "lat_src": np.nan, "crs": "wgs84",
    "township_declared": "", "village": "", "park_declared": "", "industry": "C", "staff": 10,
    "fixed_premises": True, "above_scale": False, "members": 0, "probationary": 0, "org_type": "none",
    "org_name": "", "instructor": "", "investor_member": None, "lon": 118.02, "lat": 24.52,
    "precision": "exact", "township": "东镇", "park": "", "unit": "东镇", "unit_type": "township",
    "size_class": "6-49", "eligible": True, "grid_id": "东镇-G01", "branch_id": "", "action": "keep",
    "gaps": "",
}
PARK = {"park": "高新园", "unit": "高新园", "unit_type": "park", "lon": 118.06, "lat": 24.56,
        "grid_id": "高新园-G01"}
WEST = {"township": "西镇", "unit": "西镇", "lon": 117.95, "lat": 24.55, "grid_id": "西镇-G01"}

ROWS = {
    "91350100M000100Y43": {"name": "闽星科技有限公司", "org_type": "own", "members": 12, "above_scale": True,
                           "staff": 260, "size_class": ">=100", "investor_member": True, **PARK},
    "91440101MA5CJQ4N59": {"name": "园区物流有限公司", "members": 1, "branch_id": "JB-01",
                           "action": "join_branch", "investor_member": False, **PARK},
    "91350213678251743X": {"name": "东镇五金厂", "members": 2, "branch_id": "JB-01", "action": "join_branch",
                           "lon": 118.03, "lat": 24.53},
    "000000000000000001": {"name": "东镇食品店", "staff": 4, "size_class": "<6", "eligible": False,
                           "grid_id": "", "action": "not_gridded"},
    "000000000000000002": {"name": "西镇建材公司", "staff": 120, "size_class": ">=100", "action": "instructor",
                           "industry": "", **WEST},
    "000000000000000003": {"name": "=SUM(A1)公司", "org_type": "attached", "members": 1, **WEST},
    "000000000000000004": {"name": "未定位贸易公司", "lon": np.nan, "lat": np.nan, "precision": "unlocated",
                           "township": "", "unit": "", "unit_type": "", "township_declared": "西镇",
                           "grid_id": "", "eligible": False, "action": "not_gridded"},
}


def make_plan() -> Plan:
    ent = pd.DataFrame([{**BASE, **r} for r in ROWS.values()], index=pd.Index(list(ROWS), name="uscc"))
    ent["source_row"] = np.arange(2, 2 + len(ent))
    for c in ("staff", "members", "probationary", "source_row"):
        ent[c] = ent[c].astype("int64")
    centres = gpd.GeoDataFrame({"name": ["东镇党群服务中心"], "township": ["东镇"]},
                               geometry=gpd.points_from_xy([118.02], [24.52]), crs="EPSG:4326")
    gaps = find_gaps(ent, Config(), service_centres=centres)
    ent["gaps"] = gap_column(ent, gaps)
    grids = gpd.GeoDataFrame({
        "grid_id": ["高新园-G01", "东镇-G01", "西镇-G01"], "unit": ["高新园", "东镇", "西镇"],
        "unit_type": ["park", "township", "township"], "n_enterprises": [2, 1, 2], "staff": [270, 10, 130],
        "members": [13, 2, 1], "leader_uscc": ["91350100M000100Y43", "91350213678251743X", ""],
        "leader_status": ["member", "member", "instructor post to fill"],
    }, geometry=[PARK_BOX, EAST_BOX.difference(PARK_BOX), WEST_BOX], crs="EPSG:4326")
    units = gpd.GeoDataFrame({"unit": ["高新园", "东镇", "西镇"], "unit_type": ["park", "township", "township"],
                              "township": ["东镇", "东镇", "西镇"]},
                             geometry=[PARK_BOX, EAST_BOX.difference(PARK_BOX), WEST_BOX], crs="EPSG:4326")
    branches = pd.DataFrame({"branch_id": ["JB-01"], "grid_id": ["高新园-G01"], "unit": ["高新园"],
                             "status": ["new"], "uscc": ["91440101MA5CJQ4N59;91350213678251743X"],
                             "n_units": [2], "members": [3], "max_distance_m": [4321.5]})
    leaders = pd.DataFrame({"grid_id": ["高新园-G01"], "rank": [1], "uscc": ["91350100M000100Y43"],
                            "name": ["闽星科技有限公司"], "reason": ["单独建党组织，正式党员12人（龙头企业带建）"]})
    instructors = pd.DataFrame({"uscc": ["000000000000000002"], "instructor": ["王建国"], "unit": ["西镇"],
                                "distance_m": [850.0]})
    rejects = pd.DataFrame({"source_row": [9, 10], "uscc": ["91350100M000100Y44", ""],
                            "reason": ["统一社会信用代码校验位错误", "缺少统一社会信用代码"]})
    return Plan(enterprises=ent, grids=grids, branches=branches, leaders=leaders, units=units, gaps=gaps,
                instructors=instructors, service_centres=centres, rejects=rejects,
                inputs={"files": {"ledger": {"file": "台账.xlsx", "sha256": "0" * 64}}})


@pytest.fixture(scope="module")
def plan() -> Plan:
    return make_plan()


@pytest.fixture(scope="module")
def xlsx(plan, tmp_path_factory) -> Path:
    return write_excel(plan, tmp_path_factory.mktemp("xlsx") / "plan.xlsx")


def sheet_rows(path: Path, name: str) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=False)
    try:
        return [tuple(r) for r in wb[name].iter_rows(values_only=True)]
    finally:
        wb.close()


def test_workbook_has_the_chinese_sheets_in_order(xlsx):
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == list(SHEETS)
    for name in SHEETS[1:]:
        assert wb[name].freeze_panes == "A2", name
    assert wb["汇总"].freeze_panes == "A2"
    assert wb.properties.created.year == 2000
    wb.close()


def test_summary_shows_headline_rates_targets_and_counts(xlsx):
    rows = sheet_rows(xlsx, "汇总")
    by_label = {r[0]: r[1:] for r in rows if r and r[0]}
    # 7 enterprises; org before: own + attached = 2/7; after: + the two in JB-01 = 4/7
    assert by_label["入库企业数"][:2] == (7, 7)
    assert by_label["党组织覆盖率（M1）"][0] == pytest.approx(2 / 7)
    assert by_label["党组织覆盖率（M1）"][1] == pytest.approx(4 / 7)
    # work after: + the named instructor = 5/7; the two not_gridded are only backstopped (M5), not M2
    assert by_label["党的工作覆盖率（M2）"][1] == pytest.approx(5 / 7)
    assert by_label["仅属地兜底（M5）"][:2] == ("—", pytest.approx(2 / 7))
    assert by_label["规上企业党组织组建率（M3）"][0] == pytest.approx(1.0)
    assert by_label["目标：党的工作覆盖率100%（M4）"][:2] == ("未达标", "未达标")
    assert by_label["网格数"][0] == 3
    assert by_label["联合党支部数"][0] == 1
    assert by_label["未入库行数"][0] == 2
    assert by_label["加入联合党支部"][0] == 2
    units = [r[1] for r in rows if r and r[0] in ("园区", "乡镇（街道）")]
    # three blocks (all enterprises, the E1 scope, the survey scope), each by park and township;
    # the unlocated one declared 西镇: no （未定位） row
    assert units[:3] == ["高新园", "东镇", "西镇"] and len(units) == 9
    west = next(r for r in rows if r[:2] == ("乡镇（街道）", "西镇"))
    assert west[2] == 3 and west[3] == pytest.approx(1 / 3)


def test_percent_and_text_formats(xlsx):
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["汇总"]
    rate_cells = [row[1] for row in ws.iter_rows(min_row=1, max_col=2) if row[0].value == "党组织覆盖率（M1）"]
    assert rate_cells[0].number_format == "0.0%"
    ledger = wb["企业台账"]
    header = [c.value for c in ledger[1]]
    assert header[:3] == ["统一社会信用代码", "企业名称", "管理单元"]
    assert "规划措施" in header and "党组织组建方式" in header
    col: dict = {}
    for i, h in enumerate(header):  # the full table first; the print view beside it repeats names
        col.setdefault(h, i)
    values = [[c.value for c in r] for r in ledger.iter_rows(min_row=2)]
    assert values[0][col["党组织组建方式"]] == "单独建"
    assert values[1][col["规划措施"]] == "加入联合党支部"
    assert values[0][col["是否规上企业"]] == "是"
    assert values[0][col["行业门类"]] == "C 制造业"
    # uscc stays text even when all digits; a formula-like name stays text
    assert values[3][col["统一社会信用代码"]] == "000000000000000001"
    assert values[5][col["企业名称"]] == "=SUM(A1)公司"
    assert ledger.cell(row=2, column=col["经度"] + 1).number_format == "0.000000"
    assert ledger.column_dimensions["B"].width >= 16  # Chinese names get room
    wb.close()


def test_data_sheets_content(xlsx):
    branches = sheet_rows(xlsx, "联合党支部")
    assert branches[0][:4] == ("联合党支部编号", "网格编号", "管理单元", "状态")
    assert branches[1][3] == "新建"
    assert "园区物流有限公司、东镇五金厂" in branches[1]
    grids = sheet_rows(xlsx, "网格")
    assert grids[1][grids[0].index("网格长单位")] == "闽星科技有限公司"
    assert grids[3][grids[0].index("网格长状态")] == "待选派党建工作指导员"
    gaps = sheet_rows(xlsx, "问题清单")
    assert gaps[0][:6] == ("统一社会信用代码", "企业名称", "管理单元", "规则", "规则内容", "问题说明")
    assert any(r[3] == "G2" and r[1] == "西镇建材公司" for r in gaps[1:])
    instructors = sheet_rows(xlsx, "指导员")
    assert instructors[1][3] == "王建国" and instructors[1][5] == "规划选派"
    rejects = sheet_rows(xlsx, "未入库")
    assert rejects[0] == ("台账行号", "统一社会信用代码", "未入库原因", "原因代码（英文）")
    assert rejects[1][0] == 9 and rejects[1][2] == "统一社会信用代码校验位错误"
    funding = sheet_rows(xlsx, "经费测算")
    assert funding[-1][1] == "合计"
    assert "合计（元）（规划前）" in funding[0]


def test_excel_output_is_deterministic(plan, tmp_path):
    a = write_excel(plan, tmp_path / "a.xlsx").read_bytes()
    b = write_excel(plan, tmp_path / "b.xlsx").read_bytes()
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()


def test_plan_with_only_enterprises_still_writes(tmp_path):
    ent = make_plan().enterprises.drop(columns=["grid_id", "branch_id", "action", "gaps"])
    path = write_excel(Plan(enterprises=ent), tmp_path / "bare.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(SHEETS)
    assert wb["网格"]["A3"].value == "本规划未划分网格"
    wb.close()


def test_failed_write_leaves_the_old_file(plan, tmp_path, monkeypatch):
    target = tmp_path / "plan.xlsx"
    target.write_bytes(b"old")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("gridcover.report._instructor_sheet", boom)
    with pytest.raises(RuntimeError):
        write_excel(plan, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.xlsx"]


@pytest.mark.slow
def test_libreoffice_opens_the_workbook_and_first_page_is_the_summary(xlsx, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) is not installed: cannot check that the workbook opens in it")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: cannot read the converted PDF")
    work = tmp_path / "lo"
    work.mkdir()
    shutil.copy(xlsx, work / "plan.xlsx")
    env = {**os.environ, "HOME": str(work)}
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{work / 'profile'}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(work), str(work / "plan.xlsx")],
        capture_output=True, text=True, timeout=240, env=env, check=False)
    pdf = work / "plan.pdf"
    assert pdf.is_file(), f"soffice failed: {result.stdout}\n{result.stderr}"
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", "-layout", str(pdf), "-"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    assert "汇总" in first
    assert "党组织覆盖率（M1）" in first
    assert "57.1%" in first  # org coverage after, 4/7
    assert "高新园" in first


def test_geopackage_layers_and_round_trip(plan, tmp_path):
    path = write_geopackage(plan, tmp_path / "plan.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert set(layers) == {"enterprises", "grids", "units", "service_centres"}
    ent = gpd.read_file(path, layer="enterprises")
    assert ent.crs.to_epsg() == 4326
    assert ent["uscc"].tolist() == list(ROWS)
    assert set(plan.enterprises.columns) <= set(ent.columns)
    unlocated = ent["uscc"].eq("000000000000000004")
    assert ent.geometry[unlocated].isna().all() or ent.geometry[unlocated].is_empty.all()
    assert ent.loc[~unlocated].geometry.x.round(2).tolist()[0] == 118.06
    assert ent["investor_member"].tolist()[:2] == [1.0, 0.0] and np.isnan(ent["investor_member"].iloc[2])
    assert ent["eligible"].dtype == bool
    grids = gpd.read_file(path, layer="grids")
    assert grids["grid_id"].tolist() == ["高新园-G01", "东镇-G01", "西镇-G01"]
    again = write_geopackage(plan, tmp_path / "again.gpkg")
    assert path.read_bytes() == again.read_bytes()


def test_geopackage_of_a_bare_plan_has_empty_layers(tmp_path):
    ent = make_plan().enterprises
    path = write_geopackage(Plan(enterprises=ent), tmp_path / "bare.gpkg")
    assert {name for name, _ in pyogrio.list_layers(path)} == {"enterprises", "grids", "units", "service_centres"}
    assert len(gpd.read_file(path, layer="grids")) == 0


def test_shapefiles_in_gbk_with_cpg(plan, tmp_path):
    files = write_shapefiles(plan, tmp_path / "shp")
    names = {p.name for p in files}
    for layer in ("enterprises", "grids", "units", "service_centres"):
        assert {f"{layer}.shp", f"{layer}.dbf", f"{layer}.shx", f"{layer}.prj", f"{layer}.cpg"} <= names
    assert (tmp_path / "shp" / "enterprises.cpg").read_text().strip().upper() == "GBK"
    ent = gpd.read_file(tmp_path / "shp" / "enterprises.shp", encoding="GBK")
    assert all(len(c) <= 10 for c in ent.columns)
    assert ent["name"].iloc[0] == "闽星科技有限公司"
    assert ent["act_label"].iloc[1] == "加入联合党支部"
    assert ent["abv_scale"].iloc[0] == "是"
    raw = (tmp_path / "shp" / "enterprises.dbf").read_bytes()
    assert "闽星科技有限公司".encode("gbk") in raw
    fields = pd.read_csv(tmp_path / "shp" / "fields.csv", encoding="utf-8-sig")
    row = fields[(fields["layer"] == "enterprises") & (fields["column"] == "above_scale")].iloc[0]
    assert row["field"] == "abv_scale" and row["中文名"] == "是否规上企业"
    assert not [p for p in (tmp_path / "shp").iterdir() if p.name.startswith(".")]


def test_shapefile_text_that_gbk_cannot_hold_is_replaced(tmp_path):
    ent = make_plan().enterprises.copy()
    ent.iloc[0, ent.columns.get_loc("name")] = "😀科技"
    ent.iloc[1, ent.columns.get_loc("address")] = "长" * 200
    write_shapefiles(Plan(enterprises=ent), tmp_path, encoding="GBK")
    back = gpd.read_file(tmp_path / "enterprises.shp", encoding="GBK")
    assert back["name"].iloc[0] == "?科技"
    assert back["address"].iloc[1] == "长" * 127
    with pytest.raises(ValueError, match="encoding"):
        write_shapefiles(Plan(enterprises=ent), tmp_path, encoding="no-such-codec")


def test_coverage_png_draws_with_a_cjk_font(plan, tmp_path):
    path = coverage_png(plan, tmp_path / "coverage.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib import image

    img = image.imread(path)
    assert img.shape[0] > 800 and img.shape[1] > 800
    assert coverage_png(plan, tmp_path / "again.png").read_bytes() == data
    with pytest.raises(ValueError, match="units"):
        coverage_png(Plan(enterprises=plan.enterprises), tmp_path / "none.png")


def test_writers_accept_any_target_name(plan, tmp_path):
    """The lead's output step hands over its own temporary names (``.tmp``)."""
    gpkg = write_geopackage(plan, tmp_path / ".plan.gpkg.abc.tmp")
    xlsx = write_excel(plan, tmp_path / ".plan.xlsx.abc.tmp")
    png = coverage_png(plan, tmp_path / ".coverage.png.abc.tmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([gpkg.name, xlsx.name, png.name])
    assert png.read_bytes()[:4] == b"\x89PNG"
    # renamed as the caller does, they open as what they are
    gpkg = gpkg.rename(tmp_path / "plan.gpkg")
    assert {name for name, _ in pyogrio.list_layers(gpkg)} == {"enterprises", "grids", "units", "service_centres"}
    wb = openpyxl.load_workbook(xlsx.rename(tmp_path / "plan.xlsx"))
    assert wb.sheetnames == list(SHEETS)
    wb.close()


HOSTILE = ['=HYPERLINK("http://x","y")', "+SUM(1,2)", "-2+3", "@cmd", "\tTAB", "\rCR", "=1+1"]


def test_xlsx_cells_are_typed_strings_never_formulas(tmp_path):
    plan = make_plan()
    ent = plan.enterprises.copy()
    ent["name"] = [HOSTILE[i % len(HOSTILE)] for i in range(len(ent))]
    west = ent["unit"].eq("西镇")
    ent.loc[west, ["unit", "township"]] = "=HYPERLINK(\"http://x\",\"y\")镇"
    ent.loc[west, "grid_id"] = "=HYPERLINK(\"http://x\",\"y\")镇-G01"
    rejects = pd.DataFrame({"source_row": [9], "uscc": ["=1+1"], "reason": ["@bad code"]})
    path = write_excel(plan.replace(enterprises=ent, rejects=rejects), tmp_path / "plan.xlsx")
    wb = openpyxl.load_workbook(path)  # formulas would come back as "f" cells with their text
    found: set[str] = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}: {cell.value!r}"
                if isinstance(cell.value, str) and cell.value.startswith(("=", "+", "-", "@", "\t", "\r")):
                    assert cell.data_type == "s", f"{ws.title}!{cell.coordinate}"
                    found.add(cell.value)
    wb.close()
    # every hostile value is there, as the very text given (no prefix needed in a typed cell)
    assert set(HOSTILE) - {"\tTAB", "\rCR"} <= found
    assert "=HYPERLINK(\"http://x\",\"y\")镇" in found and "@bad code" in found


# --- print layout, the printed county and 一园一策 ------------------------------------------------
def test_every_sheet_has_a_print_layout(xlsx):
    wb = openpyxl.load_workbook(xlsx)
    try:
        for ws in wb.worksheets:
            setup = ws.page_setup
            assert setup.orientation == "landscape" and int(setup.paperSize) == 9, ws.title  # A4 landscape
            assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            # one page wide (fitToWidth absent means 1 in OOXML), as many pages down as it takes
            assert setup.fitToWidth in (None, 1) and int(setup.fitToHeight) == 0, ws.title
            assert ws.print_title_rows.replace("$", "") == "1:1", ws.title  # the header row on every page
            assert ws.freeze_panes == "A2", ws.title
    finally:
        wb.close()


def _print_area_rows(path: Path, sheet: str) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    try:
        ws = wb[sheet]
        ref = ws.print_area[0].split("!")[-1].replace("$", "") if isinstance(ws.print_area, list) else \
            ws.print_area.split("!")[-1].replace("$", "")
        return [tuple(c.value for c in row) for row in ws[ref]]
    finally:
        wb.close()


def test_print_view_of_the_ledger_lists_every_enterprise_once(plan, xlsx):
    rows = _print_area_rows(xlsx, "企业台账")
    header = rows[0]
    assert header[:7] == ("序号", "企业名称", "管理单元", "职工", "党员", "规划措施", "问题")
    listed = {}
    for r in rows[1:]:
        for half in (r[:7], r[7:]):
            if half[0] is not None:
                listed[int(half[0])] = half
    names = plan.enterprises["name"].tolist()
    assert sorted(listed) == list(range(1, len(names) + 1))
    for i, name in enumerate(names, start=1):
        shown = listed[i][1]
        assert shown == name or (shown.endswith("…") and name.startswith(shown[:-1]))


def test_reject_reasons_are_chinese_in_the_sheet_and_the_csv(tmp_path):
    from gridcover.outputs import _rejects

    rejects = pd.DataFrame({"source_row": [7, 3], "uscc": ["X", ""],
                            "reason": ["formal members 6 exceed staff 4", "uscc is blank; staff '若干' is not a number"]})
    out = _rejects(rejects)
    assert out.columns.tolist() == ["source_row", "uscc", "reason", "reason_cn"]
    assert out["reason_cn"].tolist() == ["统一社会信用代码为空；职工人数“若干”不是数字", "正式党员数 6 超过职工人数 4"]
    given = rejects.assign(reason_cn=["自带的中文原因", ""])
    assert _rejects(given)["reason_cn"].tolist() == ["统一社会信用代码为空；职工人数“若干”不是数字", "自带的中文原因"]
    path = write_excel(make_plan().replace(rejects=rejects), tmp_path / "r.xlsx")
    rows = sheet_rows(path, "未入库")
    assert [r[2] for r in rows[1:]] == ["统一社会信用代码为空；职工人数“若干”不是数字", "正式党员数 6 超过职工人数 4"]


def test_one_workbook_per_unit_partitions_the_enterprises(plan, tmp_path):
    from gridcover.report import write_unit_books

    books = write_unit_books(plan, tmp_path / "books")
    assert [p.name for p in books] == sorted(f"{u}.xlsx" for u in set(plan.enterprises["unit"]) - {""})
    seen = []
    for path in books:
        rows = sheet_rows(path, "企业台账")
        uscc = [r[0] for r in rows[1:] if r[0] is not None]
        units = {r[2] for r in rows[1:] if r[0] is not None}
        assert units == {path.stem}
        seen += uscc
        summary = sheet_rows(path, "汇总")
        n = next(r[1] for r in summary if r[0] == "入库企业数")
        assert n == len(uscc)  # the unit's own figures
    expected = plan.enterprises.index[plan.enterprises["unit"].ne("")].astype(str)
    assert sorted(seen) == sorted(expected)


@pytest.fixture(scope="module")
def county_pdf(tmp_path_factory, sample_county_plan) -> tuple[Path, Plan]:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None or shutil.which("pdftotext") is None:
        pytest.skip("LibreOffice (soffice) or pdftotext is not installed")
    county = sample_county_plan  # run(sample_inputs()), shared read-only (conftest.py)
    work = tmp_path_factory.mktemp("county")
    write_excel(county, work / "plan.xlsx")
    env = {**os.environ, "HOME": str(work)}
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{work / 'profile'}", "--headless", "--norestore",
         "--convert-to", "pdf", "--outdir", str(work), str(work / "plan.xlsx")],
        capture_output=True, text=True, timeout=300, env=env, check=False)
    pdf = work / "plan.pdf"
    assert pdf.is_file(), f"soffice failed: {result.stdout}\n{result.stderr}"
    return pdf, county


def _pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          timeout=120, check=True).stdout
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


#: The repeated first row of each sheet's print area (汇总: its title row).
PRINT_HEADERS = {"汇总": "非公企业党建网格化规划", "企业台账": "序号", "网格": "网格编号", "联合党支部": "联合党支部编号",
                 "网格长": "网格编号", "指导员": "统一社会信用代码", "问题清单": "管理单元", "经费测算": "单元类型",
                 "未入库": "台账行号", "达标路径": "口径",
                 # these may print their "none" note instead of a header row on the bundled county
                 "发展党员": "", "服务中心选址": "", "分片包干": ""}


def test_the_bundled_county_prints_within_60_pages_with_every_header(county_pdf):
    pdf, county = county_pdf
    pages = _pages(pdf)
    assert 0 < len(pages) <= 60, f"{len(pages)} printed pages"
    sheets_seen = []
    for number, page in enumerate(pages, start=1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        sheet = lines[0]  # the page header: the sheet's name
        assert sheet in PRINT_HEADERS, (number, lines[:3])
        assert lines[1].startswith(PRINT_HEADERS[sheet]), (number, sheet, lines[1])  # header row repeated
        assert f"第 {number} 页" in lines[-1]
        if sheet not in sheets_seen:
            sheets_seen.append(sheet)
    assert sheets_seen == [s for s in PRINT_HEADERS]  # every sheet prints, in order
    # every enterprise is on paper (its name, cut to the print view's width)
    flat = "".join("".join(p.split()) for p in pages)
    missing = [n for n in county.enterprises["name"] if "".join(str(n).split())[:8] not in flat]
    assert missing == []


def test_coverage_png_uses_the_maps_classes_before_and_after(plan, tmp_path):
    from matplotlib import image

    from gridcover.coverage import coverage_by

    img = (image.imread(coverage_png(plan, tmp_path / "c.png", dpi=60))[:, :, :3] * 255).round().astype(int)
    colours = {tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in (
        "#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")}
    found = {tuple(p) for p in img.reshape(-1, 3)} & colours
    rates = coverage_by(plan, "unit")
    expected = set()
    for col in ("org_rate_before", "org_rate_after"):
        for r in rates[col].dropna():
            k = sum(r >= e for e in (0.3, 0.6, 0.9, 1.0))  # < 30, 30–60, 60–90, 90–<100, 100 %
            expected.add(("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")[k])
    expected_rgb = {tuple(int(h[i:i + 2], 16) for i in (1, 3, 5)) for h in expected}
    assert expected_rgb <= found  # each unit's class colour is drawn (the legend adds the rest)
    assert found == colours  # the legend shows all five classes
    # the legend is a row of patches, not a colour bar whose tick labels could collide
    assert not (img[:, -60:, :] != 255).any(axis=2).all(axis=0).any()


def test_a_streamed_workbook_holds_the_same_cells(plan, tmp_path, monkeypatch):
    """Constant-memory mode (a large plan) writes rows in order: every sheet reads back
    cell for cell as the in-memory book, notes below empty tables included."""
    import gridcover.report as report

    shared = write_excel(plan, tmp_path / "shared.xlsx")
    monkeypatch.setattr(report, "STREAM_MIN_ROWS", 1)
    streamed = write_excel(plan, tmp_path / "streamed.xlsx")
    assert shared.read_bytes() != streamed.read_bytes()  # inline strings: another file
    with pd.ExcelFile(shared, engine="calamine") as a, pd.ExcelFile(streamed, engine="calamine") as b:
        assert a.sheet_names == b.sheet_names
        for name in a.sheet_names:
            left = pd.read_excel(a, sheet_name=name, header=None, dtype=str)
            right = pd.read_excel(b, sheet_name=name, header=None, dtype=str)
            pd.testing.assert_frame_equal(left, right, obj=name)
