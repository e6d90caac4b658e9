"""Jurisdiction units: township/street (乡镇街道) and park (园区) polygons.

A park wins over the township it lies in (园区党工委); outside parks the township or
street does (属地管理). The *unit* of an enterprise is its park if any, else its
township; grids and branches never cross a unit.

Boundary files may be GeoJSON, GeoPackage or Shapefile (a GBK ``.dbf`` is read through
its ``.cpg`` or an explicit ``encoding``); the name field is detected (``name``,
``名称``, ``乡镇名称``, ``园区名称``, ``XZMC`` …) or given as ``name_field``. Geometries are
reprojected to EPSG:4326 and invalid ones repaired (``make_valid``) with a warning.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> from gridcover.jurisdictions import load_jurisdictions
>>> towns = gpd.GeoDataFrame({"名称": ["青龙镇", "安平镇"]},
...                          geometry=[box(118.0, 30.0, 118.1, 30.1), box(118.1, 30.0, 118.2, 30.1)],
...                          crs="EPSG:4326")
>>> parks = gpd.GeoDataFrame({"园区名称": ["青龙工业园区"]},
...                          geometry=[box(118.02, 30.02, 118.05, 30.05)], crs="EPSG:4326")
>>> j = load_jurisdictions(towns, parks)
>>> j.units()[["unit", "unit_type", "township"]].values.tolist()
[['青龙工业园区', 'park', '青龙镇'], ['安平镇', 'township', '安平镇'], ['青龙镇', 'township', '青龙镇']]
>>> j.locate([118.03, 118.15], [30.03, 30.05])
(['青龙镇', '安平镇'], ['青龙工业园区', ''])
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike

from ._address import loose_key, normalize
from ._tables import WHITESPACE, check_regular_file, degrees_problem
from .errors import BoundaryError

__all__ = ["NAME_FIELDS", "OVERLAP_MIN_M2", "Assignment", "Jurisdictions", "load_jurisdictions", "read_boundaries"]

logger = logging.getLogger(__name__)

#: Name fields recognised in boundary files, in order of preference (case-insensitive).
NAME_FIELDS: tuple[str, ...] = (
    "name", "名称", "乡镇名称", "乡镇街道名称", "乡镇街道", "街道名称", "乡镇", "街道", "园区名称",
    "园区", "单位名称", "xzmc", "xzqmc", "xzqhmc", "qhmc", "zldwmc", "mc", "name_zh", "name_cn",
    "township", "park",
)
#: Overlaps between two townships (or two parks) smaller than this, in m², are
#: digitising slivers and not reported.
OVERLAP_MIN_M2: float = 1.0

_OVERLAP_COLUMNS = ("layer", "name_a", "name_b", "area_m2")
_UNIT_COLUMNS = ("unit", "unit_type", "township")
_SPACES = re.compile(r"\s+")

PathOrFrame: TypeAlias = str | Path | gpd.GeoDataFrame


def _empty_boundaries() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": pd.Series(dtype="str")},
                            geometry=gpd.GeoSeries([], crs="EPSG:4326"), crs="EPSG:4326")


def _empty_overlaps() -> pd.DataFrame:
    return pd.DataFrame({"layer": pd.Series(dtype="str"), "name_a": pd.Series(dtype="str"),
                         "name_b": pd.Series(dtype="str"), "area_m2": pd.Series(dtype="float64")})


def clean_name(value: object) -> str:
    """A boundary or declared name as shown: NFKC, trimmed, inner whitespace collapsed."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", str(value))).strip()


#: Whitespace other than a single inner space (what :func:`clean_name` changes, NFKC aside).
_NOT_CLEAN_SPACE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE if c != " ") + "]|  |^ | $"


def _clean_already(values: Any) -> np.ndarray:
    """Where :func:`clean_name` keeps a pyarrow string unchanged: already NFKC (pyarrow's
    Unicode tables are newer than or as new as Python's, so what it leaves alone Python
    leaves alone) and no whitespace but single inner spaces."""
    import pyarrow.compute as pc

    same = pc.equal(pc.utf8_normalize(values, "NFKC"), values)
    spaced = pc.match_substring_regex(values, _NOT_CLEAN_SPACE)
    ok = pc.and_kleene(same, pc.invert(spaced))
    return np.asarray(pc.fill_null(ok, False).to_numpy(zero_copy_only=False), dtype=bool)


def clean_names(values: pd.Series | Sequence[Any], then: Callable[[str], str] | None = None) -> list[str]:
    """:func:`clean_name` of every value, then ``then`` of it, as a list.

    A pyarrow-backed column is scanned once (:func:`_clean_already`) and only the values
    that need it go through Python; otherwise one call per distinct value."""
    memo: dict[Any, str] = {}
    if isinstance(values, pd.Series) and getattr(values.dtype, "storage", None) == "pyarrow" and len(values):
        import pyarrow as pa
        import pyarrow.compute as pc

        arrow = pa.chunked_array(pa.array(values.array))
        if arrow.null_count == 0 and pc.max(pc.binary_length(arrow)).as_py() == 0:
            out = [""] * len(values)
        else:  # one clean_name per distinct value that needs one (nulls are distinct values)
            encoded = pc.dictionary_encode(arrow.combine_chunks(), null_encoding="encode")
            distinct = encoded.dictionary
            texts = np.empty(len(distinct), dtype=object)
            texts[:] = distinct.to_pylist()
            for k in np.flatnonzero(~_clean_already(distinct)).tolist():
                texts[k] = clean_name(texts[k])
            out = texts[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)].tolist()
    else:
        out = []
        for v in (values.tolist() if isinstance(values, pd.Series) else values):
            if isinstance(v, str):
                text = memo.get(v)
                if text is None:
                    text = memo[v] = clean_name(v)
                out.append(text)
            else:
                out.append(clean_name(v))
    if then is None:
        return out
    done: dict[str, str] = {}
    return [done[t] if t in done else done.setdefault(t, then(t)) for t in out]


# ---------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------
def _pick_layer(path: Path) -> str | None:
    import pyogrio

    try:
        layers = pyogrio.list_layers(path)
    except Exception:  # noqa: BLE001 - the read below reports the real error
        return None
    if len(layers) <= 1:
        return None
    polygonal = [str(name) for name, gtype in layers if gtype is not None and "polygon" in str(gtype).lower()]
    chosen = polygonal[0] if polygonal else str(layers[0][0])
    logger.info("%s holds %d layers; reading %r", path, len(layers), chosen)
    return chosen


def _looks_misdecoded(frame: pd.DataFrame) -> bool:
    texts = [str(c) for c in frame.columns]
    for col in frame.columns:
        if col != frame.geometry.name and frame[col].dtype.kind in "OT":
            texts.extend(str(v) for v in frame[col].head(50) if isinstance(v, str))
    return any(any("\x80" <= ch <= "\xff" for ch in t) for t in texts)


def _redecode(texts: list[str]) -> str | None:
    for codec in ("utf-8", "gb18030"):
        try:
            for t in texts:
                t.encode("latin-1").decode(codec)
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        return codec
    return None


def read_boundaries(path: str | Path, *, name_field: str | None = None,
                    encoding: str | None = None) -> gpd.GeoDataFrame:
    """Read a township or park boundary file into ``name, geometry`` (EPSG:4326).

    Parameters
    ----------
    path
        GeoJSON, GeoPackage (the first polygon layer) or Shapefile.
    name_field
        Attribute holding the unit's name; detected among :data:`NAME_FIELDS` when
        omitted.
    encoding
        Attribute encoding (e.g. ``"gbk"``) for a Shapefile without a ``.cpg``; a
        ``.dbf`` whose text is not Latin-1 is otherwise re-read as UTF-8 or GB18030
        with a warning.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit (rows sharing a name are dissolved), in file order, valid
        polygons in EPSG:4326.

    Raises
    ------
    BoundaryError
        The file cannot be read, has no polygons, or no name field is found.
    """
    p = Path(path)
    if not p.exists():
        msg = f"boundary file {p} does not exist"
        raise BoundaryError(msg)
    if not p.is_dir():  # a folder may be a Shapefile directory; anything else must be a regular file
        check_regular_file(p, "boundary file", BoundaryError)
    layer = _pick_layer(p) if p.suffix.lower() in {".gpkg", ".sqlite"} else None
    kwargs: dict[str, Any] = {"engine": "pyogrio"}
    if layer is not None:
        kwargs["layer"] = layer
    if encoding is not None:
        kwargs["encoding"] = encoding
    try:
        frame = gpd.read_file(p, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any reader failure is one clear line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        msg = f"cannot read boundary file {p}: {first}"
        raise BoundaryError(msg) from None
    if (encoding is None and p.suffix.lower() == ".shp" and not p.with_suffix(".cpg").exists()
            and not p.with_suffix(".CPG").exists() and _looks_misdecoded(frame)):
        texts = [str(c) for c in frame.columns] + [
            v for c in frame.columns if c != frame.geometry.name for v in frame[c].tolist() if isinstance(v, str)]
        codec = _redecode(texts)
        if codec is not None:
            warnings.warn(f"{p.name} has no .cpg file; its attributes were decoded as {codec.upper()} "
                          f"(pass encoding= to choose another)", UserWarning, stacklevel=2)
            frame = gpd.read_file(p, **{**kwargs, "encoding": codec})
    return _prepare(frame, source=str(p), name_field=name_field)


def _detect_name_field(frame: gpd.GeoDataFrame, source: str, name_field: str | None) -> str:
    columns = [c for c in frame.columns if c != frame.geometry.name]
    if name_field is not None:
        if name_field in columns:
            return name_field
        folded = {normalize(c).casefold(): c for c in columns}
        if normalize(name_field).casefold() in folded:
            return folded[normalize(name_field).casefold()]
        msg = f"{source}: name field {name_field!r} not found; fields: {', '.join(map(str, columns)) or '(none)'}"
        raise BoundaryError(msg)
    folded = {normalize(c).casefold(): c for c in columns}
    for candidate in NAME_FIELDS:
        if candidate in folded:
            return folded[candidate]
    msg = (f"{source}: no name field found (looked for {', '.join(NAME_FIELDS[:8])} …); "
           f"fields: {', '.join(map(str, columns)) or '(none)'}; pass name_field=")
    raise BoundaryError(msg)


def _to_wgs84(frame: gpd.GeoDataFrame, source: str) -> gpd.GeoDataFrame:
    if frame.crs is None:
        if len(frame) == 0:
            return frame.set_crs("EPSG:4326")
        x0, y0, x1, y1 = frame.total_bounds
        if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
            warnings.warn(f"{source} has no coordinate reference system; assuming EPSG:4326 "
                          f"(longitude/latitude)", UserWarning, stacklevel=3)
            return frame.set_crs("EPSG:4326")
        msg = f"{source} has no coordinate reference system and its coordinates are not degrees (add a .prj)"
        raise BoundaryError(msg)
    if frame.crs.is_geographic and len(frame):
        problem = degrees_problem(frame.total_bounds)
        if problem:
            msg = (f"{source}: {problem}, but the file declares a longitude/latitude CRS "
                   "(a GeoJSON without a crs member is read as WGS-84): reproject it to EPSG:4326, "
                   "or give it its real coordinate system (e.g. EPSG:3857) and read it again")
            raise BoundaryError(msg)
    if frame.crs.to_epsg() != 4326:
        return frame.to_crs("EPSG:4326")
    return frame


def _polygonal(geom: Any) -> Any:
    """The polygonal part of a geometry (make_valid may return collections)."""
    if geom is None or geom.is_empty:
        return geom
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.Polygon()
    return shapely.union_all(parts)


def _prepare(frame: gpd.GeoDataFrame, *, source: str, name_field: str | None) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        msg = f"{source}: not a layer with geometries"
        raise BoundaryError(msg)
    field_name = _detect_name_field(frame, source, name_field)
    frame = _to_wgs84(frame, source)
    geoms = frame.geometry.to_numpy()
    names = [clean_name(v) for v in frame[field_name].tolist()]
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        rows = ", ".join(str(i + 1) for i in np.flatnonzero(missing)[:5])
        warnings.warn(f"{source}: {int(missing.sum())} feature(s) without geometry dropped (feature {rows})",
                      UserWarning, stacklevel=3)
    types = shapely.get_type_id(geoms[~missing])
    if len(types) and not np.isin(types, (3, 6, 7)).all():  # Polygon, MultiPolygon, collection
        msg = f"{source}: boundaries must be polygons, found {sorted(set(shapely.get_type_id(geoms[~missing]).tolist()))} geometry type ids"
        raise BoundaryError(msg)
    nameless = [i for i, (n, m) in enumerate(zip(names, missing, strict=True)) if not n and not m]
    if nameless:
        rows = ", ".join(str(i + 1) for i in nameless[:5])
        msg = f"{source}: feature(s) {rows} have an empty {field_name!r}"
        raise BoundaryError(msg)
    keep = ~missing
    geoms = geoms[keep]
    names = [n for n, k in zip(names, keep, strict=True) if k]
    valid = shapely.is_valid(geoms)
    if not valid.all():
        bad = [names[i] for i in np.flatnonzero(~valid)]
        warnings.warn(f"{source}: repaired {len(bad)} invalid geometr{'y' if len(bad) == 1 else 'ies'} "
                      f"with make_valid ({', '.join(bad[:5])})", UserWarning, stacklevel=3)
        geoms = geoms.copy()
        geoms[~valid] = [_polygonal(g) for g in shapely.make_valid(geoms[~valid])]
    geoms = np.array([_polygonal(g) for g in geoms], dtype=object)
    order: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        order.setdefault(n, []).append(i)
    if any(len(v) > 1 for v in order.values()):
        logger.info("%s: features sharing a name dissolved (%s)", source,
                    ", ".join(n for n, v in order.items() if len(v) > 1))
    out_geoms = [geoms[v[0]] if len(v) == 1 else shapely.union_all(geoms[v]) for v in order.values()]
    return gpd.GeoDataFrame({"name": pd.Series(list(order), dtype="str")},
                            geometry=gpd.GeoSeries(out_geoms, crs="EPSG:4326"), crs="EPSG:4326")


def _as_boundaries(value: PathOrFrame | None, *, name_field: str | None, encoding: str | None,
                   what: str) -> gpd.GeoDataFrame:
    if value is None:
        return _empty_boundaries()
    if isinstance(value, gpd.GeoDataFrame):
        return _prepare(value, source=f"{what} GeoDataFrame", name_field=name_field)
    if isinstance(value, str | Path):
        return read_boundaries(value, name_field=name_field, encoding=encoding)
    msg = f"{what}: expected a file path or a GeoDataFrame, got {type(value).__name__}"
    raise TypeError(msg)


# ---------------------------------------------------------------------------------------
# overlaps
# ---------------------------------------------------------------------------------------
def _area_m2(geoms: Any, utm: Any) -> np.ndarray:
    """Areas in m² of lon/lat geometries (intersected in degrees first, so that touching
    polygons, whose straight edges bend differently when projected, never overlap)."""
    return gpd.GeoSeries(list(geoms), crs="EPSG:4326").to_crs(utm).area.to_numpy()


def _overlaps(frame: gpd.GeoDataFrame, layer: str, utm: Any) -> list[tuple[str, str, str, float]]:
    if len(frame) < 2:
        return []
    geoms = frame.geometry.to_numpy()
    left, right = frame.sindex.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left.tolist(), right.tolist(), strict=True) if i < j]
    if not pairs:
        return []
    areas = _area_m2(shapely.intersection(geoms[[i for i, _ in pairs]], geoms[[j for _, j in pairs]]), utm)
    names = frame["name"].tolist()
    return [(layer, str(names[i]), str(names[j]), round(float(a), 1))
            for (i, j), a in zip(pairs, areas, strict=True) if a >= OVERLAP_MIN_M2]


def _has_field(value: PathOrFrame, name: str) -> bool:
    """Whether a layer (file or frame) has the field ``name`` (compared like headers)."""
    if isinstance(value, gpd.GeoDataFrame):
        columns = [str(c) for c in value.columns]
    else:
        import pyogrio

        try:
            columns = [str(c) for c in pyogrio.read_info(value)["fields"]]
        except Exception:  # noqa: BLE001 - the read proper reports unreadable files
            return True
    return normalize(name).casefold() in {normalize(c).casefold() for c in columns}


def load_jurisdictions(townships: PathOrFrame, parks: PathOrFrame | None = None, *,
                       name_field: str | None = None, encoding: str | None = None) -> Jurisdictions:
    """Read township and park boundaries into :class:`Jurisdictions`.

    Parameters
    ----------
    townships
        Township/street (乡镇街道) boundaries: a file path or a GeoDataFrame.
    parks
        Park (园区) boundaries, or ``None`` for none.
    name_field, encoding
        See :func:`read_boundaries`; applied to both layers (a park layer without
        ``name_field`` has its name field detected).

    Returns
    -------
    Jurisdictions
        With ``overlaps`` listing townships (and parks) that overlap each other by at
        least :data:`OVERLAP_MIN_M2` (also logged as warnings).

    Raises
    ------
    BoundaryError
        A layer cannot be read or used, or there are no townships.
    """
    towns = _as_boundaries(townships, name_field=name_field, encoding=encoding, what="townships")
    if len(towns) == 0:
        msg = "the township boundaries hold no polygon"
        raise BoundaryError(msg)
    park_field = name_field
    if parks is not None and name_field is not None and not _has_field(parks, name_field):
        logger.info("parks have no field %r; detecting their name field", name_field)
        park_field = None
    park_frame = _as_boundaries(parks, name_field=park_field, encoding=encoding, what="parks")
    utm = towns.estimate_utm_crs()
    rows = _overlaps(towns, "townships", utm) + _overlaps(park_frame, "parks", utm)
    for layer, a, b, area in rows:
        logger.warning("%s %s and %s overlap by %.0f m²", layer, a, b, area)
    overlaps = pd.DataFrame(rows, columns=list(_OVERLAP_COLUMNS)) if rows else _empty_overlaps()
    if len(park_frame):
        county = shapely.union_all(towns.geometry.to_numpy())
        outside = [n for n, g in zip(park_frame["name"], park_frame.geometry, strict=True)
                   if not g.intersects(county)]
        for n in outside:
            logger.warning("park %s lies outside every township", n)
    return Jurisdictions(townships=towns, parks=park_frame, overlaps=overlaps)


# ---------------------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------------------
def _name_lookup(names: Sequence[str]) -> tuple[dict[str, str], dict[str, str]]:
    exact = {normalize(n): n for n in names}
    loose: dict[str, list[str]] = {}
    for n in names:
        loose.setdefault(loose_key(n), []).append(n)
    return exact, {k: v[0] for k, v in loose.items() if len(v) == 1}


@dataclass(frozen=True)
class Jurisdictions:
    """Township and park polygons in EPSG:4326.

    Attributes
    ----------
    townships
        ``name, geometry``; one row per township/street.
    parks
        ``name, geometry``; may be empty.
    overlaps
        ``layer`` (townships/parks), ``name_a``, ``name_b``, ``area_m2``: pairs of
        townships or parks that overlap (reported by :func:`load_jurisdictions`).

    Notes
    -----
    Where townships (or parks) overlap, a point belongs to the first by name
    (sorted); :meth:`units` subtracts in the same order, so the units partition the
    area and agree with :meth:`locate`.
    """

    townships: gpd.GeoDataFrame
    parks: gpd.GeoDataFrame = field(default_factory=_empty_boundaries)
    overlaps: pd.DataFrame = field(default_factory=_empty_overlaps)

    # ---- names -----------------------------------------------------------------------
    @cached_property
    def _towns(self) -> gpd.GeoDataFrame:
        return _sorted_layer(self.townships)

    @cached_property
    def _parks(self) -> gpd.GeoDataFrame:
        return _sorted_layer(self.parks)

    @cached_property
    def _town_lookup(self) -> tuple[dict[str, str], dict[str, str]]:
        return _name_lookup(self._towns["name"].tolist())

    @cached_property
    def _park_lookup(self) -> tuple[dict[str, str], dict[str, str]]:
        return _name_lookup(self._parks["name"].tolist())

    @property
    def township_names(self) -> list[str]:
        """Township names, sorted."""
        return self._towns["name"].tolist()

    @property
    def park_names(self) -> list[str]:
        """Park names, sorted."""
        return self._parks["name"].tolist()

    def match_township(self, name: object) -> str:
        """The township a declared name means (``青龙`` → ``青龙镇``), or ``""``."""
        return _match(name, *self._town_lookup)

    def match_park(self, name: object) -> str:
        """The park a declared name means (``青龙园区`` → ``青龙工业园区``), or ``""``."""
        return _match(name, *self._park_lookup)

    # ---- units -------------------------------------------------------------------------
    @cached_property
    def _units(self) -> gpd.GeoDataFrame:
        towns, parks = self._towns, self._parks
        utm = towns.estimate_utm_crs() if len(towns) else parks.estimate_utm_crs()
        town_geoms = towns.geometry.to_numpy()
        rows: list[tuple[str, str, str, Any]] = []
        taken = shapely.Polygon()
        for name, geom in zip(parks["name"], parks.geometry.to_numpy(), strict=True):
            part = _polygonal(shapely.difference(geom, taken))
            taken = shapely.union(taken, geom)
            if part.is_empty:
                logger.warning("park %s lies inside earlier parks; it gets no unit", name)
                continue
            # the township holding most of the park's area
            areas = _area_m2(shapely.intersection(town_geoms, geom), utm) if len(town_geoms) else np.array([])
            township = str(towns["name"].iloc[int(np.argmax(areas))]) if len(areas) and areas.max() > 0 else ""
            rows.append((str(name), "park", township, part))
        for name, geom in zip(towns["name"], town_geoms, strict=True):
            part = _polygonal(shapely.difference(geom, taken))
            taken = shapely.union(taken, geom)
            if part.is_empty:
                logger.info("township %s lies wholly inside parks (or earlier townships); no township unit", name)
                continue
            rows.append((str(name), "township", str(name), part))
        return gpd.GeoDataFrame(
            {c: pd.Series([r[k] for r in rows], dtype="str") for k, c in enumerate(_UNIT_COLUMNS)},
            geometry=gpd.GeoSeries([r[3] for r in rows], crs="EPSG:4326"), crs="EPSG:4326")

    def units(self) -> gpd.GeoDataFrame:
        """The planning units: parks, then each township minus the parks.

        Returns
        -------
        geopandas.GeoDataFrame
            ``unit, unit_type ("park"/"township"), township, geometry`` in EPSG:4326;
            parks first, then townships, each sorted by name. A park's ``township`` is
            the township holding most of its area ("" if none); a township unit is the
            area a township row of ``coverage.csv`` counts (outside every park).
        """
        return self._units.copy()

    @cached_property
    def _rep_points(self) -> dict[tuple[str, str], tuple[float, float]]:
        out: dict[tuple[str, str], tuple[float, float]] = {}
        units = self._units
        for unit, kind, geom in zip(units["unit"], units["unit_type"], units.geometry, strict=True):
            pt = geom.representative_point()
            out[(kind, unit)] = (float(pt.x), float(pt.y))
        for kind, layer in (("township", self._towns), ("park", self._parks)):
            for name, geom in zip(layer["name"], layer.geometry, strict=True):
                if (kind, name) not in out and not geom.is_empty:
                    pt = geom.representative_point()
                    out[(kind, name)] = (float(pt.x), float(pt.y))
        return out

    def representative_point(self, unit_type: str, name: str) -> tuple[float, float] | None:
        """A point inside the unit (for a township: outside its parks when it can be).

        Parameters
        ----------
        unit_type
            ``"township"`` or ``"park"``.
        name
            The unit's name as in :meth:`units`.
        """
        return self._rep_points.get((unit_type, name))

    # ---- point in polygon ---------------------------------------------------------------
    def locate(self, lon: ArrayLike, lat: ArrayLike) -> tuple[list[str], list[str]]:
        """Township and park of each point by point-in-polygon (vectorised spatial join).

        Points on a shared border, or in overlapping polygons, go to the first by name.
        NaN points, and points outside every polygon, get ``""``.

        Returns
        -------
        (list of str, list of str)
            Township and park names, one per point.
        """
        x = np.atleast_1d(np.asarray(lon, dtype=float))
        y = np.atleast_1d(np.asarray(lat, dtype=float))
        return _join(x, y, self._towns), _join(x, y, self._parks)

    # ---- the jurisdiction join -----------------------------------------------------------
    def assign(self, lon: ArrayLike, lat: ArrayLike, precision: Sequence[str] | np.ndarray, *,
               declared_township: Sequence[str] | None = None, declared_park: Sequence[str] | None = None,
               fallback_township: Sequence[str] | None = None,
               online: Sequence[bool] | None = None) -> Assignment:
        """Township and park of located enterprises: point in polygon, park over township,
        declared-versus-spatial conflicts and points outside every boundary.

        Parameters
        ----------
        lon, lat
            WGS-84 points (NaN where unlocated).
        precision
            ``exact``, ``village``, ``township``, ``park`` or ``unlocated`` per point.
        declared_township, declared_park
            The unit each row declares (or the township its address evidence decided),
            as written; ``""`` for none.
        fallback_township
            The township a gazetteer place belongs to: where an approximate point outside
            every boundary goes when nothing is declared.
        online
            True where the point came from an online geocoder (outside every boundary it
            is dropped, not rejected).

        Returns
        -------
        Assignment
            The (possibly moved) points and precisions, township and park per row, the
            rows to reject, conflicts and notes. Exact points win over a declaration
            (resolution ``point``); approximate ones yield to a known declared unit and
            move to its representative point (``declared``). A park enterprise placed at
            its park's point, or outside every township polygon, gets the township holding
            most of the park.
        """
        x = np.array(np.atleast_1d(np.asarray(lon, dtype=float)), copy=True)
        y = np.array(np.atleast_1d(np.asarray(lat, dtype=float)), copy=True)
        n = len(x)
        blank = [""] * n
        state = _Join(self, x, y, np.array(list(precision), dtype=object),
                      list(declared_township or blank), list(declared_park or blank),
                      list(fallback_township or blank),
                      np.asarray(online if online is not None else np.zeros(n, dtype=bool), dtype=bool))
        state.outside()
        state.declared("park")
        state.declared("township")
        state.finish()
        return Assignment(township=state.town, park=state.park, lon=state.x, lat=state.y,
                          precision=state.precision, rejected=state.rejected, conflicts=state.conflicts,
                          notes=state.notes)


def _sorted_layer(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame is None or len(frame) == 0:
        return _empty_boundaries()
    out = frame[["name", frame.geometry.name]].copy()
    out["name"] = [clean_name(n) for n in out["name"]]
    if out.crs is None:
        out = out.set_crs("EPSG:4326")
    elif out.crs.to_epsg() != 4326:
        out = out.to_crs("EPSG:4326")
    out = out.rename_geometry("geometry") if out.geometry.name != "geometry" else out
    return out.sort_values("name", kind="stable").reset_index(drop=True)


def _match(name: object, exact: dict[str, str], loose: dict[str, str]) -> str:
    key = normalize(name)
    if not key:
        return ""
    if key in exact:
        return exact[key]
    return loose.get(loose_key(key), "")


#: Above this many polygons the point-in-polygon join queries an STRtree instead of
#: testing each polygon's bounding box against every point.
_TREE_MIN_POLYGONS = 64


def _join(x: np.ndarray, y: np.ndarray, layer: gpd.GeoDataFrame) -> list[str]:
    """The name of the first polygon (the layer is sorted by name) each point intersects.

    A few polygons (townships, parks): each is tested, prepared, against the points
    inside its bounding box that have no polygon yet (``shapely.intersects_xy``, no point
    objects); many: one STRtree query. Both use GEOS's ``intersects``, as a spatial join."""
    out = np.full(len(x), "", dtype=object)
    ok = np.isfinite(x) & np.isfinite(y)
    if len(layer) == 0 or not ok.any():
        return out.tolist()  # type: ignore[no-any-return]
    idx = np.flatnonzero(ok)
    xs, ys = x[idx], y[idx]
    geoms = np.asarray(layer.geometry.array, dtype=object)
    none = len(geoms)
    first = np.full(len(idx), none, dtype=np.int64)
    if len(geoms) > _TREE_MIN_POLYGONS:
        points, polygons = shapely.STRtree(geoms).query(shapely.points(xs, ys), predicate="intersects")
        np.minimum.at(first, points, polygons)
    else:
        for k, poly in enumerate(geoms):
            if poly is None or shapely.is_empty(poly):
                continue
            x0, y0, x1, y1 = shapely.bounds(poly)
            near = np.flatnonzero((first == none) & (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1))
            if near.size:
                shapely.prepare(poly)
                first[near[shapely.intersects_xy(poly, xs[near], ys[near])]] = k
    hit = first < none
    names = layer["name"].to_numpy(dtype=object)
    out[idx[hit]] = names[first[hit]]
    return out.tolist()  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------
# the jurisdiction join
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Assignment:
    """The result of :meth:`Jurisdictions.assign`, one entry per input point.

    Attributes
    ----------
    township, park
        Names per row ("" for none).
    lon, lat, precision
        The points after approximate ones moved into their declared unit.
    rejected
        Rows whose point lies outside every township and park (and could not move).
    conflicts
        ``(position, field, declared, spatial, resolution)``; field ``township`` or
        ``park``, resolution ``point`` or ``declared``.
    notes
        ``(position, message)`` for points moved or dropped.
    """

    township: list[str]
    park: list[str]
    lon: np.ndarray
    lat: np.ndarray
    precision: np.ndarray
    rejected: np.ndarray
    conflicts: list[tuple[int, str, str, str, str]]
    notes: list[tuple[int, str]]


class _Join:
    """The mutable state of one :meth:`Jurisdictions.assign` call, in its steps."""

    def __init__(self, j: Jurisdictions, x: np.ndarray, y: np.ndarray, precision: np.ndarray,
                 decl_town: list[str], decl_park: list[str], fallback: list[str], online: np.ndarray) -> None:
        self.j, self.x, self.y, self.precision = j, x, y, precision
        self.decl = {"township": decl_town, "park": decl_park}
        self.fallback, self.online = fallback, online
        self.town_of = {d: j.match_township(d) for d in set(decl_town) | set(fallback) if d}
        self.park_of = {d: j.match_park(d) for d in set(decl_park) if d}
        self.town, self.park = j.locate(x, y)
        self.rejected = np.zeros(len(x), dtype=bool)
        self.conflicts: list[tuple[int, str, str, str, str]] = []
        self.notes: list[tuple[int, str]] = []

    def _located(self) -> list[int]:
        return np.flatnonzero((self.precision != "unlocated") & ~self.rejected).tolist()

    def _move(self, i: int, kind: str, name: str, why: str) -> bool:
        point = self.j.representative_point(kind, name)
        if point is None:
            return False
        self.x[i], self.y[i] = point
        self.precision[i] = kind
        self.notes.append((i, why))
        return True

    def _relocate(self, moved: list[int], keep_park: str = "", keep_town: str = "") -> None:
        if not moved:
            return
        t2, p2 = self.j.locate(self.x[moved], self.y[moved])
        for k, i in enumerate(moved):
            self.town[i] = t2[k] or (self.town_of.get(self.decl["township"][i], "") if keep_town else "")
            self.park[i] = p2[k] or (self.park_of.get(self.decl["park"][i], "") if keep_park else "")

    def outside(self) -> None:
        """Points outside every polygon: online ones dropped, approximate ones moved to
        their declared (or gazetteer) unit, the others rejected."""
        moved = []
        for i in self._located():
            if self.town[i] or self.park[i]:
                continue
            if self.online[i]:  # an online hit outside the area is not trusted
                self.x[i] = self.y[i] = np.nan
                self.precision[i] = "unlocated"
                self.notes.append((i, "online geocoder result outside every boundary ignored"))
                continue
            if self.precision[i] != "exact":
                park = self.park_of.get(self.decl["park"][i], "")
                kind, name = (("park", park) if park else
                              ("township", self.town_of.get(self.decl["township"][i], "")
                               or self.town_of.get(self.fallback[i], "")))
                where = f"({self.x[i]:.6f}, {self.y[i]:.6f})"
                if name and self._move(i, kind, name, f"gazetteer point {where} lies outside every boundary; "
                                       f"placed at the representative point of {name}"):
                    moved.append(i)
                    continue
            self.rejected[i] = True
        self._relocate(moved)

    def declared(self, field_name: str) -> None:
        """A declared park (or township) against the spatial one: exact points win,
        approximate ones move into a known declared unit."""
        names = self.park_of if field_name == "park" else self.town_of
        spatial = self.park if field_name == "park" else self.town
        moved = []
        for i in self._located():
            written = self.decl[field_name][i]
            if not written:
                continue
            declared = names.get(written, "")
            if declared == spatial[i]:
                continue
            if self.precision[i] == "exact" or not declared:
                self.conflicts.append((i, field_name, written, spatial[i], "point"))
                continue
            self.conflicts.append((i, field_name, written, spatial[i], "declared"))
            if field_name == "township" and self.park[i]:
                self.town[i] = declared  # the park is the unit; keep the point in it
                continue
            if self._move(i, field_name, declared, f"{self.precision[i]} point outside the declared "
                          f"{field_name} {declared}; placed at its representative point"):
                moved.append(i)
        if field_name == "park":
            self._relocate(moved, keep_park="yes")
        else:
            self._relocate(moved, keep_town="yes")

    def finish(self) -> None:
        """Unlocated rows keep their declared names; park rows get their park's township."""
        for i in np.flatnonzero(self.precision == "unlocated").tolist():
            written_t, written_p = self.decl["township"][i], self.decl["park"][i]
            self.town[i] = self.town_of.get(written_t, "") or written_t
            self.park[i] = self.park_of.get(written_p, "") or written_p
        units = self.j.units()
        park_town = dict(zip(units["unit"], units["township"], strict=True))
        for i in range(len(self.x)):
            if self.park[i] and self.precision[i] != "unlocated":
                declared = self.town_of.get(self.decl["township"][i])
                if not self.town[i] or (self.precision[i] == "park" and not declared):
                    self.town[i] = park_town.get(self.park[i], self.town[i])
