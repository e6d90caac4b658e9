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
    assert list(rejects.columns) == ["source_row", "uscc", "reason"]
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
