"""Plans a planner can keep: order invariance, re-plan from a previous plan, locks, edited grids.

Checks are independent of the re-plan code: plain pandas over the plan tables (and over the
written files for the command line), shapely for the polygons.
"""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridcover import Config, Ledger, datasets
from gridcover import sample_inputs as gc_sample
from gridcover.outputs import write_plan
from gridcover.partition import partition
from gridcover.replan import ReplanError, read_locks, replan

SLOW = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LON0, LAT0 = 118.0, 24.0


def _units() -> gpd.GeoDataFrame:
    west = shapely.box(LON0, LAT0, LON0 + 0.08, LAT0 + 0.08)
    east = shapely.box(LON0 + 0.08, LAT0, LON0 + 0.16, LAT0 + 0.08)
    park = shapely.box(LON0 + 0.02, LAT0 + 0.02, LON0 + 0.05, LAT0 + 0.05)
    return gpd.GeoDataFrame({"unit": ["园区", "西镇", "东镇"], "unit_type": ["park", "township", "township"],
                             "township": ["西镇", "西镇", "东镇"]},
                            geometry=[park, west.difference(park), east], crs="EPSG:4326")


def _unit_of(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    park = shapely.box(LON0 + 0.02, LAT0 + 0.02, LON0 + 0.05, LAT0 + 0.05)
    return np.where(shapely.contains_xy(park, lon, lat), "园区", np.where(lon < LON0 + 0.08, "西镇", "东镇"))


def make_county(n: int, seed: int, *, prefix: str = "9135") -> pd.DataFrame:
    """A random located, classified enterprise table over :func:`_units` (clustered points,
    a few co-located, existing own/joint/attached organisations)."""
    rng = np.random.default_rng(seed)
    centres = np.c_[rng.uniform(LON0 + 0.005, LON0 + 0.155, max(1, n // 40)),
                    rng.uniform(LAT0 + 0.005, LAT0 + 0.075, max(1, n // 40))]
    pick = rng.integers(0, len(centres), n)
    lon = np.clip(centres[pick, 0] + rng.normal(0, 0.006, n), LON0 + 1e-4, LON0 + 0.16 - 1e-4)
    lat = np.clip(centres[pick, 1] + rng.normal(0, 0.006, n), LAT0 + 1e-4, LAT0 + 0.08 - 1e-4)
    if n > 8:
        lon[1:5], lat[1:5] = lon[0], lat[0]
    members = rng.choice([0, 1, 2, 3, 8], p=[0.5, 0.24, 0.14, 0.07, 0.05], size=n)
    staff = np.maximum(members, rng.integers(1, 120, n))
    org = np.where(members >= 3, rng.choice(["own", "none"], n), rng.choice(["none", "joint", "attached"], n,
                                                                           p=[0.82, 0.12, 0.06]))
    names = rng.choice(["甲联合支部", "乙联合支部", ""], size=n)
    unit = _unit_of(lon, lat)
    df = pd.DataFrame({
        "name": [f"企业{i}" for i in range(n)], "lon": lon, "lat": lat, "unit": unit,
        "unit_type": np.where(unit == "园区", "park", "township"), "staff": staff.astype("int64"),
        "fixed_premises": rng.random(n) > 0.05, "members": members.astype("int64"), "probationary": 0,
        "org_type": org, "org_name": np.where(org == "joint", names, ""), "industry": rng.choice(list("CFG"), n),
        "investor_member": rng.random(n) < 0.1, "instructor": "",
    }, index=pd.Index([f"{prefix}{seed % 10**6:06d}{i:08d}" for i in range(n)], name="uscc"))
    df["eligible"] = df["fixed_premises"] & (df["staff"] >= 6)
    return df


def next_quarter(df: pd.DataFrame, seed: int, *, closed: float = 0.03, new: float = 0.03,
                 changed: float = 0.05, moved: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(df)
    idx = rng.permutation(n)
    a, b, c = round(closed * n), round(changed * n), round(moved * n)
    out = df.drop(index=df.index[idx[:a]]).copy()
    ch = df.index[idx[a:a + b]]
    out.loc[ch, "members"] = np.maximum(0, out.loc[ch, "members"] + rng.choice([-1, 1], len(ch)))
    out.loc[ch, "staff"] = np.maximum(out.loc[ch, "members"], out.loc[ch, "staff"] + rng.integers(-5, 6, len(ch)))
    mv = df.index[idx[a + b:a + b + c]]
    out.loc[mv, "lon"] = np.clip(out.loc[mv, "lon"] + rng.normal(0, 0.01, len(mv)), LON0 + 1e-4, LON0 + 0.16 - 1e-4)
    out.loc[mv, "lat"] = np.clip(out.loc[mv, "lat"] + rng.normal(0, 0.01, len(mv)), LAT0 + 1e-4, LAT0 + 0.08 - 1e-4)
    add = make_county(max(1, round(new * n)), seed + 1, prefix="9144")
    out = pd.concat([out, add])
    out["unit"] = _unit_of(out["lon"].to_numpy(float), out["lat"].to_numpy(float))
    out["unit_type"] = np.where(out["unit"] == "园区", "park", "township")
    out["eligible"] = out["fixed_premises"] & (out["staff"] >= 6)
    return out


def _grid_sets(plan) -> dict[str, frozenset[str]]:
    e = plan.enterprises
    e = e[e["grid_id"] != ""]
    return {g: frozenset(s.index) for g, s in e.groupby("grid_id")}


def _branch_sets(plan) -> dict[str, frozenset[str]]:
    return {r.branch_id: frozenset(r.uscc.split(";")) for r in plan.branches.itertuples()}


def _assert_rules(plan, cfg: Config) -> None:
    e = plan.enterprises
    assert (e.loc[e["eligible"].astype(bool), "grid_id"] != "").all()
    gridded = e[e["grid_id"] != ""]
    assert (gridded.groupby("grid_id")["unit"].nunique() == 1).all()
    unit_n = gridded.groupby("unit").size()
    for gid, rows in gridded.groupby("grid_id"):
        if unit_n[rows["unit"].iloc[0]] >= cfg.grid_min_size:
            assert cfg.grid_min_size <= len(rows) <= cfg.grid_max_size, gid
    for b in plan.branches.itertuples():
        rows = e.loc[b.uscc.split(";")]
        assert (rows["branch_id"] == b.branch_id).all()
        if b.status != "kept":
            assert 2 <= len(rows) <= cfg.joint_max_units and rows["members"].sum() >= cfg.joint_min_members
            assert b.max_distance_m <= cfg.joint_max_distance_m and set(rows["grid_id"]) == {b.grid_id}
    for name, geom in zip(plan.units["unit"], plan.units.geometry, strict=True):
        polys = plan.grids.loc[plan.grids["unit"] == name].geometry.to_numpy()
        if len(polys):
            union = shapely.union_all(polys)
            assert shapely.symmetric_difference(union, geom).area <= 1e-7 * geom.area
            assert sum(p.area for p in polys) - union.area <= 1e-7 * geom.area


# --- order invariance --------------------------------------------------------------------------------
@SLOW
@given(st.integers(0, 220), st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1))
def test_same_rows_in_any_order_give_the_same_plan(n, seed, shuffle):
    df = make_county(n, seed)
    units = _units()
    a = partition(Ledger(df), units=units)
    b = partition(Ledger(df.iloc[np.random.default_rng(shuffle).permutation(n)]), units=units)
    pd.testing.assert_frame_equal(a.enterprises, b.enterprises)  # same order too (uscc)
    pd.testing.assert_frame_equal(a.branches, b.branches)
    pd.testing.assert_frame_equal(a.leaders, b.leaders)
    assert a.grids.drop(columns="geometry").equals(b.grids.drop(columns="geometry"))
    assert all(x.equals_exact(y, 0) for x, y in zip(a.grids.geometry, b.grids.geometry, strict=True))


def test_reversed_rows_write_byte_identical_files(tmp_path):
    df = make_county(400, 5)
    units = _units()
    for name, table in (("a", df), ("b", df.iloc[::-1])):
        write_plan(partition(Ledger(table), units=units), tmp_path / name, maps=False, png=False)
    files = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != "run.json")
    assert {"enterprises.csv", "grids.geojson", "branches.csv", "plan.xlsx"} <= set(files)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


# --- re-plan ---------------------------------------------------------------------------------------------
def test_replan_of_the_same_ledger_keeps_every_grid_branch_and_id():
    df = make_county(500, 3)
    units = _units()
    prev = partition(Ledger(df), units=units)
    again = replan(Ledger(df), units=units, previous=prev)
    pd.testing.assert_frame_equal(prev.enterprises, again.enterprises)
    assert _grid_sets(prev) == _grid_sets(again) and _branch_sets(prev) == _branch_sets(again)
    ch = again.changes
    assert set(ch["change"]) == {"kept"} and set(ch["object"]) == {"grid", "branch"}
    assert len(ch) == len(prev.grids) + len(prev.branches)


def test_a_quarter_keeps_most_enterprises_in_place_and_explains_every_change():
    cfg = Config()
    df = make_county(1500, 8)
    units = _units()
    prev = partition(Ledger(df), units=units, config=cfg)
    nxt = next_quarter(df, 9)
    new = replan(Ledger(nxt), units=units, config=cfg, previous=prev)
    _assert_rules(new, cfg)
    pe, ne = prev.enterprises, new.enterprises
    both = pe.index.intersection(ne.index)
    g = both[(pe.loc[both, "grid_id"] != "") & (ne.loc[both, "grid_id"] != "")]
    same = (pe.loc[g, "grid_id"] == ne.loc[g, "grid_id"]) & (pe.loc[g, "branch_id"] == ne.loc[g, "branch_id"])
    assert same.mean() >= 0.9
    ch = new.changes
    kind = dict(zip(zip(ch["object"], ch["id"], strict=True), ch["change"], strict=True))
    moved = both[(pe.loc[both, "grid_id"] != ne.loc[both, "grid_id"])
                 | (pe.loc[both, "branch_id"] != ne.loc[both, "branch_id"])]
    assert len(moved) and all(kind[("enterprise", u)] == "moved" for u in moved)
    assert all(kind[("enterprise", u)] == "dissolved" for u in pe.index.difference(ne.index))
    assert all(kind[("enterprise", u)] == "new" for u in ne.index.difference(pe.index))
    for obj, before, after in (("grid", _grid_sets(prev), _grid_sets(new)),
                               ("branch", _branch_sets(prev), _branch_sets(new))):
        for oid in set(before) | set(after):
            want = ("dissolved" if oid not in after else "new" if oid not in before
                    else "kept" if before[oid] == after[oid] else "changed")
            assert kind[(obj, oid)] == want, (obj, oid)
    assert (ch["reason"] != "").all()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_enterprise_added_changes_at_most_the_grid_it_joins(seed):
    df = make_county(600, seed)
    units = _units()
    prev = partition(Ledger(df), units=units)
    e = prev.enterprises
    near = e.index[(e["grid_id"] != "")][seed * 37]
    row = df.loc[[near]].copy()
    row.index = pd.Index(["91440000ADDED0001X"], name="uscc")
    row["lon"] += 0.0003
    row["members"], row["org_type"], row["org_name"], row["staff"] = 0, "none", "", 30
    row["eligible"] = True
    row["unit"] = _unit_of(row["lon"].to_numpy(float), row["lat"].to_numpy(float))
    new = replan(Ledger(pd.concat([df, row])), units=units, previous=prev)
    before, after = _grid_sets(prev), _grid_sets(new)
    changed = {g for g in set(before) | set(after) if before.get(g) != after.get(g)}
    assert changed <= {new.enterprises.loc[row.index[0], "grid_id"]}
    others = new.enterprises.index.difference(row.index)
    assert (new.enterprises.loc[others, "grid_id"] == e.loc[others, "grid_id"]).all()


@st.composite
def locks(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    df = make_county(draw(st.integers(60, 300)), seed)
    prev = partition(Ledger(df), units=_units())
    grids = sorted(prev.grids["grid_id"])
    branches = sorted(prev.branches["branch_id"])
    lg = draw(st.lists(st.sampled_from(grids), max_size=4, unique=True)) if grids else []
    lb = draw(st.lists(st.sampled_from(branches), max_size=4, unique=True)) if branches else []
    return df, prev, lg, lb, seed


@SLOW
@given(locks())
def test_locked_grids_and_branches_are_kept_exactly(case):
    df, prev, lg, lb, seed = case
    nxt = next_quarter(df, seed + 7, closed=0.08, new=0.08, changed=0.1, moved=0.05)
    new = replan(Ledger(nxt), units=_units(), previous=prev, lock=[*lg, *lb])
    ne = new.enterprises
    ok = ne.index[ne["eligible"].astype(bool) & (ne["unit"] != "")]
    before_g, after_g = _grid_sets(prev), _grid_sets(new)
    for g in lg:  # the surviving enterprises that can still be gridded there, no one else
        unit = prev.grids.set_index("grid_id").loc[g, "unit"]
        want = {u for u in before_g[g] if u in ok and ne.loc[u, "unit"] == unit}
        assert after_g.get(g, frozenset()) == want
    before_b, after_b = _branch_sets(prev), _branch_sets(new)
    unit_of_grid = prev.grids.set_index("grid_id")["unit"]
    for b in lb:
        unit = unit_of_grid[prev.branches.set_index("branch_id").loc[b, "grid_id"]]
        want = {u for u in before_b[b] if u in ok and ne.loc[u, "unit"] == unit}
        got = after_b.get(b, frozenset())
        assert got == want or (not want and not got)
    ch = new.changes.set_index(["object", "id"])
    for g in lg:
        assert ch.loc[("grid", g), "reason"].startswith("locked")
    # a locked grid keeps its polygon; the unit is still tiled
    old_shape = prev.grids.set_index("grid_id").geometry
    new_shape = new.grids.set_index("grid_id").geometry
    for g in lg:
        if g in new_shape.index:
            assert shapely.symmetric_difference(new_shape[g], old_shape[g]).area <= 1e-9 * old_shape[g].area
    for name, geom in zip(new.units["unit"], new.units.geometry, strict=True):
        polys = new.grids.loc[new.grids["unit"] == name].geometry.to_numpy()
        if len(polys):
            union = shapely.union_all(polys)
            assert shapely.symmetric_difference(union, geom).area <= 1e-6 * geom.area
            assert sum(p.area for p in polys) - union.area <= 1e-6 * geom.area


def test_lock_needs_known_ids_and_a_grid_or_branch_column(tmp_path):
    df = make_county(200, 4)
    prev = partition(Ledger(df), units=_units())
    with pytest.raises(ReplanError, match="not in the previous plan"):
        replan(Ledger(df), units=_units(), previous=prev, lock=["西镇-G99"])
    bad = tmp_path / "lock.csv"
    bad.write_text("id\nX\n", encoding="utf-8")
    with pytest.raises(ReplanError, match="grid_id"):
        read_locks(bad)
    good = tmp_path / "lock2.csv"
    good.write_text(f"grid_id\n{prev.grids['grid_id'].iloc[0]}\n", encoding="utf-8")
    assert read_locks(good) == (frozenset({prev.grids["grid_id"].iloc[0]}), frozenset())


# --- planner-edited grids --------------------------------------------------------------------------------
@st.composite
def edits(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    df = make_county(draw(st.integers(80, 300)), seed)
    units = _units()
    prev = partition(Ledger(df), units=units)
    rng = np.random.default_rng(seed)
    rows = []
    for name, geom in zip(units["unit"], units.geometry, strict=True):  # new Voronoi cells per unit
        k = int(rng.integers(1, 6))
        minx, miny, maxx, maxy = geom.bounds
        seeds = shapely.multipoints(np.c_[rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=geom.envelope))
        for j, c in enumerate(cells):
            piece = shapely.intersection(c, geom)
            if not piece.is_empty and piece.area > 0:
                rows.append((f"{name}-E{j + 1}", piece))
    if draw(st.booleans()) and len(rows) > 1:  # a planner's mistake: one grid drawn bigger
        rows[0] = (rows[0][0], shapely.buffer(rows[0][1], 0.004))
    edited = gpd.GeoDataFrame({"grid_id": [r[0] for r in rows]}, geometry=[r[1] for r in rows], crs="EPSG:4326")
    return df, prev, edited


@SLOW
@given(edits())
def test_edited_grids_assign_enterprises_by_polygon_and_are_checked(case):
    df, prev, edited = case
    new = replan(Ledger(df), units=_units(), previous=prev, grids=edited)
    e = new.enterprises
    shape = dict(zip(edited["grid_id"], edited.geometry, strict=True))
    gridded = e[e["grid_id"] != ""]
    assert set(gridded["grid_id"]) <= set(shape)
    pts = shapely.points(gridded["lon"].to_numpy(float), gridded["lat"].to_numpy(float))
    own = np.asarray([shape[g] for g in gridded["grid_id"]], dtype=object)
    on_own = shapely.dwithin(own, pts, 1e-7)
    # an enterprise outside its grid's polygon is in no polygon of its unit at all (a hole)
    for i in np.flatnonzero(~on_own):
        holders = [g for g, p in shape.items() if p.covers(pts[i]) and g.startswith(gridded["unit"].iloc[i] + "-")]
        assert not holders
    grids = new.grids.set_index("grid_id")
    for g in grids.index:
        assert grids.loc[g, "geometry"].equals(shape[g])  # the planner's polygon, as drawn
    checks = new.grid_checks
    assert set(checks["check"]) == {"size", "unit", "members", "overlap", "hole"}
    sizes = gridded.groupby("grid_id").size().reindex(edited["grid_id"]).fillna(0)
    size_ok = checks[checks["check"] == "size"].set_index("grid_id")["ok"]
    for g, n in sizes.items():
        assert bool(size_ok[g]) == (5 <= n <= 15)
    over = checks[checks["check"] == "overlap"].set_index("grid_id")["ok"]
    for g, p in shape.items():
        overlaps = any(shapely.intersection(p, q).area > 1e-6 * p.area for h, q in shape.items() if h != g)
        assert bool(over[g]) == (not overlaps)
    # branches re-planned inside the edited grids
    for b in new.branches.itertuples():
        if b.status != "kept":
            assert set(e.loc[b.uscc.split(";"), "grid_id"]) == {b.grid_id}


def test_locked_grid_that_breaks_a_rule_is_reported_not_repaired():
    df = make_county(400, 12)
    units = _units()
    prev = partition(Ledger(df), units=units)
    sizes = prev.enterprises[prev.enterprises["grid_id"] != ""].groupby("grid_id").size()
    gid = sizes.idxmin()
    rows = prev.enterprises.index[prev.enterprises["grid_id"] == gid]
    gone = rows[: len(rows) - 4]  # four enterprises left: below the minimum of 5
    new = replan(Ledger(df.drop(index=gone)), units=units, previous=prev, lock=[gid])
    after = new.enterprises.index[new.enterprises["grid_id"] == gid]
    assert set(after) == set(rows) - set(gone)  # kept exactly, not topped up
    row = new.changes.set_index(["object", "id"]).loc[("grid", gid)]
    assert row["change"] == "changed" and "locked, not repaired: O10: 4 enterprises" in row["reason"]


def test_edited_grids_without_a_previous_plan_are_checked_and_list_no_changes():
    df = make_county(300, 13)
    units = _units()
    drawn = partition(Ledger(df), units=units).grids[["grid_id", "geometry"]]
    new = replan(Ledger(df), units=units, grids=drawn)
    assert set(new.grids["grid_id"]) <= set(drawn["grid_id"]) and new.changes.empty
    assert len(new.grid_checks) == 5 * len(drawn)


# --- the command line --------------------------------------------------------------------------------------
def _gridcover(*args):
    return subprocess.run([sys.executable, "-m", "gridcover", *map(str, args)], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def sample_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("prev")
    r = _gridcover("plan", datasets.get_path("ledger"), "--townships", datasets.get_path("townships"),
                   "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"),
                   "--out", out, "--no-maps", "--quiet")
    assert r.returncode == 0, r.stderr
    return out


def _plan_args(out):
    return ("plan", datasets.get_path("ledger"), "--townships", datasets.get_path("townships"),
            "--parks", datasets.get_path("parks"), "--gazetteer", datasets.get_path("gazetteer"),
            "--out", out, "--no-maps", "--quiet")


def test_locking_grids_of_the_bundled_county_keeps_their_polygons(sample_county_located):
    from gridcover.jurisdictions import load_jurisdictions

    inputs = gc_sample()
    ledger = sample_county_located  # locate(inputs), shared read-only (conftest.py)
    units = load_jurisdictions(inputs.townships, inputs.parks).units()
    prev = partition(ledger, units=units)
    lock = list(prev.grids["grid_id"][:3]) + list(prev.grids["grid_id"][-3:])
    new = replan(ledger, units=units, previous=prev, lock=lock)
    old_shape, new_shape = prev.grids.set_index("grid_id").geometry, new.grids.set_index("grid_id").geometry
    for g in lock:
        assert shapely.symmetric_difference(new_shape[g], old_shape[g]).area <= 1e-9 * old_shape[g].area
    assert set(new.changes["change"]) == {"kept"}


def test_cli_replan_writes_changes_and_the_excel_sheet(sample_plan, tmp_path):
    import openpyxl

    grids = pd.read_csv(sample_plan / "enterprises.csv", encoding="utf-8-sig", dtype=str)
    lock = tmp_path / "lock.csv"
    pd.DataFrame({"grid_id": sorted(set(grids["grid_id"].dropna()))[:3]}).to_csv(lock, index=False)
    out = tmp_path / "new"
    r = _gridcover(*_plan_args(out), "--previous", sample_plan, "--lock", lock)
    assert r.returncode == 0, r.stderr
    ch = pd.read_csv(out / "changes.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(ch.columns) == ["object", "id", "change", "reason"] and set(ch["change"]) == {"kept"}
    assert (out / "enterprises.csv").read_bytes() == (sample_plan / "enterprises.csv").read_bytes()
    book = openpyxl.load_workbook(out / "plan.xlsx", read_only=True)
    assert "变更" in book.sheetnames
    assert not (out / "grid_checks.csv").exists()


def test_cli_edited_grids_write_grid_checks(sample_plan, tmp_path):
    edited = gpd.read_file(sample_plan / "grids.geojson")
    first = edited.iloc[0]
    same_unit = edited[(edited["unit"] == first["unit"]) & (edited.index != edited.index[0])]
    if len(same_unit):  # merge two grids of one unit, as a planner would in QGIS
        other = same_unit.index[0]
        edited.loc[edited.index[0], "geometry"] = shapely.union(first.geometry, edited.loc[other, "geometry"])
        edited = edited.drop(index=other)
    path = tmp_path / "edited.geojson"
    edited.to_file(path, driver="GeoJSON")
    out = tmp_path / "edited_plan"
    r = _gridcover(*_plan_args(out), "--previous", sample_plan, "--grids", path)
    assert r.returncode == 0, r.stderr
    checks = pd.read_csv(out / "grid_checks.csv", encoding="utf-8-sig", dtype=str)
    assert list(checks.columns) == ["grid_id", "check", "ok", "detail"]
    assert set(checks["grid_id"]) == set(edited["grid_id"])
    ent = pd.read_csv(out / "enterprises.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert set(ent.loc[ent["grid_id"] != "", "grid_id"]) <= set(edited["grid_id"])


def test_cli_lock_without_previous_or_unknown_id_is_one_line_exit_2(sample_plan, tmp_path):
    lock = tmp_path / "lock.csv"
    lock.write_text("grid_id\nno-such-grid\n", encoding="utf-8")
    r = _gridcover(*_plan_args(tmp_path / "a"), "--lock", lock)
    assert r.returncode == 2 and "--previous" in r.stderr and "Traceback" not in r.stderr
    r = _gridcover(*_plan_args(tmp_path / "b"), "--previous", sample_plan, "--lock", lock)
    assert r.returncode == 2 and "no-such-grid" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = _gridcover(*_plan_args(tmp_path / "c"), "--previous", tmp_path)
    assert r.returncode == 2 and "not a gridcover plan folder" in r.stderr
