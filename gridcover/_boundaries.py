"""Grid boundaries: polygons that tile a jurisdiction unit (网格边界).

Voronoi cells of the grid's enterprises, dissolved by grid and clipped to the unit
polygon, all in metres. Cells of one Voronoi diagram do not overlap and cover the
unit's envelope, so the clipped, dissolved cells tile the unit exactly: no overlaps,
no holes, nothing outside.

Care points:

* Duplicate points (enterprises geocoded to the same village or township centroid)
  break GEOS's ordered Voronoi. Sites are the unique locations; a location shared by
  several grids is replaced by one site per grid on a small circle around it (radius
  below a quarter of the distance to the nearest other location), each grid's site on
  the side facing the rest of its grid, so every grid keeps a wedge of area there.
* One piece per grid where possible: after clipping, a part of a grid's polygon that
  holds none of the grid's sites (a Voronoi cell cut in two by a concave unit boundary)
  goes to the neighbouring grid with which it shares the longest border. Parts that
  hold the grid's enterprises always stay, so every enterprise lies in its grid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

__all__ = ["grid_polygons"]

logger = logging.getLogger(__name__)

#: Largest radius (m) of the circle that separates grids sharing one location.
DUPLICATE_RADIUS_M = 5.0
#: Locations closer than this (m) are the same location.
SAME_LOCATION_M = 0.01


def _sites(pts: NDArray[np.float64], labels: NDArray[np.int64]
           ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Unique Voronoi sites and their grid; shared locations split into a small circle."""
    keys = np.round(pts / SAME_LOCATION_M).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    locs = pts[first]
    n_loc = len(locs)
    # grids present at each location
    pairs = np.unique(np.c_[inverse, labels], axis=0)
    counts = np.bincount(pairs[:, 0], minlength=n_loc)
    if np.all(counts == 1):
        return locs, pairs[:, 1]
    if n_loc > 1:
        nn, _ = cKDTree(locs).query(locs, k=2)
        spacing = nn[:, 1]
    else:
        spacing = np.full(1, np.inf)
    k = int(labels.max()) + 1
    w = np.bincount(labels, minlength=k).astype(float)
    centres = np.c_[np.bincount(labels, weights=pts[:, 0], minlength=k) / np.maximum(w, 1),
                    np.bincount(labels, weights=pts[:, 1], minlength=k) / np.maximum(w, 1)]
    site_xy: list[NDArray[np.float64]] = []
    site_lab: list[int] = []
    start = np.r_[0, np.cumsum(counts)]
    for loc in range(n_loc):
        grids = pairs[start[loc]:start[loc + 1], 1]
        if len(grids) == 1:
            site_xy.append(locs[loc])
            site_lab.append(int(grids[0]))
            continue
        radius = min(DUPLICATE_RADIUS_M, 0.25 * float(spacing[loc]))
        vec = centres[grids] - locs[loc]
        angle = np.arctan2(vec[:, 1], vec[:, 0])
        order = np.lexsort((grids, angle))
        m = len(grids)
        # spread the sites evenly, starting at the first grid's own direction
        base = float(angle[order[0]])
        for step, g in enumerate(grids[order]):
            a = base + 2 * np.pi * step / m
            site_xy.append(locs[loc] + radius * np.array([np.cos(a), np.sin(a)]))
            site_lab.append(int(g))
    return np.asarray(site_xy), np.asarray(site_lab, dtype=np.int64)


def _voronoi_cells(sites: NDArray[np.float64], envelope: BaseGeometry) -> NDArray[np.object_]:
    if len(sites) == 1:
        return np.array([envelope], dtype=object)
    diagram = shapely.voronoi_polygons(shapely.multipoints(sites), extend_to=envelope, ordered=True)
    cells = np.asarray(shapely.get_parts(diagram))
    if len(cells) != len(sites):
        msg = f"Voronoi diagram has {len(cells)} cells for {len(sites)} sites"
        raise RuntimeError(msg)
    # sites on a small circle are co-circular, a Voronoi degeneracy: GEOS may return a
    # zero-length edge with a sliver cell or a self-touching cell; repair those few
    odd = (shapely.get_type_id(cells) != 3) | ~shapely.is_valid(cells)
    if odd.any():
        cells[odd] = [_polygonal(shapely.make_valid(c)) for c in cells[odd]]
    return cells


def _dissolve(cells: NDArray[np.object_]) -> BaseGeometry:
    """Union of one grid's Voronoi cells (an exact coverage; overlay when GEOS refuses it)."""
    try:
        merged = shapely.coverage_union_all(cells)
        if shapely.is_valid(merged):
            return merged
    except shapely.errors.GEOSException:
        pass
    return shapely.union_all(cells)


def _merge_orphans(polys: list[BaseGeometry], sites: NDArray[np.float64],
                   site_lab: NDArray[np.int64]) -> list[BaseGeometry]:
    """Give parts without any of their grid's sites to the neighbour with the longest border."""
    orphans: list[tuple[int, BaseGeometry]] = []
    for g, poly in enumerate(polys):
        if shapely.get_num_geometries(poly) <= 1:
            continue
        parts = shapely.get_parts(poly)
        own = shapely.points(sites[site_lab == g])
        holds = np.array([bool(np.any(shapely.intersects(part, own))) for part in parts])
        if holds.all() or not holds.any():
            continue
        polys[g] = shapely.union_all(parts[holds])
        orphans.extend((g, part) for part in parts[~holds])
    if not orphans:
        return polys
    tree = shapely.STRtree(polys)
    for g, part in orphans:
        best, best_len = g, 0.0
        for c in sorted(int(c) for c in tree.query(part, predicate="intersects")):
            if c == g:
                continue
            shared = float(shapely.length(shapely.intersection(shapely.boundary(part), polys[c])))
            if shared > best_len + 1e-9:
                best, best_len = c, shared
        polys[best] = shapely.union(polys[best], part)
    return polys


def grid_polygons(xy: ArrayLike, labels: ArrayLike, unit: BaseGeometry, *,
                  n_grids: int | None = None, unit_m: BaseGeometry | None = None,
                  to_unit: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None
                  ) -> list[BaseGeometry]:
    """One polygon per grid, together tiling ``unit``.

    Parameters
    ----------
    xy
        ``(n, 2)`` enterprise coordinates in metres.
    labels
        Grid label ``0..k-1`` per enterprise.
    unit
        The unit polygon, in metres, or in its own CRS when ``to_unit`` is given.
    n_grids
        Number of grids (default ``labels.max() + 1``).
    unit_m
        The unit in metres (with ``to_unit``; for the diagram's extent).
    to_unit
        Maps ``(m, 2)`` metre coordinates to the unit's CRS. The Voronoi cells are built
        in metres (true nearest-enterprise cells), mapped vertex by vertex, then clipped
        by ``unit`` in its own CRS, so the grids' union is exactly ``unit`` as given
        (clipping after a round trip through metres would bend its edges).

    Returns
    -------
    list of shapely geometries
        Polygon or MultiPolygon per grid label, in the unit's CRS; empty when a grid's
        enterprises all lie outside the unit (a warning is logged).
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    k = int(lab.max()) + 1 if n_grids is None else int(n_grids)
    if k == 0:
        return []
    if not unit.is_valid:
        unit = shapely.make_valid(unit)
    if k == 1:
        return [unit]
    metric = unit if to_unit is None else (unit_m if unit_m is not None else shapely.multipoints(pts))
    sites, site_lab = _sites(pts, lab)
    # the extent of the unit and the points, from their bounds (an overlay of a polygon with
    # many co-located points, or with a sliver-thin unit, can raise a GEOS TopologyException)
    bx = np.r_[shapely.bounds(metric).reshape(-1, 4), np.c_[pts, pts]]
    bx = bx[np.all(np.isfinite(bx), axis=1)]
    minx, miny = bx[:, 0].min(), bx[:, 1].min()
    maxx, maxy = bx[:, 2].max(), bx[:, 3].max()
    pad = max(maxx - minx, maxy - miny, 1.0)
    envelope = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    cells = _voronoi_cells(sites, envelope)
    order = np.argsort(site_lab, kind="stable")
    bounds = np.searchsorted(site_lab[order], np.arange(k + 1))
    merged = np.array([_dissolve(cells[order[bounds[g]:bounds[g + 1]]])
                       for g in range(k)], dtype=object)
    if to_unit is not None:
        merged = shapely.transform(merged, to_unit)
        sites = to_unit(sites)
    shapely.prepare(unit)
    inside = shapely.contains_properly(unit, merged)
    clipped = merged.copy()
    if not inside.all():
        clipped[~inside] = shapely.intersection(merged[~inside], unit)
    polys = [shapely.normalize(_polygonal(p)) for p in clipped]
    polys = _merge_orphans(polys, sites, site_lab)
    out = [shapely.normalize(_polygonal(p)) for p in polys]
    for g, p in enumerate(out):
        if p.is_empty:
            logger.warning("grid %d has no area inside its unit: its enterprises lie outside the unit polygon", g)
    return out


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep the polygonal part of a clipping result (drop stray lines and points)."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)
