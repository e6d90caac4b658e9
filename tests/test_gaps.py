"""Gap list G1–G9: small hand-built ledgers with hand-written expectations."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcover import Config
from gridcover.gaps import (
    GAP_COLUMNS,
    RULE_IDS,
    RULE_TEXT,
    find_gaps,
    gap_column,
    org_level,
    rule_text,
)

DEFAULTS = {
    "name": "某企业", "staff": 10, "members": 0, "probationary": 0, "org_type": "none",
    "org_name": "", "instructor": "", "above_scale": False, "fixed_premises": True,
    "lon": 118.0, "lat": 24.5, "precision": "exact", "township": "城关镇", "park": "",
    "unit": "城关镇", "unit_type": "township", "industry": "C",
}


def ledger(rows: dict[str, dict]) -> pd.DataFrame:
    """Enterprise table indexed by uscc from {uscc: overrides}."""
    records = [{**DEFAULTS, **over} for over in rows.values()]
    df = pd.DataFrame(records, index=pd.Index(list(rows), name="uscc", dtype="str"),
                      columns=list(dict.fromkeys([*DEFAULTS, *(k for r in records for k in r)])))
    for c in ("staff", "members", "probationary"):
        df[c] = df[c].astype("int64")
    return df


def gap_sets(gaps: pd.DataFrame) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for uscc, rule in zip(gaps["uscc"], gaps["rule_id"], strict=True):
        out.setdefault(uscc, set()).add(rule)
    return out


# A held-out style ledger: each row written to hit (or just miss) a threshold.
HELD_OUT = {
    # staff 50, nobody in the party: G1; no org, no instructor: G3
    "E01": {"staff": 50, "members": 0},
    # staff 49: below G1
    "E02": {"staff": 49, "members": 0, "instructor": "王某"},
    # staff 100, no org: G1 (no member), G2, G3
    "E03": {"staff": 100, "members": 0},
    # staff 99 with one probationary member, instructor: nothing (probationary counts for G1)
    "E04": {"staff": 99, "probationary": 1, "instructor": "李某"},
    # own org with 2 formal members (+2 probationary): G4 empty shell
    "E05": {"staff": 30, "members": 2, "probationary": 2, "org_type": "own", "org_name": "E05党支部"},
    # own org with exactly 3 formal members: fine
    "E06": {"staff": 30, "members": 3, "org_type": "own", "org_name": "E06党支部"},
    # 3 formal members in a joint branch: G7 (could build alone)
    "E07": {"staff": 40, "members": 3, "org_type": "joint", "org_name": "联合党支部一"},
    # 5 formal members attached: G7; staff 120 attached: not G2 (attachment is an organisation)
    "E08": {"staff": 120, "members": 5, "org_type": "attached"},
    # above-scale with its own org: nothing
    "E09": {"staff": 300, "members": 20, "org_type": "own", "above_scale": True, "org_name": "E09党支部"},
    # above-scale in a joint org with 1 member: G8
    "E10": {"staff": 60, "members": 1, "org_type": "joint", "above_scale": True, "org_name": "联合党支部一"},
    # above-scale, no org, 0 members, 150 staff: G1 G2 G3 G8
    "E11": {"staff": 150, "above_scale": True},
    # small, no org but an instructor: nothing
    "E12": {"staff": 3, "instructor": "赵某"},
}
HELD_OUT_EXPECTED = {
    "E01": {"G1", "G3"},
    "E03": {"G1", "G2", "G3"},
    "E05": {"G4"},
    "E07": {"G7"},
    "E08": {"G7"},
    "E10": {"G8"},
    "E11": {"G1", "G2", "G3", "G8"},
}


def test_held_out_ledger_gaps_per_enterprise():
    gaps = find_gaps(ledger(HELD_OUT))
    assert gap_sets(gaps) == HELD_OUT_EXPECTED
    assert list(gaps.columns) == list(GAP_COLUMNS)


def test_gap_rows_in_ledger_order_then_rule_order():
    gaps = find_gaps(ledger(HELD_OUT))
    assert gaps["uscc"].tolist() == ["E01", "E01", "E03", "E03", "E03", "E05", "E07", "E08", "E10",
                                     "E11", "E11", "E11", "E11"]
    assert gaps.loc[gaps["uscc"].eq("E11"), "rule_id"].tolist() == ["G1", "G2", "G3", "G8"]


def test_messages_quote_the_enterprise_figures():
    gaps = find_gaps(ledger(HELD_OUT)).set_index(["uscc", "rule_id"])["message"]
    assert gaps["E03", "G2"] == "职工100人，未建立党组织（G2：职工100人以上的都应建立党组织）"
    assert "职工50人" in gaps["E01", "G1"]
    assert "正式党员仅2人" in gaps["E05", "G4"] and "G4：" in gaps["E05", "G4"]
    assert "正式党员5人" in gaps["E08", "G7"] and "挂靠建" in gaps["E08", "G7"]
    assert "联合建" in gaps["E10", "G8"]
    for message in gaps:
        assert message.endswith("）")


def test_probationary_switch_changes_g1():
    df = ledger({"A": {"staff": 80, "members": 0, "probationary": 2, "instructor": "x"}})
    assert find_gaps(df).empty
    off = Config(large_thresholds_count_probationary=False)
    assert gap_sets(find_gaps(df, off)) == {"A": {"G1"}}


def test_attached_counts_for_g2_only_with_the_m1_switch():
    df = ledger({"A": {"staff": 100, "members": 1, "org_type": "attached"}})
    assert find_gaps(df).empty
    gaps = find_gaps(df, Config(org_coverage_counts_attached=False))
    assert gap_sets(gaps) == {"A": {"G2"}}
    assert "挂靠建" in gaps["message"].iloc[0]


def test_thresholds_come_from_the_config():
    df = ledger({"A": {"staff": 60, "members": 0, "instructor": "x"}})
    assert gap_sets(find_gaps(df)) == {"A": {"G1"}}
    gaps = find_gaps(df, Config(gap_member_min_staff=70, gap_org_min_staff=60))
    assert gap_sets(gaps) == {"A": {"G2"}}
    assert "职工60人以上的都应建立党组织" in gaps["message"].iloc[0]


def test_g5_flags_every_unit_of_an_oversized_joint_org():
    rows = {f"J{i}": {"members": 1, "org_type": "joint", "org_name": "大联合党支部"} for i in range(6)}
    rows |= {f"K{i}": {"members": 1, "org_type": "joint", "org_name": "小联合党支部"} for i in range(5)}
    gaps = find_gaps(ledger(rows))
    g5 = gaps[gaps["rule_id"].eq("G5")]
    assert sorted(g5["uscc"]) == [f"J{i}" for i in range(6)]
    assert "覆盖6家单位" in g5["message"].iloc[0]
    assert find_gaps(ledger(rows), Config(joint_max_units=6))["rule_id"].ne("G5").all()


@pytest.mark.parametrize(("members", "probationary", "org_name", "expected"), [
    (50, 0, "", False),                # 50 members: a branch may stay (O3 "more than 50")
    (49, 2, "", True),                 # 51 with probationary: general branch due
    (51, 0, "某公司党总支", False),     # already a general branch
    (99, 0, "", True),
    (100, 0, "某公司党总支", True),     # 100: committee due even for a general branch
    (100, 0, "中共某公司委员会", False),  # already a committee
    (120, 0, "某公司党委", False),
])
def test_g6_upgrade_due(members, probationary, org_name, expected):
    df = ledger({"A": {"staff": 500, "members": members, "probationary": probationary,
                       "org_type": "own", "org_name": org_name}})
    gaps = find_gaps(df)
    assert ("G6" in set(gaps["rule_id"])) is expected
    if expected:
        message = gaps.loc[gaps["rule_id"].eq("G6"), "message"].iloc[0]
        assert ("基层党委" if members + probationary >= 100 else "党总支") in message.split("（")[0]


def test_org_level_from_name():
    assert org_level("中共某某科技有限公司支部委员会") == "branch"
    assert org_level("中共某某科技有限公司总支部委员会") == "general_branch"
    assert org_level("中共某某科技有限公司委员会") == "committee"


def test_g9_uses_metres_to_the_nearest_centre_and_skips_unlocated():
    # 0.01° latitude ≈ 1,109 m here.
    df = ledger({
        "NEAR": {"lat": 24.5 + 0.015, "instructor": "x"},      # ≈ 1.66 km
        "FAR": {"lat": 24.5 + 0.025, "instructor": "x"},       # ≈ 2.77 km
        "LOST": {"lon": np.nan, "lat": np.nan, "precision": "unlocated", "instructor": "x"},
    })
    centres = gpd.GeoDataFrame({"name": ["中心"], "township": ["城关镇"]},
                               geometry=gpd.points_from_xy([118.0], [24.5]), crs="EPSG:4326")
    gaps = find_gaps(df, service_centres=centres)
    assert gap_sets(gaps) == {"FAR": {"G9"}}
    metres = int(gaps["message"].iloc[0].split("中心")[1].split("米")[0])
    assert 2700 < metres < 2850
    assert find_gaps(df).empty  # no centres given: no G9
    assert find_gaps(df, Config(service_catchment_m=3000.0), service_centres=centres).empty


def test_inputs_are_not_modified_and_missing_columns_default():
    df = ledger(HELD_OUT)
    before = df.copy()
    find_gaps(df)
    pd.testing.assert_frame_equal(df, before)
    bare = pd.DataFrame({"staff": [120]}, index=pd.Index(["A"], name="uscc"))
    assert gap_sets(find_gaps(bare)) == {"A": {"G1", "G2", "G3"}}


def test_empty_ledger_gives_empty_gap_list():
    gaps = find_gaps(ledger({}))
    assert gaps.empty and list(gaps.columns) == list(GAP_COLUMNS)
    assert gap_column(ledger({}), gaps).empty


def test_gap_column_sorted_ids_and_blank():
    df = ledger(HELD_OUT)
    col = gap_column(df, find_gaps(df))
    assert col.name == "gaps" and col.index.equals(df.index)
    assert col["E11"] == "G1;G2;G3;G8"
    assert col["E09"] == ""


def test_rule_texts_are_chinese_and_complete():
    assert set(RULE_TEXT) == set(RULE_IDS)
    assert RULE_TEXT["G2"] == "职工100人以上的都应建立党组织"
    assert rule_text("G9", Config(service_catchment_m=1500.0)) == "距党群服务中心不超过1.5公里"
    assert rule_text("G10", Config(instructor_capacity=4)) == "一名党建工作指导员联系企业一般不超过4家"
    with pytest.raises(ValueError, match="G11"):
        rule_text("G11")


rows_strategy = st.lists(
    st.fixed_dictionaries({
        "staff": st.integers(0, 300),
        "members": st.integers(0, 120),
        "probationary": st.integers(0, 5),
        "org_type": st.sampled_from(["own", "joint", "attached", "none"]),
        "org_name": st.sampled_from(["", "联合一", "联合二"]),
        "instructor": st.sampled_from(["", "王某"]),
        "above_scale": st.booleans(),
    }),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(rows_strategy)
def test_gap_invariants(rows):
    df = ledger({f"U{i:03d}": r for i, r in enumerate(rows)})
    gaps = find_gaps(df)
    assert set(gaps["uscc"]) <= set(df.index)
    assert not gaps.duplicated(["uscc", "rule_id"]).any()
    found = gap_sets(gaps)
    for uscc, rules in found.items():
        row = df.loc[uscc]
        assert not {"G4", "G7"} <= rules  # own with < 3 formal vs. ≥ 3 formal and not own
        if "G3" in rules:
            assert row["org_type"] == "none" and row["instructor"] == ""
        if {"G7", "G8"} & rules:
            assert row["org_type"] != "own"
        if "G1" in rules:
            assert row["members"] + row["probationary"] == 0 and row["staff"] >= 50
    col = gap_column(df, gaps)
    for uscc, value in col.items():
        assert value == ";".join(sorted(found.get(uscc, set()), key=lambda r: int(r[1:])))


def test_sample_county_planted_gaps(sample_county_located):
    ent = sample_county_located.enterprises  # locate(sample_inputs()), shared read-only (conftest.py)
    gaps = find_gaps(ent)
    # data/README.md: 5 empty-shell own branches, 2 joint organisations over 5 units
    assert (gaps["rule_id"] == "G4").sum() == 5
    g5 = gaps.loc[gaps["rule_id"].eq("G5"), "uscc"]
    assert ent.loc[g5, "org_name"].nunique() == 2
    # every above-scale enterprise without its own organisation: 496 - 44
    assert (gaps["rule_id"] == "G8").sum() == 496 - 44
