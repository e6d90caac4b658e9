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
