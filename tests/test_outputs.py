"""Atomic output writing: a failed write never leaves a half-written or stray file."""

from __future__ import annotations

import pandas as pd
import pytest

from gridcover.outputs import atomic_path, write_csv


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "enterprises.csv"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["enterprises.csv"]


def test_csv_has_bom_and_fixed_columns(tmp_path):
    df = pd.DataFrame({"b": [1], "a": ["青龙镇"]})
    path = write_csv(df, tmp_path / "x.csv", columns=("a", "b", "c"))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig").splitlines() == ["a,b,c", "青龙镇,1,"]
    assert raw.endswith(b"\r\n")


# --- hostile names through the whole pipeline ----------------------------------------------
HOSTILE = ['=HYPERLINK("http://x","y")', "+SUM(1,2)", "-2+3", "@cmd", "\tTAB企业", "\rCR企业"]
HOSTILE_TOWN = '=HYPERLINK("http://x","y")镇'
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def hostile_inputs(folder):
    """A small county whose enterprise names and one township name are formulas."""
    import geopandas as gpd
    import numpy as np
    import xlsxwriter
    from shapely.geometry import box

    from gridcover._uscc import make_uscc
    from gridcover.pipeline import Inputs

    folder.mkdir(parents=True, exist_ok=True)
    towns = gpd.GeoDataFrame({"name": [HOSTILE_TOWN, "@cmd街道"]},
                             geometry=[box(118.00, 24.50, 118.05, 24.55), box(118.05, 24.50, 118.10, 24.55)],
                             crs="EPSG:4326")
    towns.to_file(folder / "townships.geojson", driver="GeoJSON")
    rng = np.random.default_rng(7)
    header = ["统一社会信用代码", "企业名称", "经度", "纬度", "乡镇（街道）", "职工人数", "正式党员数"]
    rows = []
    for i in range(24):
        name = HOSTILE[i % len(HOSTILE)] + (f"{i}" if i >= len(HOSTILE) else "")
        lon = 118.005 + (i % 12) * 0.0075 + rng.uniform(0, 0.002)
        town = HOSTILE_TOWN if lon < 118.05 else "@cmd街道"
        declared = "+SUM(1,2)镇" if i == 3 else town  # one declared township conflicts
        rows.append([make_uscc(rng), name, round(lon, 6), round(24.51 + (i % 5) * 0.006, 6), declared,
                     8 + i, i % 3])
    rows.append(["=1+1", "-坏代码企业", 118.01, 24.52, HOSTILE_TOWN, 10, 0])  # rejected: bad code
    book = xlsxwriter.Workbook(str(folder / "ledger.xlsx"), {"strings_to_formulas": False,
                                                              "strings_to_numbers": False})
    ws = book.add_worksheet("台账")
    for j, h in enumerate(header):
        ws.write_string(0, j, h)
    for i, row in enumerate(rows, start=1):
        for j, v in enumerate(row):
            if isinstance(v, str):
                ws.write_string(i, j, v)
            else:
                ws.write_number(i, j, v)
    book.close()
    return Inputs(ledger=folder / "ledger.xlsx", townships=folder / "townships.geojson")


@pytest.fixture(scope="module")
def hostile_plan_dir(tmp_path_factory):
    from gridcover.outputs import write_plan, write_validation
    from gridcover.pipeline import locate, run

    base = tmp_path_factory.mktemp("hostile")
    inputs = hostile_inputs(base / "in")
    plan = run(inputs)
    write_plan(plan, base / "plan", png=False)
    write_validation(locate(inputs), base / "validate")
    return base


def _cells(path):
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        return [cell for row in csv.reader(f) for cell in row]


def test_no_csv_cell_of_a_hostile_plan_can_run_as_a_formula(hostile_plan_dir):
    files = sorted((hostile_plan_dir / "plan").rglob("*.csv")) + sorted((hostile_plan_dir / "validate").glob("*.csv"))
    names = {p.name for p in files}
    assert {"enterprises.csv", "branches.csv", "coverage.csv", "gaps.csv", "rejects.csv", "conflicts.csv"} <= names
    seen = 0
    for path in files:
        for cell in _cells(path):
            assert not cell.startswith(DANGEROUS), f"{path.name}: {cell!r}"
            seen += cell.startswith("'")
        # pandas, the way a user script reads it, sees the same
        df = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        for col in df.columns:
            assert not str(col).startswith(DANGEROUS)
            assert not df[col].str.startswith(DANGEROUS).any(), f"{path.name}.{col}"
    assert seen > 50  # the hostile values were there, neutralised
    ent = pd.read_csv(hostile_plan_dir / "plan" / "enterprises.csv", encoding="utf-8-sig", keep_default_na=False)
    assert ent["lon"].dtype.kind == "f" and ent["lat"].dtype.kind == "f"  # numbers stay numbers
    assert ("'" + HOSTILE[0]) in set(ent["name"]) and ("'" + HOSTILE_TOWN) in set(ent["unit"])
    # grid and branch ids built from the hostile township name are neutralised too
    assert ent.loc[ent["unit"].eq("'" + HOSTILE_TOWN), "grid_id"].str.startswith("'=").all()
    coverage = pd.read_csv(hostile_plan_dir / "plan" / "coverage.csv", encoding="utf-8-sig")
    assert coverage["org_rate_after"].dtype.kind == "f"
    rejects = pd.read_csv(hostile_plan_dir / "plan" / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects["uscc"].tolist() == ["'=1+1"]
    conflicts = pd.read_csv(hostile_plan_dir / "plan" / "conflicts.csv", encoding="utf-8-sig", dtype=str,
                            keep_default_na=False)
    assert conflicts.apply(lambda c: c.str.contains(r"SUM\(1,2\)", regex=True)).any().any()


def test_a_hostile_plan_reads_back_exactly(hostile_plan_dir):
    from gridcover.outputs import read_plan

    plan = read_plan(hostile_plan_dir / "plan")
    assert HOSTILE_TOWN in set(plan.enterprises["unit"])
    assert len(plan.branches) and plan.branches["grid_id"].str.startswith(("=", "@")).all()
    assert plan.rejects["uscc"].tolist() == ["=1+1"]


def test_hostile_unit_names_make_safe_map_files(hostile_plan_dir):
    maps = sorted(p.name for p in (hostile_plan_dir / "plan" / "maps").iterdir())
    assert len(maps) == 2
    assert all(not n.startswith(("=", "@", ".")) and len(n) <= 65 for n in maps)


# --- parallel writers, output timings, Parquet at province size -----------------------------
@pytest.fixture(scope="module")
def county_plan(sample_county_plan):
    """``gc.run(gc.sample_inputs())``, shared read-only (conftest.py)."""
    return sample_county_plan


@pytest.fixture(scope="module")
def serial_and_parallel(county_plan, tmp_path_factory):
    """The bundled county written serially and by two processes (Parquet and the summary
    workbook forced on, as a province would have them)."""
    from gridcover.outputs import write_plan

    base = tmp_path_factory.mktemp("parallel")
    plan = county_plan.replace(config=county_plan.config.replace(parquet_min_enterprises=10))
    write_plan(plan, base / "serial", workers=1)
    write_plan(plan, base / "parallel", workers=2)
    return base / "serial", base / "parallel"


def _sheets(path):
    with pd.ExcelFile(path, engine="calamine") as book:
        return list(book.sheet_names)


def _record(folder):
    import json

    return json.loads((folder / "run.json").read_text(encoding="utf-8"))


def test_parallel_writers_give_the_bytes_of_a_serial_run(serial_and_parallel):
    import hashlib

    serial, parallel = serial_and_parallel
    names = sorted(p.relative_to(serial).as_posix() for p in serial.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(parallel).as_posix() for p in parallel.rglob("*") if p.is_file())
    assert sum(n.startswith("maps/") for n in names) >= 5  # the unit maps were tasks of their own
    for name in names:
        if name != "run.json":
            assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
    a, b = _record(serial), _record(parallel)
    assert a["files"] == b["files"]
    for name, digest in a["files"].items():  # run.json lists every file with its SHA-256
        assert hashlib.sha256((parallel / name).read_bytes()).hexdigest() == digest


def test_run_json_times_every_output_beside_the_stages(serial_and_parallel):
    for folder in serial_and_parallel:
        record = _record(folder)
        timings = record["timings_s"]
        assert {"ingest", "partition", "measure"} <= set(timings)  # the stages stay
        files = set(record["files"])
        wanted = {"write:" + (n if not n.startswith("maps/") else "maps/") for n in files}
        assert wanted <= set(timings)
        assert all(isinstance(v, float | int) and v >= 0 for v in timings.values())
        assert timings["outputs"] >= max(timings["write:plan.xlsx"], timings["write:map.html"]) * 0.5


def test_a_province_size_plan_writes_geoparquet_and_a_summary_workbook(serial_and_parallel):
    import geopandas as gpd
    import numpy as np

    from gridcover.outputs import read_plan
    from gridcover.report import SUMMARY_SHEETS

    folder = serial_and_parallel[0]
    record = _record(folder)
    assert {"enterprises.parquet", "grids.parquet"} <= set(record["files"])
    csv = pd.read_csv(folder / "enterprises.csv", encoding="utf-8-sig", dtype={"uscc": str}, keep_default_na=False)
    pq = gpd.read_parquet(folder / "enterprises.parquet")
    assert pq.crs.to_epsg() == 4326
    assert pq["uscc"].tolist() == csv["uscc"].tolist()
    assert list(pq.columns.drop("geometry")) == list(csv.columns)
    located = pq.geometry.notna().to_numpy()
    lon = pd.to_numeric(csv["lon"], errors="coerce").to_numpy()
    assert np.allclose(pq.geometry[located].x, lon[located])
    assert np.isnan(lon[~located]).all()
    geojson = gpd.read_file(folder / "grids.geojson")
    grids = gpd.read_parquet(folder / "grids.parquet")
    assert grids["grid_id"].tolist() == geojson["grid_id"].tolist()
    assert grids.geometry.geom_equals_exact(geojson.geometry, tolerance=1e-9).all()
    assert _sheets(folder / "plan.xlsx") == list(SUMMARY_SHEETS)
    assert len(read_plan(folder).enterprises) == len(csv)  # the folder reads back whole


def test_a_county_size_plan_writes_no_parquet_and_every_sheet(county_plan, tmp_path):
    from gridcover.outputs import write_plan
    from gridcover.report import SHEETS

    write_plan(county_plan, tmp_path / "plan", maps=False, png=False, workers=2)
    assert not list((tmp_path / "plan").glob("*.parquet"))
    sheets = _sheets(tmp_path / "plan" / "plan.xlsx")
    assert [s for s in SHEETS if s in sheets] == list(SHEETS)


def test_a_writer_failing_in_a_worker_leaves_the_previous_plan(county_plan, tmp_path, monkeypatch):
    from gridcover.outputs import write_plan

    target = tmp_path / "plan"
    write_plan(county_plan, target, maps=False, png=False, workers=1)
    before = {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()}

    def boom(*args, **kwargs):
        raise RuntimeError("the instructor sheet cannot be written")

    monkeypatch.setattr("gridcover.report._instructor_sheet", boom)
    with pytest.raises(RuntimeError, match="instructor sheet"):
        write_plan(county_plan, target, maps=False, png=False, workers=2)
    assert {p.name: p.read_bytes() for p in target.iterdir() if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan"]  # no hidden folder left behind
