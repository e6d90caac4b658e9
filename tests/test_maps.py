"""Coverage maps: structure of the HTML, offline assets, escaping, determinism, scale."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

import gridcover
from gridcover import Config, Plan
from gridcover._assets import inline_assets, remote_asset_urls
from gridcover._uscc import make_uscc
from gridcover.coords import wgs84_to_gcj02
from gridcover.coverage import coverage_flags, measure_plan
from gridcover.errors import ConfigError, GridcoverError
from gridcover.maps import (
    STATUSES,
    coverage_map,
    enterprise_status,
    map_html,
    safe_filename,
    write_maps,
)

INJECTION = "<img src=x onerror=alert(1)>"

# --- a small synthetic county built by hand (shared semantics of a Plan) -------------------
#: township 东城镇 [118.00, 118.10] x [24.40, 24.50] with the park 高新园 [118.02, 118.05] x [24.42, 24.45]
#: inside it; township 西山乡 [117.90, 118.00] x [24.40, 24.50].
TOWN_A = box(118.00, 24.40, 118.10, 24.50)
PARK = box(118.02, 24.42, 118.05, 24.45)
TOWN_B = box(117.90, 24.40, 118.00, 24.50)
UNITS = {"东城镇": ("township", "东城镇", TOWN_A.difference(PARK)),
         "高新园": ("park", "东城镇", PARK),
         "西山乡": ("township", "西山乡", TOWN_B)}


def _point_in(geom, rng: np.random.Generator) -> tuple[float, float]:
    x0, y0, x1, y1 = geom.bounds
    while True:
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if geom.contains(Point(x, y)):
            return round(float(x), 6), round(float(y), 6)


def build_plan(n: int = 60, *, seed: int = 1, injection: bool = True, unlocated: int = 1,
               config: Config | None = None) -> Plan:
    """A plan over three units with grids (two per unit), joint branches, gaps, centres.

    Row 0 is named like an XSS attempt when ``injection``; the last ``unlocated`` rows
    have no coordinates.
    """
    rng = np.random.default_rng(seed)
    config = config or Config()
    unit_names = list(UNITS)
    rows = []
    usccs = []
    while len(usccs) < n:
        u = make_uscc(rng)
        if u not in usccs:
            usccs.append(u)
    for i in range(n):
        unit = unit_names[i % 3]
        utype, township, geom = UNITS[unit]
        lon, lat = _point_in(geom, rng)
        staff = int(rng.choice([3, 8, 20, 60, 150]))
        members = int(rng.choice([0, 0, 1, 2, 4]))
        org = str(rng.choice(["own", "joint", "attached", "none", "none"]))
        rows.append({
            "source_row": i + 2, "name": f"企业{i:03d}有限公司", "address": f"{township}某路{i}号",
            "lon_src": lon, "lat_src": lat, "crs": "wgs84", "township_declared": township,
            "village": f"{township[:2]}村", "park_declared": unit if utype == "park" else "",
            "industry": str(rng.choice(["C", "F", "I", ""])), "staff": staff,
            "fixed_premises": True, "above_scale": bool(staff >= 150), "members": min(members, staff),
            "probationary": 0, "org_type": org, "org_name": f"{unit}联合党支部" if org == "joint" else "",
            "instructor": "张老师" if i % 7 == 0 else "", "investor_member": pd.NA if i % 5 else True,
            "lon": lon, "lat": lat, "precision": "exact", "township": township,
            "park": unit if utype == "park" else "", "unit": unit, "unit_type": utype,
            "size_class": "<6" if staff < 6 else "6-49" if staff < 50 else "50-99" if staff < 100 else ">=100",
            "eligible": staff >= 6,
        })
    ent = pd.DataFrame(rows, index=pd.Index(usccs, name="uscc"))
    if injection:
        ent.iloc[0, ent.columns.get_loc("name")] = INJECTION
        ent.iloc[0, ent.columns.get_loc("address")] = "</script><script>alert(2)</script>"
    for j in range(1, unlocated + 1):
        for c in ("lon", "lat"):
            ent.iloc[-j, ent.columns.get_loc(c)] = np.nan
        ent.iloc[-j, ent.columns.get_loc("precision")] = "unlocated"
    # grids: each unit split in two halves (west / east) that tile it
    grid_rows = []
    ent["grid_id"] = ""
    for unit, (utype, _, geom) in UNITS.items():
        x0, y0, x1, y1 = geom.bounds
        mid = (x0 + x1) / 2
        for k, half in enumerate((box(x0, y0, mid, y1), box(mid, y0, x1, y1)), start=1):
            gid = f"{unit}-G{k:02d}"
            cell = geom.intersection(half)
            inside = ent["unit"].eq(unit) & ent["eligible"] & ent["lon"].notna() & (
                (ent["lon"] < mid) if k == 1 else (ent["lon"] >= mid))
            ent.loc[inside, "grid_id"] = gid
            members = ent.loc[inside]
            leader = members["members"].idxmax() if len(members) and members["members"].max() > 0 else ""
            grid_rows.append({"grid_id": gid, "unit": unit, "unit_type": utype,
                              "n_enterprises": int(inside.sum()), "staff": int(members["staff"].sum()),
                              "members": int(members["members"].sum()), "leader_uscc": leader,
                              "leader_status": "member" if leader else "instructor post to fill",
                              "geometry": cell})
    grids = gpd.GeoDataFrame(grid_rows, crs="EPSG:4326")
    # actions and branches: groups of three enterprises without an organisation in a grid
    ent["branch_id"] = ""
    ent["action"] = "keep"
    small = ent["staff"] < 6
    ent.loc[small, "action"] = "not_gridded"
    branch_rows = []
    candidates = ent[ent["grid_id"].ne("") & ent["org_type"].eq("none")]
    for gid, group in candidates.groupby("grid_id", sort=True):
        for b, start in enumerate(range(0, len(group) - 2, 3), start=1):
            chunk = group.iloc[start:start + 3]
            bid = f"{gid}-B{b:02d}"
            ent.loc[chunk.index, "branch_id"] = bid
            ent.loc[chunk.index, "action"] = "join_branch"
            branch_rows.append({"branch_id": bid, "grid_id": gid, "unit": chunk["unit"].iloc[0],
                                "status": "new" if b % 2 else "split", "uscc": ";".join(chunk.index),
                                "n_units": len(chunk), "members": int(chunk["members"].sum()),
                                "max_distance_m": 1234.5})
    rest = ent["org_type"].eq("none") & ent["branch_id"].eq("") & ent["action"].eq("keep")
    ent.loc[rest & ent["members"].gt(0), "action"] = "attach"
    ent.loc[rest & ent["members"].eq(0), "action"] = "instructor"
    # leave the first two without an organisation, a member or an instructor uncovered
    bare = ent.index[rest & ent["members"].eq(0) & ent["instructor"].eq("")][:2]
    ent.loc[bare, "action"] = "keep"
    ent["gaps"] = ""
    g2 = ent["staff"].ge(100) & ent["org_type"].eq("none")
    ent.loc[g2, "gaps"] = "G2"
    ent.loc[g2 & ent["members"].eq(0), "gaps"] = "G1;G2"
    gaps = []
    for u, codes in ent.loc[ent["gaps"].ne(""), "gaps"].items():
        for code in codes.split(";"):
            gaps.append({"uscc": u, "rule_id": code,
                         "message": f"职工{ent.at[u, 'staff']}人（{code}：规则文字）"})
    gaps_df = pd.DataFrame(gaps, columns=["uscc", "rule_id", "message"])
    units = gpd.GeoDataFrame([{"unit": u, "unit_type": t, "township": tw, "geometry": g}
                              for u, (t, tw, g) in UNITS.items()], crs="EPSG:4326")
    centres = gpd.GeoDataFrame({"name": ["东城镇党群服务中心", "西山乡党群服务中心"],
                                "township": ["东城镇", "西山乡"]},
                               geometry=[Point(118.06, 24.46), Point(117.95, 24.45)], crs="EPSG:4326")
    instr_rows = ent.index[ent["action"].eq("instructor") & ent["instructor"].eq("")][:2]
    instructors = pd.DataFrame({"uscc": list(instr_rows), "instructor": ["李指导员"] * len(instr_rows),
                                "unit": list(ent.loc[instr_rows, "unit"]), "distance_m": [800.0] * len(instr_rows)})
    return Plan(enterprises=ent, grids=grids, branches=pd.DataFrame(branch_rows), units=units,
                gaps=gaps_df, instructors=instructors, service_centres=centres, config=config)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return build_plan()


@pytest.fixture(scope="module")
def page(plan: Plan) -> str:
    return map_html(coverage_map(plan, basemap="none", date="2024-06-30"))


def _layer_args(page: str, key: str) -> list:
    """The JSON arguments (after the map) of the ``GC.*`` call that makes layer ``key``."""
    name = re.search(rf"\b{key}: (gridcover_layer_gc\d+)", page).group(1)
    i = page.index(f"var {name} = GC.")
    i = page.index(", ", page.index("(", i)) + 2
    decoder, args = json.JSONDecoder(), []
    while True:
        obj, end = decoder.raw_decode(page, i)
        args.append(obj)
        if page[end] == ")":
            return args
        i = end + 2


def _table(page: str) -> dict:
    return _layer_args(page, "enterprises")[0]


# --- offline assets ----------------------------------------------------------------------
def test_offline_page_links_no_remote_asset(page: str) -> None:
    assert remote_asset_urls(page) == []
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert "L.map(" in page and "leaflet.js" not in page
    # the minimal set is inlined: Leaflet, its CSS, jQuery, d3 for the legend
    assert "window.L=" in page.replace(" ", "") or "L.version" in page
    assert "jQuery" in page and "d3.scale" not in page
    assert "bootstrap" not in page.lower()


def test_online_page_keeps_cdn_links(plan: Plan) -> None:
    online = map_html(coverage_map(plan, basemap="none"), offline=False)
    urls = remote_asset_urls(online)
    assert any("leaflet" in u for u in urls)
    assert len(online) < 2_000_000


def test_inline_refuses_assets_it_has_no_copy_of() -> None:
    page = '<head><script src="https://cdn.example.org/leaflet-heat.js"></script></head>'
    with pytest.raises(GridcoverError, match="leaflet-heat.js"):
        inline_assets(page)


def test_inline_refuses_awesome_markers_in_use() -> None:
    m = folium.Map(tiles=None, location=[24.4, 118.0])
    folium.Marker([24.4, 118.0], icon=folium.Icon(color="red")).add_to(m)
    with pytest.raises(GridcoverError, match="awesome-markers"):
        map_html(m)


def test_plain_folium_map_becomes_offline() -> None:
    m = folium.Map(tiles=None, location=[24.4, 118.0], zoom_start=10)
    folium.Marker([24.4, 118.0], popup="弹窗").add_to(m)  # default icon, jQuery popup
    out = map_html(m)
    assert remote_asset_urls(out) == []
    assert "data:image/png;base64," in out  # default marker icon and layer-control images


def test_marker_cluster_assets_are_inlined_when_used() -> None:
    m = folium.Map(tiles=None, location=[24.4, 118.0], zoom_start=10)
    folium.plugins.MarkerCluster().add_to(m)
    out = map_html(m)
    assert "markerClusterGroup" in out and "MarkerClusterGroup=" in out.replace(" ", "")
    assert remote_asset_urls(out) == []


# --- determinism -----------------------------------------------------------------------------
def test_same_plan_gives_byte_identical_html(plan: Plan, page: str) -> None:
    again = map_html(coverage_map(plan, basemap="none", date="2024-06-30"))
    assert again == page
    assert not re.search(r"_[0-9a-f]{32}", page)


def test_rendering_a_map_twice_gives_the_same_html(plan: Plan) -> None:
    m = coverage_map(plan, basemap="none", date="2024-06-30")
    assert map_html(m) == map_html(m)


# --- content -----------------------------------------------------------------------------------
def test_layers_have_chinese_names_in_the_layer_control(page: str) -> None:
    control = re.search(r"overlays\s*:\s*\{(.*?)\}", page, re.DOTALL)
    assert control
    names = [json.loads(n) for n in re.findall(r'("[^"]+")\s*:', control.group(1))]
    assert names[:7] == ["乡镇（街道）党组织覆盖率", "园区党组织覆盖率", "网格及网格长",
                         "未覆盖（无党组织、无指导员）企业职工热力图",
                         "拟建联合党支部", "党群服务中心及服务半径", "企业（按覆盖状态）"]
    assert [n.split("：")[0] for n in names[7:12]] == ["问题 G1", "问题 G2", "问题 G7", "问题 G8", "问题 G9"]
    assert names[12:] == ["单位名称及覆盖率"]


def test_enterprise_table_holds_every_located_enterprise(plan: Plan, page: str) -> None:
    t = _table(page)
    located = plan.enterprises.dropna(subset=["lon", "lat"])
    assert t["id"] == list(located.index)
    assert len(t["lat"]) == len(t["name"]) == len(t["s"]) == len(located)
    status = enterprise_status(plan).loc[located.index]
    assert [STATUSES[s] for s in t["s"]] == status.tolist()
    assert t["lon"][1] == pytest.approx(located["lon"].iloc[1])
    # dictionary-encoded grid ids decode to the plan's
    assert [t["d"]["grid"][c] for c in t["c"]["grid"]] == located["grid_id"].tolist()


def test_popups_are_not_stored_as_html_per_marker(plan: Plan, page: str) -> None:
    body = page.split("<body>", 1)[1]
    assert "bindPopup" not in body and "L.popup" not in body and "L.circleMarker" not in body
    assert body.count("GC.enterprises(") == 1  # markers are made in a loop in the browser


def test_ledger_text_is_escaped(page: str) -> None:
    assert INJECTION not in page
    assert "<img src=x" not in page
    assert "</script><script>alert(2)" not in page
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page
    # the JS escapes before building HTML
    assert "GC.esc(T.name[i])" in page


def test_title_names_the_area_date_and_rates(plan: Plan, page: str) -> None:
    flags = coverage_flags(plan)
    assert "2024-06-30" in page
    assert f"{flags['org_before'].mean():.1%}" in page
    assert f"{flags['org_after'].mean():.1%}" in page
    assert "全域（2个乡镇（街道）、1个园区）" in page
    assert f"企业 {len(plan.enterprises)} 家" in page
    assert "未定位 1 家" in page


def test_unit_tooltips_give_before_and_after(plan: Plan, page: str) -> None:
    fc = _layer_args(page, "townships")[0]
    names = [f["properties"]["t"] for f in fc["features"]]
    assert names == ["东城镇", "西山乡"]
    rows = dict((r[0], r[1]) for r in fc["features"][0]["properties"]["r"])
    assert "→" in rows["党组织覆盖率（规划前→后）"]
    ent = plan.enterprises
    assert rows["企业"] == f"{int(ent['unit'].eq('东城镇').sum())} 家"


def test_status_matches_coverage_semantics(plan: Plan) -> None:
    status = enterprise_status(plan)
    flags = coverage_flags(plan)
    assert status.isin(STATUSES).all()
    org = status.isin(["own", "joint", "attached"])
    assert (org == flags["org_after"]).all()
    # M2 counts named resources only; the backstop (M5) is its own colour, never coverage
    assert ((status == "not_gridded") == flags["backstop_after"]).all()
    assert ((status == "uncovered") == (~flags["work_after"] & ~flags["backstop_after"])).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["own", "joint", "attached", "none"]),
                          st.sampled_from(["keep", "build_branch", "join_branch", "split_joint", "attach",
                                           "instructor", "revoke_shell", "not_gridded", ""]),
                          st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=30),
       st.booleans())
def test_status_partitions_like_m1_and_m2(rows, counts_attached) -> None:
    ent = pd.DataFrame({
        "org_type": [r[0] for r in rows], "action": [r[1] for r in rows],
        "branch_id": ["B1" if r[2] else "" for r in rows], "instructor": ["王某" if r[3] else "" for r in rows],
    }, index=pd.Index([f"U{i}" for i in range(len(rows))], name="uscc"))
    assigned = [f"U{i}" for i, r in enumerate(rows) if r[4]]
    plan = Plan(enterprises=ent, instructors=pd.DataFrame({"uscc": assigned, "instructor": ["李某"] * len(assigned)}),
                config=Config(org_coverage_counts_attached=counts_attached))
    # measured once, as the pipeline does: enterprise_status and coverage_flags read that record
    plan = plan.replace(coverage=measure_plan(plan))
    status = enterprise_status(plan)
    flags = coverage_flags(plan)
    org = status.isin(["own", "joint"]) | (status.eq("attached") & counts_attached)
    assert (org == flags["org_after"]).all()
    # M2 counts named resources only; the backstop (M5) is its own colour, never coverage
    assert ((status == "not_gridded") == flags["backstop_after"]).all()
    assert ((status == "uncovered") == (~flags["work_after"] & ~flags["backstop_after"])).all()


def test_grid_leaders_are_ringed_and_named(plan: Plan, page: str) -> None:
    fc, leaders, opts = _layer_args(page, "grids")
    # the builder's grid cells include GeometryCollections with stray lines: polygons only
    assert (plan.grids.geom_type == "GeometryCollection").any()
    assert {f["geometry"]["type"] for f in fc["features"]} <= {"Polygon", "MultiPolygon"}
    assert len(fc["features"]) == len(plan.grids)
    with_leader = plan.grids[plan.grids["leader_uscc"].ne("")]
    assert len(leaders) == len(with_leader)
    fields = opts["fields"]

    def tooltip(i: int) -> dict:
        return dict(zip(fields, fc["features"][i]["properties"]["v"], strict=True))

    first = with_leader.iloc[0]
    assert tooltip(first.name)["网格长"] == plan.enterprises.at[first["leader_uscc"], "name"]
    assert tooltip(first.name)["入格企业"] == first["n_enterprises"]
    no_leader = plan.grids.index[plan.grids["leader_uscc"].eq("")]
    for i in no_leader:
        assert tooltip(i)["网格长"].startswith("待选派")


def test_branches_are_spokes_to_their_members(plan: Plan, page: str) -> None:
    fc = _layer_args(page, "branches")[0]
    assert len(fc["features"]) == len(plan.branches)
    for f, (_, b) in zip(fc["features"], plan.branches.iterrows(), strict=True):
        assert f["geometry"]["type"] == "MultiLineString"
        assert len(f["geometry"]["coordinates"]) == len(b["uscc"].split(";"))
        names = plan.enterprises.loc[b["uscc"].split(";"), "name"]
        assert f["properties"]["v"][-1] == "、".join(names)
    # each spoke ends at a member
    first = plan.branches.iloc[0]
    ends = {tuple(line[1]) for line in fc["features"][0]["geometry"]["coordinates"]}
    members = plan.enterprises.loc[first["uscc"].split(";")]
    assert ends == set(zip(members["lon"], members["lat"], strict=True))


def test_service_centres_have_catchment_radius(plan: Plan, page: str) -> None:
    centres, opts = _layer_args(page, "centres")
    assert [c[2] for c in centres] == ["东城镇党群服务中心", "西山乡党群服务中心"]
    assert opts["radius"] == plan.config.service_catchment_m


def test_heat_map_weights_staff_of_the_uncovered_as_the_legend_says(plan: Plan, page: str) -> None:
    pts = _layer_args(page, "heat")[0]
    flags = coverage_flags(plan)
    ent = plan.enterprises
    # "未覆盖" is one thing: no organisation and no named instructor after the plan (M2 gap,
    # not the M5 backstop), in the heat layer, the legend and the points alike
    uncovered = ~flags["work_after"] & ~flags["backstop_after"]
    gap = ent[uncovered & ent["lon"].notna() & ent["staff"].gt(0)]
    assert 0 < len(gap) < int((~flags["org_after"]).sum())
    assert len(pts) == len(gap)
    assert sum(p[2] for p in pts) == int(gap["staff"].sum())


def test_gap_rule_texts_come_from_the_gap_rules(plan: Plan, page: str) -> None:
    from gridcover.gaps import rule_text

    assert json.dumps(rule_text("G2", plan.config), ensure_ascii=False) in page
    t = _table(page)
    row = next(i for i, g in enumerate(t["c"]["gaps"]) if t["d"]["gaps"][g] == "G1;G2")
    assert t["gm"][str(row)] == ["职工150人", "职工150人"]  # the rule suffix is left to the rule text


# --- base maps --------------------------------------------------------------------------------
def test_amap_shifts_every_vector_to_gcj02(plan: Plan) -> None:
    wgs = _table(map_html(coverage_map(plan, basemap="none")))
    gcj = _table(map_html(coverage_map(plan, basemap="amap")))
    x, y = wgs84_to_gcj02(np.array(wgs["lon"]), np.array(wgs["lat"]))
    assert np.allclose(gcj["lon"], x, atol=2e-6) and np.allclose(gcj["lat"], y, atol=2e-6)
    shift = np.hypot(np.array(gcj["lon"]) - wgs["lon"], np.array(gcj["lat"]) - wgs["lat"])
    assert (shift > 1e-3).all()  # hundreds of metres in Fujian
    page = map_html(coverage_map(plan, basemap="amap"))
    assert "autonavi.com" in page
    units = _layer_args(page, "townships")[0]
    ring = units["features"][1]["geometry"]["coordinates"][0]
    xs = sorted({round(p[0], 4) for p in ring})
    gx, _ = wgs84_to_gcj02(np.array([117.9]), np.array([24.4]))
    assert xs[0] == pytest.approx(float(gx[0]), abs=2e-4)


def test_offline_default_requests_no_tiles_and_says_so(plan: Plan) -> None:
    page = map_html(coverage_map(plan))
    assert "tile.openstreetmap.org" not in page and "L.tileLayer" not in page
    assert "GC.offlineNote(" in page and "离线模式" in page
    # online (assets from the CDN), the config's base map: OpenStreetMap by default
    assert "tile.openstreetmap.org" in map_html(coverage_map(plan, offline=False), offline=False)
    # asked for by name, a base map is used offline too
    assert "tile.openstreetmap.org" in map_html(coverage_map(plan, basemap="osm"))


def test_tianditu_needs_a_key(plan: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRIDCOVER_TIANDITU_KEY", raising=False)
    with pytest.raises(ConfigError, match="GRIDCOVER_TIANDITU_KEY"):
        coverage_map(plan, basemap="tianditu")
    monkeypatch.setenv("GRIDCOVER_TIANDITU_KEY", "abc123")
    assert "tk=abc123" in map_html(coverage_map(plan, basemap="tianditu"))
    keyed = plan.replace(config=plan.config.replace(tianditu_key="fromconfig9"))
    assert "tk=fromconfig9" in map_html(coverage_map(keyed, basemap="tianditu"))


def test_unknown_basemap_and_unit_are_refused(plan: Plan) -> None:
    with pytest.raises(ConfigError, match="valid: osm, amap, tianditu, none"):
        coverage_map(plan, basemap="google")
    with pytest.raises(ValueError, match="unknown unit '北京'"):
        coverage_map(plan, unit="北京")


def test_local_tile_url_for_offline_use(plan: Plan) -> None:
    page = map_html(coverage_map(plan, tile_url="http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png"))
    assert "127.0.0.1:8080/tiles" in page and "openstreetmap" not in page
    with pytest.raises(ConfigError, match="tile_url"):
        coverage_map(plan, tile_url="http://127.0.0.1/tiles.png")


# --- per-unit maps and files ------------------------------------------------------------------
def test_unit_map_shows_only_its_unit(plan: Plan) -> None:
    page = map_html(coverage_map(plan, unit="高新园", basemap="none", date="2024-06-30"))
    t = _table(page)
    park = plan.enterprises[plan.enterprises["unit"].eq("高新园") & plan.enterprises["lon"].notna()]
    assert t["id"] == list(park.index)
    assert '"\\u003ch1\\u003e高新园 非公企业党建' in page  # the name, not "高新园（园区）"
    assert "高新园（园区）" not in page
    centres = _layer_args(page, "centres")[0]
    assert [c[2] for c in centres] == ["东城镇党群服务中心"]  # 西山乡's is > 2 km away
    # without boundaries, the centres of the unit's township
    no_units = plan.replace(units=plan.units.iloc[0:0])
    page = map_html(coverage_map(no_units, unit="高新园", basemap="none", date="2024-06-30"))
    assert [c[2] for c in _layer_args(page, "centres")[0]] == ["东城镇党群服务中心"]
    assert _layer_args(page, "townships")[0]["features"] == []


def test_write_maps_writes_overview_and_one_map_per_unit(plan: Plan, tmp_path: Path) -> None:
    written = write_maps(plan, tmp_path, basemap="none", date="2024-06-30")
    rel = [p.relative_to(tmp_path).as_posix() for p in written]
    assert rel == ["map.html", "maps/东城镇.html", "maps/西山乡.html", "maps/高新园.html"]
    assert not list(tmp_path.rglob("*.tmp"))
    first = {p: p.read_bytes() for p in written}
    write_maps(plan, tmp_path, basemap="none", date="2024-06-30")
    assert {p: p.read_bytes() for p in written} == first
    assert write_maps(plan, tmp_path / "only", basemap="none", per_unit=False) == [tmp_path / "only" / "map.html"]


def test_maps_written_by_two_processes_are_the_serial_bytes(plan: Plan, tmp_path: Path) -> None:
    serial = write_maps(plan, tmp_path / "serial", basemap="none", date="2024-06-30", workers=1)
    parallel = write_maps(plan, tmp_path / "parallel", basemap="none", date="2024-06-30", workers=2)
    assert [p.relative_to(tmp_path / "parallel") for p in parallel] == [
        p.relative_to(tmp_path / "serial") for p in serial]
    assert [p.read_bytes() for p in parallel] == [p.read_bytes() for p in serial]


def test_a_unit_map_depends_on_its_unit_only(plan: Plan, tmp_path: Path) -> None:
    """The map of 西山乡 is the same bytes when the other units' enterprises, grids and
    branches are gone: it reads its own rows only (gaps and instructor assignments are
    looked up by its enterprises' codes)."""
    unit = "西山乡"
    ent = plan.enterprises
    mine = ent[ent["unit"].eq(unit)]
    alone = plan.replace(enterprises=mine, grids=plan.grids[plan.grids["unit"].eq(unit)],
                         branches=plan.branches[plan.branches["unit"].eq(unit)])
    assert len(mine) < len(ent) and len(alone.branches)
    whole = write_maps(plan, tmp_path / "whole", basemap="none", date="2024-06-30")
    part = write_maps(alone, tmp_path / "part", basemap="none", date="2024-06-30")
    name = f"maps/{unit}.html"
    assert (tmp_path / "whole" / name) in whole and (tmp_path / "part" / name) in part
    assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "part" / name).read_bytes()


def test_unit_file_names_are_safe_and_unique(tmp_path: Path) -> None:
    plan = build_plan(9, injection=False, unlocated=0)
    ent = plan.enterprises.copy()
    ent["unit"] = ["a/b", "a:b", "../etc"] * 3
    units = plan.units.assign(unit=["a/b", "a:b", "../etc"])
    odd = plan.replace(enterprises=ent, units=units, grids=plan.grids.iloc[0:0], branches=pd.DataFrame())
    written = write_maps(odd, tmp_path, basemap="none", date="2024-06-30")
    names = sorted(p.name for p in written[1:])
    assert len(set(names)) == 3
    assert all(re.fullmatch(r"(a_b|etc)-[0-9a-f]{8}\.html", n) for n in names), names
    assert all(p.parent == tmp_path / "maps" for p in written[1:])
    assert re.fullmatch(r"unit-[0-9a-f]{8}", safe_filename("  "))
    assert re.fullmatch(r"nul-[0-9a-f]{8}", safe_filename("nul"))
    assert safe_filename("城关镇") == "城关镇"  # a plain name stays readable


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_unit_name_gives_a_short_safe_file_name(name: str) -> None:
    f = safe_filename(name)
    assert 0 < len(f) <= 60 and len((f + ".html").encode("utf-8")) <= 255
    assert "/" not in f and "\\" not in f and "\0" not in f and not f.startswith(".")
    assert re.fullmatch(r"[\w\-]+", f)
    assert f.upper() not in {"CON", "PRN", "AUX", "NUL"}
    if f != name:  # changed names carry the hash of the original: distinct units, distinct files
        assert f.endswith("-" + hashlib.sha256(name.encode()).hexdigest()[:8])


def test_a_200_character_chinese_unit_name_gets_its_own_map(tmp_path: Path) -> None:
    plan = build_plan(9, injection=False, unlocated=0)
    long_a, long_b = "甲" * 199 + "一", "甲" * 199 + "二"  # the same first 199 characters
    ent = plan.enterprises.copy()
    ent["unit"] = [long_a, long_b, "=HYPERLINK(\"http://x\",\"y\")"] * 3
    units = plan.units.assign(unit=[long_a, long_b, "=HYPERLINK(\"http://x\",\"y\")"])
    odd = plan.replace(enterprises=ent, units=units, grids=plan.grids.iloc[0:0], branches=pd.DataFrame())
    written = write_maps(odd, tmp_path, basemap="none", date="2024-06-30")
    names = [p.name for p in written[1:]]
    assert len(names) == len(set(names)) == 3
    assert all(len(n) <= 65 and p.is_file() for n, p in zip(names, written[1:], strict=True))
    overview = (tmp_path / "map.html").read_text(encoding="utf-8")
    assert all(f"maps/{n}" in overview for n in names)  # the overview links each unit's map


def test_map_save_is_offline_and_atomic(plan: Plan, tmp_path: Path) -> None:
    m = coverage_map(plan, basemap="none", date="2024-06-30")
    m.save(tmp_path / "m.html")
    text = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert remote_asset_urls(text) == [] and text == map_html(m)
    assert "iframe" in m._repr_html_()


def test_plan_read_back_from_files_still_maps(plan: Plan) -> None:
    """A plan read from a folder has text where booleans were, and no leaders table."""
    ent = plan.enterprises.copy()
    for c in ("fixed_premises", "above_scale", "eligible"):
        ent[c] = ent[c].map({True: "1", False: "0"})
    ent["investor_member"] = ent["investor_member"].map(lambda v: "" if v is pd.NA else "1")
    branches = plan.branches.astype(str)
    page = map_html(coverage_map(plan.replace(enterprises=ent, branches=branches), basemap="none",
                                 date="2024-06-30"))
    t = _table(page)
    assert len(t["f"]) == int(ent["lon"].notna().sum())


def test_empty_plan_maps_without_error() -> None:
    ent = pd.DataFrame({"name": pd.Series([], dtype="str"), "lon": pd.Series([], dtype=float),
                        "lat": pd.Series([], dtype=float)}, index=pd.Index([], name="uscc", dtype="str"))
    page = map_html(coverage_map(Plan(enterprises=ent), basemap="none", date="2024-06-30"))
    assert "L.map(" in page and remote_asset_urls(page) == []


def test_missing_coordinates_are_refused() -> None:
    ent = pd.DataFrame({"name": ["甲"]}, index=pd.Index(["X"], name="uscc"))
    with pytest.raises(ValueError, match="lon, lat"):
        coverage_map(Plan(enterprises=ent))


# --- scale ----------------------------------------------------------------------------------------
def test_ten_thousand_enterprises_stay_under_five_megabytes() -> None:
    plan = build_plan(10_000, seed=3, injection=False)
    page = map_html(coverage_map(plan, basemap="none", date="2024-06-30"))
    assert len(page.encode("utf-8")) < 5_000_000
    assert "window.gridcover" in page and "aggregate: false" in page


def test_above_the_detail_limit_the_map_aggregates(plan: Plan) -> None:
    import gridcover.maps as maps

    plan = plan.replace(config=plan.config.replace(map_detail_max=10))
    page = map_html(maps.coverage_map(plan, basemap="none", date="2024-06-30"))
    assert "aggregate: true" in page
    assert "MarkerClusterGroup=" in page.replace(" ", "")  # inlined MarkerCluster
    t = _table(page)
    assert "addr" not in t and "f" not in t  # short profile; the unit maps hold the full one
    grids = _layer_args(page, "grids")[0]
    assert all(f["properties"]["c"].startswith("#") for f in grids["features"])


def test_public_names() -> None:
    from gridcover import maps

    for name in maps.__all__:
        assert hasattr(maps, name)
    assert gridcover.Plan is Plan


# --- gaps a planner can see ---------------------------------------------------------------------
def test_unit_colours_follow_classes_anchored_at_the_targets(plan: Plan, page: str) -> None:
    from gridcover.coverage import coverage_by

    rates = coverage_by(plan, "unit").set_index("unit")
    feats = _layer_args(page, "townships")[0]["features"] + _layer_args(page, "parks")[0]["features"]
    colours = ("#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850")
    for f in feats:
        unit = f["properties"]["t"]
        expect = [colours[sum(rates.at[unit, c] >= e for e in (0.3, 0.6, 0.9, 1.0))]
                  for c in ("org_rate_before", "org_rate_after", "work_rate_before", "work_rate_after")]
        assert f["properties"]["cc"] == expect
    # a stricter target moves the class edges with it (thirds of the target, then full)
    strict = plan.replace(config=plan.config.replace(org_coverage_target=0.6))
    legend = _legend(map_html(coverage_map(strict, basemap="none", date="2024-06-30")))
    classes = re.findall(r'<span class="gc-class">.*?</i>(.*?)</span>', legend)
    assert classes == ["&lt; 20%", "20%–40%", "40%–60%", "60%–&lt;100%", "100%"]


def _legend(page: str) -> str:
    i = page.index("GC.legend(")
    return json.JSONDecoder().raw_decode(page, page.index(", ", i) + 2)[0]


def test_gap_layer_badges_count_each_units_enterprises(plan: Plan, page: str) -> None:
    ent = plan.enterprises
    for rule in ("G1", "G2", "G7"):
        points, badges, opts = _layer_args(page, f"gap_{rule}")
        has = ent["gaps"].str.split(";").map(lambda g, r=rule: r in g)
        assert len(points) == int((has & ent["lon"].notna()).sum())
        assert sorted(b[2] for b in badges) == sorted(ent.loc[has, "unit"].value_counts().tolist())
        assert opts["rule"] == rule


def test_intranet_tile_url_and_attribution(plan: Plan) -> None:
    page = map_html(coverage_map(plan, tile_url="http://10.0.0.8/tdt/{z}/{x}/{y}.png", attribution="某县<政务外网>"))
    attribution = re.search(r'"attribution": ("[^"]*")', page).group(1)
    assert "10.0.0.8/tdt/" in page and json.loads(attribution) == "某县&lt;政务外网&gt;"
    assert "GC.offlineNote(" not in page and "openstreetmap" not in page
    for bad in ("javascript:alert(1)/{z}/{x}/{y}", 'http://x/{z}/{x}/{y}.png"onload="', "http://x/tiles.png"):
        with pytest.raises(ConfigError, match="tile_url"):
            coverage_map(plan, tile_url=bad)
