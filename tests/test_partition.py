"""Partition: grids, joint branches, leaders, boundaries and actions, as a planner checks them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gridcover import Config, Ledger
from gridcover.errors import BoundaryError, LedgerError
from gridcover.partition import (
    BRANCH_COLUMNS,
    GRID_COLUMNS,
    LEADER_COLUMNS,
    joint_status,
    partition,
    partition_unit,
)
from gridcover.schema import ACTIONS

LON0, LAT0 = 118.0, 24.0
M_PER_DEG_LAT = 110_900.0
M_PER_DEG_LON = 101_300.0  # at 24° N


def _units() -> gpd.GeoDataFrame:
    """Two townships side by side (10 km × 10 km each) and a park inside the first."""
    t1 = shapely.box(LON0, LAT0, LON0 + 0.1, LAT0 + 0.1)
    t2 = shapely.box(LON0 + 0.1, LAT0, LON0 + 0.2, LAT0 + 0.1)
    park = shapely.box(LON0 + 0.06, LAT0 + 0.06, LON0 + 0.09, LAT0 + 0.09)
    return gpd.GeoDataFrame(
        {"unit": ["高新园", "东城街道", "西城镇"], "unit_type": ["park", "township", "township"],
         "township": ["东城街道", "东城街道", "西城镇"]},
        geometry=[park, t1.difference(park), t2], crs="EPSG:4326")


def _enterprises(n: int = 160, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    units = _units()
    centres = np.array([[LON0 + 0.03, LAT0 + 0.03], [LON0 + 0.075, LAT0 + 0.075], [LON0 + 0.15, LAT0 + 0.05]])
    pts = centres[rng.integers(0, 3, n)] + rng.normal(0, 0.008, (n, 2))
    pts = np.clip(pts, [LON0 + 1e-4, LAT0 + 1e-4], [LON0 + 0.2 - 1e-4, LAT0 + 0.1 - 1e-4])
    pts[10:16] = pts[9]  # six enterprises geocoded to one village centroid
    where = gpd.sjoin(gpd.GeoDataFrame(geometry=gpd.points_from_xy(pts[:, 0], pts[:, 1]), crs="EPSG:4326"),
                      units, predicate="intersects", how="left")
    where = where[~where.index.duplicated()]
    members = rng.choice([0, 1, 2, 3, 6, 60], p=[0.5, 0.25, 0.12, 0.07, 0.05, 0.01], size=n)
    staff = np.maximum(members + 5, rng.integers(2, 150, n))
    org = np.where(members >= 3, "own", "none").astype(object)
    df = pd.DataFrame({
        "name": [f"企业{i:03d}" for i in range(n)],
        "lon": pts[:, 0], "lat": pts[:, 1],
        "township": where["township"].fillna("").to_numpy(),
        "park": np.where(where["unit_type"] == "park", where["unit"], ""),
        "unit": where["unit"].fillna("").to_numpy(),
        "unit_type": where["unit_type"].fillna("").to_numpy(),
        "precision": "exact",
        "industry": rng.choice(list("CFGI"), n),
        "staff": staff.astype("int64"),
        "fixed_premises": True,
        "members": members.astype("int64"),
        "probationary": rng.integers(0, 2, n).astype("int64"),
        "org_type": org, "org_name": "", "instructor": "",
        "investor_member": rng.random(n) < 0.1,
    }, index=pd.Index([f"91350100MA{i:07d}X" for i in range(n)], name="uscc"))
    df["eligible"] = (df["staff"] >= 6) & df["fixed_premises"]
    return df


def _with(df: pd.DataFrame, rows: dict[int, dict]) -> pd.DataFrame:
    out = df.copy()
    for i, values in rows.items():
        for col, value in values.items():
            out.iloc[i, out.columns.get_loc(col)] = value
    return out


@pytest.fixture(scope="module")
def county() -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    return _enterprises(), _units()


@pytest.fixture(scope="module")
def plan(county):
    ent, units = county
    return partition(Ledger(ent), units=units)


# --- the contract -----------------------------------------------------------------------------
def test_plan_tables_have_the_shared_columns(plan, county):
    ent, _ = county
    assert list(plan.enterprises.columns) == [*ent.columns, "grid_id", "branch_id", "action", "gaps", "advice"]
    assert plan.enterprises.index.equals(ent.index)
    assert tuple(plan.grids.columns) == GRID_COLUMNS
    assert tuple(plan.branches.columns) == BRANCH_COLUMNS
    assert tuple(plan.leaders.columns) == LEADER_COLUMNS
    assert plan.grids.crs.to_epsg() == 4326
    assert (plan.enterprises["gaps"] == "").all()
    assert set(plan.units["unit"]) == {"高新园", "东城街道", "西城镇"}


def test_every_enterprise_has_exactly_one_valid_action(plan):
    assert plan.enterprises["action"].isin(ACTIONS).all()


def test_eligible_enterprises_have_one_grid_and_others_none(plan):
    e = plan.enterprises
    assert (e.loc[e["eligible"], "grid_id"] != "").all()
    assert (e.loc[~e["eligible"], "grid_id"] == "").all()
    assert set(e.loc[e["eligible"], "grid_id"]) == set(plan.grids["grid_id"])


def test_grids_stay_in_their_unit_and_within_size_bounds(plan):
    e = plan.enterprises[plan.enterprises["grid_id"] != ""]
    assert (e.groupby("grid_id")["unit"].nunique() == 1).all()
    sizes = e.groupby("grid_id").size()
    grids = plan.grids.set_index("grid_id")
    assert (sizes == grids.loc[sizes.index, "n_enterprises"]).all()
    assert sizes.between(5, 15).all()
    assert (grids["members"] >= 3).all()  # this county has members enough everywhere (O9)


def test_joint_branches_obey_o6_and_o7(plan):
    e = plan.enterprises
    for _, b in plan.branches.iterrows():
        units = e.loc[b["uscc"].split(";")]
        assert 2 <= len(units) <= 5 and b["n_units"] == len(units)
        assert units["members"].sum() >= 3 == 3 and b["members"] == units["members"].sum()
        assert units["unit"].nunique() == 1 and b["max_distance_m"] <= 3000
        assert (units["branch_id"] == b["branch_id"]).all()
        assert set(units["grid_id"]) == {b["grid_id"]}  # the branch lies in one grid (O9)


def test_branch_members_are_actual_candidates(plan):
    e = plan.enterprises[plan.enterprises["branch_id"] != ""]
    assert (e["members"] < 3).all()
    assert e["action"].isin({"join_branch", "revoke_shell", "split_joint", "keep"}).all()
    assert e["eligible"].all()


def test_actions_follow_the_rules(plan):
    e = plan.enterprises
    own3 = e[(e["org_type"] == "own") & (e["members"] >= 3)]
    assert own3["action"].isin({"keep", "build_general_branch", "build_committee"}).all()
    big = e[(e["org_type"] == "own") & (e["members"] + e["probationary"] > 50)]
    assert (big["action"] != "keep").all()
    unplaced = e[(e["org_type"] == "none") & (e["branch_id"] == "")]
    small = unplaced[~unplaced["eligible"]]
    assert (small.loc[small["members"] == 0, "action"] == "not_gridded").all()
    assert (small.loc[small["members"] > 0, "action"] == "attach").all()
    gridded = unplaced[unplaced["eligible"]]
    assert (gridded.loc[gridded["members"] == 0, "action"] == "instructor").all()
    assert (gridded.loc[gridded["members"].between(1, 2), "action"] == "attach").all()
    placed = e[(e["org_type"] == "none") & (e["branch_id"] != "")]
    assert (placed["action"] == "join_branch").all()


def test_grid_polygons_tile_each_unit(plan):
    for unit, geom in zip(plan.units["unit"], plan.units.geometry, strict=True):
        polys = plan.grids.loc[plan.grids["unit"] == unit].geometry.to_numpy()
        if not len(polys):
            continue
        union = shapely.union_all(polys)
        assert shapely.symmetric_difference(union, geom).area < 1e-9 * geom.area + 1e-12
        assert sum(p.area for p in polys) - union.area < 1e-9 * geom.area + 1e-12


def test_every_enterprise_lies_in_its_grid_polygon(plan):
    e = plan.enterprises[plan.enterprises["grid_id"] != ""]
    polys = plan.grids.set_index("grid_id").geometry
    pts = shapely.points(e["lon"].to_numpy(), e["lat"].to_numpy())
    # co-located enterprises of two grids sit on their shared border: allow ~1 cm
    inside = shapely.dwithin(polys.loc[e["grid_id"]].to_numpy(), pts, 1e-7)
    assert inside.all()


def test_leaders_rank_own_organisations_first_with_chinese_reasons(plan):
    e = plan.enterprises
    for gid, grp in plan.leaders.groupby("grid_id"):
        assert list(grp["rank"]) == list(range(1, len(grp) + 1)) and len(grp) <= 3
        members = e.loc[e["grid_id"] == gid]
        own = members[(members["org_type"] == "own") & (members["members"] >= 3)]
        if len(own):
            top = e.loc[grp["uscc"].iloc[0]]
            assert top["org_type"] == "own" and top["members"] == own["members"].max()
            assert "单独建有党组织" in grp["reason"].iloc[0]
    assert plan.leaders["reason"].str.contains("职工").all()
    grids = plan.grids
    assert (grids.loc[grids["members"] > 0, "leader_status"] == "member").all()
    assert (grids.loc[grids["members"] > 0, "leader_uscc"] != "").all()


def test_same_input_gives_identical_tables(county):
    ent, units = county
    a, b = partition(Ledger(ent), units=units), partition(Ledger(ent), units=units)
    pd.testing.assert_frame_equal(a.enterprises, b.enterprises)
    pd.testing.assert_frame_equal(a.branches, b.branches)
    pd.testing.assert_frame_equal(a.leaders, b.leaders)
    assert a.grids.drop(columns="geometry").equals(b.grids.drop(columns="geometry"))
    assert all(x.equals_exact(y, 0) for x, y in zip(a.grids.geometry, b.grids.geometry, strict=True))


def test_inputs_are_not_modified(county):
    ent, units = county
    before_e, before_u = ent.copy(), units.copy()
    partition(Ledger(ent), units=units)
    pd.testing.assert_frame_equal(ent, before_e)
    assert units.equals(before_u)


# --- existing organisations -----------------------------------------------------------------------
def _tight_group(df: pd.DataFrame, rows: list[int], name: str, members: list[int]) -> pd.DataFrame:
    base = df.iloc[rows[0]]
    values = {}
    for k, (i, m) in enumerate(zip(rows, members, strict=True)):
        values[i] = {"org_type": "joint", "org_name": name, "members": m, "staff": 20, "eligible": True,
                     "lon": base["lon"] + 0.001 * k, "lat": base["lat"], "unit": base["unit"],
                     "unit_type": base["unit_type"]}
    return _with(df, values)


def test_valid_joint_organisation_is_kept_whole_in_one_grid(county):
    ent, units = county
    west = np.flatnonzero(ent["unit"] == "东城街道")[:4].tolist()
    df = _tight_group(ent, west, "东城联合党支部", [1, 1, 1, 0])
    plan = partition(Ledger(df), units=units)
    rows = plan.enterprises.iloc[west]
    assert (rows["action"] == "keep").all() and rows["branch_id"].nunique() == 1
    assert rows["grid_id"].nunique() == 1
    b = plan.branches.set_index("branch_id").loc[rows["branch_id"].iloc[0]]
    assert b["status"] == "kept" and b["n_units"] == 4


def test_joint_organisation_with_too_many_units_is_split(county):
    ent, units = county
    west = np.flatnonzero(ent["unit"] == "东城街道")[:7].tolist()
    df = _tight_group(ent, west, "超大联合党支部", [1, 1, 1, 0, 0, 1, 2])  # G5: 7 units > 5
    status = joint_status(df)
    assert (status.iloc[west]["joint_status"] == "split").all()
    assert "G5" in status.iloc[west[0]]["joint_reason"]
    plan = partition(Ledger(df), units=units)
    rows = plan.enterprises.iloc[west]
    assert rows["action"].isin({"split_joint", "attach", "instructor"}).all()
    assert (rows.loc[rows["branch_id"] != "", "action"] == "split_joint").all()
    assert (plan.branches["status"] != "kept").all()
    assert "split" in set(plan.branches["status"])


def test_joint_organisation_spread_across_units_is_split(county):
    ent, units = county
    i = int(np.flatnonzero(ent["unit"] == "东城街道")[0])
    j = int(np.flatnonzero(ent["unit"] == "西城镇")[0])
    df = _with(ent, {i: {"org_type": "joint", "org_name": "跨镇联合", "members": 2},
                     j: {"org_type": "joint", "org_name": "跨镇联合", "members": 2}})
    status = joint_status(df)
    assert status.iloc[[i, j]]["joint_status"].tolist() == ["split", "split"]
    assert "O7" in status.iloc[i]["joint_reason"]


def test_replan_existing_joint_splits_even_valid_ones(county):
    ent, units = county
    west = np.flatnonzero(ent["unit"] == "东城街道")[:3].tolist()
    df = _tight_group(ent, west, "东城联合党支部", [1, 1, 1])
    status = joint_status(df, Config(replan_existing_joint=True))
    assert (status.iloc[west]["joint_status"] == "split").all()


def test_empty_shell_is_revoked_and_replanned(county):
    ent, units = county
    i = int(np.flatnonzero((ent["unit"] == "东城街道") & ent["eligible"])[0])
    df = _with(ent, {i: {"org_type": "own", "members": 1}})
    plan = partition(Ledger(df), units=units)
    assert plan.enterprises.iloc[i]["action"] == "revoke_shell"  # G4, whether or not it got a branch


def test_large_thresholds_count_probationary_members(county):
    ent, units = county
    i = int(np.flatnonzero(ent["eligible"])[0])
    df = _with(ent, {i: {"org_type": "none", "members": 45, "probationary": 10, "staff": 200}})
    on = partition(Ledger(df), units=units).enterprises.iloc[i]["action"]
    off = partition(Ledger(df), units=units, config=Config(large_thresholds_count_probationary=False))
    assert on == "build_general_branch"  # 55 > 50 (O3)
    assert off.enterprises.iloc[i]["action"] == "build_branch"


def test_attached_enterprises_keep_their_attachment_by_default(county):
    ent, units = county
    i = int(np.flatnonzero(ent["eligible"] & (ent["members"] < 3))[0])
    df = _with(ent, {i: {"org_type": "attached"}})
    plan = partition(Ledger(df), units=units)
    assert plan.enterprises.iloc[i]["action"] == "keep"


# --- small and odd units ------------------------------------------------------------------------------
def test_unit_with_fewer_enterprises_than_the_minimum_is_one_grid(county):
    ent, units = county
    park = ent[ent["unit"] == "高新园"].head(3)
    part = partition_unit(park, units.geometry.iloc[0], unit="高新园", unit_type="park")
    eligible = park["eligible"].sum()
    assert len(part.grids) == (1 if eligible else 0)
    if eligible:
        assert part.grids.geometry.iloc[0].equals(units.geometry.iloc[0])


def test_grid_without_members_needs_an_instructor_leader(county):
    _, units = county
    ent = _enterprises(40, seed=9)
    ent = ent[ent["unit"] == "西城镇"].assign(members=0, org_type="none").head(8)
    part = partition_unit(ent, units.geometry.iloc[2], unit="西城镇", unit_type="township")
    assert part.grids["leader_status"].tolist() == ["instructor post to fill"]
    assert part.grids["leader_uscc"].tolist() == [""]
    assert part.leaders["reason"].str.startswith("网格内无党员").all()
    assert set(part.enterprises["action"]) == {"instructor"}


def test_duplicate_points_still_tile(county):
    _, units = county
    ent = _enterprises(200, seed=5)
    ent = ent[ent["unit"] == "西城镇"].copy()
    ent[["lon", "lat"]] = ent[["lon", "lat"]].iloc[0].to_numpy()  # everyone at one village centroid
    part = partition_unit(ent, units.geometry.iloc[2], unit="西城镇", unit_type="township")
    assert len(part.grids) > 1
    union = shapely.union_all(part.grids.geometry.to_numpy())
    assert shapely.symmetric_difference(union, units.geometry.iloc[2]).area < 1e-9
    assert all(not g.is_empty for g in part.grids.geometry)


def test_unlocated_and_below_e1_are_not_gridded(county):
    ent, units = county
    df = _with(ent, {0: {"lon": np.nan, "lat": np.nan, "unit": "", "eligible": False, "members": 0},
                     1: {"lon": np.nan, "lat": np.nan, "unit": "", "eligible": False, "members": 2,
                         "org_type": "none"}})
    plan = partition(Ledger(df), units=units)
    assert plan.enterprises.iloc[0][["grid_id", "action"]].tolist() == ["", "not_gridded"]
    assert plan.enterprises.iloc[1][["grid_id", "action"]].tolist() == ["", "attach"]


def test_missing_columns_and_units_are_clear_errors(county):
    ent, units = county
    with pytest.raises(LedgerError, match="eligible"):
        partition(Ledger(ent.drop(columns="eligible")), units=units)
    with pytest.raises(LedgerError, match="org_type"):
        partition(Ledger(ent.assign(org_type="单独建")), units=units)
    with pytest.raises(BoundaryError):
        partition(Ledger(ent))


def test_rejects_conflicts_and_warnings_are_carried(county):
    ent, units = county
    rejects = pd.DataFrame({"source_row": [7], "uscc": ["X"], "reason": ["bad checksum"]})
    plan = partition(Ledger(ent, rejects=rejects), units=units)
    assert plan.rejects.equals(rejects)


# --- pieces -------------------------------------------------------------------------------------------
def test_leader_order_is_own_organisation_members_investor_staff_centrality():
    from gridcover._leaders import rank_leaders

    xy = np.array([[0, 0], [5000, 0], [10, 0], [20, 0], [30, 0], [40, 0]], dtype=float)
    order, _ = rank_leaders(
        xy, own_org=[False, True, True, False, False, False], members=[2, 4, 9, 0, 0, 0],
        investor_member=[False, False, False, True, False, False], staff=[500, 10, 10, 5, 80, 80],
        uscc=list("ABCDEF"), top=6)
    # own organisations by members (C 9, B 4); then A (2 members); then the investor
    # member D; then staff (E and F tie: the more central E wins)
    assert order.tolist() == [2, 1, 0, 3, 4, 5]


def test_grid_count_follows_size_bounds_and_member_floor():
    from gridcover._grids import choose_grid_count

    kw = {"min_size": 5, "max_size": 15, "min_members": 3}
    assert choose_grid_count(4, 0, **kw) == 1  # fewer than the minimum: one grid
    assert choose_grid_count(100, 300, **kw) == 10  # about 10 enterprises each
    assert choose_grid_count(100, 21, **kw) == 7  # members for 7 floors only; 7 grids of ≤ 15
    assert choose_grid_count(100, 3, **kw) == 7  # never above 15 each, whatever the members
    assert choose_grid_count(13, 0, min_size=10, max_size=12, min_members=3) == 1  # least violation


def test_partition_reads_units_from_jurisdictions(county):
    from gridcover.jurisdictions import load_jurisdictions

    ent, units = county
    towns = gpd.GeoDataFrame({"name": ["东城街道", "西城镇"]},
                             geometry=[shapely.box(LON0, LAT0, LON0 + 0.1, LAT0 + 0.1),
                                       shapely.box(LON0 + 0.1, LAT0, LON0 + 0.2, LAT0 + 0.1)], crs="EPSG:4326")
    parks = gpd.GeoDataFrame({"name": ["高新园"]}, geometry=[units.geometry.iloc[0]], crs="EPSG:4326")
    jur = load_jurisdictions(towns, parks)
    plan = partition(Ledger(ent), jur)
    assert sorted(plan.units["unit"]) == sorted(jur.units()["unit"])
    direct = partition(Ledger(ent), units=units)
    pd.testing.assert_series_equal(plan.enterprises["grid_id"], direct.enterprises["grid_id"])


def test_sample_county_plan_obeys_the_rules(sample_county_plan):
    """The bundled sample county through the whole pipeline (real data shapes):
    ``run(sample_inputs())``, shared read-only (conftest.py)."""
    plan = sample_county_plan
    e = plan.enterprises
    assert e["action"].isin(ACTIONS).all()
    gridded = e[e["grid_id"] != ""]
    assert (gridded.groupby("grid_id")["unit"].nunique() == 1).all()
    sizes = gridded.groupby("grid_id").size()
    unit_n = gridded.groupby("unit").size()
    big_units = set(unit_n[unit_n >= 5].index)
    in_big = sizes[[gridded.loc[gridded["grid_id"] == g, "unit"].iloc[0] in big_units for g in sizes.index]]
    assert in_big.between(5, 15).all()
    new = plan.branches[plan.branches["status"] != "kept"]
    assert new["n_units"].between(2, 5).all() and (new["members"] >= 3).all()
    assert (new["max_distance_m"] <= 3000).all()
    assert (plan.grids["members"] >= 3).mean() >= 0.95


def test_unlocated_units_of_a_kept_joint_organisation_stay_in_it(county):
    ent, units = county
    west = np.flatnonzero((ent["unit"] == "东城街道") & ent["eligible"])[:3].tolist()
    df = _tight_group(ent, west, "东城联合党支部", [1, 1, 1])
    df = _with(df, {west[2]: {"lon": np.nan, "lat": np.nan, "unit": "", "unit_type": "", "eligible": False}})
    far = np.flatnonzero(ent["unit"] == "西城镇")[:2].tolist()
    lost = {i: {"org_type": "joint", "org_name": "未定位联合支部", "members": 2, "lon": np.nan, "lat": np.nan,
                "unit": "", "unit_type": "", "eligible": False} for i in far}
    df = _with(df, lost)
    plan = partition(Ledger(df), units=units)
    rows = plan.enterprises.iloc[west]
    assert rows["branch_id"].nunique() == 1 and (rows["action"] == "keep").all()
    assert rows["grid_id"].tolist()[2] == ""  # unlocated: in the branch, not in a grid
    lost_rows = plan.enterprises.iloc[far]
    assert lost_rows["branch_id"].nunique() == 1 and lost_rows["branch_id"].iloc[0].startswith("unlocated-B")
    b = plan.branches.set_index("branch_id").loc[lost_rows["branch_id"].iloc[0]]
    assert b["status"] == "kept" and b["grid_id"] == "" and b["unit"] == ""


@pytest.fixture(scope="module")
def sample_serial(sample_county_located):
    """The bundled county partitioned serially: what the executors must reproduce."""
    import gridcover as gc

    jur = gc.load_jurisdictions(gc.sample_inputs().townships, gc.sample_inputs().parks)
    return sample_county_located, jur, partition(sample_county_located, jur)


def test_a_process_pool_gives_the_serial_result(sample_serial):
    """Units are independent: running them in parallel changes nothing (the Dask path too)."""
    from concurrent.futures import ProcessPoolExecutor

    located, jur, serial = sample_serial
    with ProcessPoolExecutor(max_workers=2) as pool:
        parallel = partition(located, jur, executor=pool)
    pd.testing.assert_frame_equal(serial.enterprises, parallel.enterprises)
    pd.testing.assert_frame_equal(serial.branches, parallel.branches)
    pd.testing.assert_frame_equal(serial.leaders, parallel.leaders)
    assert serial.grids.drop(columns="geometry").equals(parallel.grids.drop(columns="geometry"))
    assert serial.grids.geometry.geom_equals_exact(parallel.grids.geometry, tolerance=0).all()


def test_a_dask_cluster_gives_the_serial_result(sample_serial):
    """A Dask cluster runs the units through its concurrent.futures executor."""
    distributed = pytest.importorskip("distributed", reason="Dask is in the [dask] extra")

    located, jur, serial = sample_serial
    with distributed.Client(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as client:
        on_dask = partition(located, jur, executor=client.get_executor())
    pd.testing.assert_frame_equal(serial.enterprises, on_dask.enterprises)
    pd.testing.assert_frame_equal(serial.branches, on_dask.branches)
