"""GIS files of a plan: the GeoPackage for QGIS and Shapefiles for older GIS software.

* :func:`write_geopackage` — ``plan.gpkg`` with layers ``enterprises`` (points, every
  enterprise column plus ``uscc``), ``grids``, ``units``, ``service_centres`` (EPSG:4326).
* :func:`write_shapefiles` — the same layers as Shapefiles in GBK (with ``.cpg``) for
  older Chinese GIS software, with field names cut to 10 characters (``fields.csv``
  maps them back).
* :func:`write_geoparquet` — one layer as GeoParquet (``enterprises.parquet``,
  ``grids.parquet`` of a province-size plan).

Every file is written atomically (:func:`gridcover._io.atomic_file`).
"""

from __future__ import annotations

import codecs
import datetime as dt
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd

from ._io import atomic_file, write_csv
from ._labels import ENTERPRISE_HEADERS, GRID_HEADERS
from .plan import Plan
from .schema import ACTION_LABELS, ORG_TYPE_LABELS

__all__ = ["FIXED_TIMESTAMP", "NAME_WITHHELD", "SHAPEFILE_FIELDS", "write_geopackage", "write_geoparquet",
           "write_shapefiles"]

logger = logging.getLogger(__name__)

#: Fixed document timestamp: the workbook and GeoPackage carry no run time, so the same
#: plan gives the same bytes.
FIXED_TIMESTAMP: Final = dt.datetime(2000, 1, 1, 0, 0, 0)


def _is_boolish(s: pd.Series) -> bool:
    if s.dtype == bool or str(s.dtype) == "boolean":
        return True
    if s.dtype != object:
        return False
    values = s.dropna()
    return len(values) > 0 and all(isinstance(v, bool | np.bool_) for v in values)


_GEOMETRY_TYPES: Final = {"enterprises": "Point", "grids": "Polygon", "units": "Polygon",
                          "service_centres": "Point"}


#: What GIS files show instead of an instructor's name (personal data stays in plan.xlsx).
NAME_WITHHELD: Final = "有"


def _enterprise_points(plan: Plan) -> gpd.GeoDataFrame:
    ent = plan.enterprises.reset_index()
    if "instructor" in ent and not plan.config.publish_instructor_names:
        named = ent["instructor"].fillna("").astype(str).str.strip().ne("")
        ent["instructor"] = np.where(named, NAME_WITHHELD, "")
    if "uscc" not in ent:
        ent = ent.rename(columns={ent.columns[0]: "uscc"})
    lon = pd.to_numeric(ent["lon"], errors="coerce") if "lon" in ent else pd.Series(np.nan, index=ent.index)
    lat = pd.to_numeric(ent["lat"], errors="coerce") if "lat" in ent else pd.Series(np.nan, index=ent.index)
    points = gpd.points_from_xy(lon.fillna(0), lat.fillna(0))
    geometry = gpd.GeoSeries(points, index=ent.index, crs="EPSG:4326").where(lon.notna() & lat.notna(), None)
    return gpd.GeoDataFrame(ent, geometry=geometry, crs="EPSG:4326")


def _as_layer(df: pd.DataFrame) -> gpd.GeoDataFrame:
    if isinstance(df, gpd.GeoDataFrame) and df._geometry_column_name in df:
        gdf = df.copy()
        if gdf.crs is None:
            gdf = gdf.set_crs("EPSG:4326")
        return gdf.to_crs("EPSG:4326")
    data = pd.DataFrame(df).drop(columns=[c for c in ("geometry",) if c in df])
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([None] * len(data), index=data.index, crs="EPSG:4326"))


def _clean_columns(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Types every GIS format stores: bool with NA → float (1/0/NaN), other objects → str."""
    out = gdf.copy()
    geom = out.geometry.name
    for col in out.columns:
        if col == geom:
            continue
        s = out[col]
        if s.dtype == bool or pd.api.types.is_numeric_dtype(s) and str(s.dtype) != "boolean":
            continue
        if _is_boolish(s):
            out[col] = s.astype(object).map(lambda v: np.nan if v is None or v is pd.NA else float(bool(v)))
            out[col] = out[col].astype("float64")
        else:
            out[col] = s.astype(object).map(lambda v: "" if v is None or v is pd.NA or
                                            (isinstance(v, float) and math.isnan(v)) else str(v)).astype("str")
    return out


def _layers(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    return {
        "enterprises": _clean_columns(_enterprise_points(plan)),
        "grids": _clean_columns(_as_layer(plan.grids)),
        "units": _clean_columns(_as_layer(plan.units)),
        "service_centres": _clean_columns(_as_layer(plan.service_centres)),
    }


@contextmanager
def _fixed_gdal_date() -> Iterator[None]:
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def write_geopackage(plan: Plan, path: str | Path) -> Path:
    """Write ``plan.gpkg`` for QGIS: layers ``enterprises``, ``grids``, ``units``,
    ``service_centres`` (EPSG:4326).

    The ``enterprises`` layer holds every enterprise column plus ``uscc`` as points
    (unlocated enterprises with no geometry); booleans with missing values are stored
    as 1/0/NULL. Every layer is written, empty when the plan has none. The file's
    timestamps are fixed, so the same plan gives the same bytes.

    Parameters
    ----------
    plan
        The plan.
    path
        Target file; written atomically.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import pyogrio

    target = Path(path)
    layers = _layers(plan)
    with atomic_file(target, suffix=".gpkg") as tmp, _fixed_gdal_date():
        for name, gdf in layers.items():
            kwargs: dict[str, Any] = {"layer": name, "driver": "GPKG"}
            if gdf.geometry.notna().sum() == 0:
                kwargs["geometry_type"] = _GEOMETRY_TYPES[name]
            elif name in ("grids", "units"):
                kwargs["promote_to_multi"] = True
            if tmp.exists():
                kwargs["append"] = False
            pyogrio.write_dataframe(gdf, tmp, **kwargs)
    logger.info("wrote %s", target)
    return target


def write_geoparquet(gdf: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write one layer as GeoParquet (``geopandas.to_parquet``: zstd, the GeoParquet
    ``geo`` metadata, no index), atomically; the same layer gives the same bytes.

    Text columns holding other values too (a code read back as a number) are written
    as text, so every column has one Arrow type.
    """
    target = Path(path)
    out = gdf.reset_index(drop=True)
    for c in out.columns:
        if c != out.geometry.name and out[c].dtype == object:
            values = out[c].dropna()
            if len(values) and not values.map(type).eq(str).all():
                out[c] = out[c].map(lambda v: v if v is None or (isinstance(v, float) and math.isnan(v))
                                    else str(v))
    with atomic_file(target, suffix=".parquet") as tmp:
        out.to_parquet(tmp, index=False, compression="zstd")
    logger.info("wrote %s", target)
    return target


#: Shapefile field names (at most 10 characters) of the longer column names.
SHAPEFILE_FIELDS: Final = {
    "source_row": "src_row", "township_declared": "twp_decl", "park_declared": "park_decl",
    "fixed_premises": "fixed_prem", "above_scale": "abv_scale", "probationary": "probation",
    "instructor": "instructr", "investor_member": "inv_member", "n_enterprises": "n_enterpr",
    "leader_uscc": "leader_id", "leader_status": "leader_sts", "max_distance_m": "max_dist_m",
    "org_type_label": "org_label", "action_label": "act_label",
}


def _field_names(columns: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for c in columns:
        name = SHAPEFILE_FIELDS.get(c, c)[:10]
        base, k = name, 1
        while name.lower() in used:
            suffix = f"_{k}"
            name = base[: 10 - len(suffix)] + suffix
            k += 1
        used.add(name.lower())
        out[c] = name
    return out


def _fit_encoding(s: pd.Series, encoding: str, *, max_bytes: int = 254) -> tuple[pd.Series, int]:
    """Replace characters the encoding lacks by ``?`` and cut to ``max_bytes``; count changes."""
    changed = 0

    def fit(v: str) -> str:
        nonlocal changed
        raw = v.encode(encoding, errors="replace")
        if len(raw) > max_bytes:
            raw = raw[:max_bytes]
        text = raw.decode(encoding, errors="ignore")
        if text != v:
            changed += 1
        return text

    return s.map(fit).astype("str"), changed


def write_shapefiles(plan: Plan, folder: str | Path, *, encoding: str = "GBK") -> list[Path]:
    """Write the GIS layers as Shapefiles for older Chinese GIS software.

    ``enterprises.shp``, ``grids.shp``, ``units.shp``, ``service_centres.shp`` (each with
    ``.shx``, ``.dbf``, ``.prj`` and a ``.cpg`` naming the encoding), EPSG:4326, and
    ``fields.csv`` mapping the 10-character field names back to the column names and
    their Chinese headers. Booleans are written 是/否; the enterprise layer also carries
    the Chinese organisation-type and action labels. Characters the encoding cannot hold
    become ``?`` and texts are cut to the format's 254 bytes (logged). Empty layers are
    skipped.

    Parameters
    ----------
    plan
        The plan.
    folder
        Output folder (created when missing); every file is written atomically.
    encoding
        Attribute encoding of the ``.dbf`` (GBK by default; ``UTF-8`` for newer software).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    import pyogrio

    try:
        codecs.lookup(encoding)
    except LookupError:
        msg = f"unknown encoding {encoding!r}; use e.g. GBK, GB18030 or UTF-8"
        raise ValueError(msg) from None
    out_dir = Path(folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    layers = _layers(plan)
    ent = layers["enterprises"]
    if "org_type" in ent:
        ent["org_type_label"] = ent["org_type"].map(ORG_TYPE_LABELS).fillna(ent["org_type"]).astype("str")
    if "action" in ent:
        ent["action_label"] = ent["action"].map(ACTION_LABELS).fillna(ent["action"]).astype("str")
    field_rows = []
    written: list[Path] = []
    tmpdir = Path(tempfile.mkdtemp(prefix=".shapefiles.", dir=out_dir))
    try:
        for name, gdf in layers.items():
            if not len(gdf):
                logger.info("shapefile layer %s is empty; skipped", name)
                continue
            geom = gdf.geometry.name
            data = gdf.drop(columns=geom)
            for col in data.columns:
                if data[col].dtype == bool:
                    data[col] = data[col].map({True: "是", False: "否"}).astype("str")
                if pd.api.types.is_string_dtype(data[col]) or data[col].dtype == object:
                    data[col], changed = _fit_encoding(data[col].astype(str), encoding)
                    if changed:
                        logger.warning("%s.%s: %d value(s) changed to fit %s / 254 bytes", name, col,
                                       changed, encoding)
            names = _field_names(list(data.columns))
            shp = gpd.GeoDataFrame(data.rename(columns=names), geometry=gdf.geometry.to_numpy(), crs=gdf.crs)
            kwargs: dict[str, Any] = {"driver": "ESRI Shapefile", "encoding": encoding}
            if name in ("grids", "units"):
                kwargs["promote_to_multi"] = True
            if shp.geometry.notna().sum() == 0:
                kwargs["geometry_type"] = _GEOMETRY_TYPES[name]
            pyogrio.write_dataframe(shp, tmpdir / f"{name}.shp", **kwargs)
            for col, field in names.items():
                field_rows.append({"layer": name, "field": field, "column": col,
                                   "中文名": {**ENTERPRISE_HEADERS, **GRID_HEADERS}.get(col, "")})
        write_csv(pd.DataFrame(field_rows, columns=["layer", "field", "column", "中文名"]), tmpdir / "fields.csv")
        for f in sorted(tmpdir.iterdir()):
            os.replace(f, out_dir / f.name)
            written.append(out_dir / f.name)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    logger.info("wrote %d shapefile parts to %s", len(written), out_dir)
    return written
