"""Re-plan from a previous plan (季度更新): keep what still obeys the rules, re-plan what broke.

The ledger is surveyed again every quarter (每季度调查统计); grids and joint branches of
the last plan have become organisations with leaders and instructors, so a new plan
must not start from scratch. :func:`replan` takes the previous plan and, per unit:

1. **Joint branches.** Every previous joint branch whose units are still candidates
   (fewer than 3 formal members, no own branch, grid-eligible, in the unit) and still obey
   O6/O7 is kept with its id (``changed`` when some units left); one that breaks a rule
   is dissolved and its units re-planned. Existing joint organisations are checked as in
   :func:`~gridcover.partition.partition` (O6/O7/G5) and keep the id of the previous
   branch they match.
2. **Grids.** Every enterprise stays in its previous grid unless it moved out of the
   grid's polygon; a new enterprise joins the grid whose previous polygon holds it when
   that grid has room (O10). A grid below ``grid_min_size`` first takes the nearest
   enterprises its neighbours can spare, and is dissolved when that is not enough; a
   grid that lost its member floor (O9) takes a member enterprise from a neighbour with
   surplus where one can give. Enterprises left over join the nearest grid with room
   within ``joint_max_distance_m`` of its centre; the rest are clustered into new grids
   (or, when too few for a grid, join the nearest grid with room). Kept branches move
   as one item, so a branch stays inside one grid.
3. **New branches.** Candidates in no kept branch first join a kept branch of their grid
   with room, then are packed into new branches inside their grid (O5–O7).
4. **Ids.** Kept grids and branches keep their ids; new ones get the next free number
   (``<unit>-G<n>``, ``<grid_id>-B<n>``), never a number the previous plan used.

``lock`` names grids and branches kept exactly (their units, their id, a locked grid's
polygon and branches): a locked object that now breaks a rule is reported in
``changes.csv`` and logged as a warning, not repaired. ``grids`` (planner-edited
polygons, e.g. from QGIS) become the grids of their unit: enterprises are assigned by
polygon, every grid is checked into ``plan.grid_checks`` and joint branches are
re-planned inside the edited grids.

``plan.changes`` lists every previous and new grid and branch (kept/changed/new/
dissolved) and every enterprise that is new, gone (``dissolved``), in another grid or
branch (``moved``) or has another action (``changed``), each with its reason.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from ._boundaries import grid_polygons
from ._branches import branch_max_distance, fill_branches, pack_branches
from .config import Config
from .errors import GridcoverError
from .jurisdictions import Jurisdictions
from .ledger import Ledger
from .partition import (
    _PLACED_ACTION,
    UnitPartition,
    _assemble,
    _base_actions,
    _branch_table,
    _cluster,
    _geom_to,
    _grid_geometries,
    _grid_tables,
    _map_units,
    _o9_attached,
    _prepare,
    _Rules,
    _to_metres,
    _transformer,
    _unit_jobs,
    _units_frame,
    _utm_epsg,
    joint_status,
)
from .plan import Plan

__all__ = ["CHANGE_COLUMNS", "GRID_CHECK_COLUMNS", "load_previous", "read_edited_grids", "read_locks",
           "replan"]

logger = logging.getLogger(__name__)

CHANGE_COLUMNS = ("object", "id", "change", "reason")
GRID_CHECK_COLUMNS = ("grid_id", "check", "ok", "detail")
#: An enterprise whose point moved less than this (m) has not moved.
MOVE_TOLERANCE_M = 1.0
#: A point this close (degrees, about 1 cm) to a polygon lies on it (floating-point edges).
ON_EDGE_DEG = 1e-7
#: Branch changes accepted per enterprise a grid's re-packing newly covers.
REPACK_MOVES_PER_GAIN = 2
#: Areas below this share of the unit are numeric slivers, not overlaps or holes.
AREA_TOLERANCE = 1e-6

PlanSource = Plan | str | Path


class ReplanError(GridcoverError, ValueError):
    """A previous plan, lock file or edited-grids file that cannot be used."""


# --- reading the previous plan, locks and edited grids --------------------------------------------
def _plain(value: Any) -> str:
    """A cell as written, without the CSV-injection guard (``'`` before ``=+-@``)."""
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@\t\r":
        return text[1:]
    return text


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def load_previous(previous: PlanSource) -> Plan:
    """The previous plan: a :class:`Plan`, or a folder written by ``gridcover plan``.

    From a folder the contract files are read: ``enterprises.csv`` (uscc, unit, lon, lat,
    grid_id, branch_id, action), ``grids.geojson`` and ``branches.csv``.

    Raises
    ------
    ReplanError
        When the folder is not a plan folder or lacks a needed column.
    """
    if isinstance(previous, Plan):
        return previous
    folder = Path(previous)
    need = ("enterprises.csv", "grids.geojson", "branches.csv")
    missing = [n for n in need if not (folder / n).is_file()]
    if missing:
        msg = f"{folder} is not a gridcover plan folder (missing {', '.join(missing)})"
        raise ReplanError(msg)
    ent = _csv(folder / "enterprises.csv")
    for c in ("uscc", "grid_id", "branch_id"):
        if c not in ent:
            msg = f"{folder / 'enterprises.csv'} has no {c} column"
            raise ReplanError(msg)
    for c in ent.columns:
        ent[c] = ent[c].map(_plain)
    for c in ("lon", "lat"):
        ent[c] = pd.to_numeric(ent[c], errors="coerce") if c in ent else np.nan
    ent = ent.set_index("uscc")
    grids = gpd.read_file(folder / "grids.geojson")
    if grids.crs is None:
        grids = grids.set_crs("EPSG:4326")
    for c in ("grid_id", "unit"):
        grids[c] = grids[c].map(_plain) if c in grids else ""
    branches = _csv(folder / "branches.csv")
    for c in branches.columns:
        branches[c] = branches[c].map(_plain)
    return Plan(enterprises=ent, grids=grids.to_crs("EPSG:4326"), branches=branches)


def read_locks(path: str | Path) -> tuple[frozenset[str], frozenset[str]]:
    """Grid and branch ids of a lock file: a CSV with a ``grid_id`` or ``branch_id`` column.

    Returns
    -------
    (grid_ids, branch_ids)

    Raises
    ------
    ReplanError
        When the file has neither column.
    """
    p = Path(path)
    try:
        df = _csv(p)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        msg = f"锁定文件无法读取 lock file {p} cannot be read: {exc}"
        raise ReplanError(msg) from None
    cols = {c.strip().lower(): c for c in df.columns}
    if "grid_id" not in cols and "branch_id" not in cols:
        msg = f"锁定文件需要 grid_id 或 branch_id 列 lock file {p} needs a grid_id or branch_id column"
        raise ReplanError(msg)
    grids = {_plain(v).strip() for v in df[cols["grid_id"]]} if "grid_id" in cols else set()
    branches = {_plain(v).strip() for v in df[cols["branch_id"]]} if "branch_id" in cols else set()
    return frozenset(grids - {""}), frozenset(branches - {""})


def read_edited_grids(source: str | Path | gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Planner-edited grid polygons (``grid_id`` and polygons, e.g. ``grids.geojson`` edited
    in QGIS), in EPSG:4326. A blank ``grid_id`` is a new grid.

    Raises
    ------
    ReplanError
        When there is no ``grid_id`` column, a geometry is not a polygon, or an id repeats.
    """
    gdf = source if isinstance(source, gpd.GeoDataFrame) else gpd.read_file(source)
    if "grid_id" not in gdf:
        msg = "编辑的网格需要 grid_id 列 the edited grids need a grid_id column"
        raise ReplanError(msg)
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    gdf = gdf.to_crs("EPSG:4326")
    out = gpd.GeoDataFrame({"grid_id": gdf["grid_id"].map(_plain).str.strip()}, geometry=gdf.geometry.values,
                           crs="EPSG:4326")
    for i, geom in enumerate(out.geometry):
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            msg = f"编辑的网格第 {i + 1} 个要素不是面 edited grid feature {i + 1} is not a polygon"
            raise ReplanError(msg)
    ids = out["grid_id"][out["grid_id"] != ""]
    if ids.duplicated().any():
        msg = f"编辑的网格编号重复 edited grid id {ids[ids.duplicated()].iloc[0]!r} appears twice"
        raise ReplanError(msg)
    out["geometry"] = [g if g.is_valid else shapely.make_valid(g) for g in out.geometry]
    return out


# --- what one unit brings from the previous plan ------------------------------------------------------
@dataclass(frozen=True)
class _Prior:
    """The previous plan as one unit's re-plan needs it."""

    grid_of: dict[str, str] = field(default_factory=dict)  # uscc → previous grid id
    grid_geom: dict[str, BaseGeometry] = field(default_factory=dict)  # this unit's previous grids
    branches: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)  # id → grid, status, units
    lonlat: dict[str, tuple[float, float]] = field(default_factory=dict)
    locked_grids: frozenset[str] = frozenset()
    locked_branches: frozenset[str] = frozenset()
    used: frozenset[str] = frozenset()  # every id of the previous plan
    edited: tuple[tuple[str, BaseGeometry], ...] | None = None  # planner-edited grids of the unit


@dataclass(frozen=True)
class _UnitResult:
    part: UnitPartition
    notes: dict[tuple[str, str], str]  # (object, id) → reason


def _grid_number(gid: str) -> int:
    m = re.search(r"-G(\d+)$", gid)
    return int(m.group(1)) if m else 0


# --- one unit ------------------------------------------------------------------------------------------
class _Grids:
    """Grid labels over the unit's griddable enterprises, with items (kept branches) whole."""

    def __init__(self, xy: NDArray[np.float64], members: NDArray[np.int64], item: NDArray[np.int64],
                 labels: NDArray[np.int64], uscc: NDArray[np.object_]) -> None:
        self.xy, self.mem, self.item, self.lab, self.uscc = xy, members, item, labels, uscc
        self.rows_of_item: dict[int, list[int]] = {}
        for i, t in enumerate(item.tolist()):
            self.rows_of_item.setdefault(t, []).append(i)

    def size(self, g: int) -> int:
        return int(np.sum(self.lab == g))

    def gmem(self, g: int) -> int:
        return int(self.mem[self.lab == g].sum())

    def centre(self, g: int) -> NDArray[np.float64]:
        return np.asarray(self.xy[self.lab == g].mean(axis=0), dtype=float)


def replan_unit(enterprises: pd.DataFrame, geometry: BaseGeometry | None, *, unit: str, unit_type: str = "",
                config: Config | None = None, joint: pd.DataFrame | None = None,
                prior: _Prior | None = None) -> _UnitResult:
    """One unit's re-plan (see the module docstring); ``prior`` is the previous plan's part."""
    config = config or Config()
    prior = prior or _Prior()
    df = _prepare(enterprises).sort_index(kind="stable")
    n = len(df)
    js = joint_status(df, config) if joint is None else joint.reindex(df.index).fillna("")
    jstatus = js["joint_status"].to_numpy(dtype=object)
    jkey = js["joint_key"].to_numpy(dtype=object)
    uscc = df.index.astype(str).to_numpy(dtype=object)
    pos = {u: i for i, u in enumerate(uscc.tolist())}
    lon = df["lon"].to_numpy(dtype=float)
    lat = df["lat"].to_numpy(dtype=float)
    located = np.isfinite(lon) & np.isfinite(lat)
    griddable = df["eligible"].to_numpy(dtype=bool) & located & (unit != "")
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
    industry = df["industry"].to_numpy(dtype=object)
    action, origin = _base_actions(df, jstatus, griddable, config)
    notes: dict[tuple[str, str], str] = {}
    kw: dict[str, Any] = {"max_units": config.joint_max_units, "min_members": config.joint_min_members,
          "max_distance": config.joint_max_distance_m}

    # --- 1. branches: existing joint organisations, then the previous plan's branches -------------
    branch = np.full(n, -1, dtype=np.int64)
    status: list[str] = []
    preset: dict[int, str] = {}
    locked_b: set[int] = set()
    short: list[tuple[str, str, list[int], list[str], list[str]]] = []
    # locked branches first: their surviving grid-eligible units, whatever else changed
    for bid in sorted(prior.branches):
        gid, st, units_prev = prior.branches[bid]
        if not (bid in prior.locked_branches or gid in prior.locked_grids):
            continue
        ok = [pos[u] for u in units_prev if u in pos and griddable[pos[u]] and branch[pos[u]] < 0]
        problems = _branch_problems(ok, xy, members, config)
        gone = [u for u in units_prev if u not in set(uscc[ok].tolist())]
        if not ok:
            notes[("branch", bid)] = "locked, but none of its units is left here"
            continue
        branch[ok] = len(status)
        preset[len(status)] = bid
        status.append(st if st in ("new", "split", "kept") else "new")
        locked_b.add(len(status) - 1)
        if problems or gone:
            why = "; ".join([*problems, *([f"left: {';'.join(gone)}"] if gone else [])])
            notes[("branch", bid)] = f"locked, not repaired: {why}"
            logger.warning("locked branch %s breaks a rule: %s", bid, why)
        else:
            notes[("branch", bid)] = "locked"
    # existing joint organisations that obey O6/O7 (their units not claimed by a lock)
    kept_rows = np.flatnonzero((jstatus == "kept") & (branch < 0))
    for key in sorted(set(jkey[kept_rows].tolist())):
        rows = kept_rows[jkey[kept_rows] == key]
        branch[rows] = len(status)
        status.append("kept")
        units = set(uscc[rows].tolist())
        match = [(len(units & set(u)), bid) for bid, (_, _, u) in prior.branches.items() if units & set(u)]
        if match:
            best = sorted(match, key=lambda t: (-t[0], t[1]))[0][1]
            if best not in preset.values():
                preset[len(status) - 1] = best
    # an attached enterprise (挂靠建) a previous plan put in a branch (O9) may stay in it
    org = df["org_type"].to_numpy(dtype=object)
    attached = (org == "attached") & (action == "keep") & griddable & (members < config.joint_min_members)
    for bid in sorted(prior.branches):
        gid, st, units_prev = prior.branches[bid]
        if bid in preset.values() or bid in prior.locked_branches or gid in prior.locked_grids:
            continue
        rows = [pos[u] for u in units_prev if u in pos]
        ok = [r for r in rows if branch[r] < 0 and (origin[r] != "" or attached[r])]
        problems = _branch_problems(ok, xy, members, config)
        gone = [u for u in units_prev if u not in set(uscc[ok].tolist())]
        if problems:
            short.append((bid, st, ok, gone, problems))
            continue
        branch[ok] = len(status)
        origin[ok] = np.where(origin[ok] == "", "attached", origin[ok])
        preset[len(status)] = bid
        status.append(st if st in ("new", "split") else "new")
        if gone:
            notes[("branch", bid)] = f"units left: {';'.join(gone)}"
    # a branch that fell below the member floor (O6) takes one member-holding candidate of
    # its grid (a free one, or one a branch with surplus can spare) before it is dissolved
    for bid, st, ok, gone, problems in short:
        gid = prior.branches[bid][0]
        taken_before = [r for r in ok if branch[r] >= 0]  # taken by an earlier top-up
        if taken_before:
            ok = [r for r in ok if branch[r] < 0]
            gone = [*gone, *uscc[taken_before].tolist()]
            problems = _branch_problems(ok, xy, members, config)
        taken = _top_up(ok, gid, branch, status, locked_b, origin, griddable, members, xy, uscc, prior, config) \
            if len(ok) >= 2 and all(p.startswith("O6: ") and "formal members" in p for p in problems) else None
        if taken is None:
            why = "; ".join(problems + ([f"left: {';'.join(gone)}"] if gone else []))
            notes[("branch", bid)] = f"dissolved: {why}"
            continue
        rows = [*ok, taken]
        branch[rows] = len(status)
        preset[len(status)] = bid
        status.append(st if st in ("new", "split") else "new")
        notes[("enterprise", str(uscc[taken]))] = f"joined branch {bid} so it keeps {config.joint_min_members} formal members (O6)"
        notes[("branch", bid)] = "; ".join([*([f"left: {';'.join(gone)}"] if gone else []),
                                            f"took {uscc[taken]} to keep {config.joint_min_members} formal members (O6)"])

    # --- 2. grids ----------------------------------------------------------------------------------
    gidx = np.flatnonzero(griddable)
    edited = prior.edited
    if edited is not None:
        grid_ids_fixed = [g for g, _ in edited]
        lab, _ = _assign_by_polygon(lon[gidx], lat[gidx], edited, uscc[gidx], prior.grid_of)
        grid_ids = list(grid_ids_fixed)
        # a kept branch whose units the edited polygons put in several grids is re-planned
        for b in range(len(status)):
            rows_b = np.flatnonzero(branch[gidx] == b)
            if len(set(lab[rows_b].tolist())) > 1 and status[b] != "kept" and b not in locked_b:
                bid = preset.pop(b, "")
                if bid:
                    notes[("branch", bid)] = "dissolved: its units now lie in several edited grids"
                branch[gidx[rows_b]] = -1
        final = lab
    else:
        final, grid_ids = _replan_grids(gidx, uscc, xy, lon, lat, members, branch, config, prior, unit, notes)
    grid = np.full(n, -1, dtype=np.int64)
    grid[gidx] = final
    # compact labels: only grids holding enterprises (edited grids with none keep their row)
    k = len(grid_ids)

    # --- 3. free candidates: kept branches of their grid with room, then new branches ---------------
    cand_free = np.flatnonzero((origin != "") & (branch < 0) & griddable)
    for g in sorted(set(grid[cand_free].tolist())):
        in_g = np.flatnonzero((grid == g) & (((origin != "") & (branch < 0)) | (branch >= 0)))
        free_g = in_g[branch[in_g] < 0]
        open_b = sorted({int(b) for b in branch[in_g] if b >= 0 and status[b] != "kept" and b not in locked_b})
        if open_b and len(free_g):
            sub = in_g[np.isin(branch[in_g], open_b) | (branch[in_g] < 0)]
            before = branch[sub].copy()
            lab_b = fill_branches(xy[sub], members[sub], before, industry[sub], **kw)
            # the fill may pass a unit on (an ejection chain): keep it only when every branch
            # still obeys O6/O7 and no unit of a kept branch left it
            if np.any((before >= 0) & (lab_b != before)) or any(
                    _branch_problems(np.flatnonzero(lab_b == b).tolist(), xy[sub], members[sub], config)
                    for b in set(lab_b[lab_b >= 0].tolist())):
                lab_b = before
            joined = sub[(before < 0) & (lab_b >= 0)]
            branch[sub] = lab_b
            for b in sorted(set(branch[joined].tolist())):
                if b in preset:
                    new_units = ";".join(uscc[joined[branch[joined] == b]].tolist())
                    key = ("branch", preset[b])
                    notes[key] = "; ".join(filter(None, [notes.get(key, ""), f"joined: {new_units}"]))
            free_g = free_g[branch[free_g] < 0]
        if len(free_g) >= 2:
            lab_n = pack_branches(xy[free_g], members[free_g], industry[free_g], **kw)
            for b in range(int(lab_n.max()) + 1 if len(lab_n) else 0):
                branch[free_g[lab_n == b]] = len(status)
                status.append("new")
    _repack_for_cover(grid, branch, status, preset, locked_b, origin, griddable, xy, members, industry, kw,
                      notes, uscc)
    for b in range(len(status)):
        if status[b] == "new" and b not in preset and np.any(origin[branch == b] == "split"):
            status[b] = "split"

    if grid_ids:  # O9: a grid with members only in attached enterprises still forms a branch
        _o9_attached(df, grid, branch, status, origin, action, xy, members, industry,
                     _Rules(config.joint_max_units, config.joint_min_members, config.joint_max_distance_m),
                     list(grid_ids))

    # --- actions -------------------------------------------------------------------------------------
    placed = (origin != "") & (branch >= 0)
    action[placed] = [_PLACED_ACTION[o] for o in origin[placed]]
    locked_in = (branch >= 0) & (origin == "") & np.isin(branch, list(locked_b))
    action[locked_in] = "keep"

    # --- tables --------------------------------------------------------------------------------------
    branch_ids, branches = _branch_table(branch, status, grid, grid_ids, uscc, members, xy, unit,
                                         preset=preset, used=prior.used)
    present = sorted(set(grid[grid >= 0].tolist()))
    if edited is None and len(present) != k:  # pragma: no cover - guarded by construction
        msg = "internal error: a re-planned grid has no enterprise"
        raise RuntimeError(msg)
    remap = np.full(max(k, 1), -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    glab = np.where(grid >= 0, remap[np.maximum(grid, 0)], -1)
    ids_present = [grid_ids[g] for g in present]
    if edited is not None:
        shape = dict(edited)
        geoms = [shape[g] for g in ids_present]
    else:
        geoms = _replan_geometries(xy, glab, ids_present, geometry, epsg, unit, prior)
    grids, leaders = _grid_tables(df, glab, len(present), ids_present, xy, geoms, unit, unit_type, config)
    if len(branches):
        branches["grid_id"] = branches["grid_id"].astype(str)
    out = pd.DataFrame({
        "grid_id": np.where(glab >= 0, np.asarray([*ids_present, ""], dtype=object)[glab], ""),
        "branch_id": np.where(branch >= 0, np.asarray([*branch_ids, ""], dtype=object)[branch], ""),
        "action": action,
    }, index=df.index)
    for c in out.columns:
        out[c] = out[c].astype(str)
    return _UnitResult(UnitPartition(enterprises=out, grids=grids, branches=branches, leaders=leaders), notes)


def _repack_for_cover(grid: NDArray[np.int64], branch: NDArray[np.int64], status: list[str],
                      preset: dict[int, str], locked_b: set[int], origin: NDArray[np.object_],
                      griddable: NDArray[np.bool_], xy: NDArray[np.float64], members: NDArray[np.int64],
                      industry: NDArray[np.object_], kw: dict[str, Any], notes: dict[tuple[str, str], str],
                      uscc: NDArray[np.object_]) -> None:
    """A grid whose candidates are left out re-packs them all when that covers more
    (O5–O7) for at most :data:`REPACK_MOVES_PER_GAIN` branch changes per enterprise gained.
    A branch found again with the same units keeps its id."""
    left = np.flatnonzero((origin != "") & (branch < 0) & griddable)
    for g in sorted(set(grid[left].tolist())):
        if g < 0:
            continue
        movable = np.flatnonzero((grid == g) & (origin != "") & griddable
                                 & ~np.isin(branch, [*locked_b, *[b for b, s in enumerate(status) if s == "kept"]]))
        if len(movable) < 2:
            continue
        cur = int(np.sum(branch[movable] >= 0))
        lab = pack_branches(xy[movable], members[movable], industry[movable], **kw)
        gain = int(np.sum(lab >= 0)) - cur
        if gain <= 0:
            continue
        old_sets = {int(b): frozenset(uscc[movable][branch[movable] == b].tolist())
                    for b in set(branch[movable].tolist()) if b >= 0}
        new_sets = [frozenset(uscc[movable][lab == b].tolist()) for b in range(int(lab.max()) + 1)]
        same = {s for s in new_sets if s in old_sets.values()}
        moved = sum(len(s) for b, s in old_sets.items() if s not in same)
        if moved > REPACK_MOVES_PER_GAIN * gain:
            continue
        by_set = {s: b for b, s in old_sets.items()}
        for b, s in old_sets.items():
            if s not in same and b in preset:
                notes[("branch", preset[b])] = f"dissolved: re-packed with {gain} more enterprise(s) covered"
                del preset[b]
        branch[movable] = -1
        for j, s in enumerate(new_sets):
            rows = movable[lab == j]
            if s in by_set:
                branch[rows] = by_set[s]
            else:
                branch[rows] = len(status)
                status.append("new")


def _top_up(rows: list[int], gid: str, branch: NDArray[np.int64], status: list[str], locked_b: set[int],
            origin: NDArray[np.object_],
            griddable: NDArray[np.bool_], members: NDArray[np.int64], xy: NDArray[np.float64],
            uscc: NDArray[np.object_], prior: _Prior, config: Config) -> int | None:
    """The candidate that brings a branch (``rows``) back to the member floor: in the same
    previous grid (or new), within the O7 distance of every unit, least surplus first, then
    nearest; a free candidate before one taken from a branch that keeps its own floor. It is
    taken out of its branch (in place)."""
    need = config.joint_min_members - int(members[rows].sum())
    if len(rows) + 1 > config.joint_max_units or need <= 0:
        return None
    pool = np.flatnonzero((origin != "") & griddable & (members >= need))
    best: tuple[tuple[int, int, float, str], int] | None = None
    for i in pool.tolist():
        if i in rows or prior.grid_of.get(str(uscc[i]), gid) != gid:
            continue
        b = int(branch[i])
        if b >= 0:
            others = np.flatnonzero(branch == b)
            if status[b] == "kept" or b in locked_b or len(others) - 1 < 2 \
                    or int(members[others].sum()) - int(members[i]) < config.joint_min_members:
                continue
        d = float(np.max(np.hypot(*(xy[rows] - xy[i]).T)))
        if d > config.joint_max_distance_m:
            continue
        key = (int(b >= 0), int(members[i]) - need, d, str(uscc[i]))
        if best is None or key < best[0]:
            best = (key, i)
    if best is None:
        return None
    branch[best[1]] = -1
    return best[1]


def _branch_problems(rows: list[int], xy: NDArray[np.float64], members: NDArray[np.int64],
                     config: Config) -> list[str]:
    """O6/O7 breaks of a branch made of ``rows``."""
    problems = []
    if len(rows) < 2:
        problems.append(f"O6: {len(rows)} unit(s) left")
    if len(rows) > config.joint_max_units:
        problems.append(f"O6: {len(rows)} units > {config.joint_max_units}")
    m = int(members[rows].sum()) if rows else 0
    if m < config.joint_min_members:
        problems.append(f"O6: {m} formal members < {config.joint_min_members}")
    if len(rows) > 1:
        d = branch_max_distance(xy[rows])
        if d > config.joint_max_distance_m:
            problems.append(f"O7: units {d:.0f} m apart > {config.joint_max_distance_m:.0f} m")
    return problems


def _assign_by_polygon(lon: NDArray[np.float64], lat: NDArray[np.float64],
                       edited: tuple[tuple[str, BaseGeometry], ...], uscc: NDArray[np.object_],
                       grid_of: dict[str, str]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Edited grid per enterprise: the polygon holding it (overlaps: its previous grid, else the
    first id); outside every polygon (a hole): the nearest polygon. Also the "in a hole" mask."""
    polys = np.asarray([g for _, g in edited], dtype=object)
    ids = [i for i, _ in edited]
    pts = shapely.points(lon, lat)
    inside = np.zeros((len(pts), len(polys)), dtype=bool)
    for j, p in enumerate(polys):
        shapely.prepare(p)
        inside[:, j] = shapely.covers(p, pts)
    lab = np.full(len(pts), -1, dtype=np.int64)
    col = {g: j for j, g in enumerate(ids)}
    for i in range(len(pts)):
        prev = grid_of.get(str(uscc[i]), "")
        if prev in col and shapely.dwithin(polys[col[prev]], pts[i], ON_EDGE_DEG):
            lab[i] = col[prev]  # on (or a rounding error from) its previous grid: stays there
            continue
        hits = np.flatnonzero(inside[i])
        if len(hits) == 1:
            lab[i] = int(hits[0])
        elif len(hits) > 1:
            same = [int(h) for h in hits if ids[int(h)] == prev]
            lab[i] = same[0] if same else int(min(hits, key=lambda h: (ids[int(h)], int(h))))
    hole = lab < 0
    if hole.any() and len(polys):
        d = np.stack([shapely.distance(polys[j], pts[hole]) for j in range(len(polys))], axis=1)
        lab[hole] = np.argmin(d, axis=1)
    return lab, hole


def _replan_grids(gidx: NDArray[np.int64], uscc: NDArray[np.object_], xy: NDArray[np.float64],
                  lon: NDArray[np.float64], lat: NDArray[np.float64], members: NDArray[np.int64],
                  branch: NDArray[np.int64], config: Config, prior: _Prior, unit: str,
                  notes: dict[tuple[str, str], str]) -> tuple[NDArray[np.int64], list[str]]:
    """Grid label per griddable enterprise and the grid ids (kept grids first)."""
    lo, hi, floor = config.grid_min_size, config.grid_max_size, config.grid_min_members
    pxy, pm = xy[gidx], members[gidx]
    pu = uscc[gidx]
    m = len(gidx)
    # items: a kept branch moves as one
    bkey = branch[gidx]
    item = np.where(bkey >= 0, bkey, -1 - np.arange(m))
    _, item = np.unique(item, return_inverse=True)
    prev_ids = sorted(prior.grid_geom)
    label_of = {g: i for i, g in enumerate(prev_ids)}
    lab = np.full(m, -1, dtype=np.int64)
    locked = {label_of[g] for g in prev_ids if g in prior.locked_grids}
    reason: dict[str, str] = {}  # uscc → why it left its grid
    geoms = [prior.grid_geom[g] for g in prev_ids]
    for g in geoms:
        shapely.prepare(g)
    pts = shapely.points(lon[gidx], lat[gidx])
    for i in range(m):
        prev = prior.grid_of.get(str(pu[i]), "")
        if prev not in label_of:
            continue
        g = label_of[prev]
        if g in locked:
            lab[i] = g
            continue
        old = prior.lonlat.get(str(pu[i]))
        if old is not None and np.all(np.isfinite(old)):
            moved = math.hypot((old[0] - lon[gidx][i]) * 111_320 * math.cos(math.radians(old[1])),
                               (old[1] - lat[gidx][i]) * 110_540) > MOVE_TOLERANCE_M
            if moved and not shapely.dwithin(geoms[g], pts[i], ON_EDGE_DEG):
                reason[str(pu[i])] = f"moved out of grid {prev}"
                continue
        lab[i] = g
    # a kept branch stays in one grid: the grid most of its units are in
    for rows in _items(item):
        if len(rows) > 1:
            gs = lab[rows][lab[rows] >= 0]
            if len(gs):
                lab[rows] = int(np.bincount(gs).argmax())
    G = _Grids(pxy, pm, item, lab, pu)

    def room(g: int, w: int) -> bool:
        return g not in locked and G.size(g) + w <= hi

    # new (or moved) enterprises join the previous grid whose polygon holds them, when it has room
    for rows in _items(item):
        if lab[rows[0]] >= 0:
            continue
        hits = [g for g in range(len(geoms)) if shapely.covers(geoms[g], pts[rows[0]])]
        for g in hits:
            if room(g, len(rows)):
                lab[rows] = g
                break
    dissolved: dict[int, str] = {}
    for g in range(len(prev_ids)):
        if g in locked:
            continue
        if G.size(g) == 0:
            dissolved[g] = "no enterprise left"
    # too small: take the nearest enterprises neighbours can spare, else dissolve
    for g in range(len(prev_ids)):
        if g in locked or g in dissolved:
            continue
        while 0 < G.size(g) < lo:
            if not _take_nearest(G, g, locked | set(dissolved), lo, hi, floor, reason, prev_ids):
                break
        if 0 < G.size(g) < lo:
            dissolved[g] = f"O10: {G.size(g)} enterprises < {lo}"
    for g, why in dissolved.items():
        for r in np.flatnonzero(lab == g).tolist():
            reason[str(pu[r])] = f"grid {prev_ids[g]} dissolved ({why})"
        lab[lab == g] = -1
        notes[("grid", prev_ids[g])] = f"dissolved: {why}"
    alive = [g for g in range(len(prev_ids)) if g not in dissolved and G.size(g) > 0]
    # member floor (O9): a grid that lost it takes a member enterprise a neighbour can spare
    for g in alive:
        if g in locked or G.gmem(g) >= floor:
            continue
        _take_member(G, g, [h for h in alive if h not in locked and h != g], lo, hi, floor, reason, prev_ids)
    # too large (config changed): hand out the farthest single enterprises
    for g in alive:
        if g in locked:
            continue
        while G.size(g) > hi:
            in_g = np.flatnonzero(lab == g)
            c = G.centre(g)
            far = [int(i) for i in in_g[np.argsort(-np.hypot(*(pxy[in_g] - c).T), kind="stable")]
                   if len(G.rows_of_item[int(item[i])]) == 1]
            if not far:
                break
            lab[far[0]] = -1
            reason[str(pu[far[0]])] = f"grid {prev_ids[g]} over {hi} enterprises"
    # left-over items: nearest grid with room within the O7 distance of its centre
    new_grids: list[list[int]] = []
    for _round in range(6):
        free = [rows for rows in _items(item) if lab[rows[0]] < 0]
        if not free:
            break
        alive = sorted(set(lab[lab >= 0].tolist()))
        centres = np.asarray([G.centre(g) for g in alive]) if alive else np.zeros((0, 2))
        left: list[list[int]] = []
        for rows in free:
            p = pxy[rows].mean(axis=0)
            d = np.hypot(*(centres - p).T) if len(alive) else np.zeros(0)
            order = np.argsort(d, kind="stable")
            done = False
            for t in order:
                g = alive[int(t)]
                if d[t] > config.joint_max_distance_m:
                    break
                if room(g, len(rows)):
                    lab[rows] = g
                    done = True
                    break
            if not done:
                left.append(rows)
        if not left:
            break
        rows_left = np.asarray(sorted(i for rows in left for i in rows), dtype=np.int64)
        if len(rows_left) >= lo or not alive:
            together = np.where(bkey[rows_left] >= 0, "B" + bkey[rows_left].astype(str), "").astype(object)
            sub, k_new = _cluster(pxy[rows_left], pm[rows_left], together, config)
            base = int(lab.max()) + 1 if (lab >= 0).any() else 0
            base = max(base, len(prev_ids))
            lab[rows_left] = sub + base
            new_grids.extend([rows_left[sub == j].tolist() for j in range(k_new)])
            break
        # too few for a grid of their own: the nearest grid with room, whatever the distance
        for rows in left:
            p = pxy[rows].mean(axis=0)
            cands = sorted(alive, key=lambda g: (float(np.hypot(*(G.centre(g) - p))), g))
            target = next((g for g in cands if room(g, len(rows))), None)
            if target is None:  # every grid is full: merge with the nearest grid and re-cluster
                victim = next((g for g in cands if g not in locked), None)
                if victim is None:
                    break
                for r in np.flatnonzero(lab == victim).tolist():
                    reason[str(pu[r])] = f"grid {prev_ids[victim] if victim < len(prev_ids) else victim} " \
                                         "re-planned with enterprises that fit no grid"
                if victim < len(prev_ids):
                    notes[("grid", prev_ids[victim])] = "dissolved: re-planned with enterprises that fit no grid"
                lab[lab == victim] = -1
                break
            lab[rows] = target
    # anything still unplaced (every grid locked or full): the nearest grid that is not
    # locked, whatever its size, else a grid of its own; O10 is then reported, not met
    rest = np.flatnonzero(lab < 0)
    if len(rest):
        alive = [g for g in sorted(set(lab[lab >= 0].tolist())) if g not in locked]
        if alive:
            centres = np.asarray([G.centre(g) for g in alive])
            for rows in _items(item):
                if lab[rows[0]] < 0:
                    p = pxy[rows].mean(axis=0)
                    lab[rows] = alive[int(np.argmin(np.hypot(*(centres - p).T)))]
        else:
            lab[rest] = max(int(lab.max()) + 1, len(prev_ids))
        logger.warning("unit %r: %d enterprise(s) fit no grid within the size bounds", unit, len(rest))
    for g in sorted(locked):  # a locked grid is kept as it is: its rule breaks are reported
        breaks = []
        if not lo <= G.size(g) <= hi:
            breaks.append(f"O10: {G.size(g)} enterprises outside {lo}–{hi}")
        if G.size(g) and G.gmem(g) < floor:
            breaks.append(f"O9: {G.gmem(g)} formal members < {floor}")
        if breaks:
            notes[("grid", prev_ids[g])] = f"locked, not repaired: {'; '.join(breaks)}"
            logger.warning("locked grid %s breaks a rule: %s", prev_ids[g], "; ".join(breaks))
    # ids: kept grids keep theirs; new grids the next free numbers in reading order
    present = sorted(set(lab[lab >= 0].tolist()))
    kept_labels = [g for g in present if g < len(prev_ids)]
    fresh = [g for g in present if g >= len(prev_ids)]
    fresh.sort(key=lambda g: (-float(G.centre(g)[1]), float(G.centre(g)[0]), g))
    top = max([_grid_number(i) for i in prior.used if i.startswith(f"{unit}-G")] + [0])
    width = max(2, len(str(top + len(fresh))))
    ids = [prev_ids[g] for g in kept_labels] + [f"{unit}-G{top + j + 1:0{width}d}" for j in range(len(fresh))]
    remap = {g: j for j, g in enumerate([*kept_labels, *fresh])}
    final = np.asarray([remap[int(g)] for g in lab], dtype=np.int64)
    for u, why in reason.items():
        notes[("enterprise", u)] = why
    for j, g in enumerate(fresh):
        notes[("grid", ids[len(kept_labels) + j])] = f"new grid of {G.size(g)} enterprises"
    return final, ids


def _items(item: NDArray[np.int64]) -> list[list[int]]:
    out: dict[int, list[int]] = {}
    for i, t in enumerate(item.tolist()):
        out.setdefault(t, []).append(i)
    return [out[t] for t in sorted(out, key=lambda t: out[t][0])]


def _take_nearest(G: _Grids, g: int, frozen: set[int], lo: int, hi: int, floor: int,
                  reason: dict[str, str], prev_ids: list[str]) -> bool:
    """Move the single enterprise nearest to grid ``g``'s centre from a neighbour that can spare it."""
    c = G.centre(g)
    rows = np.flatnonzero((G.lab >= 0) & (G.lab != g))
    for i in rows[np.argsort(np.hypot(*(G.xy[rows] - c).T), kind="stable")][:64].tolist():
        h = int(G.lab[i])
        if h in frozen or len(G.rows_of_item[int(G.item[i])]) > 1 or G.size(h) - 1 < lo:
            continue
        if G.gmem(h) >= floor and G.gmem(h) - int(G.mem[i]) < floor:
            continue
        G.lab[i] = g
        reason[str(G.uscc[i])] = f"moved from grid {prev_ids[h]} to fill grid {prev_ids[g]} (O10)"
        return True
    return False


def _take_member(G: _Grids, g: int, donors: list[int], lo: int, hi: int, floor: int,
                 reason: dict[str, str], prev_ids: list[str]) -> bool:
    """O9: the member enterprise nearest to grid ``g`` that a neighbour with surplus can give."""
    if G.size(g) + 1 > hi:
        return False
    c = G.centre(g)
    rows = np.flatnonzero(np.isin(G.lab, donors) & (G.mem > 0))
    if not len(rows):
        return False
    for i in rows[np.argsort(np.hypot(*(G.xy[rows] - c).T), kind="stable")][:64].tolist():
        h = int(G.lab[i])
        if len(G.rows_of_item[int(G.item[i])]) > 1 or G.size(h) - 1 < lo:
            continue
        if G.gmem(h) - int(G.mem[i]) < floor:
            continue
        G.lab[i] = g
        reason[str(G.uscc[i])] = f"moved from grid {prev_ids[h]} so grid {prev_ids[g]} keeps a branch (O9)"
        return True
    return False


def _replan_geometries(xy: NDArray[np.float64], glab: NDArray[np.int64], ids: list[str],
                       geometry: BaseGeometry | None, epsg: int, unit: str, prior: _Prior) -> list[BaseGeometry]:
    """Polygons tiling the unit: a locked grid keeps its previous polygon; the others are drawn
    (Voronoi, as a fresh plan) over the rest of the unit."""
    k = len(ids)
    fixed = {j for j, g in enumerate(ids) if g in prior.locked_grids and g in prior.grid_geom}
    if not fixed or geometry is None or geometry.is_empty:
        return _grid_geometries(xy, glab, k, geometry, epsg, unit)
    unit_geom = geometry if geometry.is_valid else shapely.make_valid(geometry)
    out: list[BaseGeometry] = [shapely.Polygon()] * k
    for j in fixed:
        out[j] = shapely.intersection(prior.grid_geom[ids[j]], unit_geom)
    rest_ids = [j for j in range(k) if j not in fixed]
    if rest_ids:
        rest = shapely.difference(unit_geom, shapely.union_all([out[j] for j in fixed]))
        if not rest.is_valid:
            rest = shapely.make_valid(rest)
        rest = shapely.union_all([p for p in shapely.get_parts(rest) if p.geom_type in ("Polygon", "MultiPolygon")]) \
            if rest.geom_type == "GeometryCollection" else rest
        rows = np.flatnonzero(np.isin(glab, rest_ids))
        sub = np.searchsorted(np.asarray(rest_ids), glab[rows])
        back = _transformer(epsg, True)
        polys = grid_polygons(xy[rows], sub, rest, n_grids=len(rest_ids),
                              unit_m=_geom_to(rest, epsg, inverse=False),
                              to_unit=lambda c: np.c_[back.transform(c[:, 0], c[:, 1])])
        for j, p in zip(rest_ids, polys, strict=True):
            out[j] = p
    return out


# --- the whole area ------------------------------------------------------------------------------------
def _run_replan_unit(job: tuple[Any, ...]) -> _UnitResult:
    """One unit's re-plan (module level, so process pools and Dask can ship it)."""
    sub, geometry, name, unit_type, config, joint, prior = job
    return replan_unit(sub, geometry, unit=name, unit_type=unit_type, config=config, joint=joint, prior=prior)


def _edited_by_unit(edited: gpd.GeoDataFrame, units_gdf: gpd.GeoDataFrame,
                    used: set[str]) -> tuple[dict[str, list[tuple[str, BaseGeometry]]], gpd.GeoDataFrame]:
    """Each edited grid's unit (the unit holding most of its area) and an id for blank ones."""
    unit_geoms = units_gdf.geometry.to_numpy()
    names = units_gdf["unit"].tolist()
    by_unit: dict[str, list[tuple[str, BaseGeometry]]] = {}
    rows = []
    counter: dict[str, int] = {}
    for gid, geom in zip(edited["grid_id"], edited.geometry, strict=True):
        area = np.asarray([shapely.intersection(geom, u).area for u in unit_geoms]) if len(names) else np.zeros(0)
        unit = names[int(np.argmax(area))] if len(area) and area.max() > 0 else ""
        if not gid:
            top = max([_grid_number(i) for i in used if i.startswith(f"{unit}-G")] + [counter.get(unit, 0)])
            counter[unit] = top + 1
            gid = f"{unit}-G{top + 1:02d}"
            used.add(gid)
        rows.append((gid, unit, geom))
        if unit:
            by_unit.setdefault(unit, []).append((gid, geom))
    table = gpd.GeoDataFrame({"grid_id": [r[0] for r in rows], "unit": [r[1] for r in rows]},
                             geometry=[r[2] for r in rows], crs="EPSG:4326")
    for unit in by_unit:
        by_unit[unit].sort(key=lambda t: t[0])
    return by_unit, table


def replan(ledger: Ledger, jurisdictions: Jurisdictions | None = None, config: Config | None = None, *,
           previous: PlanSource | None = None, lock: str | Path | Iterable[str] | None = None,
           grids: str | Path | gpd.GeoDataFrame | None = None, units: gpd.GeoDataFrame | None = None,
           executor: Executor | None = None, repack: Callable[[Plan, Plan, frozenset[str], frozenset[str]], Plan]
           | None = None) -> Plan:
    """Re-plan a located, classified ledger from a previous plan (quarterly update).

    Parameters
    ----------
    ledger
        This quarter's enterprises (after geocode and classify).
    jurisdictions, units
        As :func:`~gridcover.partition.partition`.
    config
        Rules and parameters; defaults per RULES.md.
    previous
        The previous plan (a :class:`Plan`, or a folder written by ``gridcover plan``).
    lock
        Grid and branch ids kept exactly: a lock file (CSV with a ``grid_id`` or
        ``branch_id`` column) or the ids themselves.
    grids
        Planner-edited grid polygons (a file such as an edited ``grids.geojson``, or a
        GeoDataFrame with ``grid_id``): they become the grids of their units.
    executor
        Runs the units in parallel, as in :func:`~gridcover.partition.partition`.
    repack
        Called as ``repack(previous, plan, locked_grids, locked_branches)`` on the re-planned
        plan before ``changes`` are written (the pipeline's lever stage,
        :func:`gridcover.levers.repack_replan`).

    Returns
    -------
    Plan
        As :func:`~gridcover.partition.partition`, with ``changes`` (and ``grid_checks``
        when ``grids`` is given).

    Raises
    ------
    ReplanError
        When a lock names an id that is not in the previous plan, or an input cannot be used.

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
    >>> before = partition(Ledger(ent), units=units)
    >>> after = replan(Ledger(ent.drop(index="U11")), units=units, previous=before)
    >>> after.changes.query("object == 'grid'")[["id", "change"]].values.tolist()
    [['东城街道-G01', 'changed']]
    """
    config = config or Config()
    units_gdf = _units_frame(jurisdictions, units)
    prev = load_previous(previous) if previous is not None else Plan(enterprises=pd.DataFrame())
    pe = prev.enterprises
    pg = prev.grids
    pb = prev.branches
    prev_grid_ids = set(pg["grid_id"].astype(str)) if "grid_id" in pg else set()
    prev_branch_ids = set(pb["branch_id"].astype(str)) if "branch_id" in pb else set()
    locked_grids, locked_branches = _locks(lock, prev_grid_ids, prev_branch_ids)
    used = prev_grid_ids | prev_branch_ids
    edited_by_unit: dict[str, list[tuple[str, BaseGeometry]]] = {}
    edited_table = None
    if grids is not None:
        edited_by_unit, edited_table = _edited_by_unit(read_edited_grids(grids), units_gdf, set(used))
        used |= set(edited_table["grid_id"])
    grid_of = {str(u): str(g) for u, g in zip(pe.index, pe["grid_id"], strict=True) if g} if "grid_id" in pe else {}
    lonlat = ({str(u): (float(a), float(b)) for u, a, b in zip(pe.index, pe["lon"], pe["lat"], strict=True)}
              if "lon" in pe and "lat" in pe else {})
    geom_by_unit: dict[str, dict[str, BaseGeometry]] = {}
    if len(pg):
        for gid, unit, geom in zip(pg["grid_id"].astype(str), pg["unit"].astype(str), pg.geometry, strict=True):
            geom_by_unit.setdefault(unit, {})[gid] = geom if geom is not None else shapely.Polygon()
    branches_prev: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    if len(pb):
        for _, r in pb.iterrows():
            branches_prev[str(r["branch_id"])] = (str(r.get("grid_id", "")), str(r.get("status", "new")),
                                                  tuple(sorted(u for u in str(r["uscc"]).split(";") if u)))
    # a previous branch belongs to the unit of its grid (else of most of its units)
    grid_unit = dict(zip(pg["grid_id"].astype(str), pg["unit"].astype(str), strict=True)) if len(pg) else {}
    prev_unit = pe["unit"].astype(str).to_dict() if "unit" in pe else {}
    branch_unit = {}
    for b, (gid, _, members_b) in branches_prev.items():
        found = [prev_unit.get(u, "") for u in members_b]
        branch_unit[b] = grid_unit.get(gid) or (max(sorted(set(found)), key=found.count) if found else "")
    src, jobs = _unit_jobs(ledger, units_gdf, config)
    full = []
    for sub, geometry, name, unit_type, cfg, joint in jobs:
        here = set(sub.index.astype(str))
        unit_branches = {b: v for b, v in branches_prev.items() if branch_unit[b] == name and here & set(v[2])}
        prior = _Prior(grid_of={u: grid_of[u] for u in here if u in grid_of},
                       grid_geom=geom_by_unit.get(name, {}), branches=unit_branches,
                       lonlat={u: lonlat[u] for u in here if u in lonlat},
                       locked_grids=locked_grids, locked_branches=locked_branches, used=frozenset(used),
                       edited=tuple(edited_by_unit[name]) if name in edited_by_unit else None)
        full.append((sub, geometry, name, unit_type, cfg, joint, prior))
    results: list[_UnitResult] = _map_units(_run_replan_unit, full, executor)
    plan = _assemble(ledger, src, units_gdf, config, [r.part for r in results])
    if repack is not None:
        plan = repack(prev, plan, locked_grids, locked_branches)
    notes: dict[tuple[str, str], str] = {}
    for r in results:
        notes.update(r.notes)
    changes = (_changes(prev, plan, notes, locked_grids, locked_branches) if previous is not None
               else pd.DataFrame(columns=list(CHANGE_COLUMNS)))
    checks = _grid_checks(edited_table, plan, units_gdf, config) if edited_table is not None else pd.DataFrame()
    return plan.replace(changes=changes, grid_checks=checks)


def _locks(lock: str | Path | Iterable[str] | None, grid_ids: set[str],
           branch_ids: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    if lock is None:
        return frozenset(), frozenset()
    if isinstance(lock, str | Path):
        g, b = read_locks(lock)
    else:
        ids = {str(i) for i in lock}
        g, b = frozenset(ids & grid_ids), frozenset(ids & branch_ids)
        unknown = sorted(ids - grid_ids - branch_ids)
        if unknown:
            msg = f"锁定的编号不在上期规划中 locked id(s) not in the previous plan: {', '.join(unknown)}"
            raise ReplanError(msg)
    bad = sorted((g - grid_ids) | (b - branch_ids))
    if bad:
        msg = f"锁定的编号不在上期规划中 locked id(s) not in the previous plan: {', '.join(bad)}"
        raise ReplanError(msg)
    return g, b


def _members_of(table: pd.DataFrame, key: str, col: str) -> dict[str, frozenset[str]]:
    """Enterprise set per grid or branch id of an enterprise table."""
    if col not in table:
        return {}
    s = table[col].astype(str)
    s = s[s != ""]
    return {str(k): frozenset(v.index.astype(str)) for k, v in s.groupby(s, sort=True)}


def _changes(prev: Plan, plan: Plan, notes: dict[tuple[str, str], str], locked_grids: frozenset[str],
             locked_branches: frozenset[str]) -> pd.DataFrame:
    """``changes.csv``: every grid and branch of either plan, every enterprise that changed."""
    pe, ne = prev.enterprises, plan.enterprises
    rows: list[tuple[str, str, str, str]] = []
    for obj, col in (("grid", "grid_id"), ("branch", "branch_id")):
        before = _members_of(pe, obj, col)
        if obj == "branch" and "branch_id" in prev.branches:  # branches of units not in the table
            for _, r in prev.branches.iterrows():
                before.setdefault(str(r["branch_id"]), frozenset(u for u in str(r["uscc"]).split(";") if u))
        if obj == "grid" and "grid_id" in prev.grids:
            for gid in prev.grids["grid_id"].astype(str):
                before.setdefault(gid, frozenset())
        after = _members_of(ne, obj, col)
        locked = locked_grids if obj == "grid" else locked_branches
        for oid in sorted(set(before) | set(after)):
            note = notes.get((obj, oid), "")
            lock = "locked; " if oid in locked and not note.startswith("locked") else ""
            if oid not in after:
                rows.append((obj, oid, "dissolved", note or "no enterprise left in it"))
            elif oid not in before:
                n = len(after[oid])
                rows.append((obj, oid, "new", note or f"new, {n} enterprises"))
            elif before[oid] == after[oid]:
                rows.append((obj, oid, "kept", lock + (note or f"unchanged, {len(after[oid])} enterprises")))
            else:
                joined = sorted(after[oid] - before[oid])
                left = sorted(before[oid] - after[oid])
                parts = [p for p in (f"joined: {';'.join(joined)}" if joined else "",
                                     f"left: {';'.join(left)}" if left else "") if p and p not in note]
                why = "; ".join(parts)
                rows.append((obj, oid, "changed", lock + "; ".join(p for p in (note, why) if p)))
    cols = [c for c in ("grid_id", "branch_id", "action", "unit") if c in pe]
    old = pe[cols] if cols else pd.DataFrame(index=pe.index)
    for u in sorted(set(old.index.astype(str)) | set(ne.index.astype(str))):
        if u not in ne.index:
            rows.append(("enterprise", u, "dissolved", "不在本期台账 no longer in the ledger (closed or deregistered)"))
            continue
        n = ne.loc[u]
        if u not in old.index:
            where = ", ".join(f"{c} {n[c]}" for c in ("grid_id", "branch_id") if n[c]) or "no grid"
            rows.append(("enterprise", u, "new", f"new in the ledger; {where}"))
            continue
        o = old.loc[u]
        moves = [f"{c} {o.get(c, '') or '-'} → {n[c] or '-'}" for c in ("grid_id", "branch_id")
                 if str(o.get(c, "")) != str(n[c])]
        note = notes.get(("enterprise", u), "")
        if moves:
            if not note and str(o.get("unit", n.get("unit", ""))) != str(n.get("unit", "")):
                note = f"unit {o.get('unit', '')} → {n.get('unit', '')}"
            if not note and not n["grid_id"] and o.get("grid_id", ""):
                note = "no longer grid-eligible (E1) or not located"
            bnote = notes.get(("branch", str(o.get("branch_id", ""))), "")
            if not note and bnote.startswith("dissolved"):
                note = f"branch {o.get('branch_id', '')} {bnote}"
            if not note and o.get("branch_id", "") and not n["branch_id"]:
                note = f"action now {n['action']}"
            if not note and o.get("grid_id", "") and n["grid_id"] and o.get("grid_id", "") != n["grid_id"]:
                note = f"grid {o.get('grid_id', '')} re-planned"
            if not note and o.get("branch_id", ""):
                note = f"branch {o.get('branch_id', '')} re-planned"
            if not note:
                note = "placed in a branch" if n["branch_id"] else "re-planned"
            rows.append(("enterprise", u, "moved", f"{'; '.join(moves)}: {note}"))
        elif "action" in o and str(o["action"]) != str(n["action"]):
            rows.append(("enterprise", u, "changed", f"action {o['action']} → {n['action']}"))
    return pd.DataFrame(rows, columns=list(CHANGE_COLUMNS)).astype(str)


def _grid_checks(edited: gpd.GeoDataFrame, plan: Plan, units_gdf: gpd.GeoDataFrame,
                 config: Config) -> pd.DataFrame:
    """``grid_checks.csv``: each planner-edited grid against O10, one unit, O9, overlaps, holes."""
    e = plan.enterprises
    gridded = e[e["grid_id"] != ""]
    size = gridded.groupby("grid_id").size()
    mem = gridded.groupby("grid_id")["members"].sum() if "members" in gridded else pd.Series(dtype=int)
    units_of = gridded.groupby("grid_id")["unit"].agg(lambda s: sorted(set(s)))
    unit_geom = dict(zip(units_gdf["unit"], units_gdf.geometry, strict=True))
    polys = edited.geometry.to_numpy()
    ids = edited["grid_id"].tolist()
    tree = shapely.STRtree(polys)
    rows: list[tuple[str, str, bool, str]] = []
    for j, (gid, unit, geom) in enumerate(zip(ids, edited["unit"], polys, strict=True)):
        n = int(size.get(gid, 0))
        ok = config.grid_min_size <= n <= config.grid_max_size
        rows.append((gid, "size", ok, f"{n} enterprises (O10: {config.grid_min_size}–{config.grid_max_size})"))
        ug = unit_geom.get(unit)
        outside = float(shapely.difference(geom, ug).area) if ug is not None else float(geom.area)
        share = outside / geom.area if geom.area else 1.0
        in_units = units_of.get(gid, [unit] if unit else [])
        ok_unit = share <= AREA_TOLERANCE and len(in_units) <= 1
        detail = f"unit {unit or '-'}; {share:.2%} of the polygon outside it"
        if len(in_units) > 1:
            detail += f"; enterprises of {', '.join(in_units)}"
        rows.append((gid, "unit", ok_unit, detail))
        m = int(mem.get(gid, 0))
        rows.append((gid, "members", m >= config.grid_min_members,
                     f"{m} formal members (O9 floor {config.grid_min_members})"))
        over = []
        for c in sorted(int(c) for c in tree.query(geom, predicate="intersects")):
            if c != j:
                a = float(shapely.intersection(geom, polys[c]).area)
                if a > AREA_TOLERANCE * max(geom.area, 1e-12):
                    over.append(ids[c])
        rows.append((gid, "overlap", not over, f"overlaps {', '.join(over)}" if over else "no overlap"))
        if ug is not None:
            cover = shapely.union_all([p for p, u in zip(polys, edited["unit"], strict=True) if u == unit])
            gap = shapely.difference(ug, cover)
            parts = [p for p in shapely.get_parts(gap) if p.area > AREA_TOLERANCE * ug.area
                     and shapely.intersects(shapely.buffer(p, 1e-9), geom)]
            hole_area = sum(p.area for p in parts)
            rows.append((gid, "hole", not parts, f"{len(parts)} uncovered part(s) of {unit} beside it"
                         f" ({hole_area / ug.area:.2%} of the unit); its enterprises go to the nearest grid"
                         if parts else "no hole beside it"))
        else:
            rows.append((gid, "hole", False, "the polygon lies in no unit"))
    out = pd.DataFrame(rows, columns=list(GRID_CHECK_COLUMNS))
    out["ok"] = out["ok"].astype(bool)
    return out
