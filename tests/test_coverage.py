"""Coverage M1–M4 on hand-built Plans with hand-computed expectations."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from gridcover import Config, Plan
from gridcover.coverage import (
    COVERAGE_COLUMNS,
    coverage_by,
    coverage_flags,
    coverage_table,
    measure_plan,
    targets,
)

DEFAULTS = {
    "name": "某企业", "staff": 10, "members": 0, "probationary": 0, "org_type": "none",
    "org_name": "", "instructor": "", "above_scale": False, "fixed_premises": True,
    "lon": 118.0, "lat": 24.5, "precision": "exact", "township": "东镇", "township_declared": "",
    "park": "", "unit": "东镇", "unit_type": "township", "industry": "C", "size_class": "6-49",
}

PARK = {"park": "高新园", "unit": "高新园", "unit_type": "park", "township": "东镇"}
WEST = {"township": "西镇", "unit": "西镇"}
LOST = {"lon": np.nan, "lat": np.nan, "precision": "unlocated", "township": "", "unit": "", "unit_type": ""}


def ledger(rows: dict[str, dict]) -> pd.DataFrame:
    records = [{**DEFAULTS, **over} for over in rows.values()]
    df = pd.DataFrame(records, index=pd.Index(list(rows), name="uscc", dtype="str"),
                      columns=list(dict.fromkeys([*DEFAULTS, *(k for r in records for k in r)])))
    for c in ("staff", "members", "probationary"):
        df[c] = df[c].astype("int64")
    return df


# Held-out style county: a park inside 东镇, the rest of 东镇, 西镇, and unlocated rows.
COUNTY = {
    # 高新园 (park): 4 enterprises; org before: P1 own, P2 joint, P3 attached -> 3/4; work: + P4 instructor -> 4/4
    "P1": {**PARK, "org_type": "own", "members": 5, "above_scale": True},
    "P2": {**PARK, "org_type": "joint", "members": 1, "org_name": "园区联合支部"},
    "P3": {**PARK, "org_type": "attached", "members": 1},
    "P4": {**PARK, "instructor": "王某", "above_scale": True},
    # 东镇 outside the park: 3 enterprises; org: T1 -> 1/3; work: T1, T2 instructor -> 2/3
    "T1": {"org_type": "own", "members": 3},
    "T2": {"instructor": "李某"},
    "T3": {"above_scale": True},
    # 西镇: 2 enterprises, none covered, plus an unlocated one declaring 西镇 (covered: joint)
    "W1": {**WEST},
    "W2": {**WEST, "staff": 3},
    "L1": {**LOST, "township_declared": "西镇", "org_type": "joint", "org_name": "某联合"},
    # unlocated, no township: own org
    "L2": {**LOST, "org_type": "own", "members": 4},
}


def by_unit(table: pd.DataFrame) -> pd.DataFrame:
    if "scope" in table:
        table = table[table["scope"].eq("all")]
    return table.set_index("unit")


def test_coverage_table_before_per_unit_hand_computed():
    full = coverage_table(Plan(enterprises=ledger(COUNTY)))
    assert list(full.columns) == list(COVERAGE_COLUMNS)
    assert full["scope"].drop_duplicates().tolist() == ["all", "eligible", "survey"]
    table = full[full["scope"].eq("all")]
    assert table["unit"].tolist() == ["高新园", "东镇", "西镇", "（未定位）", "合计"]
    assert table["unit_type"].tolist() == ["park", "township", "township", "township", "total"]
    t = by_unit(table)
    assert t["enterprises"].tolist() == [4, 3, 3, 1, 11]
    assert t.loc["高新园", "org_rate_before"] == pytest.approx(3 / 4)
    assert t.loc["高新园", "work_rate_before"] == pytest.approx(1.0)
    assert t.loc["东镇", "org_rate_before"] == pytest.approx(1 / 3)
    assert t.loc["东镇", "work_rate_before"] == pytest.approx(2 / 3)
    assert t.loc["西镇", "org_rate_before"] == pytest.approx(1 / 3)
    assert t.loc["西镇", "work_rate_before"] == pytest.approx(1 / 3)
    assert t.loc["（未定位）", "org_rate_before"] == pytest.approx(1.0)
    # total: org P1 P2 P3 T1 L1 L2 = 6/11; work + P4 T2 = 8/11
    assert t.loc["合计", "org_rate_before"] == pytest.approx(6 / 11)
    assert t.loc["合计", "work_rate_before"] == pytest.approx(8 / 11)


def test_plan_without_actions_has_after_equal_before():
    table = coverage_table(Plan(enterprises=ledger(COUNTY))).dropna(subset=["org_rate_before"])
    assert table["org_rate_after"].tolist() == table["org_rate_before"].tolist()
    assert table["work_rate_after"].tolist() == table["work_rate_before"].tolist()


def test_scopes_eligible_and_survey_hand_computed():
    table = coverage_table(Plan(enterprises=ledger(COUNTY))).set_index(["scope", "unit"])
    # W2 has 3 staff: outside E1 (6) and the survey scope (10); every other row has 10 staff
    assert table.loc[("all", "西镇"), "enterprises"] == 3
    assert table.loc[("eligible", "西镇"), "enterprises"] == 2
    assert table.loc[("survey", "合计"), "enterprises"] == 10
    eleven = ledger({**COUNTY, "X": {"staff": 8}})  # in E1, not in the survey scope
    t = coverage_table(Plan(enterprises=eleven)).set_index(["scope", "unit"])
    assert t.loc[("eligible", "合计"), "enterprises"] == 11
    assert t.loc[("survey", "合计"), "enterprises"] == 10
    nofix = ledger({**COUNTY, "Y": {"staff": 40, "fixed_premises": False}})  # survey, not E1
    t = coverage_table(Plan(enterprises=nofix)).set_index(["scope", "unit"])
    assert t.loc[("eligible", "合计"), "enterprises"] == 10
    assert t.loc[("survey", "合计"), "enterprises"] == 11


def test_published_definition_leaves_attached_out_of_m1_not_m2():
    plan = Plan(enterprises=ledger(COUNTY), config=Config(org_coverage_counts_attached=False))
    t = by_unit(coverage_table(plan))
    assert t.loc["高新园", "org_rate_before"] == pytest.approx(2 / 4)
    assert t.loc["高新园", "work_rate_before"] == pytest.approx(1.0)
    assert t.loc["合计", "org_rate_before"] == pytest.approx(5 / 11)


def planned_county() -> Plan:
    ent = ledger(COUNTY)
    ent["grid_id"] = ""
    ent["branch_id"] = ""
    ent["action"] = "keep"
    ent["gaps"] = ""
    # a new joint branch for P4, T2 and T3 ... T2 stays instructor-only, T3 and W1 join B1
    ent.loc[["T3", "W1"], "branch_id"] = "B1"
    ent.loc[["T3", "W1"], "action"] = "join_branch"
    ent.loc["P4", "action"] = "build_branch"
    ent.loc["W2", "action"] = "not_gridded"   # backstopped: work only
    ent.loc["T1", "action"] = "revoke_shell"  # own org revoked, nothing instead
    ent.loc["T2", "action"] = "instructor"   # the ledger names 李某: covered
    ent.loc["L2", "action"] = "keep"          # unlocated: keeps its own organisation
    ent.loc["L1", "action"] = "not_gridded"   # its joint organisation is split: nothing left
    branches = pd.DataFrame({"branch_id": ["B1"], "grid_id": ["东镇-G01"], "unit": ["东镇"], "status": ["new"],
                             "uscc": ["T3;W1"], "n_units": [2], "members": [3], "max_distance_m": [900.0]})
    return Plan(enterprises=ent, branches=branches)


def test_after_semantics_hand_computed():
    flags = coverage_flags(planned_county())
    assert flags.loc["P4", "org_after"] and flags.loc["P4", "own_after"]
    assert not flags.loc["T1", "org_after"] and not flags.loc["T1", "own_after"]
    assert flags.loc["T3", "org_after"] and flags.loc["W1", "org_after"]
    # below E1, backstopped: not work coverage (M5 instead)
    assert not flags.loc["W2", "org_after"] and not flags.loc["W2", "work_after"]
    assert flags.loc["W2", "backstop_after"]
    assert flags.loc["L2", "org_after"]
    # a split joint organisation that gets nothing instead does not cover its unit after the plan
    assert flags.loc["L1", "org_before"] and not flags.loc["L1", "org_after"] and flags.loc["L1", "backstop_after"]
    t = by_unit(coverage_table(planned_county()).query("scope == 'all'"))
    assert t.loc["高新园", "org_rate_after"] == pytest.approx(1.0)
    assert t.loc["东镇", "org_rate_after"] == pytest.approx(1 / 3)   # T3 only
    assert t.loc["东镇", "work_rate_after"] == pytest.approx(2 / 3)  # T2 (named instructor), T3
    assert t.loc["西镇", "org_rate_after"] == pytest.approx(1 / 3)   # W1
    assert t.loc["西镇", "work_rate_after"] == pytest.approx(1 / 3)  # W2 and L1 only backstopped
    assert t.loc["西镇", "backstop_rate_after"] == pytest.approx(2 / 3)
    assert t.loc["合计", "org_rate_after"] == pytest.approx(7 / 11)
    assert t.loc["合计", "work_rate_after"] == pytest.approx(8 / 11)


def test_planned_instructor_without_a_name_is_a_shortfall_not_coverage():
    ent = ledger({"A": {}, "B": {}, "C": {}, "D": {"staff": 3}})
    ent["branch_id"] = ""
    ent["action"] = ["instructor", "instructor", "instructor", "not_gridded"]
    assigned = pd.DataFrame({"uscc": ["A", "B"], "instructor": ["王某", ""], "unit": ["东镇"] * 2,
                             "distance_m": [300.0, np.nan]})
    plan = Plan(enterprises=ent, instructors=assigned)
    t = coverage_table(plan).query("scope == 'all'").set_index("unit").loc["合计"]
    assert t["work_rate_after"] == pytest.approx(1 / 4)     # A only: B and C have nobody named
    assert t["instructors_needed"] == 3 and t["instructors_short"] == 2
    assert t["backstop_rate_after"] == pytest.approx(1 / 4)  # D
    flags = coverage_flags(plan)
    # after the plan every enterprise is exactly one of: work-covered, short, backstop
    parts = flags[["work_after", "instructor_short", "backstop_after"]].astype(int).sum(axis=1)
    assert parts.eq(1).all()
    assert targets(plan).iloc[-1]["work_target_met_after"] == False  # noqa: E712


def test_instructor_assignments_count_for_work_after():
    plan = Plan(enterprises=ledger({"A": {}, "B": {}}),
                instructors=pd.DataFrame({"uscc": ["B"], "instructor": ["王某"], "unit": ["东镇"],
                                          "distance_m": [300.0]}))
    t = coverage_table(plan).query("scope == 'all'")
    assert t["work_rate_before"].iloc[-1] == 0.0
    assert t["work_rate_after"].iloc[-1] == pytest.approx(0.5)
    assert t["org_rate_after"].iloc[-1] == 0.0


def test_m3_on_the_seed_county_shape():
    rows = {f"A{i:03d}": {"above_scale": True, "org_type": "own" if i < 44 else "none",
                          "members": 3 if i < 44 else 0} for i in range(496)}
    rows |= {f"S{i:03d}": {"org_type": "own", "members": 5} for i in range(30)}  # not above scale
    total = coverage_by(Plan(enterprises=ledger(rows)), "total").iloc[0]
    assert total["above_scale"] == 496
    assert total["above_scale_own_before"] == 44
    assert round(total["m3_rate_before"] * 100, 2) == 8.87


def test_m3_after_counts_built_and_kept_own_only():
    t = by_unit(coverage_by(planned_county(), "unit"))
    # 高新园 above scale: P1 (own, kept), P4 (built) -> 1/2 before, 2/2 after
    assert t.loc["高新园", "above_scale"] == 2
    assert t.loc["高新园", "m3_rate_before"] == pytest.approx(0.5)
    assert t.loc["高新园", "m3_rate_after"] == pytest.approx(1.0)
    # 东镇 above scale: T3 joins a joint branch -> not own
    assert t.loc["东镇", "m3_rate_after"] == 0.0
    assert math.isnan(t.loc["西镇", "m3_rate_before"])


def test_other_groupings():
    plan = Plan(enterprises=ledger({**COUNTY, "X1": {**WEST, "industry": "", "staff": 120,
                                                     "size_class": ">=100"}}))
    town = coverage_by(plan, "township").set_index("township")
    assert town.loc["东镇", "enterprises"] == 7  # park enterprises included
    assert town.loc["西镇", "enterprises"] == 4  # L1 declared
    ind = coverage_by(plan, "industry")
    assert ind["industry"].tolist() == ["C", "（未填）"]
    sizes = coverage_by(plan, "size_class")
    assert sizes["size_class"].tolist() == ["6-49", ">=100"]
    park = coverage_by(plan, "park")
    assert park["park"].tolist() == ["高新园"] and park["enterprises"].iloc[0] == 4
    with pytest.raises(ValueError, match="industry"):
        coverage_by(plan, "village")  # type: ignore[arg-type]


def test_units_without_enterprises_are_listed():
    units = gpd.GeoDataFrame({"unit": ["高新园", "东镇", "西镇", "南镇"],
                              "unit_type": ["park", "township", "township", "township"],
                              "township": ["东镇", "东镇", "西镇", "南镇"]},
                             geometry=[box(0, 0, 1, 1)] * 4, crs="EPSG:4326")
    table = coverage_table(Plan(enterprises=ledger(COUNTY), units=units)).query("scope == 'all'")
    south = table.set_index("unit").loc["南镇"]
    assert south["enterprises"] == 0 and math.isnan(south["org_rate_before"])
    assert table.loc[table["unit_type"].ne("total"), "enterprises"].sum() == 11


def test_targets_per_unit_and_total():
    t = targets(planned_county()).set_index("unit")
    assert not t.loc["合计", "org_target_met_before"]
    assert bool(t.loc["高新园", "org_full_met_after"])
    assert bool(t.loc["高新园", "work_target_met_before"])
    assert not t.loc["东镇", "work_target_met_after"]
    nine = Plan(enterprises=ledger({**{f"O{i}": {"org_type": "own", "members": 3} for i in range(9)}, "N": {}}))
    row = targets(nine).iloc[-1]
    assert bool(row["org_target_met_before"]) and not row["org_full_met_before"]


def test_inputs_not_modified():
    plan = planned_county()
    before = plan.enterprises.copy()
    coverage_table(plan)
    coverage_by(plan, "industry")
    pd.testing.assert_frame_equal(plan.enterprises, before)


def test_empty_plan():
    table = coverage_table(Plan(enterprises=ledger({})))
    assert table["unit_type"].tolist() == ["total"] * 3
    assert table["enterprises"].tolist() == [0] * 3


unit_choice = st.sampled_from([{}, PARK, WEST, {**LOST, "township_declared": "西镇"}, LOST])
row_strategy = st.fixed_dictionaries({
    "org_type": st.sampled_from(["own", "joint", "attached", "none"]),
    "instructor": st.sampled_from(["", "王某"]),
    "above_scale": st.booleans(),
    "action": st.sampled_from(["keep", "build_branch", "join_branch", "attach", "instructor",
                               "not_gridded", "revoke_shell"]),
    "where": unit_choice,
})


@settings(max_examples=60, deadline=None)
@given(st.lists(row_strategy, max_size=30), st.booleans())
def test_unit_rows_partition_the_total_and_rates_are_fractions(rows, attached_counts):
    records = {}
    for i, r in enumerate(rows):
        where = r.pop("where")
        records[f"U{i:03d}"] = {**r, **where, "branch_id": "B1" if r["action"] == "join_branch" else ""}
    plan = Plan(enterprises=ledger(records), config=Config(org_coverage_counts_attached=attached_counts))
    # measured once, as the pipeline does: coverage_by and coverage_flags read that record
    plan = plan.replace(coverage=measure_plan(plan))
    full = coverage_by(plan, "unit")
    total = coverage_by(plan, "total").iloc[0]
    for col in ("enterprises", "org_covered_before", "org_covered_after", "work_covered_before",
                "work_covered_after", "backstop_after", "instructors_needed", "instructors_short",
                "above_scale", "above_scale_own_before", "above_scale_own_after"):
        assert full[col].sum() == total[col]
    assert total["enterprises"] == len(rows)
    for col in ("org_rate_before", "org_rate_after", "work_rate_before", "work_rate_after"):
        rates = full[col].dropna()
        assert ((rates >= 0) & (rates <= 1)).all()
    # organisational coverage never exceeds work coverage
    flags = coverage_flags(plan)
    assert not (flags["org_before"] & ~flags["work_before"]).any()
    assert not (flags["org_after"] & ~flags["work_after"]).any()
    # the planned state partitions the enterprises: covered, short of an instructor, or backstop
    assert flags[["work_after", "instructor_short", "backstop_after"]].astype(int).sum(axis=1).le(1).all()


@pytest.fixture(scope="module")
def sample_enterprises(sample_county_located) -> pd.DataFrame:
    """``locate(sample_inputs()).enterprises``, shared read-only (conftest.py)."""
    return sample_county_located.enterprises


def test_m3_on_the_sample_county_is_the_seed_county_figure(sample_enterprises):
    total = coverage_by(Plan(enterprises=sample_enterprises), "total").iloc[0]
    assert (total["above_scale_own_before"], total["above_scale"]) == (44, 496)
    assert f"{total['m3_rate_before']:.2%}" == "8.87%"
    table = coverage_table(Plan(enterprises=sample_enterprises)).query("scope == 'all'")
    assert table.loc[table["unit_type"].ne("total"), "enterprises"].sum() == len(sample_enterprises)
