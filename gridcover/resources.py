"""Work-coverage resources: instructors (党建工作指导员) and party-mass service centres (党群服务中心).

* W1/W2 — :func:`read_roster` reads the instructor roster; :func:`assign_instructors`
  assigns the enterprises whose action is ``instructor`` to the nearest instructors
  within capacity, inside their jurisdiction unit (a min-cost flow, see
  :mod:`gridcover._flow`); :func:`instructors_needed` counts the instructors each unit
  needs and lacks.
* W3/G9 — :func:`read_service_centres` reads the centres; :func:`catchment` measures
  the enterprises and staff within ``config.service_catchment_m`` of a centre;
  :func:`site_new_centres` proposes the ``k`` new sites that cover the most
  uncovered staff (maximal covering location: greedy + swap local search), and
  :func:`site_new_centres_exact` solves the same problem exactly by MILP.

Distances are straight-line metres in one estimated UTM CRS; inputs and outputs are
EPSG:4326. Instructor names are personal data: they go into ``plan.instructors`` and
the reports, never into maps.

Examples
--------
>>> import pandas as pd
>>> from gridcover import Plan
>>> from gridcover.resources import assign_instructors
>>> ent = pd.DataFrame({"lon": [119.000, 119.010, 119.300], "lat": [26.0, 26.0, 26.0],
...                     "unit": ["甲镇"] * 3, "unit_type": ["township"] * 3,
...                     "action": ["instructor"] * 3, "instructor": [""] * 3},
...                    index=pd.Index(["A", "B", "C"], name="uscc"))
>>> roster = pd.DataFrame({"name": ["王", "李"], "township": ["甲镇", "甲镇"],
...                        "lon": [119.005, 119.29], "lat": [26.0, 26.0], "capacity": [2, 1]})
>>> assign_instructors(Plan(enterprises=ent), roster).instructors["instructor"].tolist()
['王', '王', '李']
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
import warnings
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import CRS

from ._flow import capacitated_assignment, coverage_matrix, mclp_greedy_swap, mclp_milp
from ._normalize import parse_crs
from ._tables import alias_lookup, check_regular_file, degrees_problem, header_table, read_table
from .config import Config
from .coords import in_china, to_wgs84
from .errors import ResourceFileError
from .plan import Plan

__all__ = [
    "INSTRUCTOR_COLUMNS",
    "SITE_COLUMNS",
    "RESPONSIBLE_COLUMNS",
    "assign_instructors",
    "assign_responsible",
    "catchment",
    "instructors_needed",
    "read_roster",
    "read_service_centres",
    "site_new_centres",
    "site_centres_full",
    "site_new_centres_exact",
    "set_cover",
]

logger = logging.getLogger(__name__)

#: Columns of ``plan.instructors`` (one row per enterprise needing an instructor).
INSTRUCTOR_COLUMNS: Final = ("uscc", "instructor", "unit", "distance_m")
#: Columns of the new-site proposals (plus ``geometry``).
SITE_COLUMNS: Final = ("rank", "name", "lon", "lat", "source", "new_enterprises_covered", "new_staff_covered")
#: Columns of the roster as :func:`read_roster` returns it.
ROSTER_COLUMNS: Final = ("name", "township", "park", "lon", "lat", "capacity", "source_row")
#: Nearest instructors per enterprise in the first flow graph (optimality over all pairs
#: is then proved, see :mod:`gridcover._flow`).
INSTRUCTOR_NEIGHBOURS: Final = 8
#: Unit name of the whole-area row of the per-unit tables (as in coverage.csv).
TOTAL_LABEL: Final = "合计"

_ROSTER_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "name": ("姓名", "指导员", "指导员姓名", "党建工作指导员", "党建指导员", "name"),
    "township": ("乡镇(街道)", "乡镇", "街道", "所属乡镇", "所属乡镇(街道)", "乡镇街道", "township"),
    "park": ("园区", "所属园区", "park"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "crs": ("坐标系", "crs"),
    "capacity": ("可指导企业数", "指导企业数", "可指导企业数量", "capacity"),
}
_CENTRE_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "name": ("名称", "服务中心", "党群服务中心", "服务中心名称", "中心名称", "name"),
    "township": ("乡镇(街道)", "乡镇", "街道", "所属乡镇", "所属乡镇(街道)", "乡镇街道", "township"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "crs": ("坐标系", "crs"),
}
_TABLE_SUFFIXES: Final = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
_SPACE = re.compile(r"\s+")


# --- reading tables ----------------------------------------------------------------------

def _norm(text: Any) -> str:
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text))).lower()


def _table(path: Path, aliases: dict[str, tuple[str, ...]], what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Columns renamed to canonical names; returns the table and each row's spreadsheet row.

    Read by the one input-table reader (:mod:`gridcover._tables`): CSV (UTF-8 or GBK,
    every line accounted for) or XLSX (zip checked first); the header is the row among
    the first 10 naming the most fields, and it must name ``name``.
    """
    defaults = Config()
    table, _ = read_table(path, what, ResourceFileError, max_cell_lines=defaults.csv_max_cell_lines,
                          max_unpacked_mb=defaults.xlsx_max_unpacked_mb, max_ratio=defaults.xlsx_max_ratio)
    found = header_table(table, alias_lookup(aliases, _norm), scan_rows=10, required="name")
    if found is None:
        first = aliases["name"][0]
        msg = f"{what} {path}: no name column ({first} / name) in the first rows"
        raise ResourceFileError(msg)
    body, rows, header_line = found
    broken = [b.line for b in table.broken if b.line > header_line]
    if broken:
        msg = (f"{what} {path}: line(s) {', '.join(map(str, broken[:10]))} have an unbalanced quote (\") "
               "and cannot be split into cells")
        raise ResourceFileError(msg)
    for field in aliases:
        if field not in body:
            body[field] = ""
    return body, rows


def _crs_code(text: str) -> str | None:
    """wgs84/gcj02/bd09 for a 坐标系 cell (blank: wgs84), ``None`` when unknown (the
    ledger's own words, :func:`gridcover._normalize.parse_crs`)."""
    found = parse_crs(text)
    return "wgs84" if found is None else None if found == "unknown" else found


def _coordinates(body: pd.DataFrame, rows: np.ndarray, what: str, path: Path) -> tuple[np.ndarray, np.ndarray]:
    lon = pd.to_numeric(body["lon"].map(_norm), errors="coerce").to_numpy(dtype=float, copy=True)
    lat = pd.to_numeric(body["lat"].map(_norm), errors="coerce").to_numpy(dtype=float, copy=True)
    problems = []
    partial = np.isnan(lon) != np.isnan(lat)
    bad_text = (body["lon"].ne("") & np.isnan(lon)) | (body["lat"].ne("") & np.isnan(lat))
    for i in np.flatnonzero(partial | bad_text.to_numpy()):
        problems.append(f"row {rows[i]}: coordinates {body['lon'].iat[i]!r}, {body['lat'].iat[i]!r} are not a lon/lat pair")
    crs_codes = [_crs_code(v) for v in body["crs"]]
    for pos, code in enumerate(crs_codes):
        if code is None:
            problems.append(f"row {rows[pos]}: unknown coordinate system {body['crs'].iat[pos]!r} (wgs84/gcj02/bd09)")
    given = ~np.isnan(lon) & ~np.isnan(lat)
    outside = given & ~in_china(np.nan_to_num(lon), np.nan_to_num(lat))
    for i in np.flatnonzero(outside):
        problems.append(f"row {rows[i]}: point ({lon[i]}, {lat[i]}) lies outside China (lon/lat swapped?)")
    if problems:
        msg = f"{what} {path}: " + "; ".join(problems)
        raise ResourceFileError(msg)
    if given.any():
        codes = np.array([c or "wgs84" for c in crs_codes], dtype=object)
        lon[given], lat[given] = to_wgs84(lon[given], lat[given], codes[given])
    return lon, lat


def read_roster(path: str | Path) -> pd.DataFrame:
    """Read an instructor roster (党建工作指导员名册), CSV (UTF-8 or GBK) or XLSX.

    Headers may be Chinese or English: 姓名/name, 乡镇（街道）/township, 园区/park
    (optional), 经度/lon and 纬度/lat (optional; 坐标系/crs wgs84/gcj02/bd09
    converted to WGS-84), 可指导企业数/capacity (optional). A title row above the
    header is skipped. A row without coordinates is placed at the representative
    point of its township (or park) by :func:`assign_instructors`.

    Parameters
    ----------
    path
        The roster file.

    Returns
    -------
    pandas.DataFrame
        ``name, township, park, lon, lat`` (WGS-84, NaN when not given),
        ``capacity`` (nullable ``Int64``: ``<NA>`` where not given — the plan's
        ``config.instructor_capacity`` then applies, W1) and ``source_row``.

    Raises
    ------
    ResourceFileError
        When the file cannot be read, has no name column, or a row has a bad
        capacity, bad coordinates, a repeated name, or neither a township, a park nor
        coordinates — every bad row is named.
    """
    p = Path(path)
    body, rows = _table(p, _ROSTER_ALIASES, "instructor roster")
    problems = []
    for i in np.flatnonzero(body["name"].eq("").to_numpy()):
        problems.append(f"row {rows[i]}: no name")
    dup = body["name"].ne("") & body["name"].duplicated(keep=False)
    for name in dict.fromkeys(body.loc[dup, "name"]):
        where = ", ".join(str(r) for r in rows[body["name"].eq(name).to_numpy()])
        problems.append(f"rows {where}: name {name!r} repeated (names identify instructors; tell them apart)")
    capacity: list[Any] = []
    for pos, v in enumerate(body["capacity"]):
        key = _norm(v).rstrip("家个户")
        if not key:
            capacity.append(pd.NA)
        elif re.fullmatch(r"\d+(\.0+)?", key):
            capacity.append(int(float(key)))
        else:
            capacity.append(pd.NA)
            problems.append(f"row {rows[pos]}: capacity {v!r} is not a whole number ≥ 0")
    if problems:
        msg = f"instructor roster {p}: " + "; ".join(problems)
        raise ResourceFileError(msg)
    lon, lat = _coordinates(body, rows, "instructor roster", p)
    nowhere = np.isnan(lon) & body["township"].eq("").to_numpy() & body["park"].eq("").to_numpy()
    if nowhere.any():
        msg = f"instructor roster {p}: " + "; ".join(
            f"row {r}: neither coordinates nor a township/park" for r in rows[nowhere])
        raise ResourceFileError(msg)
    out = pd.DataFrame({
        "name": body["name"].astype(str), "township": body["township"].astype(str),
        "park": body["park"].astype(str), "lon": lon, "lat": lat,
        "capacity": pd.array(capacity, dtype="Int64"), "source_row": rows.astype("int64"),
    })
    logger.info("roster %s: %d instructors", p, len(out))
    return out


def read_service_centres(path: str | Path) -> gpd.GeoDataFrame:
    """Read party-mass service centres (党群服务中心): a CSV/XLSX with name, township,
    lon, lat (Chinese headers 名称, 乡镇（街道）, 经度, 纬度 accepted), or any vector file
    (GeoJSON, GeoPackage, Shapefile; polygons become their representative point).

    Returns
    -------
    geopandas.GeoDataFrame
        ``name, township, geometry`` (points, EPSG:4326).

    Raises
    ------
    ResourceFileError
        When the file cannot be read or a row has no usable point.
    """
    p = Path(path)
    if p.suffix.lower() in _TABLE_SUFFIXES:
        body, rows = _table(p, _CENTRE_ALIASES, "service centre file")
        lon, lat = _coordinates(body, rows, "service centre file", p)
        missing = np.isnan(lon)
        if missing.any():
            msg = f"service centre file {p}: " + "; ".join(
                f"row {r}: no coordinates (经度/纬度)" for r in rows[missing])
            raise ResourceFileError(msg)
        return gpd.GeoDataFrame({"name": body["name"].astype(str), "township": body["township"].astype(str)},
                                geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    check_regular_file(p, "service centre file", ResourceFileError)
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own error types
        msg = f"cannot read service centre file {p}: {exc}"
        raise ResourceFileError(msg) from None
    if (gdf.crs is None or gdf.crs.is_geographic) and len(gdf.geometry.dropna()):
        problem = degrees_problem(gdf.geometry.total_bounds)
        if problem:
            msg = (f"service centre file {p}: {problem}, and the file declares no projected coordinate "
                   "system: reproject it to EPSG:4326")
            raise ResourceFileError(msg)
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    gdf = gdf.to_crs("EPSG:4326")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    index = {_norm(a): f for f, names in _CENTRE_ALIASES.items() for a in names}
    cols: dict[str, str] = {}
    for c in gdf.columns:
        f = index.get(_norm(c))
        if f in ("name", "township") and f not in cols:
            cols[f] = c
    geom = gdf.geometry.where(gdf.geom_type == "Point", gdf.geometry.representative_point())
    return gpd.GeoDataFrame({
        "name": gdf[cols["name"]].fillna("").astype(str).to_numpy() if "name" in cols else [""] * len(gdf),
        "township": gdf[cols["township"]].fillna("").astype(str).to_numpy() if "township" in cols else [""] * len(gdf),
    }, geometry=gpd.GeoSeries(geom.to_numpy(), crs="EPSG:4326"))


# --- shared geometry helpers -------------------------------------------------------------

def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series("", index=df.index, dtype="str")
    return df[col].fillna("").astype(str).str.strip()


def _located(ent: pd.DataFrame) -> np.ndarray:
    if "lon" not in ent or "lat" not in ent:
        return np.zeros(len(ent), dtype=bool)
    lon = pd.to_numeric(ent["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(ent["lat"], errors="coerce").to_numpy(dtype=float)
    return ~np.isnan(lon) & ~np.isnan(lat)


def _staff(ent: pd.DataFrame) -> np.ndarray:
    if "staff" not in ent:
        return np.zeros(len(ent), dtype=np.int64)
    return pd.to_numeric(ent["staff"], errors="coerce").fillna(0).to_numpy(dtype=np.int64)


def _utm(lon: np.ndarray, lat: np.ndarray) -> CRS:
    """The UTM CRS of the points' centre (metres)."""
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    return pts.estimate_utm_crs()


def _project(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    if len(lon) == 0:
        return np.zeros((0, 2))
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(crs)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def _unit_keys(ent: pd.DataFrame) -> pd.DataFrame:
    unit = _text(ent, "unit")
    unit_type = _text(ent, "unit_type")
    park = _text(ent, "park")
    unit_type = unit_type.where(unit_type.ne("") | unit.eq(""), np.where(park.ne(""), "park", "township"))
    return pd.DataFrame({"unit_type": unit_type, "unit": unit}, index=ent.index)


def _sort_units(df: pd.DataFrame) -> pd.DataFrame:
    order = df["unit_type"].map({"park": 0, "township": 1}).fillna(2)
    return (df.assign(_o=order, _e=df["unit"].eq("")).sort_values(["_o", "_e", "unit"], kind="stable")
            .drop(columns=["_o", "_e"]).reset_index(drop=True))


# --- instructors (W1, W2) ----------------------------------------------------------------

def _needs_instructor(ent: pd.DataFrame) -> pd.Series:
    """W2: action ``instructor`` and no instructor in the ledger yet."""
    return _text(ent, "action").eq("instructor") & _text(ent, "instructor").eq("")


def _place_roster(roster: pd.DataFrame, units: gpd.GeoDataFrame) -> pd.DataFrame:
    """Unit and WGS-84 point of each instructor.

    With coordinates: the unit containing the point (parks are carved out of their
    townships, so at most one); when no unit contains it, the declared park or
    township. Without coordinates: the declared park (else township) and the
    representative point of that unit's polygon.
    """
    out = roster.copy()
    for col in ("name", "township", "park"):
        out[col] = _text(out, col)
    for col in ("lon", "lat"):
        out[col] = pd.to_numeric(out[col], errors="coerce") if col in out else np.nan
    declared_type = np.where(out["park"].ne(""), "park", "township")
    declared = out["park"].where(out["park"].ne(""), out["township"])
    out["unit"] = declared
    out["unit_type"] = declared_type
    have_units = {"unit", "unit_type"} <= set(units.columns) and len(units) > 0
    lon = out["lon"].to_numpy(dtype=float, copy=True)
    lat = out["lat"].to_numpy(dtype=float, copy=True)
    given = ~np.isnan(lon) & ~np.isnan(lat)
    if have_units and given.any():
        pts = gpd.GeoDataFrame({"i": np.flatnonzero(given)},
                               geometry=gpd.points_from_xy(lon[given], lat[given]), crs="EPSG:4326")
        u = units[["unit", "unit_type", "geometry"]].to_crs("EPSG:4326")
        hit = gpd.sjoin(pts, u, how="inner", predicate="within").sort_values("i", kind="stable")
        hit = hit.drop_duplicates("i")
        idx = hit["i"].to_numpy()
        out.loc[out.index[idx], "unit"] = hit["unit"].astype(str).to_numpy()
        out.loc[out.index[idx], "unit_type"] = hit["unit_type"].astype(str).to_numpy()
    unplaced: list[str] = []
    if (~given).any():
        reps: dict[tuple[str, str], tuple[float, float]] = {}
        if have_units:
            u = units.to_crs("EPSG:4326")
            for name, utype, geom in zip(u["unit"].astype(str), u["unit_type"].astype(str), u.geometry, strict=True):
                if geom is not None and not geom.is_empty:
                    p = geom.representative_point()
                    reps.setdefault((utype, name), (p.x, p.y))
        for i in np.flatnonzero(~given):
            key = (str(out["unit_type"].iat[i]), str(out["unit"].iat[i]))
            if key in reps:
                lon[i], lat[i] = reps[key]
            else:
                unplaced.append(f"{out['name'].iat[i]} ({key[1] or '?'})")
    out["lon"], out["lat"] = lon, lat
    if unplaced:
        warnings.warn(
            f"{len(unplaced)} instructor(s) without coordinates name no unit of the plan and are not "
            f"assigned: {', '.join(unplaced[:10])}{' …' if len(unplaced) > 10 else ''}",
            UserWarning, stacklevel=3)
    return out


def _remaining_capacity(placed: pd.DataFrame, ent: pd.DataFrame, config: Config) -> np.ndarray:
    """W1: capacity (the roster's, else config) minus enterprises the ledger already gives them."""
    cap = placed["capacity"] if "capacity" in placed else pd.Series(pd.NA, index=placed.index)
    cap = pd.to_numeric(cap, errors="coerce").fillna(config.instructor_capacity).to_numpy(dtype=np.int64)
    load = _text(ent, "instructor")
    counts = load[load.ne("")].value_counts()
    existing = placed["name"].map(counts).fillna(0).to_numpy(dtype=np.int64)
    return np.maximum(cap - existing, 0)


def assign_instructors(plan: Plan, roster: pd.DataFrame, *, config: Config | None = None) -> Plan:
    """Assign instructors (党建工作指导员) to the enterprises that need one (W1, W2).

    An enterprise needs one when its ``action`` is ``instructor`` and the ledger names
    no instructor for it. Within each jurisdiction unit (across units only with
    ``config.instructors_cross_units``) the most enterprises are assigned that the
    capacities allow, and among those the assignment with the least total
    straight-line distance (integer metres) — nearest first, solved exactly as a
    min-cost flow on the k nearest instructors of each enterprise and proved optimal
    over all pairs. An instructor's capacity is the roster's ``capacity``, else
    ``config.instructor_capacity``, minus the enterprises the ledger already lists
    under that name.

    Parameters
    ----------
    plan
        A plan with ``action`` (and ``unit``, ``lon``, ``lat``) on its enterprises;
        ``plan.units`` places roster rows without coordinates.
    roster
        As :func:`read_roster` returns it (``name`` and ``township`` or ``park`` or
        ``lon``/``lat``; ``capacity`` optional).
    config
        Rules; the plan's config by default.

    Returns
    -------
    Plan
        A copy with ``instructors``: ``uscc, instructor, unit, distance_m``, one row per
        enterprise needing an instructor in ledger order; ``instructor`` is "" and
        ``distance_m`` NaN where none could be assigned.
    """
    config = config or plan.config
    ent = plan.enterprises
    if "name" not in roster:
        msg = "the roster has no name column"
        raise ValueError(msg)
    need = _needs_instructor(ent).to_numpy()
    keys = _unit_keys(ent)
    located = _located(ent)
    placed = _place_roster(roster, plan.units)
    capacity = _remaining_capacity(placed, ent, config)
    ins_ok = ~np.isnan(placed["lon"].to_numpy(dtype=float))

    idx = np.flatnonzero(need)
    assigned: list[str] = [""] * len(idx)
    distance = np.full(len(idx), np.nan)
    todo = idx[located[idx]]
    if len(todo) and ins_ok.any():
        lon_all = np.concatenate([pd.to_numeric(ent["lon"]).to_numpy(dtype=float)[todo],
                                  placed["lon"].to_numpy(dtype=float)[ins_ok]])
        lat_all = np.concatenate([pd.to_numeric(ent["lat"]).to_numpy(dtype=float)[todo],
                                  placed["lat"].to_numpy(dtype=float)[ins_ok]])
        crs = _utm(lon_all, lat_all)
        exy = _project(pd.to_numeric(ent["lon"]).to_numpy(dtype=float)[todo],
                       pd.to_numeric(ent["lat"]).to_numpy(dtype=float)[todo], crs)
        ixy_all = np.full((len(placed), 2), np.nan)
        ixy_all[ins_ok] = _project(placed["lon"].to_numpy(dtype=float)[ins_ok],
                                   placed["lat"].to_numpy(dtype=float)[ins_ok], crs)
        ent_unit = keys["unit"].to_numpy()[todo].astype(str)
        ins_unit = placed["unit"].to_numpy().astype(str)
        if config.instructors_cross_units:
            groups = [("*", np.arange(len(todo)), np.flatnonzero(ins_ok))]
        else:  # W2: inside the jurisdiction unit
            groups = [(u, np.flatnonzero(ent_unit == u), np.flatnonzero(ins_ok & (ins_unit == u)))
                      for u in sorted(set(ent_unit)) if u]
        pos = {int(j): k for k, j in enumerate(idx)}
        names = placed["name"].to_numpy().astype(str)
        for unit, e_sel, i_sel in groups:
            if len(i_sel) == 0:
                continue
            res = capacitated_assignment(exy[e_sel], ixy_all[i_sel], capacity[i_sel], k=INSTRUCTOR_NEIGHBOURS)
            logger.debug("unit %s: %d of %d enterprises assigned (%d flow rounds)", unit,
                         int((res.supplier >= 0).sum()), len(e_sel), res.rounds)
            for local, sup in enumerate(res.supplier):
                if sup < 0:
                    continue
                row = pos[int(todo[e_sel[local]])]
                assigned[row] = str(names[i_sel[sup]])
                distance[row] = round(float(res.distance[local]), 1)
    result = pd.DataFrame({"uscc": pd.array([str(u) for u in ent.index[idx]], dtype="str"),
                           "instructor": pd.array(assigned, dtype="str"),
                           "unit": pd.array([str(u) for u in keys["unit"].to_numpy()[idx]], dtype="str"),
                           "distance_m": distance})
    unassigned = int(result["instructor"].eq("").sum())
    if unassigned:
        logger.info("%d of %d enterprises needing an instructor remain unassigned", unassigned, len(result))
    return plan.replace(instructors=result[list(INSTRUCTOR_COLUMNS)])


def instructors_needed(plan: Plan, roster: pd.DataFrame | None = None, *,
                       config: Config | None = None) -> pd.DataFrame:
    """Instructors each unit needs (W1): ``needed = ceil(enterprises / capacity)``.

    Parameters
    ----------
    plan
        A plan with ``action`` on its enterprises.
    roster
        The roster; its instructors count as available in the unit they are placed
        in (see :func:`assign_instructors`). Without it, the distinct instructors of
        ``plan.instructors`` in the unit are counted.
    config
        Rules (``instructor_capacity``); the plan's config by default.

    Returns
    -------
    pandas.DataFrame
        ``unit_type, unit, enterprises_needing, instructors_available, needed,
        shortfall`` (``max(0, needed - available)``) per unit that needs one, parks
        first, then a total row (unit ``合计``) summing the unit rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"unit": ["甲镇"] * 4, "unit_type": ["township"] * 4,
    ...                     "action": ["instructor"] * 4, "instructor": [""] * 4},
    ...                    index=pd.Index(list("ABCD"), name="uscc"))
    >>> instructors_needed(Plan(enterprises=ent))[["unit", "needed", "shortfall"]].values.tolist()
    [['甲镇', 2, 2], ['合计', 2, 2]]
    """
    config = config or plan.config
    ent = plan.enterprises
    keys = _unit_keys(ent)[_needs_instructor(ent).to_numpy()]
    counts = keys.groupby(["unit_type", "unit"], sort=False).size().rename("enterprises_needing").reset_index()
    if roster is not None:
        placed = _place_roster(roster, plan.units)
        avail = placed.groupby(["unit_type", "unit"], sort=False).size()
    elif plan.instructors is not None and len(plan.instructors) and "instructor" in plan.instructors:
        ins = plan.instructors
        ins = ins[ins["instructor"].astype(str).ne("")]
        types = dict(zip(keys["unit"], keys["unit_type"], strict=True))
        avail = (ins.assign(unit_type=ins["unit"].map(types).fillna("township"))
                 .groupby(["unit_type", "unit"], sort=False)["instructor"].nunique())
    else:
        avail = pd.Series(dtype="int64")
    counts["instructors_available"] = [int(avail.get((t, u), 0)) for t, u in
                                       zip(counts["unit_type"], counts["unit"], strict=True)]
    counts["needed"] = -(-counts["enterprises_needing"] // config.instructor_capacity)  # W1
    counts["shortfall"] = (counts["needed"] - counts["instructors_available"]).clip(lower=0)
    counts = _sort_units(counts)
    total = pd.DataFrame([{"unit_type": "total", "unit": TOTAL_LABEL,
                           **{c: int(counts[c].sum()) for c in
                              ("enterprises_needing", "instructors_available", "needed", "shortfall")}}])
    out = pd.concat([counts, total], ignore_index=True) if len(counts) else total
    for c in ("enterprises_needing", "instructors_available", "needed", "shortfall"):
        out[c] = out[c].astype("int64")
    return out


# --- service centres (W3, G9) ------------------------------------------------------------

def _centres(plan: Plan, centres: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    c = plan.service_centres if centres is None else centres
    if c is None or len(c) == 0:
        return gpd.GeoDataFrame({"name": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    return c.set_crs("EPSG:4326") if c.crs is None else c.to_crs("EPSG:4326")


def _covered_by_centres(xy: np.ndarray, centres: gpd.GeoDataFrame, crs: CRS, radius: float) -> np.ndarray:
    """True where a point lies within ``radius`` metres of some centre (G9)."""
    if len(centres) == 0 or len(xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    pts = centres.geometry.to_crs(crs)
    pts = pts.where(pts.geom_type == "Point", pts.representative_point())
    cxy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
    from scipy.spatial import cKDTree

    d, _ = cKDTree(cxy).query(xy, k=1)
    return np.asarray(d) <= radius


def catchment(plan: Plan, centres: gpd.GeoDataFrame | None = None, *,
              config: Config | None = None) -> pd.DataFrame:
    """Enterprises and staff within the catchment of a party-mass service centre (W3, G9).

    Parameters
    ----------
    plan
        A plan (``lon, lat, staff, unit`` on its enterprises).
    centres
        Service centres (EPSG:4326 points); ``plan.service_centres`` by default.
    config
        ``service_catchment_m`` (2 km); the plan's config by default.

    Returns
    -------
    pandas.DataFrame
        ``unit_type, unit, enterprises, staff, enterprises_covered, staff_covered,
        enterprise_share, staff_share`` per unit (parks first) and a total row (unit
        ``合计``). Only located enterprises count (an unlocated one has no distance);
        shares are NaN where the unit has none.

    Examples
    --------
    >>> import pandas as pd, geopandas as gpd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"lon": [119.0, 119.1], "lat": [26.0, 26.0], "staff": [10, 30],
    ...                     "unit": ["甲镇", "甲镇"], "unit_type": ["township"] * 2},
    ...                    index=pd.Index(["A", "B"], name="uscc"))
    >>> centre = gpd.GeoDataFrame({"name": ["中心"]}, geometry=gpd.points_from_xy([119.001], [26.0]), crs=4326)
    >>> catchment(Plan(enterprises=ent), centre)[["unit", "enterprises_covered", "staff_share"]].values.tolist()
    [['甲镇', 1, 0.25], ['合计', 1, 0.25]]
    """
    config = config or plan.config
    ent = plan.enterprises
    located = _located(ent)
    loc = ent.loc[located]
    keys = _unit_keys(loc)
    staff = _staff(loc)
    covered = np.zeros(len(loc), dtype=bool)
    if len(loc):
        lon = pd.to_numeric(loc["lon"]).to_numpy(dtype=float)
        lat = pd.to_numeric(loc["lat"]).to_numpy(dtype=float)
        crs = _utm(lon, lat)
        covered = _covered_by_centres(_project(lon, lat, crs), _centres(plan, centres), crs,
                                      config.service_catchment_m)
    df = keys.assign(enterprises=1, staff=staff, enterprises_covered=covered.astype("int64"),
                     staff_covered=np.where(covered, staff, 0))
    cols = ["enterprises", "staff", "enterprises_covered", "staff_covered"]
    per = df.groupby(["unit_type", "unit"], sort=False)[cols].sum().reset_index()
    per = _sort_units(per)
    total = pd.DataFrame([{"unit_type": "total", "unit": TOTAL_LABEL, **{c: int(df[c].sum()) for c in cols}}])
    out = pd.concat([per, total], ignore_index=True) if len(per) else total
    for c in cols:
        out[c] = out[c].astype("int64")
    out["enterprise_share"] = out["enterprises_covered"] / out["enterprises"].replace(0, np.nan)
    out["staff_share"] = out["staff_covered"] / out["staff"].replace(0, np.nan)
    return out


def _candidates(plan: Plan, candidates: gpd.GeoDataFrame | None, crs: CRS) -> gpd.GeoDataFrame:
    """Candidate sites (UTM points) with ``name`` and ``source``."""
    if candidates is not None:
        c = candidates.set_crs("EPSG:4326") if candidates.crs is None else candidates
        c = c[c.geometry.notna() & ~c.geometry.is_empty].to_crs(crs)
        geom = c.geometry.where(c.geom_type == "Point", c.geometry.centroid)
        names = (c["name"].fillna("").astype(str).to_numpy() if "name" in c
                 else np.array([f"candidate {i + 1}" for i in range(len(c))], dtype=object))
        source = c["source"].fillna("").astype(str).to_numpy() if "source" in c else ["candidate"] * len(c)
        return gpd.GeoDataFrame({"name": names, "source": source}, geometry=geom.to_numpy(), crs=crs)
    parts = []
    grids = plan.grids
    if grids is not None and len(grids) and "grid_id" in grids:
        g = grids[grids.geometry.notna() & ~grids.geometry.is_empty]
        g = (g.set_crs("EPSG:4326") if g.crs is None else g).sort_values("grid_id", kind="stable").to_crs(crs)
        parts.append(gpd.GeoDataFrame({"name": g["grid_id"].astype(str).to_numpy(), "source": "grid"},
                                      geometry=g.geometry.centroid.to_numpy(), crs=crs))
    units = plan.units
    if units is not None and len(units) and {"unit", "unit_type"} <= set(units.columns):
        pk = units[units["unit_type"].astype(str).eq("park") & units.geometry.notna()]
        pk = (pk.set_crs("EPSG:4326") if pk.crs is None else pk).sort_values("unit", kind="stable").to_crs(crs)
        parts.append(gpd.GeoDataFrame({"name": pk["unit"].astype(str).to_numpy(), "source": "park"},
                                      geometry=pk.geometry.centroid.to_numpy(), crs=crs))
    if not parts:
        return gpd.GeoDataFrame({"name": [], "source": []}, geometry=gpd.GeoSeries([], crs=crs))
    return pd.concat(parts, ignore_index=True)


def _mclp_problem(plan: Plan, centres: gpd.GeoDataFrame | None, candidates: gpd.GeoDataFrame | None,
                  config: Config) -> tuple[gpd.GeoDataFrame, np.ndarray, Any] | None:
    """Candidates, staff of the uncovered located enterprises, and the coverage matrix."""
    ent = plan.enterprises
    located = _located(ent)
    if not located.any():
        return None
    loc = ent.loc[located]
    lon = pd.to_numeric(loc["lon"]).to_numpy(dtype=float)
    lat = pd.to_numeric(loc["lat"]).to_numpy(dtype=float)
    crs = _utm(lon, lat)
    xy = _project(lon, lat, crs)
    radius = config.service_catchment_m
    uncovered = ~_covered_by_centres(xy, _centres(plan, centres), crs, radius)  # G9
    staff = _staff(loc)
    cand = _candidates(plan, candidates, crs)
    cxy = np.column_stack([cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy()]) if len(cand) else np.zeros((0, 2))
    cover = coverage_matrix(xy[uncovered], cxy, radius)
    return cand, staff[uncovered], cover


def _sites(cand: gpd.GeoDataFrame, selected: np.ndarray, staff: np.ndarray, cover: Any) -> gpd.GeoDataFrame:
    rows = []
    taken = np.zeros(cover.shape[0], dtype=bool)
    csc = cover.tocsc()
    for c in selected:
        col = np.zeros(cover.shape[0], dtype=bool)
        col[csc.indices[csc.indptr[c]:csc.indptr[c + 1]]] = True
        new = col & ~taken
        taken |= col
        if not new.any():
            continue  # a site that covers nothing new is no proposal
        rows.append((int(c), int(new.sum()), int(staff[new].sum())))
    if not rows:
        return _empty_sites()
    pick = cand.iloc[[r[0] for r in rows]].to_crs("EPSG:4326")
    out = gpd.GeoDataFrame({
        "rank": np.arange(1, len(rows) + 1, dtype=np.int64),
        "name": pick["name"].astype(str).to_numpy(),
        "lon": np.round(pick.geometry.x.to_numpy(), 6),
        "lat": np.round(pick.geometry.y.to_numpy(), 6),
        "source": pick["source"].astype(str).to_numpy(),
        "new_enterprises_covered": np.array([r[1] for r in rows], dtype=np.int64),
        "new_staff_covered": np.array([r[2] for r in rows], dtype=np.int64),
    }, geometry=pick.geometry.to_numpy(), crs="EPSG:4326")
    return out


def _empty_sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype="int64" if c in ("rank", "new_enterprises_covered",
                                                                  "new_staff_covered")
                                          else "float64" if c in ("lon", "lat") else "str")
                             for c in SITE_COLUMNS}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def _mclp_setup(plan: Plan, centres: gpd.GeoDataFrame | None, candidates: gpd.GeoDataFrame | None,
                k: int | None, config: Config | None) -> tuple[int, Any]:
    """``k`` and the MCLP problem shared by both solvers; the problem is None when empty."""
    config = config or plan.config
    k = config.new_sites_k if k is None else int(k)
    problem = _mclp_problem(plan, centres, candidates, config)
    if problem is None or k <= 0 or problem[2].shape[0] == 0 or problem[2].shape[1] == 0:
        return k, None
    return k, problem


def site_new_centres(plan: Plan, *, centres: gpd.GeoDataFrame | None = None,
                     candidates: gpd.GeoDataFrame | None = None, k: int | None = None,
                     config: Config | None = None) -> gpd.GeoDataFrame:
    """The best ``k`` new service-centre sites: most currently uncovered staff covered (W3).

    A maximal covering location problem: demand is every located enterprise farther
    than ``config.service_catchment_m`` from every existing centre (G9), weighted by
    staff (ties by enterprises); a site covers the demand within the catchment
    distance. Solved by greedy selection and swap local search (fast; compare
    :func:`site_new_centres_exact`).

    Parameters
    ----------
    plan
        A plan (enterprise points and staff; ``grids`` and ``units`` for the default
        candidates).
    centres
        Existing centres; ``plan.service_centres`` by default.
    candidates
        Candidate sites (points, or polygons taken at their centroid), with optional
        ``name`` and ``source`` columns; by default the centroids of the plan's grids
        (source ``grid``, named by grid_id) and parks (source ``park``).
    k
        Sites to propose; ``config.new_sites_k`` (3) by default.
    config
        The plan's config by default.

    Returns
    -------
    geopandas.GeoDataFrame
        ``rank, name, lon, lat, source, new_enterprises_covered, new_staff_covered,
        geometry`` (EPSG:4326), best site first. The counts are marginal: what the
        site adds to the sites ranked above it, so they sum to the total gain. Sites
        that would cover nothing new are left out, so fewer than ``k`` rows may come
        back.
    """
    k, problem = _mclp_setup(plan, centres, candidates, k, config)
    if problem is None:
        return _empty_sites()
    cand, staff, cover = problem
    # staff first, then enterprises: one integer weight keeps the core single-objective
    weight = staff.astype(np.int64) * (len(staff) + 1) + 1
    res = mclp_greedy_swap(cover, weight, k)
    logger.info("MCLP greedy+swap: %d sites, %d swaps", len(res.selected), res.swaps)
    return _sites(cand, res.selected, staff, cover)


def site_new_centres_exact(plan: Plan, *, centres: gpd.GeoDataFrame | None = None,
                           candidates: gpd.GeoDataFrame | None = None, k: int | None = None,
                           config: Config | None = None, time_limit: float | None = 60.0) -> gpd.GeoDataFrame:
    """:func:`site_new_centres` solved exactly by MILP (``scipy.optimize.milp``, HiGHS).

    Maximises the uncovered staff covered (ties between optimal selections are not
    broken by enterprises). Same parameters and columns as :func:`site_new_centres`;
    ``time_limit`` (seconds) stops the solver with its best selection so far (a
    warning is logged when optimality is not proved).
    """
    k, problem = _mclp_setup(plan, centres, candidates, k, config)
    if problem is None:
        return _empty_sites()
    cand, staff, cover = problem
    res = mclp_milp(cover, staff, k, time_limit=time_limit)
    return _sites(cand, res.selected, staff, cover)


# --- W3: the fewest sites so every gridded enterprise lies in a catchment (set cover) ---------------
#: Largest set-cover problem (demand × candidates) solved exactly by MILP.
SET_COVER_EXACT_MAX: Final = 4_000_000


def set_cover(cover: Any, *, exact: bool | None = None, time_limit: float | None = 60.0
              ) -> tuple[list[int], int, bool]:
    """The fewest columns of a boolean demand × candidate matrix that cover every
    coverable row.

    Exact by MILP (``scipy.optimize.milp``, HiGHS) when ``exact`` (default: when the
    matrix has at most :data:`SET_COVER_EXACT_MAX` cells); otherwise greedy (most
    uncovered rows first, lowest index on ties), whose size is at most H(d) times the
    optimum, d the largest column (H the harmonic number: the classical bound).

    Returns
    -------
    (selected columns, lower bound on the optimum, proved optimal)
        The lower bound is the MILP's dual bound, or for greedy ``ceil(rows / d)``.
    """
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    a = sp.csr_array(cover, dtype=np.int8)
    rows_ok = np.asarray(a.sum(axis=1)).ravel() > 0
    a = a[rows_ok]
    n_rows, n_cols = a.shape
    if n_rows == 0:
        return [], 0, True
    if exact is None:
        exact = n_rows * n_cols <= SET_COVER_EXACT_MAX
    if exact:
        res = milp(np.ones(n_cols), constraints=LinearConstraint(a, 1, np.inf), integrality=np.ones(n_cols),
                   bounds=Bounds(0, 1), options={"disp": False, "time_limit": time_limit})
        if res.x is not None:
            chosen = np.flatnonzero(np.round(res.x) > 0).tolist()
            bound = math.ceil(res.mip_dual_bound - 1e-6) if res.mip_dual_bound is not None else len(chosen)
            return chosen, int(bound), bool(res.status == 0)
    csc = a.tocsc()
    left = np.ones(n_rows, dtype=bool)
    chosen = []
    cols = [csc.indices[csc.indptr[c]:csc.indptr[c + 1]] for c in range(n_cols)]
    d = max(len(c) for c in cols)
    while left.any():
        gains = np.array([int(left[c].sum()) for c in cols])
        best = int(np.argmax(gains))
        chosen.append(best)
        left[cols[best]] = False
    return chosen, math.ceil(n_rows / max(d, 1)), False


def site_centres_full(plan: Plan, *, centres: gpd.GeoDataFrame | None = None,
                      candidates: gpd.GeoDataFrame | None = None, config: Config | None = None,
                      exact: bool | None = None) -> gpd.GeoDataFrame:
    """The fewest new service-centre sites so that every gridded enterprise lies within
    ``config.service_catchment_m`` of a centre (W3 to full coverage; G9 closed).

    Demand: enterprises with a ``grid_id`` farther than the catchment from every existing
    centre. Candidates: as :func:`site_new_centres` (grid and park centroids), plus each
    demand point itself, so a cover always exists. Solved by :func:`set_cover` (exact
    when small, else greedy with its H(d) bound). Same columns as :func:`site_new_centres`
    (marginal counts, largest first); ``attrs`` holds ``lower_bound`` and ``optimal``.
    """
    config = config or plan.config
    ent = plan.enterprises
    gridded = ent["grid_id"].fillna("").astype(str).ne("") if "grid_id" in ent else pd.Series(False, index=ent.index)
    sub = plan.replace(enterprises=ent.loc[gridded])
    if not gridded.any():
        return _empty_sites()
    loc = sub.enterprises.loc[_located(sub.enterprises)]
    lon = pd.to_numeric(loc["lon"]).to_numpy(dtype=float)
    lat = pd.to_numeric(loc["lat"]).to_numpy(dtype=float)
    crs = _utm(lon, lat)
    xy = _project(lon, lat, crs)
    radius = config.service_catchment_m
    uncovered = ~_covered_by_centres(xy, _centres(plan, centres), crs, radius)
    if not uncovered.any():
        out = _empty_sites()
        out.attrs.update(lower_bound=0, optimal=True)
        return out
    cand = _candidates(sub, candidates, crs)
    pts = gpd.GeoDataFrame({"name": loc.index.astype(str)[uncovered], "source": "enterprise"},
                           geometry=gpd.points_from_xy(xy[uncovered, 0], xy[uncovered, 1]), crs=crs)
    cand = pd.concat([cand, pts], ignore_index=True)
    cxy = np.column_stack([cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy()])
    cover = coverage_matrix(xy[uncovered], cxy, radius)
    chosen, bound, optimal = set_cover(cover, exact=exact)
    staff = _staff(loc)[uncovered]
    # largest marginal cover first
    order: list[int] = []
    taken = np.zeros(cover.shape[0], dtype=bool)
    csc = cover.tocsc()
    rest = list(chosen)
    while rest:
        gains = [int((~taken[csc.indices[csc.indptr[c]:csc.indptr[c + 1]]]).sum()) for c in rest]
        k = int(np.argmax(gains))
        c = rest.pop(k)
        order.append(c)
        taken[csc.indices[csc.indptr[c]:csc.indptr[c + 1]]] = True
    out = _sites(cand, np.asarray(order, dtype=np.int64), staff, cover)
    out.attrs.update(lower_bound=int(bound), optimal=bool(optimal))
    logger.info("set cover: %d sites for %d enterprises (lower bound %d, optimal %s)", len(out),
                int(uncovered.sum()), bound, optimal)
    return out


# --- W4: one responsible instructor per grid (分片包干), and per joint branch ----------------------
#: Columns of ``plan.responsible`` (responsibility.csv): one row per grid and per joint branch.
RESPONSIBLE_COLUMNS: Final = ("object", "id", "unit", "instructor", "distance_m")


def _object_points(plan: Plan) -> pd.DataFrame:
    """Grids and joint branches with their unit and the mean point of their enterprises."""
    ent = plan.enterprises
    frame = pd.DataFrame({"unit": ent["unit"].astype(str).to_numpy() if "unit" in ent else "",
                          "lon": pd.to_numeric(ent.get("lon"), errors="coerce").to_numpy(dtype=float),
                          "lat": pd.to_numeric(ent.get("lat"), errors="coerce").to_numpy(dtype=float)})
    parts = []
    for kind, col, wanted in (("grid", "grid_id", True), ("branch", "branch_id", len(plan.branches) > 0)):
        if not wanted or col not in ent:
            continue
        ids = ent[col].fillna("").astype(str).to_numpy()
        sel = frame[ids != ""].assign(id=ids[ids != ""])
        g = sel.groupby("id", sort=True).agg(unit=("unit", "first"), lon=("lon", "mean"), lat=("lat", "mean"))
        parts.append(pd.DataFrame({"object": kind, "id": g.index.astype(str), "unit": g["unit"].to_numpy(),
                                   "lon": g["lon"].to_numpy(float), "lat": g["lat"].to_numpy(float)}))
    if not parts:
        return pd.DataFrame(columns=["object", "id", "unit", "lon", "lat"])
    return pd.concat(parts, ignore_index=True)


def _split_by(keys: NDArray[Any], rows: NDArray[np.int64]) -> list[tuple[str, NDArray[np.int64]]]:
    """``rows`` grouped by ``keys`` (same length), groups in sorted key order, rows in order."""
    if not len(rows):
        return []
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    cut = np.flatnonzero(k[1:] != k[:-1]) + 1
    return [(str(k[c[0]]), rows[order][c]) for c in np.split(np.arange(len(k)), cut)]


def assign_responsible(plan: Plan, roster: pd.DataFrame, *, config: Config | None = None) -> Plan:
    """W4: a responsible instructor for every grid (分片包干), then for every joint branch.

    Each grid, then each joint branch of the plan (new, split, kept or made by a lever),
    takes one place of an instructor's capacity (W1: the roster's ``capacity``, else
    ``config.instructor_capacity``, less the enterprises the ledger and
    :func:`assign_instructors` already give that person), nearest first inside the
    jurisdiction unit (W2; a min-cost flow, as for enterprises). Grids come first: a
    branch gets a name only from the capacity the grids leave. A row with no name is a
    shortfall (reported per unit by the report), never a name made up.

    Returns
    -------
    Plan
        A copy with ``responsible``: :data:`RESPONSIBLE_COLUMNS`, grids then branches.
    """
    config = config or plan.config
    objects = _object_points(plan)
    out = objects[["object", "id", "unit"]].copy()
    out["instructor"] = ""
    out["distance_m"] = np.nan
    if not len(objects) or "name" not in roster:
        return plan.replace(responsible=out)
    ent = plan.enterprises
    placed = _place_roster(roster, plan.units)
    capacity = _remaining_capacity(placed, ent, config)
    if len(plan.instructors) and "instructor" in plan.instructors:
        load = plan.instructors["instructor"].astype(str)
        counts = load[load.ne("")].value_counts()
        capacity = np.maximum(capacity - placed["name"].map(counts).fillna(0).to_numpy(dtype=np.int64), 0)
    ins_ok = ~np.isnan(placed["lon"].to_numpy(dtype=float))
    if not ins_ok.any():
        return plan.replace(responsible=out)
    lon_all = np.concatenate([objects["lon"].to_numpy(float), placed["lon"].to_numpy(float)[ins_ok]])
    lat_all = np.concatenate([objects["lat"].to_numpy(float), placed["lat"].to_numpy(float)[ins_ok]])
    ok_all = np.isfinite(lon_all) & np.isfinite(lat_all)
    crs = _utm(lon_all[ok_all], lat_all[ok_all])
    oxy = np.full((len(objects), 2), np.nan)
    o_ok = np.isfinite(objects["lon"].to_numpy(float))
    oxy[o_ok] = _project(objects["lon"].to_numpy(float)[o_ok], objects["lat"].to_numpy(float)[o_ok], crs)
    ixy = np.full((len(placed), 2), np.nan)
    ixy[ins_ok] = _project(placed["lon"].to_numpy(float)[ins_ok], placed["lat"].to_numpy(float)[ins_ok], crs)
    names = placed["name"].astype(str).to_numpy()
    ins_unit = placed["unit"].astype(str).to_numpy()
    left = capacity.copy()
    who = np.full(len(objects), "", dtype=object)
    dist = np.full(len(objects), np.nan)
    obj_kind = objects["object"].to_numpy()
    obj_unit = objects["unit"].astype(str).to_numpy()
    by_unit: dict[str, NDArray[np.int64]] = {}
    for kind in ("grid", "branch"):
        of_kind = np.flatnonzero((obj_kind == kind) & o_ok)
        for unit, sel in _split_by(obj_unit[of_kind], of_kind):
            if unit not in by_unit:
                by_unit[unit] = np.flatnonzero(ins_ok & ((ins_unit == unit) | config.instructors_cross_units))
            pool = by_unit[unit][left[by_unit[unit]] > 0]
            if not len(pool):
                continue
            res = capacitated_assignment(oxy[sel], ixy[pool], left[pool], k=INSTRUCTOR_NEIGHBOURS)
            got = np.flatnonzero(res.supplier >= 0)
            who[sel[got]] = names[pool[res.supplier[got]]]
            dist[sel[got]] = [round(float(d), 1) for d in res.distance[got]]
            np.subtract.at(left, pool[res.supplier[got]], 1)
    out["instructor"] = [str(x) for x in who]
    out["distance_m"] = dist
    short = int(out["instructor"].eq("").sum())
    logger.info("W4: %d grids and branches, %d without a responsible instructor", len(out), short)
    return plan.replace(responsible=out.reset_index(drop=True))


def responsible_shortfall(responsible: pd.DataFrame) -> pd.DataFrame:
    """Per unit and in total: grids and branches, and how many lack a responsible instructor (W4)."""
    if responsible is None or not len(responsible):
        return pd.DataFrame(columns=["unit", "grids", "grids_short", "branches", "branches_short"])
    r = responsible.assign(short=responsible["instructor"].fillna("").astype(str).eq(""))
    rows = []
    for unit, g in [*r.groupby("unit", sort=True), (TOTAL_LABEL, r)]:
        grids = g[g["object"].eq("grid")]
        br = g[g["object"].eq("branch")]
        rows.append({"unit": unit, "grids": len(grids), "grids_short": int(grids["short"].sum()),
                     "branches": len(br), "branches_short": int(br["short"].sum())})
    return pd.DataFrame(rows)
