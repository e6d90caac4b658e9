"""Partition (the core): grids, joint branches, grid leaders, boundaries and actions.

Inside each jurisdiction unit (a park, or a township outside parks) the grid-eligible
enterprises (E1) are clustered into compact grids (网格) of 5–15 enterprises (O10) that
each hold enough formal members for a branch where the unit allows (O9); inside each
grid, enterprises with fewer than 3 formal members and no own branch are packed into
joint branches (联合党支部, O5–O7); each grid gets ranked leader (网格长) candidates and
a polygon, and every enterprise gets exactly one organisation action.

Decisions (documented here, tested in ``tests/test_partition.py``)
------------------------------------------------------------------
* **Every joint branch lies inside one grid** (O9: every grid forms a branch, so a
  branch's units share a grid; ``branches.grid_id`` is that grid). Steps per unit:
  compact first-pass grids; joint branches packed over the whole unit with the
  first-pass grid as a preference, not a wall (the 3 km rule, O7, decides who can join
  whom); the final grids drawn around the branches (a branch is one item of the grid
  clustering, then a contiguity pass so fewer grid polygons come in pieces, then a
  repair that hands a branch unit lying beyond another grid over to that grid and
  re-forms the new branches it leaves, never with fewer enterprises in branches —
  ``_grids.untangle_branches``); each
  grid's candidates re-packed exactly, the better packing kept. Packing only inside
  grids drawn first lost up to a fifth of the cover (bench/RESULTS.md); the
  price of whole branches is somewhat less compact grids, measured there too.
* **Existing joint organisations** (``org_type`` joint, grouped by ``org_name``; a
  blank name is a group of one) that obey O6 (≤ 5 units, ≥ 3 formal members) and O7
  (one unit, ≤ 3 km pairwise between located units) are kept (status ``kept``, action
  ``keep``) unless ``config.replan_existing_joint``; their grid-eligible units stay in
  one grid. Others (G5 and the like) are split: their units with ≥ 3 formal members
  build their own branch, the others are re-planned as candidates; a re-planned unit
  placed in a branch gets ``split_joint`` and the branch status ``split``; one that
  fits no branch gets ``attach`` (≥ 1 formal member) or ``instructor``.
* **Empty shells** (G4: own organisation, < 3 formal members) are revoked and re-planned
  like candidates: placed in a branch they get ``revoke_shell`` (with its ``branch_id``);
  fitting no branch they get O8's ``attach`` (≥ 1 formal member) or ``instructor`` (the
  G4 gap stays on the gap list either way).
* **Attached** (挂靠建) enterprises with < 3 formal members keep their attachment
  (``keep``); they become candidates only when ``config.org_coverage_counts_attached``
  is False (attachment then does not count as coverage).
* **Below E1 or unlocated** enterprises are never gridded nor put in new branches
  (E2: the township/village organisation backstops them): with ≥ 1 formal member and
  no organisation they get ``attach`` (E2/O8), with none ``not_gridded``.
* "Member" means formal member (正式党员) throughout; the 50/100 thresholds of the
  general branch and committee count formal + probationary members when
  ``config.large_thresholds_count_probationary`` (O3/O4).
* A grid without any formal member has ``leader_status`` "instructor post to fill" and
  an empty ``leader_uscc``; its ranked candidates are still listed (as contact points).

* **Row order never matters**: enterprises are taken in uscc order before any step, so
  the same rows in any order give the same plan, ids included (grid ids ``<unit>-G01`` …
  in reading order of the grid centres, branch ids ``<grid_id>-B1`` … in order of their
  sorted units). A re-plan from a previous plan keeps ids (:mod:`gridcover.replan`).
* **Enterprises at one point share a grid**: those in no branch are one item of the grid
  clustering (a point with more than ``grid_max_size`` is cut into as few chunks as the
  size allows), and the branches there join them while the whole fits one grid.

Work is per unit (:func:`partition_unit`, usable on its own, e.g. on Dask); the only
cross-unit step is checking existing joint organisations (:func:`joint_status`).
Kept joint organisations are one item of the grid clustering too, so their eligible
units share a grid.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ._boundaries import grid_polygons
from ._branches import branch_max_distance, pack_branches, upper_bound
from ._grids import cluster_grids, connect_grids, reshape_grids, untangle_branches
from ._leaders import LEADER_INSTRUCTOR, LEADER_MEMBER, leader_reason
from .config import Config
from .errors import BoundaryError, LedgerError
from .gaps import org_levels
from .jurisdictions import Jurisdictions
from .ledger import Ledger
from .plan import Plan
from .schema import ACTIONS, ORG_TYPES, PLAN_COLUMNS

__all__ = [
    "BRANCH_COLUMNS",
    "GRID_COLUMNS",
    "LEADER_COLUMNS",
    "UnitPartition",
    "joint_status",
    "partition",
    "partition_unit",
]

logger = logging.getLogger(__name__)

#: Branch-id prefix of kept joint organisations none of whose units is located.
UNLOCATED_PREFIX = "unlocated"
#: Leader candidates listed per grid (RULES.md: keep the top 3).
LEADER_CANDIDATES = 3

GRID_COLUMNS = ("grid_id", "unit", "unit_type", "n_enterprises", "staff", "members",
                "leader_uscc", "leader_status", "geometry")
BRANCH_COLUMNS = ("branch_id", "grid_id", "unit", "status", "uscc", "n_units", "members",
                  "max_distance_m", "approx_points", "lever")
LEADER_COLUMNS = ("grid_id", "rank", "uscc", "name", "reason")
UNIT_COLUMNS = ("unit", "unit_type", "township", "geometry")

_REQUIRED = ("lon", "lat", "unit", "eligible", "staff", "members", "org_type")
_DEFAULTS: dict[str, Any] = {"probationary": 0, "org_name": "", "org_level": "", "industry": "",
                             "investor_member": False, "name": "", "unit_type": ""}


# --- result of one unit --------------------------------------------------------------------
def _empty_grids() -> gpd.GeoDataFrame:
    cols = {c: pd.Series(dtype="int64" if c in ("n_enterprises", "staff", "members") else "str")
            for c in GRID_COLUMNS if c != "geometry"}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def _empty_branches() -> pd.DataFrame:
    types = {"n_units": "int64", "members": "int64", "max_distance_m": "float64", "approx_points": "int64"}
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, "str")) for c in BRANCH_COLUMNS})


def _empty_leaders() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "rank" else "str") for c in LEADER_COLUMNS})


@dataclass(frozen=True)
class UnitPartition:
    """The partition of one jurisdiction unit.

    Attributes
    ----------
    enterprises
        Indexed by ``uscc``: ``grid_id, branch_id, action`` of every enterprise given.
    grids
        ``GRID_COLUMNS``, EPSG:4326 polygons tiling the unit.
    branches
        ``BRANCH_COLUMNS``: the unit's joint branches (kept, split and new).
    leaders
        ``LEADER_COLUMNS``: ranked grid-leader candidates with Chinese reasons.
    """

    enterprises: pd.DataFrame
    grids: gpd.GeoDataFrame = field(default_factory=_empty_grids)
    branches: pd.DataFrame = field(default_factory=_empty_branches)
    leaders: pd.DataFrame = field(default_factory=_empty_leaders)


# --- projection --------------------------------------------------------------------------------
def _utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 / UTM zone holding (lon, lat) (what ``estimate_utm_crs`` picks)."""
    zone = min(max(int(math.floor((lon + 180.0) / 6.0)) + 1, 1), 60)
    return (32600 if lat >= 0 else 32700) + zone


@functools.lru_cache(maxsize=64)
def _transformer(epsg: int, inverse: bool) -> pyproj.Transformer:
    src, dst = ("EPSG:4326", f"EPSG:{epsg}") if not inverse else (f"EPSG:{epsg}", "EPSG:4326")
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _to_metres(lon: NDArray[np.float64], lat: NDArray[np.float64], epsg: int) -> NDArray[np.float64]:
    x, y = _transformer(epsg, False).transform(lon, lat)
    return np.c_[np.asarray(x, dtype=float), np.asarray(y, dtype=float)]


def _geom_to(geom: BaseGeometry, epsg: int, *, inverse: bool) -> BaseGeometry:
    t = _transformer(epsg, inverse)
    return shapely.transform(geom, lambda c: np.c_[t.transform(c[:, 0], c[:, 1])])


# --- input checks ------------------------------------------------------------------------------
def _prepare(enterprises: pd.DataFrame) -> pd.DataFrame:
    """Check the columns partition needs and fill the optional ones (a new frame)."""
    missing = [c for c in _REQUIRED if c not in enterprises.columns]
    if missing:
        msg = (f"the enterprise table lacks column(s) {', '.join(missing)}; partition needs the "
               f"ledger, location and class columns (run geocode and classify first)")
        raise LedgerError(msg)
    if enterprises.index.has_duplicates:
        dup = enterprises.index[enterprises.index.duplicated()][0]
        msg = f"duplicate uscc {dup!r} in the enterprise table"
        raise LedgerError(msg)
    df = pd.DataFrame(index=enterprises.index)
    for c in _REQUIRED:
        df[c] = enterprises[c]
    for c, default in _DEFAULTS.items():
        df[c] = enterprises[c] if c in enterprises.columns else default
    for c in ("org_type", "org_name", "org_level", "industry", "name", "unit", "unit_type"):
        df[c] = df[c].fillna("").astype(str)
    df["org_name"] = df["org_name"].str.strip()
    bad = sorted(set(df["org_type"]) - set(ORG_TYPES))
    if bad:
        msg = f"unknown org_type value(s) {bad}; expected one of {list(ORG_TYPES)}"
        raise LedgerError(msg)
    for c in ("staff", "members", "probationary"):
        df[c] = pd.to_numeric(df[c], errors="coerce").fillna(0).astype("int64")
    df["lon"] = pd.to_numeric(df["lon"], errors="coerce").astype(float)
    df["lat"] = pd.to_numeric(df["lat"], errors="coerce").astype(float)
    df["eligible"] = df["eligible"].fillna(False).astype(bool)
    df["investor_member"] = df["investor_member"].astype(object).where(df["investor_member"].notna(), False)
    df["investor_member"] = df["investor_member"].astype(bool)
    return df


# --- existing joint organisations (O6, O7, G5) -------------------------------------------------
def joint_status(enterprises: pd.DataFrame, config: Config | None = None) -> pd.DataFrame:
    """Check every existing joint organisation against O6 and O7.

    Enterprises with ``org_type`` joint are grouped by ``org_name`` (a blank name is a
    group of one). A group is kept when it has at most ``joint_max_units`` units (O6,
    G5), at least ``joint_min_members`` formal members (O6), its located units lie in
    one unit and within ``joint_max_distance_m`` of each other (O7), and
    ``config.replan_existing_joint`` is off; otherwise it is split.

    Parameters
    ----------
    enterprises
        The enterprise table (all units: a group spread across units must be seen whole).
    config
        Rules; defaults per RULES.md.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``enterprises``: ``joint_key`` ("" when not joint), ``joint_status``
        ("", "kept" or "split"), ``joint_unit`` (the kept group's unit), ``joint_reason``.
    """
    return _joint_status(_prepare(enterprises), config or Config())


def _joint_status(df: pd.DataFrame, config: Config) -> pd.DataFrame:
    """:func:`joint_status` of a table already through :func:`_prepare`."""
    out = pd.DataFrame({"joint_key": "", "joint_status": "", "joint_unit": "", "joint_reason": ""},
                       index=df.index)
    joint = df[df["org_type"] == "joint"]
    if joint.empty:
        return out
    uscc = joint.index.astype(str)
    keys = np.where(joint["org_name"] != "", joint["org_name"].to_numpy(dtype=object),
                    ("#" + pd.Series(uscc)).to_numpy(dtype=object)).astype(str)
    # groups in key order; rows of a group in table order (a stable sort)
    names, grp = np.unique(keys, return_inverse=True)
    grp = grp.reshape(-1)
    n_groups = len(names)
    order = np.argsort(grp, kind="stable")
    starts = np.searchsorted(grp[order], np.arange(n_groups + 1))
    size = np.diff(starts)
    members = np.bincount(grp, weights=joint["members"].to_numpy(dtype=np.int64),
                          minlength=n_groups).astype(np.int64)
    lon_all, lat_all = joint["lon"].to_numpy(dtype=float), joint["lat"].to_numpy(dtype=float)
    unit_all = joint["unit"].to_numpy(dtype=object)
    is_located = np.isfinite(lon_all) & np.isfinite(lat_all) & (unit_all != "")
    state = np.empty(n_groups, dtype=object)
    unit_of = np.empty(n_groups, dtype=object)
    reason = np.empty(n_groups, dtype=object)
    for g in range(n_groups):
        rows = order[starts[g]:starts[g + 1]]
        reasons = []
        if size[g] > config.joint_max_units:
            reasons.append(f"G5/O6: {int(size[g])} units > {config.joint_max_units}")
        if members[g] < config.joint_min_members:
            reasons.append(f"O6: {int(members[g])} formal members < {config.joint_min_members}")
        located = rows[is_located[rows]]
        units = sorted(set(unit_all[located].tolist()))
        if len(units) > 1:
            reasons.append(f"O7: spread across units {', '.join(units)}")
        elif len(located) > 1:
            lon, lat = lon_all[located], lat_all[located]
            xy = _to_metres(lon, lat, _utm_epsg(float(lon.mean()), float(lat.mean())))
            d = branch_max_distance(xy)
            if d > config.joint_max_distance_m:
                reasons.append(f"O7: units {d:.0f} m apart > {config.joint_max_distance_m:.0f} m")
        if config.replan_existing_joint:
            reasons.append("replan_existing_joint")
        state[g] = "split" if reasons else "kept"
        unit_of[g] = units[0] if len(units) == 1 else ""
        reason[g] = "; ".join(reasons)
    rows_at = out.index.get_indexer(joint.index)
    for col, values in (("joint_key", names.astype(object)), ("joint_status", state),
                        ("joint_unit", unit_of), ("joint_reason", reason)):
        column = out[col].to_numpy(dtype=object).copy()
        column[rows_at] = values[grp]
        out[col] = pd.Series(column, index=out.index, dtype=out[col].dtype)
    return out


# --- actions -----------------------------------------------------------------------------------
def _build_action(big: NDArray[np.int64], config: Config) -> NDArray[np.object_]:
    """O1/O3/O4: build a branch, a general branch (> 50) or a committee (≥ 100)."""
    return np.where(big >= config.primary_committee_members, "build_committee",
                    np.where(big > config.general_branch_members, "build_general_branch",
                             "build_branch")).astype(object)


def _base_actions(df: pd.DataFrame, jstatus: NDArray[np.object_], griddable: NDArray[np.bool_],
                  config: Config) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Action per enterprise before packing, and its candidate origin ("" = no candidate).

    For a candidate the action is its fallback when it lands in no joint branch.
    """
    f = df["members"].to_numpy(dtype=np.int64)
    big = f + df["probationary"].to_numpy(dtype=np.int64) if config.large_thresholds_count_probationary else f
    org = df["org_type"].to_numpy(dtype=object)
    can_own = f >= config.branch_min_members  # O1
    builds = _build_action(big, config)
    # O8 / E2: ≥ 1 member → attach; none → instructor when gridded, else backstopped
    fallback = np.where(f >= 1, "attach", np.where(griddable, "instructor", "not_gridded")).astype(object)
    action = np.empty(len(df), dtype=object)
    origin = np.full(len(df), "", dtype=object)

    own = org == "own"
    # an existing 党委 / 党总支 (recognised from its name) is not told to build what it is (O3/O4)
    level = org_levels(df).to_numpy(dtype=object)
    already = ((builds == "build_committee") & (level == "committee")) | (
        (builds == "build_general_branch") & np.isin(level, ["general_branch", "committee"]))
    # G4 shell: revoked and re-planned — ``revoke_shell`` once placed in a branch, else O8's
    # fallback (attach / instructor), so the enterprise is never left uncovered; G6 upgrades
    action[own] = np.where(can_own[own], np.where((builds[own] == "build_branch") | already[own], "keep",
                                                  builds[own]), fallback[own])
    origin[own & ~can_own] = "shell"

    joint = org == "joint"
    kept = joint & (jstatus == "kept")
    action[kept] = "keep"
    split = joint & ~kept
    action[split] = np.where(can_own[split], builds[split], fallback[split])
    origin[split & ~can_own] = "split"

    attached = org == "attached"
    action[attached] = np.where(can_own[attached], builds[attached], "keep")
    if not config.org_coverage_counts_attached:
        origin[attached & ~can_own] = "attached"

    none = org == "none"
    action[none] = np.where(can_own[none], builds[none], fallback[none])
    origin[none & ~can_own] = "none"

    origin[~griddable] = ""  # E2: below E1 or unlocated enterprises join no new branch
    return action, origin


_BUILD_ACTIONS = ("build_branch", "build_general_branch", "build_committee")
_PLACED_ACTION = {"none": "join_branch", "attached": "join_branch", "shell": "revoke_shell",
                  "split": "split_joint"}


# --- one unit ----------------------------------------------------------------------------------
def partition_unit(enterprises: pd.DataFrame, geometry: BaseGeometry | None, *, unit: str,
                   unit_type: str = "", config: Config | None = None,
                   joint: pd.DataFrame | None = None, epsg: int | None = None) -> UnitPartition:
    """Grids, joint branches, leaders, boundaries and actions of one jurisdiction unit.

    Parameters
    ----------
    enterprises
        The unit's enterprises (eligible or not), indexed by ``uscc``, with the ledger,
        location and class columns. Not modified.
    geometry
        The unit polygon in EPSG:4326; ``None`` gives grids without polygons (a warning
        is logged).
    unit, unit_type
        The unit's name and type (``park``/``township``); grid ids are ``<unit>-G01`` ….
    config
        Rules and parameters; defaults per RULES.md.
    joint
        :func:`joint_status` computed over the whole area (needed when an existing joint
        organisation may span units); computed from ``enterprises`` when omitted.
    epsg
        Metric CRS; the UTM zone of the unit by default.

    Returns
    -------
    UnitPartition
    """
    config = config or Config()
    df = _prepare(enterprises).sort_index(kind="stable")  # uscc order: row order never matters
    return _partition_prepared(df, geometry, unit=unit, unit_type=unit_type, config=config, joint=joint,
                               epsg=epsg)


def _partition_prepared(df: pd.DataFrame, geometry: BaseGeometry | None, *, unit: str, unit_type: str,
                        config: Config, joint: pd.DataFrame | None, epsg: int | None) -> UnitPartition:
    """:func:`partition_unit` of a table already through :func:`_prepare`, in uscc order."""
    n = len(df)
    js = _joint_status(df, config) if joint is None else joint.reindex(df.index).fillna("")
    jstatus = js["joint_status"].to_numpy(dtype=object)
    jkey = js["joint_key"].to_numpy(dtype=object)
    uscc = df.index.astype(str).to_numpy(dtype=object)
    lon = df["lon"].to_numpy(dtype=float)
    lat = df["lat"].to_numpy(dtype=float)
    located = np.isfinite(lon) & np.isfinite(lat)
    griddable = df["eligible"].to_numpy(dtype=bool) & located & (unit != "")
    if epsg is None:
        if geometry is not None and not geometry.is_empty:
            c = geometry.centroid
            epsg = _utm_epsg(c.x, c.y)
        elif located.any():
            epsg = _utm_epsg(float(np.mean(lon[located])), float(np.mean(lat[located])))
        else:
            epsg = 32650
    xy = np.full((n, 2), np.nan)
    if located.any():
        xy[located] = _to_metres(lon[located], lat[located], epsg)
    members = df["members"].to_numpy(dtype=np.int64)
    action, origin = _base_actions(df, jstatus, griddable, config)
    grid = np.full(n, -1, dtype=np.int64)

    # --- joint branches (O5–O7), packed over the whole unit ------------------------------------
    branch = np.full(n, -1, dtype=np.int64)
    status: list[str] = []
    kept_rows = np.flatnonzero(jstatus == "kept")
    for key in sorted(set(jkey[kept_rows].tolist())):
        branch[kept_rows[jkey[kept_rows] == key]] = len(status)
        status.append("kept")
    cand = np.flatnonzero(origin != "")
    industry = df["industry"].to_numpy(dtype=object)
    rules = _Rules(config.joint_max_units, config.joint_min_members, config.joint_max_distance_m)
    gidx = np.flatnonzero(griddable)
    if len(cand) >= 2:
        # compact first-pass grids guide the packing (same grid preferred), not bind it
        first = np.full(n, -1, dtype=np.int64)
        kept_items = np.where(branch[gidx] >= 0, "B" + branch[gidx].astype(str), "").astype(object)
        first[gidx], _ = _cluster(xy[gidx], members[gidx], kept_items, config)
        lab = pack_branches(xy[cand], members[cand], industry[cand], group=first[cand], **rules.kw())
        for b in range(int(lab.max()) + 1):
            branch[cand[lab == b]] = len(status)
            status.append("new")

    # --- grids (O9, O10) drawn around the branches: a branch lies in one grid -----------------
    together = np.where(branch[gidx] >= 0, "B" + branch[gidx].astype(str), "").astype(object)
    grid[gidx], k = _cluster(xy[gidx], members[gidx], together, config)
    width = max(2, len(str(k)))
    grid_ids = [f"{unit}-G{g + 1:0{width}d}" for g in range(k)]
    if k > 1 and len(status):  # a branch unit beyond another grid: hand it over, re-form branches
        new_b = np.asarray([s == "new" for s in status], dtype=bool)
        grid[gidx], branch[gidx] = untangle_branches(
            xy[gidx], grid[gidx], branch[gidx], movable=(branch[gidx] >= 0) & new_b[branch[gidx]],
            candidate=origin[gidx] != "", industry=industry[gidx],
            members=members[gidx], min_size=config.grid_min_size, max_size=config.grid_max_size,
            min_members=config.grid_min_members, next_branch=len(status), **rules.untangle_kw())
        status.extend(["new"] * max(0, int(branch.max(initial=-1)) + 1 - len(status)))
    if k > 1 and config.grid_reshape_max_grids >= 2:  # grids still in pieces re-drawn exactly with their neighbours
        new_b = np.asarray([s == "new" for s in status] or [False], dtype=bool)  # no branch: nothing movable
        grid[gidx], branch[gidx] = reshape_grids(
            xy[gidx], grid[gidx], branch[gidx], movable=(branch[gidx] >= 0) & new_b[np.maximum(branch[gidx], 0)],
            members=members[gidx], min_size=config.grid_min_size, max_size=config.grid_max_size,
            min_members=config.grid_min_members, branch_min_members=config.joint_min_members,
            max_grids=config.grid_reshape_max_grids, unit=None if geometry is None or geometry.is_empty else _geom_to(geometry, epsg, inverse=False))

    # --- each grid re-packed exactly when that covers more (never less) -----------------------
    if len(cand) >= 2 and k > 1:
        _repack_grids(cand, xy, members, industry, grid, branch, status, rules)
    if k:
        _o9_attached(df, grid, branch, status, origin, action, xy, members, industry, rules, grid_ids)
    for b in range(len(status)):
        if status[b] == "new" and np.any(origin[branch == b] == "split"):
            status[b] = "split"

    # --- final actions ------------------------------------------------------------------------------
    placed = (origin != "") & (branch >= 0)
    action[placed] = [_PLACED_ACTION[o] for o in origin[placed]]

    # --- tables ---------------------------------------------------------------------------------------
    branch_ids, branches = _branch_table(branch, status, grid, grid_ids, uscc, members, xy, unit)
    geoms = _grid_geometries(xy, grid, k, geometry, epsg, unit)
    grids, leaders = _grid_tables(df, grid, k, grid_ids, xy, geoms, unit, unit_type, config)
    out = pd.DataFrame({
        "grid_id": np.where(grid >= 0, np.asarray([*grid_ids, ""], dtype=object)[grid], ""),
        "branch_id": np.where(branch >= 0, np.asarray([*branch_ids, ""], dtype=object)[branch], ""),
        "action": action,
    }, index=df.index)
    for c in out.columns:
        out[c] = out[c].astype(str)
    return UnitPartition(enterprises=out, grids=grids, branches=branches, leaders=leaders)


def _items(xy: NDArray[np.float64], together: NDArray[np.object_], max_size: int) -> NDArray[np.int64]:
    """Item per enterprise: a non-empty ``together`` key (a kept branch) is one item, and so
    are enterprises at one point, merged with the branch items there while the whole stays
    within ``max_size`` (O10); a point with more is cut into chunks of at most ``max_size``
    in uscc order."""
    n = len(xy)
    key = np.where(together != "", together, "#" + np.arange(n).astype(str)).astype(str)
    _, item = np.unique(key, return_inverse=True)
    item = item.reshape(-1).astype(np.int64)
    _, loc = np.unique(np.round(xy, 2), axis=0, return_inverse=True)
    loc = loc.reshape(-1)
    counts = np.bincount(loc)
    if counts.max(initial=0) <= 1:
        return item
    parent = list(range(int(item.max()) + 1))
    weight = np.bincount(item).tolist()

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb and weight[ra] + weight[rb] <= max_size:
            lo, hi = min(ra, rb), max(ra, rb)
            parent[hi] = lo
            weight[lo] += weight[hi]

    free = together == ""
    for v in np.flatnonzero(counts > 1).tolist():
        rows = np.flatnonzero(loc == v)  # uscc order
        alone = rows[free[rows]]
        # the enterprises in no branch: one item, or even chunks of at most max_size
        for chunk in np.array_split(alone, math.ceil(len(alone) / max_size)) if len(alone) else []:
            for a in chunk[1:]:
                union(int(item[chunk[0]]), int(item[a]))
        # then the branches there join them while the whole fits one grid
        heads = [int(item[c[0]]) for c in np.array_split(alone, max(1, math.ceil(len(alone) / max_size)))
                 if len(c)] if len(alone) else []
        for r in rows[~free[rows]].tolist():
            target = heads[0] if heads else int(item[rows[~free[rows]][0]])
            union(target, int(item[r]))
    roots = np.asarray([find(int(t)) for t in item], dtype=np.int64)
    return np.unique(roots, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _cluster(xy: NDArray[np.float64], members: NDArray[np.int64], together: NDArray[np.object_],
             config: Config, *, n_grids: int | None = None) -> tuple[NDArray[np.int64], int]:
    """Grid label per enterprise; enterprises sharing a non-empty ``together`` key stay in
    one grid, and so do enterprises at one point (up to ``grid_max_size`` of them)."""
    if not len(xy):
        return np.zeros(0, dtype=np.int64), 0
    item_of = _items(xy, together, config.grid_max_size)
    n_items = int(item_of.max()) + 1
    w = np.bincount(item_of, minlength=n_items).astype(np.int64)
    ixy = np.c_[np.bincount(item_of, weights=xy[:, 0], minlength=n_items),
                np.bincount(item_of, weights=xy[:, 1], minlength=n_items)] / w[:, None]
    imem = np.bincount(item_of, weights=members, minlength=n_items).astype(np.int64)
    labels = cluster_grids(ixy, weight=w, members=imem, min_size=config.grid_min_size,
                           max_size=config.grid_max_size, min_members=config.grid_min_members,
                           target_size=config.grid_target_size, n_grids=n_grids)
    # one piece per grid polygon where possible (moves keep branches and points whole)
    grid = connect_grids(xy, labels[item_of], item=item_of, members=members, min_size=config.grid_min_size,
                         max_size=config.grid_max_size, min_members=config.grid_min_members)
    return grid, int(labels.max()) + 1


@dataclass(frozen=True)
class _Rules:
    """O6/O7 parameters of the packing."""

    max_units: int
    min_members: int
    max_distance: float

    def kw(self) -> dict[str, Any]:
        return {"max_units": self.max_units, "min_members": self.min_members, "max_distance": self.max_distance}

    def untangle_kw(self) -> dict[str, Any]:
        return {"max_units": self.max_units, "branch_min_members": self.min_members,
                "max_distance": self.max_distance}


def _o9_attached(df: pd.DataFrame, grid: NDArray[np.int64], branch: NDArray[np.int64], status: list[str],
                 origin: NDArray[np.object_], action: NDArray[np.object_], xy: NDArray[np.float64],
                 members: NDArray[np.int64], industry: NDArray[np.object_], rules: _Rules,
                 grid_ids: list[str]) -> None:
    """O9: a grid that holds enough formal members for a branch gets one, whatever their org type.

    A grid whose members sit only in attached (挂靠建) enterprises, or in candidates that
    fit no branch, would end with no organisation. Its attached enterprises and unplaced
    candidates are packed into joint branches inside the grid (O6/O7 as everywhere); an
    attached enterprise placed in one ends its attachment (``join_branch``).
    """
    org = df["org_type"].to_numpy(dtype=object)
    has_org = (branch >= 0) | np.isin(action, _BUILD_ACTIONS) | ((action == "keep") & (org == "own"))
    gridded = np.flatnonzero(grid >= 0)
    if not len(gridded):
        return
    order = gridded[np.argsort(grid[gridded], kind="stable")]  # rows of each grid, ascending
    starts = np.flatnonzero(np.r_[True, np.diff(grid[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    # only grids with no organisation and enough members for one need a look
    org_any = np.maximum.reduceat(has_org[order].astype(np.int64), starts) > 0
    g_mem = np.add.reduceat(members[order], starts)
    for t in np.flatnonzero(~org_any & (g_mem >= rules.min_members)).tolist():
        rows = order[starts[t]:ends[t]]
        g = grid[rows[0]]
        attached = (org[rows] == "attached") & (action[rows] == "keep")
        unplaced = (origin[rows] != "") & (branch[rows] < 0)
        pool = rows[(attached | unplaced) & (members[rows] < rules.min_members)]
        if int(members[pool].sum()) < rules.min_members:
            continue
        lab = pack_branches(xy[pool], members[pool], industry[pool], **rules.kw())
        if not len(lab) or lab.max() < 0:
            logger.warning("O9: grid %s holds %d formal members that no joint branch can join (O6/O7)",
                           grid_ids[int(g)], int(members[rows].sum()))
            continue
        for b in range(int(lab.max()) + 1):
            placed = pool[lab == b]
            branch[placed] = len(status)
            status.append("new")
            origin[placed] = np.where(origin[placed] == "", "attached", origin[placed])


@dataclass(frozen=True)
class _BranchRow:
    b: int
    g: int
    status: str
    uscc: str
    n_units: int
    members: int
    max_distance_m: float


def _repack_grids(cand: NDArray[np.int64], xy: NDArray[np.float64], members: NDArray[np.int64],
                  industry: NDArray[np.object_], grid: NDArray[np.int64], branch: NDArray[np.int64],
                  status: list[str], rules: _Rules) -> None:
    """Per grid, the exact packing of its candidates replaces the current one when better."""
    order = cand[np.argsort(grid[cand], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(grid[order]) != 0])
    for part in np.split(order, starts[1:]):
        if len(part) < 2:
            continue
        current_b = sorted(set(branch[part][branch[part] >= 0].tolist()))
        current = (int(np.sum(branch[part] >= 0)), len(current_b))
        bound = upper_bound(members[part], max_units=rules.max_units, min_members=rules.min_members)
        if current >= bound:
            continue
        lab = pack_branches(xy[part], members[part], industry[part], **rules.kw())
        found = (int(np.sum(lab >= 0)), int(lab.max()) + 1 if len(lab) and lab.max() >= 0 else 0)
        if found <= current:
            continue
        branch[part] = -1  # dissolved branches keep their (now empty) slot in ``status``
        for b in range(found[1]):
            branch[part[lab == b]] = len(status)
            status.append("new")


def _branch_table(branch: NDArray[np.int64], status: list[str], grid: NDArray[np.int64],
                  grid_ids: list[str], uscc: NDArray[np.object_], members: NDArray[np.int64],
                  xy: NDArray[np.float64], unit: str, *, preset: dict[int, str] | None = None,
                  used: Iterable[str] = ()) -> tuple[list[str], pd.DataFrame]:
    """Branch ids (``<grid_id>-B1`` …; ``<unit>-B1`` … for a kept organisation of below-E1
    units only, ``unlocated-B1`` … when none of its units is located) and rows.

    ``preset`` gives some branches their id (a re-plan keeps ids); the others are numbered
    per grid after the highest number in ``preset`` and ``used`` (ids are never reused)."""
    rows: list[_BranchRow] = []
    placed = np.flatnonzero(branch >= 0)
    order = placed[np.argsort(branch[placed], kind="stable")]  # units of each branch, ascending
    bounds = np.searchsorted(branch[order], np.arange(len(status) + 1))
    for b in range(len(status)):
        idx = order[bounds[b]:bounds[b + 1]]
        if not len(idx):
            continue
        gs = grid[idx][grid[idx] >= 0]
        if len(gs):
            # the grid holding most of its units; ties: the unit with most members, then lowest
            counts = np.bincount(gs)
            top = np.flatnonzero(counts == counts.max())
            g = int(top[0]) if len(top) == 1 else \
                int(min(top, key=lambda g: (-int(members[idx][grid[idx] == g].max()), g)))
        else:
            g = -1
        units = sorted(uscc[idx].tolist())
        loc = idx[np.isfinite(xy[idx, 0])]
        rows.append(_BranchRow(b, g, status[b], ";".join(units), len(idx), int(members[idx].sum()),
                               round(branch_max_distance(xy[loc]), 1)))
    if not rows:
        return [], _empty_branches()
    rank = {"kept": 0, "split": 1, "new": 2}
    rows.sort(key=lambda r: (r.g < 0, r.g, rank[r.status], r.uscc))
    ids = [""] * len(status)
    preset = preset or {}
    taken = {*preset.values(), *used}
    counter: dict[str, int] = {}
    for i in sorted(taken):
        head, _, num = i.rpartition("-B")
        if num.isdigit():
            counter[head] = max(counter.get(head, 0), int(num))
    for r in rows:
        if r.b in preset:
            ids[r.b] = preset[r.b]
            continue
        prefix = grid_ids[r.g] if r.g >= 0 else (unit or UNLOCATED_PREFIX)
        counter[prefix] = counter.get(prefix, 0) + 1
        ids[r.b] = f"{prefix}-B{counter[prefix]}"
    table = pd.DataFrame({
        "branch_id": [ids[r.b] for r in rows],
        "grid_id": [grid_ids[r.g] if r.g >= 0 else "" for r in rows],
        "unit": unit,
        "status": [r.status for r in rows],
        "uscc": [r.uscc for r in rows],
        "n_units": np.asarray([r.n_units for r in rows], dtype=np.int64),
        "members": np.asarray([r.members for r in rows], dtype=np.int64),
        "max_distance_m": np.asarray([r.max_distance_m for r in rows], dtype=float),
    })
    for c in ("branch_id", "grid_id", "unit", "status", "uscc"):
        table[c] = table[c].astype(str)
    return ids, table


def _grid_geometries(xy: NDArray[np.float64], grid: NDArray[np.int64], k: int,
                     geometry: BaseGeometry | None, epsg: int, unit: str) -> list[BaseGeometry]:
    if k == 0:
        return []
    if geometry is None or geometry.is_empty:
        logger.warning("unit %r has no boundary polygon: its %d grid(s) get no geometry", unit, k)
        return [shapely.Polygon() for _ in range(k)]
    rows = np.flatnonzero(grid >= 0)
    back = _transformer(epsg, True)
    return grid_polygons(xy[rows], grid[rows], geometry, n_grids=k,
                         unit_m=_geom_to(geometry, epsg, inverse=False),
                         to_unit=lambda c: np.c_[back.transform(c[:, 0], c[:, 1])])


def _grid_distance_totals(xy: NDArray[np.float64], order: NDArray[np.int64], starts: NDArray[np.int64],
                          sizes: NDArray[np.int64]) -> NDArray[np.float64]:
    """Each enterprise's total distance to its grid's enterprises (``order`` rows grouped by
    grid from ``starts``), the sums of :func:`rank_leaders`: grids of one size at a time,
    so every sum adds the same values in the same order."""
    total = np.zeros(len(xy))
    for size in np.unique(sizes).tolist():
        first = starts[sizes == size]
        rows = order[first[:, None] + np.arange(size)[None, :]]  # (grids, size)
        p = xy[rows]
        d = np.hypot(p[:, :, None, 0] - p[:, None, :, 0], p[:, :, None, 1] - p[:, None, :, 1])
        total[rows] = d.sum(axis=2)
    return total


def _grid_tables(df: pd.DataFrame, grid: NDArray[np.int64], k: int, grid_ids: list[str],
                 xy: NDArray[np.float64], geoms: list[BaseGeometry], unit: str, unit_type: str,
                 config: Config) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    if k == 0:
        return _empty_grids(), _empty_leaders()
    members = df["members"].to_numpy(dtype=np.int64)
    staff = df["staff"].to_numpy(dtype=np.int64)
    own = (df["org_type"].to_numpy(dtype=object) == "own") & (members >= config.branch_min_members)
    investor = df["investor_member"].to_numpy(dtype=bool)
    names = df["name"].to_numpy(dtype=object)
    uscc = df.index.astype(str).to_numpy(dtype=object)
    rows = np.flatnonzero(grid >= 0)
    order = rows[np.argsort(grid[rows], kind="stable")]
    starts = np.flatnonzero(np.r_[True, np.diff(grid[order]) != 0])
    sizes = np.diff(np.r_[starts, len(order)])
    total = _grid_distance_totals(xy, order, starts, sizes)
    # rank_leaders' order for every grid at once: grid first, then its keys
    seg = np.repeat(np.arange(len(starts)), sizes)
    tie = np.empty(len(uscc), dtype=np.int64)
    tie[np.argsort(uscc, kind="stable")] = np.arange(len(uscc))
    o = order
    ranked = o[np.lexsort((tie[o], np.round(total[o], 3), -staff[o], -investor[o].astype(np.int64),
                           -members[o], -own[o].astype(np.int64), seg))]
    n_top = np.minimum(sizes, LEADER_CANDIDATES)
    g_mem = np.add.reduceat(members[order], starts)
    g_staff = np.add.reduceat(staff[order], starts)
    has_member = g_mem > 0
    pick_g = np.repeat(np.arange(len(starts)), n_top)
    pick_r = np.arange(int(n_top.sum())) - np.repeat(np.cumsum(n_top) - n_top, n_top)
    pick = ranked[starts[pick_g] + pick_r]
    ids = np.asarray(grid_ids, dtype=object)
    reasons = [leader_reason(own_org=bool(own[i]), members=int(members[i]), investor_member=bool(investor[i]),
                             staff=int(staff[i]), mean_distance_m=float(total[i]) / max(int(sizes[g]) - 1, 1),
                             grid_has_member=bool(has_member[g]))
               for i, g in zip(pick.tolist(), pick_g.tolist(), strict=True)]
    first = ranked[starts]
    grids = gpd.GeoDataFrame({
        "grid_id": ids[:len(starts)], "unit": unit, "unit_type": unit_type,
        "n_enterprises": sizes.astype(np.int64), "staff": g_staff.astype(np.int64),
        "members": g_mem.astype(np.int64),
        "leader_uscc": np.where(has_member, uscc[first], ""),
        "leader_status": np.where(has_member, LEADER_MEMBER, LEADER_INSTRUCTOR).astype(object),
    }, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
    for c in ("grid_id", "unit", "unit_type", "leader_uscc", "leader_status"):
        grids[c] = grids[c].astype(str)
    leaders = pd.DataFrame({"grid_id": ids[pick_g], "rank": pick_r + 1, "uscc": uscc[pick],
                            "name": names[pick], "reason": reasons}, columns=list(LEADER_COLUMNS))
    leaders["rank"] = leaders["rank"].astype("int64")
    for c in ("grid_id", "uscc", "name", "reason"):
        leaders[c] = leaders[c].astype(str)
    return grids[list(GRID_COLUMNS)], leaders


# --- the whole area ------------------------------------------------------------------------------
def _units_frame(jurisdictions: Jurisdictions | None, units: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if units is None:
        if jurisdictions is None:
            msg = "partition needs jurisdiction units: pass jurisdictions or units="
            raise BoundaryError(msg)
        units = jurisdictions.units()
    missing = [c for c in ("unit", "geometry") if c not in units.columns]
    if missing:
        msg = f"the units table lacks column(s) {', '.join(missing)}"
        raise BoundaryError(msg)
    out = units.copy()
    if out.crs is None:
        msg = "the units table has no CRS; expected EPSG:4326"
        raise BoundaryError(msg)
    out = out.to_crs("EPSG:4326")
    for c in ("unit_type", "township"):
        if c not in out.columns:
            out[c] = ""
    out["unit"] = out["unit"].fillna("").astype(str)
    if out["unit"].duplicated().any():
        first = out.drop_duplicates("unit").set_index("unit")[["unit_type", "township"]]
        geom = out.groupby("unit", sort=False)["geometry"].apply(lambda s: shapely.union_all(s.to_numpy()))
        out = gpd.GeoDataFrame(first.join(geom.rename("geometry")).reset_index(), geometry="geometry",
                               crs="EPSG:4326")
    out = gpd.GeoDataFrame(out[list(UNIT_COLUMNS)].reset_index(drop=True), geometry="geometry", crs="EPSG:4326")
    for c in ("unit", "unit_type", "township"):
        out[c] = out[c].fillna("").astype(str)
    return out


def _concat(frames: Iterable[pd.DataFrame], empty: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty
    return pd.concat(frames, ignore_index=True)


def _advice(enterprises: pd.DataFrame, config: Config) -> pd.Series:
    """O2 as advice: an own organisation after the plan with ≥ 7 formal members elects a
    branch committee (支部委员会); a general branch or committee is told nothing it is."""
    members = pd.to_numeric(enterprises.get("members", 0), errors="coerce").fillna(0).astype("int64")
    action = enterprises["action"].astype(str)
    org = enterprises["org_type"].astype(str) if "org_type" in enterprises else pd.Series("", index=enterprises.index)
    level = org_levels(enterprises)
    own_branch = (action.eq("build_branch") | (action.eq("keep") & org.eq("own") & ~level.isin(
        ["general_branch", "committee"])))
    o2 = own_branch & (members >= config.branch_committee_members)
    text = ("正式党员" + members.astype(str) + f"名（{config.branch_committee_members}名以上），"
            "应选举产生支部委员会（O2）")
    return text.where(o2, "").astype(str)


def _with_precision(branches: pd.DataFrame, enterprises: pd.DataFrame) -> pd.DataFrame:
    """``approx_points``: units of each branch located coarser than ``exact`` (its 3 km check,
    O7, rests on approximate points); ``lever``: blank for the base rules."""
    out = branches.copy()
    precision = (enterprises["precision"].astype(str) if "precision" in enterprises
                 else pd.Series("exact", index=enterprises.index))
    coarse = set(precision.index[precision.ne("exact")].astype(str))
    out["approx_points"] = np.asarray([sum(u in coarse for u in str(v).split(";") if u)
                                       for v in out.get("uscc", pd.Series(dtype=str))], dtype=np.int64)
    lever = out["lever"] if "lever" in out else pd.Series("", index=out.index)
    out["lever"] = lever.fillna("").astype(str)
    return out[[c for c in BRANCH_COLUMNS if c in out] + [c for c in out.columns if c not in BRANCH_COLUMNS]]


def _run_unit(job: tuple[Any, ...]) -> UnitPartition:
    """One unit's partition (module level, so process pools and Dask can ship it)."""
    sub, geometry, name, unit_type, config, joint = job
    # the jobs of _unit_jobs hold prepared rows in uscc order
    return _partition_prepared(sub, geometry, unit=name, unit_type=unit_type, config=config, joint=joint,
                               epsg=None)


def partition(ledger: Ledger, jurisdictions: Jurisdictions | None = None, config: Config | None = None,
              *, units: gpd.GeoDataFrame | None = None, executor: Executor | None = None) -> Plan:
    """Partition a located, classified ledger into grids, joint branches and actions.

    A pure function (no I/O): inside each jurisdiction unit it clusters the
    grid-eligible enterprises (E1) into compact grids of ``grid_min_size`` to
    ``grid_max_size`` enterprises with at least ``grid_min_members`` formal members
    where the unit allows (O9, O10); packs enterprises with fewer than 3 formal members
    into joint branches of at most 5 units, at least 3 formal members and at most 3 km
    apart (O5–O7), keeping existing joint organisations that obey the rules and
    splitting the others (G5); ranks grid leaders (网格长); draws grid polygons that
    tile each unit; and gives every enterprise exactly one action (see the module
    docstring for the decisions).

    Parameters
    ----------
    ledger
        Enterprises with ledger, location and class columns (after geocode and classify).
    jurisdictions
        Township and park boundaries; ``jurisdictions.units()`` gives the units.
    config
        Rules and parameters; defaults per RULES.md.
    units
        The units directly (``unit, unit_type, township, geometry``, EPSG:4326), instead
        of ``jurisdictions``.
    executor
        Runs the units in parallel through ``executor.map`` — a
        :class:`concurrent.futures.ProcessPoolExecutor` on one machine, or a Dask
        cluster's ``client.get_executor()`` for a province. Grids and branches never
        cross a unit, so the result is identical to the serial run (the default).

    Returns
    -------
    Plan
        ``enterprises`` with ``grid_id, branch_id, action`` (and ``gaps`` = "", filled
        later), ``grids``, ``branches``, ``leaders``, ``units``, the ledger's rejects,
        conflicts and warnings, and ``config``.

    Raises
    ------
    LedgerError
        When the enterprise table lacks a needed column or has an unknown org_type.
    BoundaryError
        When no units are given.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd, shapely
    >>> from gridcover import Ledger
    >>> from gridcover.partition import partition
    >>> units = gpd.GeoDataFrame({"unit": ["东城街道"], "unit_type": ["township"], "township": ["东城街道"]},
    ...                          geometry=[shapely.box(118.0, 24.0, 118.1, 24.1)], crs="EPSG:4326")
    >>> ent = pd.DataFrame({"lon": [118.01 + 0.002 * i for i in range(12)], "lat": 24.05, "unit": "东城街道",
    ...                     "eligible": True, "staff": 20, "members": [2, 1] + [0] * 10, "org_type": "none"},
    ...                    index=pd.Index([f"U{i:02d}" for i in range(12)], name="uscc"))
    >>> plan = partition(Ledger(ent), units=units)
    >>> plan.grids[["grid_id", "n_enterprises"]].values.tolist()
    [['东城街道-G01', 12]]
    >>> int((plan.enterprises["action"] == "join_branch").sum())
    5
    """
    config = config or Config()
    units_gdf = _units_frame(jurisdictions, units)
    src, jobs = _unit_jobs(ledger, units_gdf, config)
    return _assemble(ledger, src, units_gdf, config, _map_units(_run_unit, jobs, executor))


def _unit_jobs(ledger: Ledger, units_gdf: gpd.GeoDataFrame, config: Config
               ) -> tuple[pd.DataFrame, list[tuple[Any, ...]]]:
    """The ledger in uscc order and one job ``(enterprises, geometry, unit, unit_type, config,
    joint)`` per unit (units in the boundary file's order, then unknown units, then "")."""
    # row order never matters: every step works in uscc order (ties included)
    src = ledger.enterprises.sort_index(kind="stable")
    df = _prepare(src)
    js = _joint_status(df, config)
    # unlocated units of a kept joint organisation go with their organisation's unit
    plan_unit = df["unit"].where(~((js["joint_status"] == "kept") & (df["unit"] == "")), js["joint_unit"])
    geom_of = dict(zip(units_gdf["unit"], units_gdf.geometry, strict=True))
    type_of = dict(zip(units_gdf["unit"], units_gdf["unit_type"], strict=True))
    # the rows of each unit, in uscc order (one stable sort, not one scan per unit)
    codes, names = pd.factorize(plan_unit.to_numpy(dtype=object))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    rows_of = {str(u): order[bounds[i]:bounds[i + 1]] for i, u in enumerate(names)}
    known = [u for u in units_gdf["unit"] if u in rows_of]
    unknown = sorted(set(rows_of) - set(units_gdf["unit"]) - {""})
    if unknown:
        logger.warning("enterprises lie in unit(s) without a boundary polygon: %s", ", ".join(unknown))
    jobs = []
    if len(df) > config.grid_reshape_max_enterprises:  # too large for the exact re-drawing of grids in pieces
        config = config.replace(grid_reshape_max_grids=0)
    for name in [*known, *unknown, ""]:
        pos = rows_of.get(name)
        if pos is None or not len(pos):
            continue
        sub = df.iloc[pos]
        unit_type = type_of.get(name, "") or (str(sub["unit_type"].iloc[0]) if name else "")
        jobs.append((sub, geom_of.get(name), name, unit_type, config, js.iloc[pos]))
    return src, jobs


def _map_units(fn: Any, jobs: list[Any], executor: Executor | None) -> list[Any]:
    """``fn`` over the jobs, largest unit first (keeps a pool busy); results in job order."""
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
    done = list((executor.map if executor is not None else map)(fn, [jobs[i] for i in order]))
    return [r for _, r in sorted(zip(order, done, strict=True), key=lambda t: t[0])]


def _assemble(ledger: Ledger, src: pd.DataFrame, units_gdf: gpd.GeoDataFrame, config: Config,
              results: list[UnitPartition]) -> Plan:
    """The area's :class:`Plan` from the units' partitions (enterprises in uscc order)."""
    assigned = pd.concat([r.enterprises for r in results]) if results else pd.DataFrame(
        columns=["grid_id", "branch_id", "action"], index=src.index[:0])
    enterprises = src.copy()
    for c in PLAN_COLUMNS:
        if c in enterprises.columns:
            enterprises = enterprises.drop(columns=c)
    assigned = assigned.reindex(enterprises.index)
    enterprises["grid_id"] = assigned["grid_id"].fillna("").astype(str)
    enterprises["branch_id"] = assigned["branch_id"].fillna("").astype(str)
    enterprises["action"] = assigned["action"].astype(str)
    enterprises["gaps"] = pd.Series("", index=enterprises.index, dtype="str")
    bad = sorted(set(enterprises["action"]) - set(ACTIONS))
    if bad:  # pragma: no cover - guarded by construction
        msg = f"internal error: unknown action(s) {bad}"
        raise RuntimeError(msg)
    enterprises["advice"] = _advice(enterprises, config)
    grids = _concat([r.grids for r in results], _empty_grids())
    grids = gpd.GeoDataFrame(grids, geometry="geometry", crs="EPSG:4326")
    return Plan(
        enterprises=enterprises,
        grids=grids,
        branches=_with_precision(_concat([r.branches for r in results], _empty_branches()), enterprises),
        leaders=_concat([r.leaders for r in results], _empty_leaders()),
        units=units_gdf,
        rejects=ledger.rejects,
        conflicts=ledger.conflicts,
        warnings=ledger.warnings,
        config=config,
    )
