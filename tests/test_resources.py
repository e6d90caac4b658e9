"""Instructors (W1, W2) and service centres (W3, G9): gridcover.resources and its solver cores."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from shapely.geometry import Point, box

from gridcover import Config, LedgerError, Plan
from gridcover._flow import (
    capacitated_assignment,
    coverage_matrix,
    mclp_greedy_swap,
    mclp_milp,
    mclp_value,
)
from gridcover.resources import (
    INSTRUCTOR_COLUMNS,
    SITE_COLUMNS,
    assign_instructors,
    catchment,
    instructors_needed,
    read_roster,
    read_service_centres,
    site_new_centres,
    site_new_centres_exact,
)

try:
    from ortools.graph.python import min_cost_flow  # noqa: F401

    ORTOOLS = True
except ImportError:  # optional solver
    ORTOOLS = False

LON0, LAT0 = 119.0, 26.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def at(dx: float, dy: float = 0.0) -> tuple[float, float]:
    """lon, lat of a point dx metres east and dy metres north of (119 E, 26 N)."""
    return LON0 + dx / M_PER_DEG_LON, LAT0 + dy / M_PER_DEG_LAT


def units() -> gpd.GeoDataFrame:
    """Township 甲镇 with park 甲园 carved out of it, and township 乙镇 east of it."""
    town_a = box(118.95, 25.95, 119.05, 26.05)
    park = box(118.96, 25.96, 118.98, 25.98)
    town_b = box(119.05, 25.95, 119.15, 26.05)
    return gpd.GeoDataFrame({"unit": ["甲园", "甲镇", "乙镇"], "unit_type": ["park", "township", "township"],
                             "township": ["甲镇", "甲镇", "乙镇"]},
                            geometry=[park, town_a.difference(park), town_b], crs="EPSG:4326")


def enterprises(rows: list[dict]) -> pd.DataFrame:
    """Enterprise table from rows with uscc, x/y (metres) and overrides."""
    out = []
    for r in rows:
        lon, lat = at(r.get("x", 0.0), r.get("y", 0.0))
        unit = r.get("unit", "甲镇")
        out.append({
            "uscc": r["uscc"], "name": r.get("name", f"企业{r['uscc']}"), "lon": lon, "lat": lat,
            "precision": "exact", "township": "甲镇" if unit == "甲园" else unit,
            "park": "甲园" if unit == "甲园" else "", "unit": unit,
            "unit_type": "park" if unit == "甲园" else "township",
            "staff": r.get("staff", 10), "members": r.get("members", 0),
            "org_type": r.get("org_type", "none"), "instructor": r.get("instructor", ""),
            "action": r.get("action", "instructor"),
        })
    return pd.DataFrame(out).set_index("uscc")


def roster(rows: list[tuple[str, str, float | None, int | None]]) -> pd.DataFrame:
    """Roster from (name, unit, x metres or None, capacity or None)."""
    data = []
    for name, unit, x, cap in rows:
        lon, lat = at(x) if x is not None else (np.nan, np.nan)
        data.append({"name": name, "township": "甲镇" if unit == "甲园" else unit,
                     "park": "甲园" if unit == "甲园" else "", "lon": lon, "lat": lat, "capacity": cap})
    df = pd.DataFrame(data)
    df["capacity"] = pd.array(df["capacity"].tolist(), dtype="Int64")
    return df


# --- instructors: nearest first, within capacity, inside the unit ---------------------------

def test_nearest_first_is_the_least_total_distance_not_greedy():
    # E1 at 0 m and E2 at 600 m; I1 at 500 m and I2 at -1000 m, one enterprise each.
    # Taking E1's nearest first (I1, 500 m) forces E2 to I2 (1600 m): 2100 m in all.
    # The optimum is E1 -> I2 (1000 m), E2 -> I1 (100 m): 1100 m.
    plan = Plan(enterprises=enterprises([{"uscc": "E1", "x": 0}, {"uscc": "E2", "x": 600}]))
    result = assign_instructors(plan, roster([("I1", "甲镇", 500, 1), ("I2", "甲镇", -1000, 1)])).instructors
    assert list(result.columns) == list(INSTRUCTOR_COLUMNS)
    got = dict(zip(result["uscc"], result["instructor"], strict=True))
    assert got == {"E1": "I2", "E2": "I1"}
    assert result["distance_m"].sum() == pytest.approx(1100, abs=3)


def test_capacity_is_never_exceeded_and_the_rest_stay_listed():
    ents = [{"uscc": f"E{i}", "x": 100 * i} for i in range(7)]
    plan = Plan(enterprises=enterprises(ents))
    result = assign_instructors(plan, roster([("王", "甲镇", 0, 2), ("李", "甲镇", 600, 3)])).instructors
    assert len(result) == 7  # every enterprise needing one is listed
    loads = result.loc[result["instructor"].ne(""), "instructor"].value_counts()
    assert loads["王"] == 2 and loads["李"] == 3
    unassigned = result[result["instructor"].eq("")]
    assert len(unassigned) == 2 and unassigned["distance_m"].isna().all()


def test_default_capacity_comes_from_the_config_at_assignment_time():
    plan = Plan(enterprises=enterprises([{"uscc": f"E{i}", "x": 50 * i} for i in range(6)]))
    crew = roster([("王", "甲镇", 0, None)])
    assert assign_instructors(plan, crew).instructors["instructor"].ne("").sum() == 3  # W1 default 3
    wide = assign_instructors(plan, crew, config=Config(instructor_capacity=5)).instructors
    assert wide["instructor"].ne("").sum() == 5


def test_never_across_units_unless_allowed():
    # E1 in 乙镇 just east of the border (≈5 km east), 400 m from an instructor of 甲镇;
    # 乙镇's own instructor is 8.7 km away. E2 sits in the park 甲园, which has none.
    plan = Plan(enterprises=enterprises([{"uscc": "E1", "x": 5300, "unit": "乙镇"},
                                         {"uscc": "E2", "x": -3000, "y": -3300, "unit": "甲园"}]), units=units())
    crew = roster([("近", "甲镇", 4900, 3), ("远", "乙镇", 14000, 3)])
    inside = assign_instructors(plan, crew).instructors.set_index("uscc")
    assert inside.loc["E1", "instructor"] == "远"
    assert inside.loc["E2", "instructor"] == ""  # the park has no instructor of its own
    across = assign_instructors(plan, crew, config=Config(instructors_cross_units=True)).instructors.set_index("uscc")
    assert across.loc["E1", "instructor"] == "近"
    assert across.loc["E2", "instructor"] in {"近", "远"}


def test_instructor_point_decides_the_unit_over_the_declared_township():
    # Declared 甲镇, but the point lies in the park 甲园: the park is its unit.
    park_x = (118.97 - LON0) * M_PER_DEG_LON
    park_y = (25.97 - LAT0) * M_PER_DEG_LAT
    plan = Plan(enterprises=enterprises([{"uscc": "E1", "x": park_x, "y": park_y, "unit": "甲园"}]), units=units())
    crew = pd.DataFrame({"name": ["王"], "township": ["甲镇"], "park": [""],
                         "lon": [at(park_x, park_y)[0]], "lat": [at(park_x, park_y)[1]],
                         "capacity": pd.array([3], dtype="Int64")})
    assert assign_instructors(plan, crew).instructors["instructor"].tolist() == ["王"]


def test_roster_rows_without_coordinates_sit_inside_their_township():
    plan = Plan(enterprises=enterprises([{"uscc": "E1", "x": 9000, "unit": "乙镇"}]), units=units())
    result = assign_instructors(plan, roster([("王", "乙镇", None, 3)])).instructors
    assert result["instructor"].tolist() == ["王"]
    rep = units().geometry.iloc[2].representative_point()  # a point inside 乙镇
    expected = math.hypot((rep.x - LON0) * M_PER_DEG_LON - 9000, (rep.y - LAT0) * M_PER_DEG_LAT)
    assert result["distance_m"].iat[0] == pytest.approx(expected, rel=0.01)


def test_enterprises_with_a_ledger_instructor_are_not_reassigned_and_use_capacity():
    ents = [{"uscc": "E0", "x": 0, "action": "keep", "instructor": "王"},
            {"uscc": "E1", "x": 10, "instructor": "王"},  # already has one
            {"uscc": "E2", "x": 20}, {"uscc": "E3", "x": 30}, {"uscc": "E4", "x": 40}]
    plan = Plan(enterprises=enterprises(ents))
    result = assign_instructors(plan, roster([("王", "甲镇", 0, 3), ("李", "甲镇", 5000, 3)])).instructors
    assert result["uscc"].tolist() == ["E2", "E3", "E4"]
    # 王 already instructs E0 and E1 in the ledger: one place left
    assert (result["instructor"] == "王").sum() == 1
    assert (result["instructor"] == "李").sum() == 2


def test_inputs_are_not_mutated():
    ent = enterprises([{"uscc": "E1", "x": 0}])
    crew = roster([("王", "甲镇", None, None)])
    before_e, before_r = ent.copy(), crew.copy()
    assign_instructors(Plan(enterprises=ent, units=units()), crew)
    pd.testing.assert_frame_equal(ent, before_e)
    pd.testing.assert_frame_equal(crew, before_r)


def test_unplaceable_roster_row_warns():
    plan = Plan(enterprises=enterprises([{"uscc": "E1", "x": 0}]), units=units())
    with pytest.warns(UserWarning, match="丙镇"):
        result = assign_instructors(plan, roster([("王", "丙镇", None, 3)])).instructors
    assert result["instructor"].tolist() == [""]


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_assignment_is_feasible_and_optimal_property(data):
    n = data.draw(st.integers(1, 14))
    m = data.draw(st.integers(1, 5))
    ent_units = data.draw(st.lists(st.sampled_from(["甲镇", "乙镇"]), min_size=n, max_size=n))
    ents = [{"uscc": f"E{i:02d}", "x": data.draw(st.floats(-4000, 4000)), "y": data.draw(st.floats(-4000, 4000)),
             "unit": u} for i, u in enumerate(ent_units)]
    crew_rows = [(f"I{j}", data.draw(st.sampled_from(["甲镇", "乙镇"])), data.draw(st.floats(-4000, 4000)),
                  data.draw(st.integers(0, 4))) for j in range(m)]
    plan = Plan(enterprises=enterprises(ents))
    crew = roster(crew_rows)
    result = assign_instructors(plan, crew).instructors
    unit_of = dict(zip(crew["name"], [r[1] for r in crew_rows], strict=True))
    cap = dict(zip(crew["name"], [r[3] for r in crew_rows], strict=True))
    ent_unit = {e["uscc"]: e["unit"] for e in ents}
    done = result[result["instructor"].ne("")]
    for name, load in done["instructor"].value_counts().items():
        assert load <= cap[name]  # W1
    for u, ins in zip(done["uscc"], done["instructor"], strict=True):
        assert unit_of[ins] == ent_unit[u]  # W2
    for unit in ("甲镇", "乙镇"):
        n_u = sum(1 for e in ents if e["unit"] == unit)
        cap_u = sum(c for _, uu, _, c in crew_rows if uu == unit)
        assert (done["unit"] == unit).sum() == min(n_u, cap_u)  # the most that fit


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_sparse_flow_equals_the_exact_assignment(data):
    n = data.draw(st.integers(1, 25))
    m = data.draw(st.integers(1, 8))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    ent = rng.uniform(0, 5000, (n, 2))
    ins = rng.uniform(0, 5000, (m, 2))
    cap = rng.integers(0, 4, m)
    solver = data.draw(st.sampled_from(["networkx", "ortools"] if ORTOOLS else ["networkx"]))
    res = capacitated_assignment(ent, ins, cap, k=data.draw(st.integers(1, 3)), solver=solver)
    assert ((res.supplier >= 0).sum()) == min(n, int(cap.sum()))
    assert (np.bincount(res.supplier[res.supplier >= 0], minlength=m) <= cap).all()
    slots = np.repeat(np.arange(m), cap)
    if len(slots):
        cost = np.rint(np.hypot(ent[:, None, 0] - ins[None, slots, 0], ent[:, None, 1] - ins[None, slots, 1]))
        r, c = linear_sum_assignment(cost)
        assert res.cost == int(cost[r, c].sum())


# --- instructors needed ---------------------------------------------------------------------

def test_instructors_needed_by_unit():
    ents = ([{"uscc": f"A{i}", "x": i} for i in range(7)]  # 7 in 甲镇 -> 3 needed
            + [{"uscc": f"B{i}", "x": 6000 + i, "unit": "乙镇"} for i in range(3)]  # 3 -> 1
            + [{"uscc": "P1", "x": -3000, "unit": "甲园"}]  # 1 -> 1
            + [{"uscc": "K1", "x": 5, "action": "keep"}, {"uscc": "H1", "x": 6, "instructor": "赵"}])
    plan = Plan(enterprises=enterprises(ents), units=units())
    table = instructors_needed(plan, roster([("王", "甲镇", 0, 3), ("李", "乙镇", 7000, 3)]))
    got = table.set_index("unit")[["enterprises_needing", "instructors_available", "needed", "shortfall"]]
    assert got.loc["甲园"].tolist() == [1, 0, 1, 1]
    assert got.loc["甲镇"].tolist() == [7, 1, 3, 2]
    assert got.loc["乙镇"].tolist() == [3, 1, 1, 0]
    assert got.loc["合计"].tolist() == [11, 2, 5, 3]
    assert table["unit_type"].tolist() == ["park", "township", "township", "total"]


# --- roster and service-centre files -------------------------------------------------------

def test_read_roster_gbk_csv_with_title_row_and_chinese_headers(tmp_path):
    text = ("2025年党建工作指导员名册,,,,\n"
            "姓名,乡镇（街道）,经度,纬度,可指导企业数\n"
            "王某,甲镇,119.01,26.01,４\n"
            "李某,乙镇,,,\n")
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode("gbk"))
    df = read_roster(path)
    assert df["name"].tolist() == ["王某", "李某"]
    assert df["capacity"].tolist()[0] == 4 and pd.isna(df["capacity"].tolist()[1])
    assert df["lon"].iloc[0] == pytest.approx(119.01) and np.isnan(df["lon"].iloc[1])
    assert df["source_row"].tolist() == [3, 4]


def test_read_roster_xlsx_and_gcj02_conversion(tmp_path):
    from gridcover.coords import wgs84_to_gcj02

    glon, glat = wgs84_to_gcj02(119.01, 26.01)
    path = tmp_path / "roster.xlsx"
    pd.DataFrame({"姓名": ["王某"], "乡镇（街道）": ["甲镇"], "经度": [float(glon)], "纬度": [float(glat)],
                  "坐标系": ["高德"]}).to_excel(path, index=False)
    df = read_roster(path)
    assert df["lon"].iloc[0] == pytest.approx(119.01, abs=1e-6)
    assert df["lat"].iloc[0] == pytest.approx(26.01, abs=1e-6)


@pytest.mark.parametrize(("rows", "reason"), [
    ("王某,甲镇,,,三\n", "row 2: capacity"),
    ("王某,,,,\n", "row 2"),
    ("王某,甲镇,,,\n王某,乙镇,,,\n", "repeated"),
    ("王某,甲镇,119.0,26.0,\n", "outside China"),
])
def test_read_roster_names_the_bad_row(tmp_path, rows, reason):
    path = tmp_path / "roster.csv"
    path.write_text("姓名,乡镇（街道）,纬度,经度,可指导企业数\n" + rows, encoding="utf-8")
    with pytest.raises(LedgerError, match=reason):
        read_roster(path)


def test_read_roster_without_name_column(tmp_path):
    path = tmp_path / "roster.csv"
    path.write_text("乡镇,经度\n甲镇,119\n", encoding="utf-8")
    with pytest.raises(LedgerError, match="no name column"):
        read_roster(path)


def test_read_service_centres_csv_and_geojson(tmp_path):
    path = tmp_path / "centres.csv"
    path.write_text("名称,乡镇（街道）,经度,纬度\n甲镇党群服务中心,甲镇,119.0,26.0\n", encoding="utf-8-sig")
    gdf = read_service_centres(path)
    assert list(gdf.columns) == ["name", "township", "geometry"]
    assert gdf.crs.to_epsg() == 4326 and gdf.geometry.iloc[0].equals(Point(119.0, 26.0))
    geo = tmp_path / "centres.geojson"
    gpd.GeoDataFrame({"name": ["乙镇中心"], "township": ["乙镇"]},
                     geometry=[box(119.1, 26.0, 119.11, 26.01)], crs="EPSG:4326").to_file(geo)
    back = read_service_centres(geo)
    assert back["name"].tolist() == ["乙镇中心"] and back.geom_type.tolist() == ["Point"]
    assert box(119.1, 26.0, 119.11, 26.01).contains(back.geometry.iloc[0])


# --- catchment and new sites (W3) ------------------------------------------------------------

def centres_at(*xs: float) -> gpd.GeoDataFrame:
    pts = [Point(*at(x)) for x in xs]
    return gpd.GeoDataFrame({"name": [f"中心{i}" for i in range(len(xs))], "township": "甲镇"},
                            geometry=pts, crs="EPSG:4326")


def test_catchment_counts_enterprises_and_staff_within_2_km():
    ents = enterprises([{"uscc": "A", "x": 0, "staff": 10}, {"uscc": "B", "x": 1900, "staff": 30},
                        {"uscc": "C", "x": 2100, "staff": 60},
                        {"uscc": "D", "x": 8000, "staff": 100, "unit": "乙镇"}])
    table = catchment(Plan(enterprises=ents), centres_at(0)).set_index("unit")
    assert table.loc["甲镇", ["enterprises", "staff", "enterprises_covered", "staff_covered"]].tolist() == [3, 100, 2, 40]
    assert table.loc["乙镇", "enterprise_share"] == 0
    assert table.loc["合计", "staff_share"] == pytest.approx(40 / 200)
    wider = catchment(Plan(enterprises=ents, service_centres=centres_at(0)), config=Config(service_catchment_m=2500))
    assert wider.set_index("unit").loc["甲镇", "enterprises_covered"] == 3


def test_swap_repairs_the_greedy_choice_on_a_tiny_case():
    # a(4) b(5) c(5) d(4); site 0 covers b,c (10), site 1 covers a,b (9), site 2 covers c,d (9).
    # Greedy for k=2 takes 0 then 1 or 2 (14); the optimum {1, 2} covers all 18.
    cover = sp.csr_array(np.array([[0, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1]], dtype=bool))
    w = np.array([4, 5, 5, 4])
    heuristic = mclp_greedy_swap(cover, w, 2)
    assert sorted(heuristic.selected.tolist()) == [1, 2] and heuristic.value == 18 and heuristic.swaps >= 1
    exact = mclp_milp(cover, w, 2)
    assert sorted(exact.selected.tolist()) == [1, 2] and exact.value == 18 and exact.optimal


def test_site_new_centres_finds_the_hand_computed_optimum():
    # The existing centre at 0 km covers A. East of it: B, C at 5.2 and 5.3 km (20 staff each),
    # D at 8.9 km (100 staff), E at 13.1 km (30 staff). Candidates every 2 km from 5 to 13 km,
    # 2 km catchment: c5 covers B, C (40); c7 covers B, C, D (140); c9 covers D (100);
    # c11 covers nothing; c13 covers E (30). Best single site c7; best pair c7 + c13 (170).
    ents = enterprises([{"uscc": "A", "x": 0, "staff": 500}, {"uscc": "B", "x": 5200, "staff": 20},
                        {"uscc": "C", "x": 5300, "staff": 20}, {"uscc": "D", "x": 8900, "staff": 100},
                        {"uscc": "E", "x": 13100, "staff": 30}])
    cands = gpd.GeoDataFrame({"name": ["c5", "c7", "c9", "c11", "c13"]},
                             geometry=[Point(*at(x)) for x in (5000, 7000, 9000, 11000, 13000)], crs="EPSG:4326")
    plan = Plan(enterprises=ents, service_centres=centres_at(0))
    one = site_new_centres(plan, candidates=cands, k=1)
    assert one["name"].tolist() == ["c7"] and one["new_staff_covered"].tolist() == [140]
    two = site_new_centres(plan, candidates=cands, k=2)
    assert two["name"].tolist() == ["c7", "c13"] and two["new_staff_covered"].tolist() == [140, 30]
    assert list(two.columns) == [*SITE_COLUMNS, "geometry"] and two.crs.to_epsg() == 4326
    assert two["rank"].tolist() == [1, 2]
    exact = site_new_centres_exact(plan, candidates=cands, k=2)
    assert exact["new_staff_covered"].sum() == 170
    # more sites than anything left to cover: no empty proposals
    assert len(site_new_centres(plan, candidates=cands, k=5)) == 2


def test_default_candidates_are_grid_and_park_centroids():
    ents = enterprises([{"uscc": "A", "x": 0, "staff": 50}, {"uscc": "B", "x": 9000, "staff": 80, "unit": "乙镇"}])
    b_lon, _ = at(9000)
    grids = gpd.GeoDataFrame({"grid_id": ["乙镇-G01", "甲镇-G01"], "unit": ["乙镇", "甲镇"]},
                             geometry=[box(b_lon - 0.01, 25.99, b_lon + 0.01, 26.01), box(118.99, 25.99, 119.01, 26.01)],
                             crs="EPSG:4326")
    plan = Plan(enterprises=ents, grids=grids, units=units())
    sites = site_new_centres(plan, k=3)
    assert sites["name"].tolist() == ["乙镇-G01", "甲镇-G01"]
    assert sites["source"].tolist() == ["grid", "grid"]
    assert sites["new_staff_covered"].tolist() == [80, 50]


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_mclp_heuristic_never_beats_the_milp_and_the_milp_is_optimal(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n_dem = data.draw(st.integers(1, 30))
    n_cand = data.draw(st.integers(1, 7))
    k = data.draw(st.integers(1, 3))
    cover = sp.csr_array(rng.random((n_dem, n_cand)) < 0.3)
    w = rng.integers(0, 50, n_dem)
    heuristic = mclp_greedy_swap(cover, w, k)
    exact = mclp_milp(cover, w, k)
    brute = max(mclp_value(cover, w, np.array(s)) for s in itertools.combinations(range(n_cand), min(k, n_cand)))
    assert exact.value == brute
    assert heuristic.value <= exact.value
    assert len(heuristic.selected) == min(k, n_cand) == len(set(heuristic.selected.tolist()))


def test_coverage_matrix_radius_is_inclusive():
    a = coverage_matrix(np.array([[0.0, 0.0], [2000.0, 0.0], [2000.5, 0.0]]), np.array([[0.0, 0.0]]), 2000.0)
    assert a.toarray().ravel().tolist() == [True, True, False]
