"""Funding estimate (“15311” policy) on hand-built Plans, amounts computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from gridcover import Config, Plan
from gridcover.funding import FUNDING_COLUMNS, funding

PARK = {"park": "高新园", "unit": "高新园", "unit_type": "park", "township": "东镇"}
EAST = {"park": "", "unit": "东镇", "unit_type": "township", "township": "东镇"}
BASE = {"members": 0, "probationary": 0, "org_type": "none", "org_name": "", "instructor": "",
        "action": "keep", "branch_id": ""}

COUNTY = {
    "A": {**EAST, "org_type": "own", "members": 3},                          # branch
    "B": {**EAST, "org_type": "own", "members": 45, "probationary": 6},      # 51: general branch
    "C": {**PARK, "org_type": "own", "members": 98, "probationary": 2},      # 100: committee
    "D": {**EAST, "org_type": "joint", "org_name": "联合一", "members": 1},
    "E": {**EAST, "org_type": "joint", "org_name": "联合一", "members": 1},
    "F": {**PARK, "org_type": "joint", "org_name": "联合二", "members": 2},
    "G": {**PARK, "org_type": "joint", "org_name": "联合二", "members": 0},
    "H": {**EAST, "org_type": "joint", "org_name": "联合二", "members": 0},  # 联合二 is mostly in the park
    "I": {**EAST, "org_type": "attached", "members": 2},                     # not funded here
    "J": {**EAST},
    "K": {**EAST, "members": 4},
}


def ledger(rows: dict[str, dict]) -> pd.DataFrame:
    df = pd.DataFrame([{**BASE, **r} for r in rows.values()], index=pd.Index(list(rows), name="uscc"))
    for c in ("members", "probationary"):
        df[c] = df[c].astype("int64")
    return df


def planned() -> Plan:
    ent = ledger(COUNTY)
    ent.loc[["D", "E", "I"], ["action", "branch_id"]] = ["join_branch", "B1"]
    ent.loc["J", "action"] = "instructor"
    ent.loc["K", "action"] = "build_branch"
    branches = pd.DataFrame({"branch_id": ["B1"], "grid_id": ["东镇-G01"], "unit": ["东镇"], "status": ["new"],
                             "uscc": ["D;E;I"], "n_units": [3], "members": [4], "max_distance_m": [800.0]})
    return Plan(enterprises=ent, branches=branches)


def test_before_counts_and_amounts_by_hand():
    table = funding(Plan(enterprises=ledger(COUNTY)))
    assert list(table.columns) == list(FUNDING_COLUMNS)
    f = table.set_index("unit")
    assert f.index.tolist() == ["高新园", "东镇", "合计"]
    park, east, total = f.loc["高新园"], f.loc["东镇"], f.loc["合计"]
    assert (park.committees_before, park.general_branches_before, park.branches_before,
            park.joint_branches_before) == (1, 0, 0, 1)
    assert park.formal_members_before == 100
    assert park.amount_total_before == 10000 + 3000 + 2 * 1200 + 100 * 100  # 25,400
    assert (east.committees_before, east.general_branches_before, east.branches_before,
            east.joint_branches_before) == (0, 1, 1, 1)
    assert east.secretaries_before == 3
    assert east.formal_members_before == 50
    assert east.amount_total_before == 3000 + 5000 + 3000 + 3 * 1200 + 50 * 100  # 19,600
    assert total.amount_total_before == 45000
    assert total.joint_branches_before == 2  # 联合二 spans two units, counted once


def test_without_actions_after_equals_before():
    plain = ledger(COUNTY).drop(columns=["action", "branch_id"])
    f = funding(Plan(enterprises=plain))
    assert f["amount_total_after"].tolist() == f["amount_total_before"].tolist()
    assert f["amount_change"].eq(0).all()


def test_after_with_builds_and_planned_branches_by_hand():
    f = funding(planned()).set_index("unit")
    park, east, total = f.loc["高新园"], f.loc["东镇"], f.loc["合计"]
    assert park.amount_total_after == 25400
    assert (east.general_branches_after, east.branches_after, east.joint_branches_after) == (1, 2, 1)
    assert east.formal_members_after == 3 + 45 + 4 + 1 + 1 + 2 + 0  # I joins B1 and is funded now
    assert east.amount_total_after == 2 * 3000 + 5000 + 3000 + 4 * 1200 + 56 * 100  # 24,400
    assert total.amount_total_after == 49800
    assert total.amount_change == 4800


def test_revoked_shell_is_not_funded_after():
    ent = ledger({"S": {**EAST, "org_type": "own", "members": 2, "action": "revoke_shell"}})
    total = funding(Plan(enterprises=ent)).iloc[-1]
    assert total.branches_before == 1 and total.branches_after == 0
    assert total.amount_total_after == 0


def test_amounts_come_from_the_config():
    config = Config(fund_committee=8000.0, fund_general_branch=4000.0, fund_branch=2000.0,
                    fund_secretary_monthly=50.0, fund_member_yearly=60.0)
    total = funding(Plan(enterprises=ledger(COUNTY), config=config)).iloc[-1]
    # 1 committee, 1 general branch, 1 branch, 2 joint branches; 5 secretaries; 150 formal members
    assert total.amount_total_before == pytest.approx(8000 + 4000 + 3 * 2000 + 5 * 600 + 150 * 60)


def test_probationary_switch_moves_the_level():
    ent = ledger({"B": {**EAST, "org_type": "own", "members": 45, "probationary": 6}})
    assert funding(Plan(enterprises=ent)).iloc[-1].general_branches_before == 1
    off = funding(Plan(enterprises=ent, config=Config(large_thresholds_count_probationary=False)))
    assert off.iloc[-1].branches_before == 1


def test_input_not_modified_and_units_sum_to_total():
    plan = planned()
    before = plan.enterprises.copy()
    f = funding(plan)
    pd.testing.assert_frame_equal(plan.enterprises, before)
    numeric = [c for c in FUNDING_COLUMNS if c not in ("unit_type", "unit")]
    units = f[f["unit_type"].ne("total")]
    pd.testing.assert_series_equal(units[numeric].sum(), f.iloc[-1][numeric].astype(units[numeric].sum().dtype),
                                   check_names=False)
