"""Invariants of the partition on random instances (hypothesis).

Hard constraints: O6 (≤ 5 units, ≥ 3 formal members per joint branch), O7 (one unit,
pairwise ≤ 3 km), grid size within bounds where feasible (O10), one unit per grid,
boundary tiling, each enterprise in at most one branch and in exactly one grid when
eligible (none otherwise), one valid action each, and determinism.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcover import Config, Ledger
from gridcover._boundaries import grid_polygons
from gridcover._branches import check_packing, pack_branches
from gridcover._grids import _delaunay_adjacency, _parts, cluster_grids, connect_grids
from gridcover.partition import partition
from gridcover.schema import ACTIONS

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- joint branches -------------------------------------------------------------------------------
@st.composite
def candidates(draw, max_n: int = 30):
    n = draw(st.integers(0, max_n))
    seed = draw(st.integers(0, 2**31 - 1))
    spread = draw(st.sampled_from([500.0, 3000.0, 8000.0, 20000.0]))
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, spread, (n, 2))
    if n > 3 and draw(st.booleans()):
        xy[: n // 3] = xy[0]  # co-located candidates
    members = rng.choice([0, 1, 2], p=[0.5, 0.3, 0.2], size=n)
    industry = rng.choice(list("CFG"), n)
    return xy, members, industry


@FAST
@given(candidates(), st.integers(2, 6), st.integers(2, 5), st.sampled_from([1000.0, 3000.0]))
def test_joint_branches_obey_o6_and_o7(case, max_units, min_members, max_distance):
    xy, members, industry = case
    labels = pack_branches(xy, members, industry, max_units=max_units, min_members=min_members,
                           max_distance=max_distance)
    assert labels.shape == (len(xy),)  # one label each: at most one branch per enterprise
    assert not check_packing(xy, members, labels, max_units=max_units, min_members=min_members,
                             max_distance=max_distance)
    if len(labels) and labels.max() >= 0:
        assert set(labels[labels >= 0].tolist()) == set(range(int(labels.max()) + 1))


def _optimum(xy, members, max_units=5, min_members=3, max_distance=3000.0) -> tuple[int, int]:
    """Brute force over all packings of a tiny set: (cover, branches)."""
    n = len(xy)
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])

    def valid(group):
        return (2 <= len(group) <= max_units and members[list(group)].sum() >= min_members
                and all(d[a, b] <= max_distance for a, b in itertools.combinations(group, 2)))

    best = (0, 0)

    def rec(i, groups, out):
        nonlocal best
        if i == n:
            ok = [g for g in groups if valid(g)]
            best = max(best, (sum(len(g) for g in ok), len(ok)))
            return
        for g in groups:
            if len(g) < max_units:
                g.append(i)
                rec(i + 1, groups, out)
                g.pop()
        groups.append([i])
        rec(i + 1, groups, out)
        groups.pop()
        rec(i + 1, groups, out + 1)

    rec(0, [], 0)
    return best


@FAST
@given(candidates(max_n=8))
def test_small_candidate_sets_are_packed_optimally(case):
    xy, members, industry = case
    labels = pack_branches(xy, members, industry)
    found = (int((labels >= 0).sum()), int(labels.max()) + 1 if (labels >= 0).any() else 0)
    assert found == _optimum(xy, members)


# --- grids --------------------------------------------------------------------------------------------
@st.composite
def grid_case(draw):
    n = draw(st.integers(1, 400))
    lo = draw(st.integers(2, 6))
    hi = draw(st.integers(2 * lo - 1, 20))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 20000, (max(1, n // 50), 2))
    xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 700, (n, 2))
    if n > 5 and draw(st.booleans()):
        xy[: n // 4] = xy[0]
    members = rng.choice([0, 1, 2, 5], p=[0.55, 0.25, 0.12, 0.08], size=n)
    return xy, members, lo, hi


@FAST
@given(grid_case())
def test_grid_sizes_stay_within_bounds_where_feasible(case):
    xy, members, lo, hi = case
    labels = cluster_grids(xy, members=members, min_size=lo, max_size=hi, min_members=3)
    sizes = np.bincount(labels)
    assert (sizes > 0).all()  # labels 0..k-1, no empty grid
    if len(xy) < lo:
        assert len(sizes) == 1  # a unit below the minimum is one grid
    else:
        assert sizes.min() >= lo and sizes.max() <= hi


@FAST
@given(grid_case(), st.integers(0, 2**31 - 1))
def test_grids_keep_branches_whole_and_sizes_within_bounds(case, seed):
    """Items of weight up to 5 (joint branches kept in one grid) still give 5–15 grids."""
    xy, members, _, _ = case
    weight = np.where(np.random.default_rng(seed).random(len(xy)) < 0.3,
                      np.random.default_rng(seed + 1).integers(2, 6, len(xy)), 1)
    labels = cluster_grids(xy, weight=weight, members=members * weight, min_size=5, max_size=15)
    sizes = np.bincount(labels, weights=weight)
    if weight.sum() >= 5:
        assert sizes.min() >= 5 and sizes.max() <= 15
    else:
        assert len(sizes) == 1


@FAST
@given(grid_case(), st.integers(0, 2**31 - 1))
def test_contiguity_pass_keeps_bounds_and_items_and_never_adds_pieces(case, seed):
    xy, members, _, _ = case
    if len(xy) < 10:
        return
    rng = np.random.default_rng(seed)
    item = np.arange(len(xy))
    pairs = rng.choice(len(xy), size=(len(xy) // 6, 2), replace=False) if len(xy) >= 12 else np.zeros((0, 2), int)
    for a, b in pairs:  # some two-enterprise items (branches kept whole)
        item[b] = item[a]
    _, inv = np.unique(item, return_inverse=True)
    w = np.bincount(inv)
    centre = np.c_[np.bincount(inv, weights=xy[:, 0]), np.bincount(inv, weights=xy[:, 1])] / w[:, None]
    lab_items = cluster_grids(centre, weight=w, members=np.bincount(inv, weights=members).astype(int))
    before = lab_items[inv]
    after = connect_grids(xy, before, item=inv, members=members)
    loc, adj = _delaunay_adjacency(xy)

    def pieces(labels):
        return sum(len(_parts(set(loc[labels == g].tolist()), adj)) for g in np.unique(labels))

    assert pieces(after) <= pieces(before)
    assert (pd.Series(after).groupby(inv).nunique() == 1).all()  # items never split
    sizes = np.bincount(after)
    if len(xy) >= 5 and np.bincount(before).min() >= 5:
        assert sizes.min() >= 5 and sizes.max() <= 15
    floor_before = np.bincount(before, weights=members) >= 3
    floor_after = np.bincount(after, weights=members, minlength=len(floor_before)) >= 3
    assert (floor_after | ~floor_before).all()  # a grid meeting the floor keeps it


@FAST
@given(grid_case(), st.sampled_from(["box", "concave", "holed"]))
def test_grid_polygons_tile_the_unit(case, shape):
    xy, members, lo, hi = case
    minx, miny = xy.min(axis=0) - 500
    maxx, maxy = xy.max(axis=0) + 500
    unit = shapely.box(minx, miny, maxx, maxy)
    if shape == "concave":  # a notch cut into the unit: Voronoi cells get cut in two
        notch = shapely.box(minx + (maxx - minx) * 0.45, miny + (maxy - miny) * 0.2,
                            minx + (maxx - minx) * 0.55, maxy + 1)
        unit = unit.difference(notch)
    elif shape == "holed":  # a hole (a park taken out of a township)
        unit = unit.difference(shapely.Point((minx + maxx) / 2, (miny + maxy) / 2).buffer(
            min(maxx - minx, maxy - miny) / 5))
    keep = shapely.contains_xy(unit, xy[:, 0], xy[:, 1])
    if keep.sum() == 0:
        return
    xy, members = xy[keep], members[keep]
    labels = cluster_grids(xy, members=members, min_size=lo, max_size=hi, min_members=3)
    polys = grid_polygons(xy, labels, unit)
    assert len(polys) == int(labels.max()) + 1
    union = shapely.union_all(polys)
    area = unit.area
    assert shapely.symmetric_difference(union, unit).area <= 1e-7 * area
    assert sum(p.area for p in polys) - union.area <= 1e-7 * area  # no overlaps
    assert all(not p.is_empty for p in polys)
    # every enterprise lies in (or on the border of) its own grid's polygon
    pts = shapely.points(xy)
    assert shapely.dwithin(np.asarray(polys, dtype=object)[labels], pts, 1e-3).all()


# --- the whole partition ----------------------------------------------------------------------------------
LON0, LAT0 = 118.0, 24.0


@st.composite
def county(draw):
    n = draw(st.integers(0, 220))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    west = shapely.box(LON0, LAT0, LON0 + 0.08, LAT0 + 0.08)
    east = shapely.box(LON0 + 0.08, LAT0, LON0 + 0.16, LAT0 + 0.08)
    park = shapely.box(LON0 + 0.02, LAT0 + 0.02, LON0 + 0.05, LAT0 + 0.05)
    units = gpd.GeoDataFrame({"unit": ["园区", "西镇", "东镇"], "unit_type": ["park", "township", "township"],
                              "township": ["西镇", "西镇", "东镇"]},
                             geometry=[park, west.difference(park), east], crs="EPSG:4326")
    lon = rng.uniform(LON0 + 1e-4, LON0 + 0.16 - 1e-4, n)
    lat = rng.uniform(LAT0 + 1e-4, LAT0 + 0.08 - 1e-4, n)
    if n > 6:
        lon[1:5], lat[1:5] = lon[0], lat[0]
    unit = np.where(shapely.contains_xy(park, lon, lat), "园区", np.where(lon < LON0 + 0.08, "西镇", "东镇"))
    members = rng.choice([0, 1, 2, 3, 8, 70], p=[0.5, 0.22, 0.12, 0.08, 0.06, 0.02], size=n)
    staff = np.maximum(members, rng.integers(1, 120, n))
    org = rng.choice(["none", "own", "joint", "attached"], p=[0.7, 0.12, 0.12, 0.06], size=n)
    names = rng.choice(["甲联合支部", "乙联合支部", "丙联合支部", ""], size=n)
    located = rng.random(n) > 0.05
    lon = np.where(located, lon, np.nan)
    lat = np.where(located, lat, np.nan)
    unit = np.where(located, unit, "")
    df = pd.DataFrame({
        "name": [f"企业{i}" for i in range(n)], "lon": lon, "lat": lat, "unit": unit,
        "unit_type": np.where(unit == "园区", "park", np.where(unit == "", "", "township")),
        "staff": staff.astype("int64"), "fixed_premises": rng.random(n) > 0.1,
        "members": members.astype("int64"), "probationary": rng.integers(0, 3, n).astype("int64"),
        "org_type": org, "org_name": np.where(org == "joint", names, ""),
        "industry": rng.choice(list("CFGI"), n), "investor_member": rng.random(n) < 0.1, "instructor": "",
    }, index=pd.Index([f"9135{seed % 10**6:06d}{i:08d}" for i in range(n)], name="uscc"))
    df["eligible"] = df["fixed_premises"] & (df["staff"] >= 6) & np.isfinite(df["lon"])
    cfg = Config(replan_existing_joint=draw(st.booleans()),
                 org_coverage_counts_attached=draw(st.booleans()))
    return df, units, cfg


@SLOW
@given(county())
def test_partition_invariants(case):
    df, units, cfg = case
    plan = partition(Ledger(df), units=units, config=cfg)
    e = plan.enterprises
    # one valid action each
    assert e["action"].isin(ACTIONS).all() and len(e) == len(df)
    # exactly one grid when eligible, none when not; one unit per grid
    assert (e.loc[e["eligible"], "grid_id"] != "").all()
    assert (e.loc[~e["eligible"], "grid_id"] == "").all()
    gridded = e[e["grid_id"] != ""]
    assert (gridded.groupby("grid_id")["unit"].nunique() == 1).all()
    sizes = gridded.groupby("grid_id").size()
    unit_sizes = gridded.groupby("unit").size()
    for gid, size in sizes.items():
        unit = gridded.loc[gridded["grid_id"] == gid, "unit"].iloc[0]
        if unit_sizes[unit] >= cfg.grid_min_size:
            assert cfg.grid_min_size <= size <= cfg.grid_max_size
    # each enterprise in at most one branch; the branch table agrees with the column
    listed = [u for s in plan.branches["uscc"] for u in s.split(";")]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(e.index[e["branch_id"] != ""])
    for _, b in plan.branches.iterrows():
        rows = e.loc[b["uscc"].split(";")]
        assert (rows["branch_id"] == b["branch_id"]).all()
        if b["status"] == "kept":
            continue  # an existing organisation that passed O6/O7
        assert 2 <= len(rows) <= cfg.joint_max_units  # O6
        assert rows["members"].sum() >= cfg.joint_min_members  # O6
        assert rows["unit"].nunique() == 1 and b["max_distance_m"] <= cfg.joint_max_distance_m  # O7
        assert set(rows["grid_id"]) == {b["grid_id"]}
    # tiling of every unit with grids
    for name, geom in zip(plan.units["unit"], plan.units.geometry, strict=True):
        polys = plan.grids.loc[plan.grids["unit"] == name].geometry.to_numpy()
        if len(polys):
            union = shapely.union_all(polys)
            assert shapely.symmetric_difference(union, geom).area <= 1e-7 * geom.area
            assert sum(p.area for p in polys) - union.area <= 1e-7 * geom.area
    # deterministic
    again = partition(Ledger(df), units=units, config=cfg)
    pd.testing.assert_frame_equal(plan.enterprises, again.enterprises)
    pd.testing.assert_frame_equal(plan.branches, again.branches)
    pd.testing.assert_frame_equal(plan.leaders, again.leaders)
    assert plan.grids.drop(columns="geometry").equals(again.grids.drop(columns="geometry"))
    assert all(a.equals_exact(b, 0) for a, b in zip(plan.grids.geometry, again.grids.geometry, strict=True))


@SLOW
@given(st.integers(0, 2**31 - 1), st.integers(2, 60))
def test_enterprises_at_one_point_share_a_grid(seed, m):
    """Enterprises at one point in no branch share one grid (up to the grid size; more are
    cut into as few grids as the size allows), whatever else lies around."""
    rng = np.random.default_rng(seed)
    n = 150
    lon = rng.uniform(LON0 + 0.001, LON0 + 0.079, n)
    lat = rng.uniform(LAT0 + 0.001, LAT0 + 0.079, n)
    lon[:m], lat[:m] = lon[0], lat[0]
    members = np.where(np.arange(n) < m, 3, rng.choice([0, 1, 2, 3], n))
    df = pd.DataFrame({"lon": lon, "lat": lat, "unit": "西镇", "eligible": True, "staff": 30,
                       "members": members.astype("int64"), "org_type": np.where(members >= 3, "own", "none")},
                      index=pd.Index([f"9135{seed % 10**6:06d}{i:08d}" for i in rng.permutation(n)], name="uscc"))
    units = gpd.GeoDataFrame({"unit": ["西镇"], "unit_type": ["township"], "township": ["西镇"]},
                             geometry=[shapely.box(LON0, LAT0, LON0 + 0.08, LAT0 + 0.08)], crs="EPSG:4326")
    plan = partition(Ledger(df), units=units)
    at_point = plan.enterprises.loc[df.index[:m], "grid_id"]
    assert at_point.nunique() == -(-m // 15)  # ceil(m / 15): one grid when they fit in one
