"""Quarterly update: gridcover.diff on hand-made ledgers."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcover import Config, Ledger
from gridcover.diff import CHANGE_FIELDS, LedgerDiff, diff_ledgers, write_diff

M_PER_DEG_LAT = 110_574.0

BASE = {"name": "", "address": "", "staff": 10, "members": 0, "probationary": 0, "org_type": "none",
        "org_name": "", "instructor": "", "above_scale": False, "fixed_premises": True,
        "lon": 119.0, "lat": 26.0, "precision": "exact", "township": "甲镇", "park": "",
        "unit": "甲镇", "unit_type": "township", "township_declared": "甲镇", "size_class": "6-49",
        "eligible": True}


def ledger(rows: dict[str, dict]) -> Ledger:
    """A located ledger from {uscc: overrides of BASE}."""
    recs = []
    for uscc, over in rows.items():
        rec = {**BASE, "name": f"{uscc}公司", **over}
        if rec["unit"] == "甲园":
            rec.update(park="甲园", unit_type="park")
        if rec["unit"] == "":
            rec.update(unit_type="", township="", precision="unlocated", lon=math.nan, lat=math.nan)
        recs.append({"uscc": uscc, **rec})
    df = pd.DataFrame(recs, columns=["uscc", *BASE]).set_index("uscc")
    return Ledger(enterprises=df, n_rows=len(df))


OLD = {
    "KEEP": {},
    "GONE": {"org_type": "own", "members": 3},
    "MOVE": {"lat": 26.0},
    "NEAR": {"lat": 26.0},
    "STAF": {"staff": 30},
    "MEMB": {"members": 1},
    "ORGT": {"org_type": "none"},
    "ORGN": {"org_type": "joint", "org_name": "甲镇联合党支部", "members": 1},
    "INST": {"instructor": ""},
    "PARK": {"unit": "甲园", "org_type": "attached", "members": 1},
}
NEW = {
    "KEEP": {},
    "MOVE": {"lat": 26.0 + 300 / M_PER_DEG_LAT},  # 300 m north: moved
    "NEAR": {"lat": 26.0 + 150 / M_PER_DEG_LAT},  # 150 m: under the 200 m threshold
    "STAF": {"staff": 45},
    "MEMB": {"members": 3},
    "ORGT": {"org_type": "own", "members": 3},  # members changed too: two rows
    "ORGN": {"org_type": "joint", "org_name": "甲镇第二联合党支部", "members": 1},
    "INST": {"instructor": "王某"},
    "PARK": {"unit": "甲园", "org_type": "attached", "members": 1},
    "NEW1": {"unit": "甲园", "staff": 60},
    "NEW2": {"unit": "", "township_declared": "乙镇"},
}


@pytest.fixture(scope="module")
def diff() -> LedgerDiff:
    return diff_ledgers(ledger(OLD), ledger(NEW))


def test_added_and_closed(diff):
    assert diff.added["uscc"].tolist() == ["NEW1", "NEW2"]
    assert diff.added["unit"].tolist() == ["甲园", "乙镇"]  # unlocated: its declared township
    assert diff.added.loc[0, "staff"] == 60
    assert diff.closed["uscc"].tolist() == ["GONE"]
    assert diff.closed.loc[0, "org_type"] == "own"


def test_moved_only_beyond_200_m(diff):
    assert diff.moved["uscc"].tolist() == ["MOVE"]
    assert diff.moved.loc[0, "distance_m"] == pytest.approx(300, abs=2)
    assert diff.moved.loc[0, "lat_old"] == 26.0
    assert diff.moved.loc[0, ["precision_old", "precision_new"]].tolist() == ["exact", "exact"]


def test_each_changed_field_is_one_row(diff):
    rows = diff.changed[["uscc", "field", "old", "new"]].values.tolist()
    assert rows == [
        ["STAF", "staff", "30", "45"],
        ["MEMB", "members", "1", "3"],
        ["ORGT", "members", "0", "3"],
        ["ORGT", "org_type", "none", "own"],
        ["ORGN", "org_name", "甲镇联合党支部", "甲镇第二联合党支部"],
        ["INST", "instructor", "", "王某"],
    ]
    assert set(diff.changed["field"]) <= set(CHANGE_FIELDS)


def test_summary_counts_and_coverage_change(diff):
    s = diff.summary.set_index("unit")
    assert s["unit_type"].tolist() == ["park", "township", "township", "total"]
    assert list(s.index) == ["甲园", "乙镇", "甲镇", "合计"]
    cols = ["enterprises_old", "enterprises_new", "added", "closed", "moved", "changed"]
    assert s.loc["甲园", cols].tolist() == [1, 2, 1, 0, 0, 0]
    assert s.loc["乙镇", cols].tolist() == [0, 1, 1, 0, 0, 0]
    assert s.loc["甲镇", cols].tolist() == [9, 8, 0, 1, 1, 5]
    assert s.loc["合计", cols].tolist() == [10, 11, 2, 1, 1, 5]
    # 甲镇 old: GONE own, ORGN joint -> 2 of 9 organised; work adds nobody. New: ORGT own,
    # ORGN joint -> 2 of 8; work adds INST's instructor -> 3 of 8.
    assert s.loc["甲镇", "org_rate_old"] == pytest.approx(2 / 9)
    assert s.loc["甲镇", "org_rate_new"] == pytest.approx(2 / 8)
    assert s.loc["甲镇", "work_rate_old"] == pytest.approx(2 / 9)
    assert s.loc["甲镇", "work_rate_new"] == pytest.approx(3 / 8)
    # 甲园: PARK attached (counts by default); NEW1 none
    assert s.loc["甲园", "org_rate_old"] == 1.0 and s.loc["甲园", "org_rate_new"] == 0.5
    assert math.isnan(s.loc["乙镇", "org_rate_old"])
    assert s.loc["合计", "org_rate_new"] == pytest.approx(3 / 11)


def test_attached_switch_reaches_the_rates():
    d = diff_ledgers(ledger(OLD), ledger(NEW), config=Config(org_coverage_counts_attached=False))
    assert d.summary.set_index("unit").loc["甲园", "org_rate_old"] == 0.0


def test_write_diff_writes_five_bom_csvs_atomically(diff, tmp_path):
    out = tmp_path / "diff"
    written = write_diff(diff, out)
    names = sorted(p.name for p in written)
    assert names == ["added.csv", "changed.csv", "closed.csv", "moved.csv", "summary.csv"]
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary files left
    raw = (out / "changed.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(out / "changed.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(back.columns) == ["uscc", "name", "unit_type", "unit", "field", "old", "new"]
    assert "甲镇第二联合党支部" in back["new"].tolist()
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
    assert summary["unit"].iloc[-1] == "合计"


def test_no_change_gives_empty_tables_with_columns(tmp_path):
    same = ledger(OLD)
    d = diff_ledgers(same, same)
    for table in (d.added, d.closed, d.moved, d.changed):
        assert table.empty and len(table.columns) > 0
    assert d.summary.set_index("unit").loc["合计", ["added", "closed", "moved", "changed"]].tolist() == [0, 0, 0, 0]
    write_diff(d, tmp_path)
    assert pd.read_csv(tmp_path / "moved.csv", encoding="utf-8-sig").empty


def test_repeated_uscc_is_refused():
    df = ledger(OLD).enterprises
    twice = Ledger(enterprises=pd.concat([df, df.iloc[:1]]), n_rows=len(df) + 1)
    with pytest.raises(ValueError, match="KEEP"):
        diff_ledgers(twice, ledger(NEW))


def test_inputs_are_not_mutated():
    old, new = ledger(OLD), ledger(NEW)
    a, b = old.enterprises.copy(), new.enterprises.copy()
    diff_ledgers(old, new)
    pd.testing.assert_frame_equal(old.enterprises, a)
    pd.testing.assert_frame_equal(new.enterprises, b)


@settings(max_examples=25, deadline=None)
@given(st.sets(st.sampled_from(sorted(OLD)), max_size=len(OLD)),
       st.sets(st.sampled_from(sorted(NEW)), max_size=len(NEW)))
def test_added_and_closed_swap_when_the_quarters_swap(keep_old, keep_new):
    a = ledger({k: v for k, v in OLD.items() if k in keep_old})
    b = ledger({k: v for k, v in NEW.items() if k in keep_new})
    forward, backward = diff_ledgers(a, b), diff_ledgers(b, a)
    assert set(forward.added["uscc"]) == set(backward.closed["uscc"]) == keep_new - keep_old
    assert set(forward.closed["uscc"]) == set(backward.added["uscc"]) == keep_old - keep_new
    assert set(forward.moved["uscc"]) == set(backward.moved["uscc"])
    assert sorted(forward.changed[["uscc", "field"]].values.tolist()) == \
        sorted(backward.changed[["uscc", "field"]].values.tolist())
    total = forward.summary.set_index("unit").loc["合计"]
    assert total["enterprises_new"] - total["enterprises_old"] == total["added"] - total["closed"]
