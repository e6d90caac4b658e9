"""Chinese coordinate systems: published reference pairs, inverses to < 0.5 m, pass-through abroad."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridcover.coords import (
    CHINA_BOX,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Great-circle distance in metres."""
    lon1, lat1, lon2, lat2 = (np.radians(np.asarray(v, dtype=float)) for v in (lon1, lat1, lon2, lat2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(a))


# googollee/eviltransform test vectors (wgs lon, lat) → (gcj lon, lat): Shanghai, Shenzhen, Beijing.
EVILTRANSFORM = [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
]
# wandergis/coordtransform README/test values at (116.404, 39.915).
COORDTRANSFORM_WGS_GCJ = ((116.404, 39.915), (116.41024449916938, 39.91640428150164))
COORDTRANSFORM_GCJ_BD = ((116.404, 39.915), (116.41036949371029, 39.92133699351021))
COORDTRANSFORM_WGS_BD = ((116.404, 39.915), (116.41662724378733, 39.922699552216216))


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM + [COORDTRANSFORM_WGS_GCJ])
def test_forward_gcj02_matches_published_pairs(wgs, gcj):
    lon, lat = wgs84_to_gcj02(*wgs)
    assert float(lon) == pytest.approx(gcj[0], abs=1e-9)
    assert float(lat) == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM + [COORDTRANSFORM_WGS_GCJ])
def test_inverse_gcj02_recovers_published_wgs84_within_half_a_metre(wgs, gcj):
    lon, lat = gcj02_to_wgs84(*gcj)
    assert metres(lon, lat, *wgs) < 0.5
    # in fact to the millimetre: the iteration converges, it is not the one-step inverse
    assert metres(lon, lat, *wgs) < 0.005


def test_bd09_forward_matches_published_pairs():
    lon, lat = gcj02_to_bd09(*COORDTRANSFORM_GCJ_BD[0])
    assert (float(lon), float(lat)) == pytest.approx(COORDTRANSFORM_GCJ_BD[1], abs=1e-9)
    lon, lat = wgs84_to_bd09(*COORDTRANSFORM_WGS_BD[0])
    assert (float(lon), float(lat)) == pytest.approx(COORDTRANSFORM_WGS_BD[1], abs=1e-9)


def test_bd09_inverse_recovers_published_points():
    lon, lat = bd09_to_gcj02(*COORDTRANSFORM_GCJ_BD[1])
    assert metres(lon, lat, *COORDTRANSFORM_GCJ_BD[0]) < 0.01
    lon, lat = bd09_to_wgs84(*COORDTRANSFORM_WGS_BD[1])
    assert metres(lon, lat, *COORDTRANSFORM_WGS_BD[0]) < 0.01


def test_one_step_inverse_would_err_by_metres_so_iteration_matters():
    """The naive inverse (gcj − offset(gcj)) misses by metres; ours by under a centimetre."""
    rng = np.random.default_rng(1)
    lon = rng.uniform(100, 125, 2000)
    lat = rng.uniform(20, 45, 2000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    flon, flat = wgs84_to_gcj02(glon, glat)
    naive = (2 * glon - flon, 2 * glat - flat)
    assert metres(*naive, lon, lat).max() > 1.0
    assert metres(*gcj02_to_wgs84(glon, glat), lon, lat).max() < 0.01


def test_offsets_have_the_documented_size():
    """GCJ-02 is a few hundred metres off WGS-84; BD-09 about a kilometre (RULES appendix)."""
    rng = np.random.default_rng(2)
    lon = rng.uniform(100, 122, 500)
    lat = rng.uniform(22, 42, 500)
    gcj = metres(*wgs84_to_gcj02(lon, lat), lon, lat)
    bd = metres(*wgs84_to_bd09(lon, lat), lon, lat)
    assert 100 < gcj.min() and gcj.max() < 800
    assert 600 < bd.min() and bd.max() < 1600


china = st.tuples(st.floats(73.5, 134.5), st.floats(18.0, 53.5))


@settings(max_examples=200, deadline=None)
@given(china)
def test_round_trips_inside_china_are_under_half_a_metre(point):
    lon, lat = point
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(*back, lon, lat) < 0.5
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert metres(*back, lon, lat) < 0.5
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres(*back, lon, lat) < 0.5


abroad = st.one_of(
    st.tuples(st.floats(-180, 71.9), st.floats(-89, 89)),
    st.tuples(st.floats(137.9, 180), st.floats(-89, 89)),
    st.tuples(st.floats(-180, 180), st.floats(55.9, 89)),
    st.tuples(st.floats(-180, 180), st.floats(-89, 0.8)),
)


@settings(max_examples=200, deadline=None)
@given(abroad)
def test_points_outside_china_pass_through_unchanged(point):
    lon, lat = point
    for fn in (wgs84_to_gcj02, gcj02_to_wgs84, wgs84_to_bd09, bd09_to_wgs84, gcj02_to_bd09, bd09_to_gcj02):
        x, y = fn(lon, lat)
        assert (float(x), float(y)) == (lon, lat)
    for code in ("wgs84", "gcj02", "bd09"):
        x, y = to_wgs84(lon, lat, code)
        assert (float(x[0]), float(y[0])) == (lon, lat)


def test_china_box_is_the_generous_one():
    # northern Heilongjiang (Mohe, 53.5 N) and Zengmu Ansha (3.9 N) are inside; Tokyo is not
    assert in_china([122.5, 112.3, 139.7], [53.5, 3.9, 35.7]).tolist() == [True, True, False]
    assert CHINA_BOX == (72.004, 0.8293, 137.8347, 55.8271)


def test_to_wgs84_converts_each_point_by_its_own_code_and_keeps_nan():
    wgs = np.array([[118.5, 26.5], [118.6, 26.4], [118.4, 26.6], [np.nan, np.nan]])
    g = wgs84_to_gcj02(wgs[1, 0], wgs[1, 1])
    b = wgs84_to_bd09(wgs[2, 0], wgs[2, 1])
    lon = np.array([wgs[0, 0], float(g[0]), float(b[0]), np.nan])
    lat = np.array([wgs[0, 1], float(g[1]), float(b[1]), np.nan])
    out_lon, out_lat = to_wgs84(lon, lat, np.array(["wgs84", "gcj02", "bd09", "gcj02"], dtype=object))
    assert metres(out_lon[:3], out_lat[:3], wgs[:3, 0], wgs[:3, 1]).max() < 0.01
    assert np.isnan(out_lon[3]) and np.isnan(out_lat[3])
    assert out_lon[0] == wgs[0, 0]  # WGS-84 untouched
    # inputs are not modified
    assert lon[1] == float(g[0])


def test_vectorised_over_many_points_and_scalars():
    rng = np.random.default_rng(3)
    lon = rng.uniform(73.5, 134.5, 200_000)
    lat = rng.uniform(18.0, 53.5, 200_000)
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert back[0].shape == lon.shape
    assert metres(*back, lon, lat).max() < 0.01
    x, y = gcj02_to_wgs84(116.404, 39.915)
    assert np.ndim(x) == 0 and np.ndim(y) == 0
