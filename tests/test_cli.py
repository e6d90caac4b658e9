"""The command line through its entry point: exit codes, one-line errors, output files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from gridcover import datasets
from gridcover._uscc import make_uscc

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def gridcover(*args, cwd=None):
    """Run the installed console entry point as a user would (a fresh process)."""
    return subprocess.run([sys.executable, "-m", "gridcover", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


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
                                 "size_class", "grid_id", "branch_id", "action", "gaps"]
    rejects = pd.read_csv(demo_dir / "rejects.csv", encoding="utf-8-sig", dtype=str)
    run = json.loads((demo_dir / "run.json").read_text(encoding="utf-8"))
    assert len(ent) + len(rejects) == run["counts"]["input_rows"] == 2010
    assert {"ingest", "geocode", "partition"} <= set(run["timings_s"])
    assert run["inputs"]["ledger"]["sha256"] and run["config"]["rules"]["joint_max_units"] == 5
    branches = pd.read_csv(demo_dir / "branches.csv", encoding="utf-8-sig", dtype=str)
    assert list(branches.columns) == ["branch_id", "grid_id", "status", "uscc", "members", "max_distance_m"]
    assert set(branches.status) <= {"new", "kept", "split"}
    cov = pd.read_csv(demo_dir / "coverage.csv", encoding="utf-8-sig")
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
