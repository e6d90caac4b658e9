"""The command line through its entry point: exit codes, one-line errors, output files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gridcover import datasets
from gridcover._uscc import make_uscc

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def gridcover(*args, cwd=None, lang="en"):
    """Run the installed console entry point as a user would (a fresh process); messages in
    ``lang`` (``GRIDCOVER_LANG``; None: the default, Chinese)."""
    env = {k: v for k, v in os.environ.items() if k != "GRIDCOVER_LANG"}
    env["COLUMNS"] = "200"  # help tables wide enough to show every option whole
    if lang is not None:
        env["GRIDCOVER_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "gridcover", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600, env=env)


def _clean_ledger(path, n=8):
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        rows.append({"统一社会信用代码": make_uscc(rng), "企业名称": f"测试企业{i}", "经度": 118.49 + i * 0.001,
                     "纬度": 26.55, "职工人数": 10 + i, "正式党员数": i % 3})
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_validate_clean_ledger_exits_0(tmp_path):
    ledger = _clean_ledger(tmp_path / "ok.csv")
    r = gridcover("validate", ledger)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "accepted: 8" in r.stdout and "rejected: 0" in r.stdout


def test_validate_sample_lists_rejects_exits_1_and_writes_files(tmp_path):
    out = tmp_path / "out"
    r = gridcover("validate", datasets.get_path("ledger"), "--townships", datasets.get_path("townships"),
                  "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"),
                  "--out", out)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    enterprises = pd.read_csv(out / "enterprises.csv", encoding="utf-8-sig", dtype=str)
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert (out / "enterprises.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert list(rejects.columns) == ["source_row", "uscc", "reason", "reason_cn"]
    assert rejects["reason_cn"].str.len().gt(0).all()  # every reject reason also in Chinese
    assert {"uscc", "name", "township", "park", "lon", "lat"} <= set(enterprises.columns)
    # accepted + rejected = data rows of the sample ledger (2,010)
    assert len(enterprises) + len(rejects) == 2010
    assert f"row {rejects.source_row.iloc[0]}:" in r.stdout
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02garbage", "一,二\n1,2\n".encode()])
def test_unreadable_ledger_is_one_line_exit_2(tmp_path, content):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    r = gridcover("validate", bad)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("gridcover: error:")


def test_missing_file_and_bad_config_exit_2(tmp_path):
    r = gridcover("validate", tmp_path / "nope.xlsx")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    cfg = tmp_path / "c.toml"
    cfg.write_text("[rules]\nno_such_key = 1\n", encoding="utf-8")
    r = gridcover("validate", _clean_ledger(tmp_path / "ok.csv"), "--config", cfg)
    assert r.returncode == 2 and "no_such_key" in r.stderr and "Traceback" not in r.stderr


def test_quiet_prints_nothing_on_success(tmp_path):
    r = gridcover("validate", _clean_ledger(tmp_path / "ok.csv"), "--quiet")
    assert r.returncode == 0 and r.stdout == ""


PLAN_FILES = {"enterprises.csv", "rejects.csv", "grids.geojson", "branches.csv", "coverage.csv", "gaps.csv",
              "plan.xlsx", "map.html", "run.json"}


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    r = gridcover("demo", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    return out


def test_demo_writes_every_contract_file(demo_dir):
    assert PLAN_FILES <= {p.name for p in demo_dir.iterdir()}
    assert (demo_dir / "plan.gpkg").is_file() and (demo_dir / "coverage.png").stat().st_size > 10_000
    assert not list(demo_dir.rglob(".*.tmp"))
    ent = pd.read_csv(demo_dir / "enterprises.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(ent.columns) == ["uscc", "name", "township", "park", "unit", "lon", "lat", "precision",
                                 "size_class", "grid_id", "branch_id", "action", "action_cn", "gaps"]
    rejects = pd.read_csv(demo_dir / "rejects.csv", encoding="utf-8-sig", dtype=str)
    run = json.loads((demo_dir / "run.json").read_text(encoding="utf-8"))
    assert len(ent) + len(rejects) == run["counts"]["input_rows"] == 2010
    assert {"ingest", "geocode", "partition"} <= set(run["timings_s"])
    assert run["inputs"]["ledger"]["sha256"] and run["config"]["rules"]["joint_max_units"] == 5
    branches = pd.read_csv(demo_dir / "branches.csv", encoding="utf-8-sig", dtype=str)
    assert list(branches.columns) == ["branch_id", "grid_id", "status", "uscc", "members", "max_distance_m",
                                      "approx_points", "lever"]
    assert set(branches.status) <= {"new", "kept", "split"}
    cov = pd.read_csv(demo_dir / "coverage.csv", encoding="utf-8-sig")
    cov = cov[cov.scope == "all"]
    total = cov[cov.unit_type == "total"].iloc[0]
    # park and township rows partition the total
    assert cov[cov.unit_type != "total"].enterprises.sum() == total.enterprises == len(ent)
    assert total.org_rate_after >= total.org_rate_before


def test_plan_is_deterministic_and_matches_demo(demo_dir, tmp_path):
    out = tmp_path / "plan"
    r = gridcover("plan", datasets.get_path("ledger"), "--townships", datasets.get_path("townships"),
                  "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"),
                  "--service-centres", datasets.get_path("service_centres"),
                  "--instructors", datasets.get_path("instructors"), "--out", out, "--no-maps", "--quiet")
    assert r.returncode == 0, r.stderr
    for name in ("enterprises.csv", "grids.geojson", "branches.csv", "coverage.csv", "gaps.csv", "rejects.csv"):
        assert (out / name).read_bytes() == (demo_dir / name).read_bytes(), name


def test_plan_needs_townships_and_reports_a_missing_file(tmp_path):
    r = gridcover("plan", datasets.get_path("ledger"), "--out", tmp_path / "o")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = gridcover("plan", datasets.get_path("ledger"), "--townships", tmp_path / "none.geojson", "--out", tmp_path / "o")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.startswith("gridcover: error:")
    assert not (tmp_path / "o" / "run.json").exists()


def test_map_rerenders_a_saved_plan(demo_dir, tmp_path):
    r = gridcover("map", demo_dir, "--out", tmp_path / "m", "--basemap", "none", "--no-per-unit")
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "m" / "map.html").read_text(encoding="utf-8")
    assert "<script src=\"http" not in html and "L.map" in html


def test_diff_of_a_ledger_with_itself_is_empty_and_with_a_change_is_not(tmp_path):
    src = datasets.get_path("ledger")
    table = pd.read_excel(src, header=1, dtype=str, engine="calamine")
    changed = table.drop(index=[0, 1]).copy()
    changed.loc[5, "职工人数"] = "999"
    new = tmp_path / "new.csv"
    changed.to_csv(new, index=False, encoding="utf-8-sig")
    r = gridcover("diff", src, new, "--out", tmp_path / "d", "--townships", datasets.get_path("townships"),
                  "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"))
    assert r.returncode == 0, r.stderr
    closed = pd.read_csv(tmp_path / "d" / "closed.csv", encoding="utf-8-sig", dtype=str)
    assert set(closed.uscc) == {table.iloc[0, 0].strip().upper().replace(" ", ""),
                                table.iloc[1, 0].strip().upper().replace(" ", "")}
    chg = pd.read_csv(tmp_path / "d" / "changed.csv", encoding="utf-8-sig", dtype=str)
    assert ((chg.field == "staff") & (chg.new == "999")).sum() == 1


def test_config_template_round_trips_through_plan(tmp_path):
    cfg = tmp_path / "my.toml"
    r = gridcover("config", "--out", cfg)
    assert r.returncode == 0, r.stderr
    text = cfg.read_text(encoding="utf-8")
    assert "joint_max_units = 5" in text and "[partition]" in text
    cfg.write_text(text.replace("joint_max_units = 5", "joint_max_units = 4"), encoding="utf-8")
    r = gridcover("config", "--config", cfg)
    assert r.returncode == 0 and "joint_max_units = 4" in r.stdout


# --- the output folder -------------------------------------------------------------------------
def _one_line_exit_2(r):
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("gridcover: error:")


def test_bad_out_paths_are_refused_before_anything_is_read(tmp_path):
    ledger = _clean_ledger(tmp_path / "ok.csv")
    town = datasets.get_path("townships")
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    inside = tmp_path / "planfolder"
    inside.mkdir()
    own_ledger = _clean_ledger(inside / "enterprises.csv")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.docx").write_text("keep me", encoding="utf-8")
    cases = [
        (("plan", ledger, "--townships", town, "--out", a_file), "is a file"),
        (("plan", ledger, "--townships", town, "--out", a_file / "sub"), "which is a file"),
        (("plan", own_ledger, "--townships", town, "--out", inside), "inside the output folder"),
        (("plan", ledger, "--townships", town, "--out", mine), "not a gridcover plan"),
        (("demo", "--out", a_file), "is a file"),
        (("validate", own_ledger, "--out", inside), "would be overwritten"),
        (("validate", ledger, "--out", a_file), "is a file"),
    ]
    for args, expected in cases:
        r = gridcover(*args)
        _one_line_exit_2(r)
        assert expected in r.stderr, (args, r.stderr)
        assert "rows read" not in r.stdout  # refused before the ledger was read
    assert (mine / "report.docx").read_text(encoding="utf-8") == "keep me"
    assert pd.read_csv(own_ledger).shape[0] == 8  # the ledger in the out folder is untouched


def _no_pipeline(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("the pipeline ran although the out path was bad")

    monkeypatch.setattr("gridcover.pipeline.run", refuse)
    monkeypatch.setattr("gridcover.pipeline.locate", refuse)


def test_read_only_full_or_unwritable_out_path_is_exit_2_before_work(tmp_path, monkeypatch):
    """Root ignores permissions and no read-only mount can be made here: the file
    system's answers (statvfs, disk_usage, access) are stood in for, in process."""
    from typer.testing import CliRunner

    import gridcover._io as io
    from gridcover.cli import app

    _no_pipeline(monkeypatch)
    ledger = _clean_ledger(tmp_path / "ok.csv")
    runner = CliRunner()
    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, st):
            self.f_flag = st.f_flag | os.ST_RDONLY

    for patch, expected in ((("statvfs", lambda p: ReadOnly(real_statvfs(p)), io.os), "read-only"),
                            (("disk_usage", lambda p: type("U", (), {"free": 10})(), io.shutil), "full disk"),
                            (("_writable", lambda p: False, io), "not writable")):
        name, fake, module = patch
        with monkeypatch.context() as m:
            m.setattr(module, name, fake)
            for args in (["plan", str(ledger), "--townships", str(datasets.get_path("townships")),
                          "--out", str(tmp_path / "o")], ["demo", "--out", str(tmp_path / "o")],
                         ["validate", str(ledger), "--out", str(tmp_path / "o")]):
                r = runner.invoke(app, args)
                assert r.exit_code == 2, (args, r.output)
                assert expected in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


def test_a_full_disk_while_writing_keeps_the_previous_plan(demo_dir, tmp_path, monkeypatch):
    import errno
    import shutil

    from typer.testing import CliRunner

    from gridcover import _io
    from gridcover.cli import app

    out = tmp_path / "plan"
    shutil.copytree(demo_dir, out)
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("gridcover.report.write_excel", full)
    r = CliRunner().invoke(app, ["demo", "--out", str(out), "--no-maps", "--quiet"])
    assert r.exit_code == 2, r.output
    assert "no space left on the disk" in r.output and "previous plan is unchanged" in r.output
    assert "Traceback" not in r.output
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    _io.verify_folder(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]  # no temporary folder left


@pytest.mark.parametrize("damage", ["missing", "changed", "no_run_json"])
def test_map_refuses_a_damaged_plan_folder(demo_dir, tmp_path, damage):
    import shutil

    plan = tmp_path / "plan"
    shutil.copytree(demo_dir, plan)
    if damage == "missing":
        (plan / "branches.csv").unlink()
    elif damage == "changed":
        with open(plan / "enterprises.csv", "a", encoding="utf-8") as f:
            f.write("91350100MA00000000,x,,,,,,,,,,,\n")
    else:
        (plan / "run.json").unlink()
    r = gridcover("map", plan, "--basemap", "none", "--no-per-unit")
    _one_line_exit_2(r)
    assert {"missing": "missing: branches.csv", "changed": "changed since it was written: enterprises.csv",
            "no_run_json": "no run.json"}[damage] in r.stderr


def test_map_in_place_rewrites_the_plan_folder_whole(demo_dir, tmp_path):
    import shutil

    from gridcover import _io

    plan = tmp_path / "plan"
    shutil.copytree(demo_dir, plan)
    old = json.loads((plan / "run.json").read_text(encoding="utf-8"))
    r = gridcover("map", plan, "--basemap", "none", "--no-per-unit")
    assert r.returncode == 0, r.stderr
    record = _io.verify_folder(plan)  # the new maps are listed with their hashes
    assert record["files"]["map.html"] != old["files"]["map.html"]
    assert record["files"]["enterprises.csv"] == old["files"]["enterprises.csv"]
    assert not any(n.startswith("maps/") for n in record["files"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan"]


# --- Chinese first, intranet tiles, one workbook per unit ----------------------------------------
def test_help_is_chinese_by_default_and_english_on_request():
    zh = gridcover("--help", lang=None)
    assert zh.returncode == 0 and "非公企业党建" in zh.stdout
    plan_zh = gridcover("plan", "--help", lang=None).stdout
    assert "--tiles" in plan_zh and "--attribution" in plan_zh and "--per-unit-books" in plan_zh
    assert "内网瓦片服务" in plan_zh and "一园一策" in plan_zh and "Output folder" not in plan_zh
    en = gridcover("plan", "--help", lang="en").stdout
    assert "Output folder" in en and "一园一策" in en and "内网瓦片服务" not in en


def test_validate_speaks_chinese_and_writes_chinese_reasons(tmp_path):
    out = tmp_path / "out"
    r = gridcover("validate", datasets.get_path("ledger"), "--townships", datasets.get_path("townships"),
                  "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"),
                  "--out", out, lang=None)
    assert r.returncode == 1, r.stderr
    rejects = pd.read_csv(out / "rejects.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "读入 2010 行" in r.stdout and f"第 {rejects.source_row.iloc[0]} 行" in r.stdout
    assert "rows read" not in r.stdout and "row " not in r.stdout
    # every reason has its Chinese text, with no English word of the code left in it
    assert rejects["reason_cn"].str.len().gt(0).all()
    english = rejects["reason_cn"].str.contains(r"\b(?:is|the|of|lies|exceed|given|expected)\b", regex=True)
    assert not english.any(), rejects.loc[english, "reason_cn"].tolist()
    assert rejects["reason_cn"].iloc[0] in r.stdout
    bad = gridcover("validate", tmp_path / "missing.csv", lang=None)
    assert bad.returncode == 2 and bad.stderr.startswith("gridcover：错误：")


def test_bad_tiles_url_is_refused_before_any_work(tmp_path):
    r = gridcover("demo", "--out", tmp_path / "o", "--tiles", "http://10.0.0.1/tiles.png", lang=None)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "tile_url" in r.stderr
    assert not (tmp_path / "o").exists()


def test_demo_with_intranet_tiles_and_one_workbook_per_unit(tmp_path):
    out = tmp_path / "plan"
    url = "http://10.0.0.8/tiles/{z}/{x}/{y}.png"
    r = gridcover("demo", "--out", out, "--tiles", url, "--attribution", "某县政务外网", "--per-unit-books",
                  lang=None)
    assert r.returncode == 0, r.stderr
    page = (out / "map.html").read_text(encoding="utf-8")
    assert url in page and "openstreetmap" not in page and "GC.offlineNote(" not in page
    enterprises = pd.read_csv(out / "enterprises.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    units = sorted(set(enterprises["unit"]) - {""})
    books = sorted(p.stem for p in (out / "books").glob("*.xlsx"))
    assert books == sorted(units)
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert {f"books/{u}.xlsx" for u in units} <= set(record["files"])
    import openpyxl

    total = 0
    for u in units:
        wb = openpyxl.load_workbook(out / "books" / f"{u}.xlsx", read_only=True)
        rows = [r for r in wb["企业台账"].iter_rows(min_row=2, max_col=3, values_only=True) if r[0]]
        wb.close()
        assert {r[2] for r in rows} == {u}
        total += len(rows)
    assert total == int(enterprises["unit"].ne("").sum())
