"""An independent oracle for the figures a planner reports upward.

Plain pandas/shapely over the input ledger, the roster and the plan's own output files
(``enterprises.csv``, ``branches.csv``, ``plan.xlsx``): it imports nothing of
gridcover's coverage, partition or funding code, re-derives every enterprise's state
after the plan from the rules (RULES.md M1/M2/M3/M5, O6/O7, the 15311 funding), checks
that each claimed organisation really exists and is legal, and recomputes every row of
``coverage.csv`` (all scopes), M3 and the funding before and after.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from county_gen import HEADERS, make_county
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import gridcover as gc

# RULES.md defaults (the oracle's own copy of the numbers)
E1_STAFF, SURVEY_STAFF, BRANCH_MIN, JOINT_MAX_UNITS, JOINT_MAX_M = 6, 10, 3, 5, 3000.0
GENERAL_ABOVE, COMMITTEE_AT = 50, 100
FUND = {"committee": 10000, "general": 5000, "branch": 3000, "secretary_year": 1200, "member": 100}
ORG = {"单独建": "own", "联合建": "joint", "挂靠建": "attached", "未建": "none"}


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def _metres(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lat0 = np.deg2rad(np.nanmean(lat))
    return np.c_[lon * 111_320.0 * np.cos(lat0), lat * 110_574.0]


def _max_pair(xy: np.ndarray) -> float:
    if len(xy) < 2:
        return 0.0
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return float(d.max())


def _units(ledger: pd.DataFrame, townships: Path, parks: Path) -> pd.DataFrame:
    """unit_type, unit of each enterprise by point-in-polygon (a park wins over its township)."""
    pts = gpd.GeoDataFrame(index=ledger.index, geometry=gpd.points_from_xy(ledger["lon"], ledger["lat"]),
                           crs="EPSG:4326")
    out = pd.DataFrame({"unit_type": "township", "unit": ""}, index=ledger.index)
    for path, kind in ((townships, "township"), (parks, "park")):
        poly = gpd.read_file(path).to_crs("EPSG:4326")
        name = "name"
        hit = gpd.sjoin(pts, poly[[name, "geometry"]], predicate="within", how="inner")
        hit = hit[~hit.index.duplicated()]
        out.loc[hit.index, "unit"] = hit[name].astype(str)
        out.loc[hit.index, "unit_type"] = kind
    return out


def oracle(ledger_path: Path, roster_path: Path | None, out: Path, townships: Path, parks: Path) -> dict:
    raw = _csv(ledger_path).rename(columns={v: k for k, v in HEADERS.items()}).set_index("uscc")
    for c in ("lon", "lat"):
        raw[c] = raw[c].astype(float)
    for c in ("staff", "members", "probationary"):
        raw[c] = raw[c].astype(int)
    raw["org"] = raw["org_type"].map(ORG)
    ent = _csv(out / "enterprises.csv").set_index("uscc")
    rejects = _csv(out / "rejects.csv")
    assert len(ent) + len(rejects) == len(raw), "every input row is accepted or rejected"
    df = raw.loc[ent.index].join(ent[["action", "branch_id", "grid_id", "unit"]].rename(columns={"unit": "plan_unit"}))
    keys = _units(df, townships, parks)
    assert (keys["unit"] == df["plan_unit"]).all(), "units by point-in-polygon"
    df = df.join(keys)

    # --- what exists after the plan, each claim checked against the rules ------------------
    branches = _csv(out / "branches.csv")
    members_of: dict[str, list[str]] = {b: u.split(";") for b, u in zip(branches["branch_id"], branches["uscc"],
                                                                          strict=True)}
    for b, units in members_of.items():
        sub = df.loc[units]
        # a kept organisation may list one unit of the ledger (its others lie outside it)
        assert 1 <= len(units) <= JOINT_MAX_UNITS, f"O6 units {b}"
        assert sub["members"].sum() >= BRANCH_MIN, f"O6 members {b}"
        assert sub["unit"].nunique() == 1, f"O7 one unit {b}"
        assert _max_pair(_metres(sub["lon"].to_numpy(), sub["lat"].to_numpy())) <= JOINT_MAX_M * 1.01, f"O7 {b}"
        assert (df.loc[units, "branch_id"] == b).all()
    in_branch = df["branch_id"].ne("")
    assert set(df.loc[in_branch, "branch_id"]) == set(members_of)
    action = df["action"]
    built = action.isin(["build_branch", "build_general_branch", "build_committee"])
    assert (df.loc[built, "members"] >= BRANCH_MIN).all(), "O1: a built organisation has 3 formal members"
    kept = action.eq("keep")
    kept_own = kept & df["org"].eq("own")
    assert (df.loc[kept_own, "members"] >= BRANCH_MIN).all(), "a kept own organisation is no shell"
    kept_joint = kept & df["org"].eq("joint")
    for name, grp in raw[raw["org"].eq("joint")].groupby("org_name"):
        if kept_joint.reindex(grp.index, fill_value=False).any():  # kept only when the group is legal
            assert len(grp) <= JOINT_MAX_UNITS and grp["members"].sum() >= BRANCH_MIN, name
            assert _max_pair(_metres(grp["lon"].to_numpy(), grp["lat"].to_numpy())) <= JOINT_MAX_M * 1.01
    attached_after = (kept & df["org"].eq("attached")) | action.eq("attach")
    assert (df.loc[action.eq("attach"), "members"] >= 1).all(), "O8: attach needs a formal member"

    # O9: every grid holding enough formal members for a branch has an organisation after the plan
    has_org = (in_branch | built | kept_own | kept_joint).groupby(df["grid_id"]).any()
    grid_members = df.groupby("grid_id")["members"].sum()
    gridded = grid_members.index != ""
    bare = grid_members[gridded & (grid_members >= BRANCH_MIN) & ~has_org.reindex(grid_members.index).to_numpy()]
    assert bare.empty, f"O9: grids with members and no organisation: {list(bare.index)[:5]}"

    # named instructors: the ledger's, and the roster's as the Excel report lists them
    named = df["instructor"].ne("")
    if roster_path is not None:
        roster = pd.read_csv(roster_path, dtype={"name": str})
        sheet = pd.read_excel(out / "plan.xlsx", sheet_name="指导员", dtype=str, engine="calamine").fillna("")
        given_ = sheet[sheet["来源"].eq("规划选派") & sheet["党建工作指导员"].ne("")]
        assert set(given_["党建工作指导员"]) <= set(roster["name"]), "only roster people are named"
        load = given_["党建工作指导员"].value_counts()
        cap = roster.set_index("name")["capacity"].astype(int)
        assert (load <= cap.reindex(load.index)).all(), "W1 capacity"
        named |= df.index.isin(set(given_["统一社会信用代码"]))

    org_before = df["org"].isin(["own", "joint", "attached"])
    work_before = org_before | df["instructor"].ne("")
    own_after = built | kept_own
    org_after = own_after | in_branch | kept_joint | attached_after
    work_after = org_after | named
    needs = action.eq("instructor") & df["instructor"].eq("")
    short = needs & ~work_after
    backstop = action.eq("not_gridded") & ~work_after
    flags = pd.DataFrame({"org_before": org_before, "org_after": org_after, "work_before": work_before,
                          "work_after": work_after, "needs": needs, "short": short, "backstop": backstop,
                          "unit_type": df["unit_type"], "unit": df["unit"]})
    scopes = {"all": pd.Series(True, index=df.index),
              "eligible": df["fixed_premises"].eq("是") & (df["staff"] >= E1_STAFF),
              "survey": df["staff"] >= SURVEY_STAFF}
    rows = []
    for scope, inside in scopes.items():
        f = flags[inside]
        for (ut, u), grp in [*f.groupby(["unit_type", "unit"]), (("total", "合计"), f)]:
            n = len(grp)
            if not n:
                continue
            rows.append({"scope": scope, "unit_type": ut, "unit": u, "enterprises": n,
                         "org_rate_before": grp["org_before"].sum() / n, "org_rate_after": grp["org_after"].sum() / n,
                         "work_rate_before": grp["work_before"].sum() / n,
                         "work_rate_after": grp["work_after"].sum() / n,
                         "backstop_rate_after": grp["backstop"].sum() / n,
                         "instructors_needed": int(grp["needs"].sum()), "instructors_short": int(grp["short"].sum())})
    expected = pd.DataFrame(rows)

    # --- M3 and funding ----------------------------------------------------------------------
    above = df["above_scale"].eq("是")
    m3 = (int((above & df["org"].eq("own")).sum()), int((above & own_after).sum()), int(above.sum()))
    party = df["members"] + df["probationary"]

    def level(i: str, name: str) -> str:
        shown = "general" if "总支" in name else ("committee" if "党委" in name else "branch")
        due = "committee" if party[i] >= COMMITTEE_AT else ("general" if party[i] > GENERAL_ABOVE else "branch")
        rank = {"branch": 0, "general": 1, "committee": 2}
        return max(shown, due, key=rank.__getitem__)

    def amount(levels: list[str], joint: int, funded_members: int) -> int:
        orgs = len(levels) + joint
        return (sum(FUND[lv] for lv in levels) + joint * FUND["branch"] + orgs * FUND["secretary_year"]
                + funded_members * FUND["member"])

    own_b = df.index[df["org"].eq("own")]
    joint_b = df.loc[df["org"].eq("joint"), "org_name"].nunique()
    before = amount([level(i, df.at[i, "org_name"]) for i in own_b], joint_b,
                    int(df.loc[df["org"].isin(["own", "joint"]), "members"].sum()))
    kinds = {"build_branch": "branch", "build_general_branch": "general", "build_committee": "committee"}
    after_levels = [level(i, df.at[i, "org_name"]) for i in df.index[kept_own]] + \
        [kinds[a] for a in action[built]]
    kept_joint_orgs = df.loc[kept_joint & ~in_branch, "org_name"].nunique()
    after = amount(after_levels, len(branches) + kept_joint_orgs,
                   int(df.loc[kept_own | built | in_branch | (kept_joint & ~in_branch), "members"].sum()))
    return {"coverage": expected, "m3": m3, "funding": (before, after), "flags": flags}


def _summary_values(xlsx: Path, label_start: str) -> tuple:
    book = openpyxl.load_workbook(xlsx, read_only=True)
    try:
        for row in book["汇总"].iter_rows(values_only=True):
            if row and isinstance(row[0], str) and row[0].startswith(label_start):
                return row[1], row[2], row[3]
    finally:
        book.close()
    raise AssertionError(f"no row {label_start} in 汇总")


def check_outputs(ledger: Path, roster: Path | None, out: Path, townships: Path, parks: Path) -> dict:
    truth = oracle(ledger, roster, out, townships, parks)
    got = _csv(out / "coverage.csv")
    assert list(got.columns) == ["scope", "unit_type", "unit", "enterprises", "org_rate_before", "org_rate_after",
                                 "work_rate_before", "work_rate_after", "backstop_rate_after",
                                 "instructors_needed", "instructors_short"]
    got["enterprises"] = got["enterprises"].astype(int)
    empty = got[got["enterprises"].eq(0)]
    assert (empty[["org_rate_before", "work_rate_after"]] == "").all().all(), "no rate without enterprises"
    got = got[got["enterprises"].gt(0)].set_index(["scope", "unit_type", "unit"]).sort_index()
    want = truth["coverage"].set_index(["scope", "unit_type", "unit"]).sort_index()
    assert got.index.tolist() == want.index.tolist()
    for col in want.columns:
        a = pd.to_numeric(got[col]).to_numpy(dtype=float)
        b = want[col].to_numpy(dtype=float)
        assert np.allclose(a, b, rtol=0, atol=1e-12), col
    # M3 (汇总: 规上企业党组织组建率) and funding (经费测算, total row)
    before, after, _note = _summary_values(out / "plan.xlsx", "规上企业党组织组建率")
    own_b, own_a, n_above = truth["m3"]
    if n_above:
        assert math.isclose(before, own_b / n_above) and math.isclose(after, own_a / n_above)
    else:
        assert before is None and after is None
    fund = pd.read_excel(out / "plan.xlsx", sheet_name="经费测算", engine="calamine")
    total = fund.iloc[-1]
    assert (int(total["合计（元）（规划前）"]), int(total["合计（元）（规划后）"])) == truth["funding"]
    return truth


@pytest.mark.slow
def test_oracle_on_a_20000_row_county(tmp_path):
    county = make_county(tmp_path / "in", 20_000, seed=11, roster_share=0.35)
    plan = gc.run(gc.Inputs(ledger=county.ledger, townships=county.townships, parks=county.parks,
                            instructors=county.roster))
    out = tmp_path / "plan"
    gc.write_plan(plan, out, maps=False, png=False)
    truth = check_outputs(county.ledger, county.roster, out, county.townships, county.parks)
    flags = truth["flags"]
    # the ledger really has what makes the figures go wrong
    acts = pd.read_csv(out / "enterprises.csv", encoding="utf-8-sig")["action"].value_counts()
    assert acts.get("split_joint", 0) > 100 and acts.get("revoke_shell", 0) > 50
    branches = pd.read_csv(out / "branches.csv", encoding="utf-8-sig")
    assert (branches["status"] == "kept").sum() > 50 and (branches["status"] == "split").sum() > 50
    short = int(flags["short"].sum())
    assert short >= 0.3 * int(flags["needs"].sum()), "the roster is short"
    # split and revoked organisations of below-E1 units are not counted after the plan
    raw = county.table
    gone = raw.index[(raw["org_type"] == "joint") & (raw["staff"] < 6)]
    lost = flags.loc[flags.index.intersection(gone)]
    assert (~lost["org_after"] & lost["org_before"]).sum() > 0


unit_rows = st.fixed_dictionaries({
    "staff": st.sampled_from([0, 3, 5, 6, 8, 12, 40, 60, 120]),
    "members": st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 8, 60, 110]),
    "org": st.sampled_from(["own", "own", "joint", "attached", "none", "none", "none"]),
    "group": st.integers(0, 3),
    "instructor": st.sampled_from(["", "", "", "甲", "乙"]),
    "fixed": st.booleans(),
    "above": st.booleans(),
    "spot": st.integers(0, 5),
})


# each example runs the whole pipeline: no shrinking (a failure prints its example as drawn)
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(unit_rows, min_size=8, max_size=40), st.integers(0, 3))
def test_oracle_on_mixed_small_ledgers(tmp_path_factory, rows, roster_size):
    folder = tmp_path_factory.mktemp("mix")
    from county_gen import ORG_LABELS, uscc

    # six spots in 城关街道 of the bundled county, about 400 m apart
    spots = [(118.505 + 0.004 * (k % 3), 26.505 + 0.004 * (k // 3)) for k in range(6)]
    recs = []
    for i, r in enumerate(rows):
        lon, lat = spots[r["spot"]]
        members = min(r["members"], r["staff"])
        recs.append({"uscc": uscc(1000 + i), "name": f"测试{i:03d}公司", "lon": lon + 0.0003 * (i % 5),
                     "lat": lat + 0.0002 * (i % 7), "staff": r["staff"], "fixed_premises": "是" if r["fixed"] else "否",
                     "above_scale": "是" if r["above"] else "否", "members": members, "probationary": 0,
                     "org_type": ORG_LABELS[r["org"]],
                     "org_name": (f"联合{r['group']}" if r["org"] == "joint" else
                                  ("某党委" if r["org"] == "own" and members >= 100 else "")),
                     "instructor": r["instructor"] if r["org"] == "none" else "", "industry": "C"})
    ledger = folder / "ledger.csv"
    pd.DataFrame(recs).rename(columns=HEADERS).to_csv(ledger, index=False, encoding="utf-8")
    roster = None
    if roster_size:
        roster = folder / "roster.csv"
        pd.DataFrame({"name": [f"名册{k}" for k in range(roster_size)], "lon": 118.507, "lat": 26.507,
                      "capacity": 1}).to_csv(roster, index=False)
    from gridcover import datasets

    townships, parks = datasets.get_path("townships"), datasets.get_path("parks")
    plan = gc.run(gc.Inputs(ledger=ledger, townships=townships, parks=parks, instructors=roster))
    out = folder / "plan"
    gc.write_plan(plan, out, maps=False, png=False)
    truth = check_outputs(ledger, roster, out, townships, parks)
    f = truth["flags"]
    assert (f[["work_after", "short", "backstop"]].astype(int).sum(axis=1) == 1).all()


@pytest.mark.slow
def test_oracle_on_a_quarterly_replan(tmp_path):
    """A re-plan from last quarter's plan reports figures as honest as a fresh plan's."""
    county = make_county(tmp_path / "in", 3_000, seed=5, roster_share=0.5)
    inputs = gc.Inputs(ledger=county.ledger, townships=county.townships, parks=county.parks,
                       instructors=county.roster)
    first = gc.run(inputs)
    gc.write_plan(first, tmp_path / "q1", maps=False, png=False)
    # next quarter: 3% closed, members change in 5%
    raw = pd.read_csv(county.ledger, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(2)
    raw = raw.drop(index=rng.choice(len(raw), size=90, replace=False)).reset_index(drop=True)
    pick = rng.choice(len(raw), size=150, replace=False)
    members = raw[HEADERS["members"]].astype(int)
    staff = raw[HEADERS["staff"]].astype(int)
    members.iloc[pick] = np.minimum(staff.iloc[pick], (members.iloc[pick] + 1) % 4)
    raw[HEADERS["members"]] = members.astype(str)
    ledger2 = tmp_path / "ledger_q2.csv"
    raw.to_csv(ledger2, index=False, encoding="utf-8")
    second = gc.run(gc.Inputs(ledger=ledger2, townships=county.townships, parks=county.parks,
                              instructors=county.roster), previous=tmp_path / "q1")
    assert len(second.changes)
    gc.write_plan(second, tmp_path / "q2", maps=False, png=False)
    check_outputs(ledger2, county.roster, tmp_path / "q2", county.townships, county.parks)


def test_oracle_with_every_lever(tmp_path):
    """Levers L1–L5 on a generated county: every branch (L1 hosts, L2 below-E1 units, L3
    anchors, L4 filled places) is re-checked for O6/O7 from the ledger, and every figure."""
    county = make_county(tmp_path / "in", 2_500, seed=5, roster_share=0.35)
    plan = gc.run(gc.Inputs(ledger=county.ledger, townships=county.townships, parks=county.parks,
                            instructors=county.roster), config=gc.Config(levers=("L1", "L2", "L3", "L4", "L5")))
    out = tmp_path / "plan"
    gc.write_plan(plan, out, maps=False, png=False)
    check_outputs(county.ledger, county.roster, out, county.townships, county.parks)
    branches = _csv(out / "branches.csv")
    assert {"L1", "L2"} <= set(branches["lever"])
    ent = _csv(out / "enterprises.csv").set_index("uscc")
    for _, b in branches.iterrows():  # one grid per branch; an L2 branch without grid holds no grid unit
        grids = set(ent.loc[b["uscc"].split(";"), "grid_id"]) - {""}
        assert grids <= {b["grid_id"]} and (b["grid_id"] != "" or not grids)
