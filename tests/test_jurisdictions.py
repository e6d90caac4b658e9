"""Jurisdictions: boundary files in every format a county office sends, units, point-in-polygon."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

from gridcover.errors import BoundaryError
from gridcover.jurisdictions import Jurisdictions, load_jurisdictions, read_boundaries

# Two townships side by side, a third below; a park straddling 青龙镇 (mostly) and 安平镇.
TOWNS = {
    "青龙镇": box(118.00, 30.05, 118.10, 30.10),
    "安平镇": box(118.10, 30.05, 118.20, 30.10),
    "城东街道": box(118.00, 30.00, 118.20, 30.05),
}
PARKS = {
    "青龙工业园区": box(118.06, 30.06, 118.11, 30.09),
    "城东科技园": box(118.15, 30.01, 118.18, 30.03),
}


def towns_frame(field: str = "名称", crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({field: list(TOWNS), "代码": ["1", "2", "3"]},
                            geometry=list(TOWNS.values()), crs="EPSG:4326").to_crs(crs)


def parks_frame(field: str = "园区名称") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({field: list(PARKS)}, geometry=list(PARKS.values()), crs="EPSG:4326")


@pytest.fixture(scope="module")
def juris() -> Jurisdictions:
    return load_jurisdictions(towns_frame(), parks_frame())


# --------------------------------------------------------------------------- reading
@pytest.mark.parametrize(("suffix", "driver"), [(".geojson", "GeoJSON"), (".gpkg", "GPKG"),
                                                (".shp", "ESRI Shapefile")])
def test_reads_every_format_to_name_and_wgs84_geometry(tmp_path, suffix, driver):
    path = tmp_path / f"towns{suffix}"
    towns_frame(crs="EPSG:32650").to_file(path, driver=driver, encoding="utf-8" if suffix == ".shp" else None)
    out = read_boundaries(path)
    assert out.columns.tolist() == ["name", "geometry"]
    assert out.crs.to_epsg() == 4326
    assert out["name"].tolist() == list(TOWNS)
    for name, geom in zip(out["name"], out.geometry, strict=True):
        assert geom.symmetric_difference(TOWNS[name]).area < 1e-9  # reprojected back to degrees


def test_gbk_shapefile_with_cpg_and_with_an_explicit_encoding(tmp_path):
    path = tmp_path / "乡镇.shp"
    towns_frame(field="XZMC").to_file(path, encoding="GBK")
    assert path.with_suffix(".cpg").read_text().strip().upper() == "GBK"
    assert read_boundaries(path)["name"].tolist() == list(TOWNS)
    path.with_suffix(".cpg").unlink()
    assert read_boundaries(path, encoding="gbk")["name"].tolist() == list(TOWNS)


def test_gbk_shapefile_without_cpg_is_decoded_with_a_warning(tmp_path):
    path = tmp_path / "towns.shp"
    towns_frame(field="乡镇名称").to_file(path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    with pytest.warns(UserWarning, match="no .cpg"):
        out = read_boundaries(path)
    assert out["name"].tolist() == list(TOWNS)


@pytest.mark.parametrize("field", ["name", "NAME", "名称", "乡镇", "乡镇名称", "园区名称", "XZMC", "xzmc"])
def test_name_field_is_detected(field):
    out = load_jurisdictions(towns_frame(field=field))
    assert out.townships["name"].tolist() == list(TOWNS)


def test_name_field_given_explicitly_and_missing(tmp_path):
    frame = towns_frame(field="乡镇代码名")
    with pytest.raises(BoundaryError, match="no name field found.*乡镇代码名.*name_field="):
        load_jurisdictions(frame)
    assert load_jurisdictions(frame, name_field="乡镇代码名").township_names == sorted(TOWNS)
    with pytest.raises(BoundaryError, match="name field 'nope' not found"):
        load_jurisdictions(frame, name_field="nope")


def test_explicit_name_field_for_townships_parks_detected(tmp_path):
    towns = towns_frame(field="乡镇代码名")
    path = tmp_path / "parks.gpkg"
    parks_frame().to_file(path)
    j = load_jurisdictions(towns, path, name_field="乡镇代码名")
    assert j.park_names == sorted(PARKS)


def test_unreadable_and_missing_files_raise_one_clear_line(tmp_path):
    bad = tmp_path / "broken.geojson"
    bad.write_text("{this is not json", encoding="utf-8")
    with pytest.raises(BoundaryError, match="cannot read boundary file") as info:
        read_boundaries(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(BoundaryError, match="does not exist"):
        read_boundaries(tmp_path / "nothere.shp")


def test_points_are_not_boundaries():
    pts = gpd.GeoDataFrame({"name": ["a"]}, geometry=gpd.points_from_xy([118.0], [30.0]), crs="EPSG:4326")
    with pytest.raises(BoundaryError, match="must be polygons"):
        load_jurisdictions(pts)


def test_geopackage_with_several_layers_reads_the_polygon_layer(tmp_path):
    path = tmp_path / "county.gpkg"
    gpd.GeoDataFrame({"name": ["seat"]}, geometry=gpd.points_from_xy([118.05], [30.07]),
                     crs="EPSG:4326").to_file(path, layer="seats")
    towns_frame().to_file(path, layer="towns")
    assert read_boundaries(path)["name"].tolist() == list(TOWNS)


def test_cgcs2000_and_missing_crs():
    cgcs = towns_frame().set_crs("EPSG:4490", allow_override=True)
    assert load_jurisdictions(cgcs).townships.crs.to_epsg() == 4326
    bare = towns_frame().set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="assuming EPSG:4326"):
        assert load_jurisdictions(bare).township_names == sorted(TOWNS)
    metres = towns_frame(crs="EPSG:32650").set_crs(None, allow_override=True)
    with pytest.raises(BoundaryError, match="not degrees"):
        load_jurisdictions(metres)


def test_invalid_geometry_is_repaired_with_a_warning():
    bowtie = Polygon([(118.0, 30.0), (118.1, 30.1), (118.1, 30.0), (118.0, 30.1), (118.0, 30.0)])
    frame = gpd.GeoDataFrame({"name": ["蝴蝶镇", "安平镇"]}, geometry=[bowtie, TOWNS["安平镇"]], crs="EPSG:4326")
    with pytest.warns(UserWarning, match="make_valid.*蝴蝶镇"):
        out = load_jurisdictions(frame)
    assert out.townships.geometry.is_valid.all()
    assert out.townships.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    assert out.townships.geometry.iloc[0].area == pytest.approx(0.005, rel=1e-6)  # both lobes kept


def test_names_are_normalised_and_duplicates_dissolved():
    frame = gpd.GeoDataFrame({"name": [" 青龙镇", "青龙镇 ", "安平　镇"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)], crs="EPSG:4326")
    out = load_jurisdictions(frame).townships
    assert out["name"].tolist() == ["青龙镇", "安平 镇"]
    assert out.geometry.iloc[0].area == pytest.approx(2.0)


def test_empty_names_refused():
    frame = gpd.GeoDataFrame({"name": ["青龙镇", ""]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    with pytest.raises(BoundaryError, match="feature\\(s\\) 2 have an empty 'name'"):
        load_jurisdictions(frame)


def test_overlapping_townships_are_logged_and_returned(caplog):
    frame = gpd.GeoDataFrame({"name": ["甲镇", "乙镇", "丙镇"]},
                             geometry=[box(118.0, 30.0, 118.1, 30.1), box(118.09, 30.0, 118.2, 30.1),
                                       box(118.2, 30.0, 118.3, 30.1)], crs="EPSG:4326")
    with caplog.at_level(logging.WARNING, logger="gridcover.jurisdictions"):
        out = load_jurisdictions(frame)
    assert out.overlaps[["layer", "name_a", "name_b"]].values.tolist() == [["townships", "甲镇", "乙镇"]]
    # 0.01° x 0.1° at 30° N is about 964 m x 11 km
    assert out.overlaps["area_m2"].iloc[0] == pytest.approx(1.07e7, rel=0.03)
    assert "甲镇 and 乙镇 overlap" in caplog.text
    # touching townships (乙镇, 丙镇) are not an overlap
    assert load_jurisdictions(towns_frame()).overlaps.empty


# --------------------------------------------------------------------------- units
def test_units_are_parks_then_townships_minus_parks(juris):
    units = juris.units()
    assert units.columns.tolist() == ["unit", "unit_type", "township", "geometry"]
    assert units.crs.to_epsg() == 4326
    assert units[["unit", "unit_type", "township"]].values.tolist() == [
        ["城东科技园", "park", "城东街道"],
        ["青龙工业园区", "park", "青龙镇"],  # 4/5 of it lies in 青龙镇
        ["城东街道", "township", "城东街道"],
        ["安平镇", "township", "安平镇"],
        ["青龙镇", "township", "青龙镇"],
    ]
    geoms = dict(zip(units["unit"], units.geometry, strict=True))
    assert not geoms["青龙镇"].intersection(PARKS["青龙工业园区"]).area > 1e-12
    assert geoms["安平镇"].area == pytest.approx(TOWNS["安平镇"].area - 0.01 * 0.03)


def test_units_partition_the_county(juris):
    units = juris.units()
    county = shapely.union_all(list(TOWNS.values()))
    assert shapely.area(units.geometry.to_numpy()).sum() == pytest.approx(county.area)  # degrees: no overlap
    assert shapely.union_all(units.geometry.to_numpy()).symmetric_difference(county).area < 1e-12


def test_units_do_not_depend_on_input_order():
    a = load_jurisdictions(towns_frame(), parks_frame()).units()
    b = load_jurisdictions(towns_frame().iloc[::-1], parks_frame().iloc[::-1]).units()
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"))
    assert all(x.equals(y) for x, y in zip(a.geometry, b.geometry, strict=True))


def test_units_are_a_copy(juris):
    units = juris.units()
    units.loc[0, "unit"] = "changed"
    assert juris.units().loc[0, "unit"] != "changed"


def test_township_wholly_inside_a_park_gets_no_township_unit():
    towns = gpd.GeoDataFrame({"name": ["大镇", "小镇"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 1.1, 0.1)],
                             crs="EPSG:4326")
    parks = gpd.GeoDataFrame({"name": ["大园区"]}, geometry=[box(0.9, -0.1, 1.2, 0.2)], crs="EPSG:4326")
    units = load_jurisdictions(towns, parks).units()
    assert units["unit"].tolist() == ["大园区", "大镇"]
    assert units["township"].tolist() == ["大镇", "大镇"]


def test_directly_constructed_jurisdictions_work():
    j = Jurisdictions(townships=gpd.GeoDataFrame({"name": ["乙镇", "甲镇"]},
                                                 geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)], crs="EPSG:4326"),
                      parks=gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326")))
    assert j.units()["unit"].tolist() == ["乙镇", "甲镇"]
    assert j.overlaps.empty


# --------------------------------------------------------------------------- point in polygon
def test_locate_assigns_township_and_park(juris):
    lon = [118.05, 118.08, 118.105, 118.16, 118.165, 117.5, np.nan]
    lat = [30.07, 30.07, 30.07, 30.02, 30.08, 30.0, np.nan]
    town, park = juris.locate(lon, lat)
    assert town == ["青龙镇", "青龙镇", "安平镇", "城东街道", "安平镇", "", ""]
    assert park == ["", "青龙工业园区", "青龙工业园区", "城东科技园", "", "", ""]


def test_a_point_on_a_shared_border_goes_to_one_township_deterministically(juris):
    town, _ = juris.locate([118.10, 118.10], [30.07, 30.07])
    assert town == ["安平镇", "安平镇"]  # first by sorted name


def test_declared_names_match_loosely(juris):
    assert juris.match_township("青龙") == "青龙镇"
    assert juris.match_township(" 青龙 镇 ") == "青龙镇"
    assert juris.match_township("城东") == "城东街道"
    assert juris.match_township("城东街道办事处") == "城东街道"
    assert juris.match_township("白沙镇") == ""
    assert juris.match_township("") == ""
    assert juris.match_park("青龙工业园") == "青龙工业园区"
    assert juris.match_park("（城东科技园）") == "城东科技园"


def test_representative_points_lie_inside_their_units(juris):
    units = juris.units()
    for unit, kind, geom in zip(units["unit"], units["unit_type"], units.geometry, strict=True):
        x, y = juris.representative_point(kind, unit)
        assert geom.contains(shapely.Point(x, y))
    assert juris.representative_point("township", "白沙镇") is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(117.99, 118.21), st.floats(29.99, 30.11)), min_size=1, max_size=40))
def test_locate_agrees_with_the_units_that_contain_each_point(points):
    juris = _JURIS
    lon, lat = zip(*points, strict=True)
    town, park = juris.locate(lon, lat)
    units = juris.units()
    for x, y, t, p in zip(lon, lat, town, park, strict=True):
        pt = shapely.Point(x, y)
        inside = [u for u, g in zip(units["unit"], units.geometry, strict=True) if g.covers(pt)]
        unit = p or t
        if unit:
            assert unit in inside
        else:
            assert inside == []


_JURIS = load_jurisdictions(towns_frame(), parks_frame())


# ---------------------------------------------------------------------------------- assign
def test_assign_park_over_township_conflicts_moves_and_rejects(juris):
    # 0 exact in the park (declared township wrong: the point wins)
    # 1 village point in 城东街道, declared 安平 (approximate: moves into 安平镇)
    # 2 village point declared in the park it is not in (moves to the park's point)
    # 3 exact point outside every polygon: rejected
    # 4 gazetteer point outside every polygon, its township known: moved into it
    # 5 online point outside every polygon: dropped, not rejected
    # 6 unlocated, declared names kept (canonical when known)
    lon = [118.08, 118.05, 118.02, 119.5, 119.5, 119.5, np.nan]
    lat = [30.07, 30.02, 30.07, 30.5, 30.5, 30.5, np.nan]
    precision = ["exact", "village", "village", "exact", "village", "village", "unlocated"]
    out = juris.assign(lon, lat, precision,
                       declared_township=["安平", "安平", "", "", "", "", "青龙"],
                       declared_park=["", "", "青龙工业园", "", "", "", ""],
                       fallback_township=["", "", "", "", "城东街道", "", ""],
                       online=[False, False, False, False, False, True, False])
    assert out.township == ["青龙镇", "安平镇", "青龙镇", "", "城东街道", "", "青龙镇"]
    assert out.park == ["青龙工业园区", "", "青龙工业园区", "", "", "", ""]
    assert out.rejected.tolist() == [False, False, False, True, False, False, False]
    assert out.precision.tolist() == ["exact", "township", "park", "exact", "township", "unlocated", "unlocated"]
    assert sorted(out.conflicts) == [(0, "township", "安平", "青龙镇", "point"),
                                     (1, "township", "安平", "城东街道", "declared"),
                                     (2, "park", "青龙工业园", "", "declared")]
    assert {i for i, _ in out.notes} == {1, 2, 4, 5}
    # moved points lie in their new units; the inputs are not changed
    units = juris.units().set_index("unit").geometry
    assert units["安平镇"].contains(shapely.Point(out.lon[1], out.lat[1]))
    assert units["青龙工业园区"].contains(shapely.Point(out.lon[2], out.lat[2]))
    assert lon[1] == 118.05 and precision[1] == "village"


def test_assign_agrees_with_locate_when_nothing_is_declared(juris):
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(117.99, 118.21, 500), rng.uniform(29.99, 30.11, 500)
    out = juris.assign(lon, lat, ["exact"] * 500)
    town, park = juris.locate(lon, lat)
    inside = np.array([bool(t or p) for t, p in zip(town, park, strict=True)])
    assert out.rejected.tolist() == (~inside).tolist()
    assert out.park == park and not out.conflicts
    units = juris.units().set_index("unit")["township"].to_dict()
    # a park enterprise outside every township polygon gets the park's township; else locate's
    assert out.township == [t or (units[p] if p else "") for t, p in zip(town, park, strict=True)]


# ---------------------------------------------------------------- the point-in-polygon join
def _sjoin_names(x: np.ndarray, y: np.ndarray, layer: gpd.GeoDataFrame) -> list[str]:
    """The join as a plain geopandas spatial join: the first polygon by name each point intersects."""
    out = np.full(len(x), "", dtype=object)
    idx = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    points = gpd.GeoDataFrame({"i": idx}, geometry=gpd.points_from_xy(x[idx], y[idx]), crs="EPSG:4326")
    joined = gpd.sjoin(points, layer[["geometry"]], how="inner", predicate="intersects")
    first = joined.groupby("i", sort=False)["index_right"].min()
    out[first.index.to_numpy()] = layer["name"].to_numpy(dtype=object)[first.to_numpy()]
    return out.tolist()


@pytest.mark.parametrize("tree_min", [0, 64])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_join_is_a_spatial_join_on_borders_and_corners_too(tree_min: int, seed: int) -> None:
    """Random points, points on every vertex of every boundary and NaN points get the
    names a geopandas spatial join gives, with either strategy of the join."""
    from unittest import mock

    from gridcover import datasets, jurisdictions

    j = load_jurisdictions(datasets.get_path("townships"), datasets.get_path("parks"))
    rng = np.random.default_rng(seed)
    vertices = j._towns.geometry.boundary.get_coordinates().to_numpy()
    vertices = vertices[rng.choice(len(vertices), size=min(300, len(vertices)), replace=False)]
    x = np.concatenate([118.3 + rng.random(500) * 0.4, vertices[:, 0], [np.nan, 118.5]])
    y = np.concatenate([26.34 + rng.random(500) * 0.31, vertices[:, 1], [26.5, np.nan]])
    with mock.patch.object(jurisdictions, "_TREE_MIN_POLYGONS", tree_min):
        for layer in (j._towns, j._parks):
            assert jurisdictions._join(x, y, layer) == _sjoin_names(x, y, layer)
