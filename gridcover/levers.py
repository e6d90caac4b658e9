"""Ways to organise beyond the base rules (RULES.md L1–L5): a stage after partition.

:func:`apply_levers` re-packs the joint branches of every jurisdiction unit with the
extra candidates that the active levers (``config.levers``) allow, maximising the
organisational coverage **gained** under the active M1 definition (:mod:`gridcover.coverage`),
then fewer branches, then same-section (L5) and compact branches. With no lever it
still re-packs each grid by that objective (the base rules: an enterprise with a formal
member that fits no branch is attached, O8, and counts as covered when attachment
counts, so placing it gains nothing).

Gain of an enterprise (what putting it in a branch adds to M1 "after")
---------------------------------------------------------------------
1 when it is not organisationally covered without the branch: no formal member (its
fallback is an instructor or the backstop), or attachment does not count
(``org_coverage_counts_attached`` off); else 0. Members count either way (O6).

Who may be in a branch, by lever
--------------------------------
* base rules: grid-eligible enterprises with fewer than ``branch_min_members`` formal
  members and no kept organisation (the partition's candidates), inside one grid.
* **L1** 龙头企业带建: an enterprise with an own organisation after the plan (kept or
  built, ≥ 3 formal members) leads a joint organisation taking in up to
  ``joint_max_units - 1`` neighbouring units; at most one such host per branch. The host
  keeps its action and own organisation (it stays covered as own) and gets the
  branch's ``branch_id``.
* **L2** 区域兜底: below-E1 enterprises (小个专, located, in a unit) may join branches of
  their unit and form township/community joint organisations among themselves. They
  have no grid: a branch of below-E1 units only has a blank ``grid_id`` and the unit's
  name (the township, or the park) in ``unit``; a branch that also holds grid units
  lies in that grid.
* **L3**: attached (挂靠建) grid enterprises with ≥ 1 formal member anchor new joint
  branches (their action becomes ``join_branch``).
* **L4**: kept joint organisations with fewer than ``joint_max_units`` units take new
  units into their free places (status stays ``kept``).
* **L5** 行业优先: among packings of equal coverage, branches whose units share one
  GB/T 4754 section come before fewer branches.

Every branch obeys O6 (2 to ``joint_max_units`` units, ≥ ``joint_min_members`` formal
members) and O7 (one unit, ``joint_max_distance_m`` pairwise), and its grid units lie in
one grid. ``branches.lever`` names the lever that made a branch (L1 host, else L4
extension, else L3 anchor, else L2 units; L5 when only the section preference made
it; blank for a base-rules branch).

Algorithm
---------
Per grid: a grid whose current packing already covers as many as :func:`_gain_bound`
allows (an upper bound on any legal packing's gain) is provably optimal and kept as it
is — almost every grid of a plan without levers, so the stage takes seconds on a city.
Otherwise every legal branch over the grid's pool (at most ``grid_max_size`` units, so a
few thousand subsets of at most five) is enumerated and the best packing is solved
exactly as a set-packing MILP (``scipy.optimize.milp``, HiGHS; node limit
:data:`NODE_LIMIT`, deterministic). A branch equal to one of the partition's is
preferred among equals, so ids stay; a grid whose only organisation was a partition
branch keeps one (O9). Then, with L2, per unit (greedy, :data:`L2_RESTARTS` seeded
orders, the best kept): below-E1 and left-over grid units fill free places of the unit's
branches (fewest options first, pairwise O7 checked), unused L1 hosts take in up to four
nearest, member units left out of every branch (below-E1 or grid) anchor
township/community branches (most members first), free places are filled once more, and
a unit without members takes the place of one that gains nothing and whose members the
branch does not need. Its neighbour searches use a KD-tree (the nearest
:attr:`_UnitState.MAX_NEAR` rows within ``joint_max_distance_m``), so each order is
near-linear; units above :data:`L2_FULL_RESTARTS_MAX` rows get fewer orders.
bench/RESULTS.md compares each lever set with a unit-wide MILP.

A re-plan (:func:`repack_replan`) leaves the grids it kept exactly
(:func:`settled_grids`) as they are and prefers, in the others, the previous plan's
branches that are still legal (with their ids) and the re-plan's own, unless
re-packing covers more.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .config import LEVERS, Config
from .plan import Plan

__all__ = ["LEVERS", "apply_levers", "check_branches", "lever_pool", "repack_replan", "settled_grids"]

logger = logging.getLogger(__name__)

_FALLBACK_ACTIONS: Final = ("attach", "instructor", "not_gridded")
_PLACED_ACTIONS: Final = ("join_branch", "split_joint", "revoke_shell")
_OWN_ACTIONS: Final = ("build_branch", "build_general_branch", "build_committee")
_EPS: Final = 1e-6
#: Objective weights of the per-grid MILP (lexicographic: gain, then branches, then the rest).
_W_GAIN: Final = 1000.0
_W_BRANCH: Final = 10.0
_W_SECTION_L5: Final = 40.0
_W_SECTION: Final = 1.0
_W_KEEP: Final = 2.0
#: On a re-plan a branch of the re-plan is kept unless re-packing covers more (below one gain).
_W_KEEP_REPLAN: Final = 100.0
#: Node limit of one grid's MILP (deterministic, unlike a time limit).
NODE_LIMIT: Final = 100
#: Orders tried by the greedy L2 phase of each unit (the best is kept).
L2_RESTARTS: Final = 12
#: Units above this many rows get proportionally fewer L2 orders (at least two).
L2_FULL_RESTARTS_MAX: Final = 1000


@dataclass(frozen=True)
class _Item:
    """One pool item: a unit, or a kept joint organisation (a block of units)."""

    rows: tuple[int, ...]
    kind: str  # cand / attached / host / kept / small
    gain: int
    members: int


def _utm(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    from .partition import _to_metres, _utm_epsg

    epsg = _utm_epsg(float(np.mean(lon)), float(np.mean(lat)))
    return _to_metres(lon, lat, epsg)


def lever_pool(enterprises: pd.DataFrame, branches: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Per enterprise: its role in the lever stage and its gain.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``enterprises``: ``kind`` (``cand`` base candidate, ``attached``
        L3 anchor, ``host`` L1 host, ``kept`` unit of a kept joint organisation,
        ``small`` below-E1 unit, "" none), ``gain`` (0/1) and ``members``.
    """
    ent = enterprises
    grid = ent["grid_id"].fillna("").astype(str)
    branch = ent["branch_id"].fillna("").astype(str)
    action = ent["action"].fillna("").astype(str)
    org = ent["org_type"].fillna("none").astype(str)
    members = pd.to_numeric(ent["members"], errors="coerce").fillna(0).astype(int)
    located = np.isfinite(pd.to_numeric(ent["lon"], errors="coerce")) & np.isfinite(
        pd.to_numeric(ent["lat"], errors="coerce"))
    unit = ent["unit"].fillna("").astype(str)
    status = dict(zip(branches["branch_id"].astype(str), branches["status"].astype(str), strict=True)) \
        if len(branches) else {}
    bstatus = branch.map(lambda b: status.get(b, ""))
    counts = config.org_coverage_counts_attached
    kept_branch = bstatus.eq("kept")
    gridded = grid.ne("") & located
    kind = pd.Series("", index=ent.index, dtype="str")
    below = members < config.branch_min_members
    cand = gridded & ~kept_branch & below & (action.isin(_PLACED_ACTIONS) | action.isin(_FALLBACK_ACTIONS)
                                             | (action.eq("keep") & org.eq("attached") & ~counts))
    kind[cand] = "cand"
    kind[gridded & action.eq("keep") & org.eq("attached") & below & (members >= 1) & ~cand] = "attached"
    own = gridded & branch.eq("") & ((action.eq("keep") & org.eq("own")) | action.isin(_OWN_ACTIONS)) \
        & (members >= config.branch_min_members)
    kind[own] = "host"
    kind[kept_branch & located & gridded] = "kept"
    small = located & unit.ne("") & grid.eq("") & ~kept_branch & branch.eq("") & below & \
        action.isin(_FALLBACK_ACTIONS + ("keep",)) & ~org.isin(["own", "joint"])
    kind[small] = "small"
    # gain: not covered without a branch (no member, or attachment does not count)
    attached_fallback = (members >= 1) & (action.isin(["attach", *_PLACED_ACTIONS]) | org.eq("attached"))
    gain = (kind.isin(["cand", "small"]) & ~(attached_fallback & counts)).astype(int)
    return pd.DataFrame({"kind": kind, "gain": gain, "members": members}, index=ent.index)


# --- per grid: exact set packing over enumerated branches ------------------------------------------------
def _columns(items: list[_Item], xy: np.ndarray, sect: list[str], config: Config,
             levers: frozenset[str]) -> list[tuple[tuple[int, ...], int, int, bool, float]]:
    """Every legal branch over the items: (item indices, gain, units, same section, spread)."""
    max_units, min_members = config.joint_max_units, config.joint_min_members
    limit = config.joint_max_distance_m + _EPS
    n = len(items)
    rows_all = [r for it in items for r in it.rows]
    p = xy[rows_all]
    dist = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(axis=2))
    pos = np.cumsum([0] + [len(it.rows) for it in items])
    far = np.zeros((n, n))
    for a in range(n):
        for b in range(n):
            far[a, b] = dist[pos[a]:pos[a + 1], pos[b]:pos[b + 1]].max()
    ok = (far <= limit).tolist()
    farl = far.tolist()
    secs = [frozenset(sect[r] for r in it.rows) for it in items]
    size = [len(it.rows) for it in items]
    kinds = [it.kind for it in items]
    out: list[tuple[tuple[int, ...], int, int, bool, float]] = []

    def rec(chosen: list[int], start: int, units: int, mem: int, gain: int, hosts: int, blocks: int,
            spread: float, sec: frozenset[str]) -> None:
        # a unit that gains nothing is only there for its members: drop branches where
        # some such unit is not needed for the member threshold (dominated columns)
        if units >= 2 and mem >= min_members and (gain > 0 or blocks) and all(
                items[c].gain or kinds[c] == "kept" or mem - items[c].members < min_members
                or (kinds[c] == "host" and units > size[c]) for c in chosen):
            out.append((tuple(chosen), gain, units, len(sec) == 1 and "" not in sec, spread))
        for j in range(start, n):
            if units + size[j] > max_units or (kinds[j] == "host" and hosts) or (kinds[j] == "kept" and blocks):
                continue
            okj = ok[j]
            if not all(okj[c] for c in chosen):
                continue
            fj = farl[j]
            chosen.append(j)
            rec(chosen, j + 1, units + size[j], mem + items[j].members, gain + items[j].gain,
                hosts + (kinds[j] == "host"), blocks + (kinds[j] == "kept"),
                max([spread, fj[j], *(fj[c] for c in chosen)]), sec | secs[j])
            chosen.pop()

    rec([], 0, 0, 0, 0, 0, 0, 0.0, frozenset())
    return out


def _solve_grid(items: list[_Item], xy: np.ndarray, sect: list[str], config: Config,
                levers: frozenset[str], existing: dict[frozenset[int], float], *, need_one: bool = False
                ) -> list[tuple[int, ...]]:
    """The best packing of one grid's items (exact MILP over the enumerated branches).

    ``need_one``: the grid has no other organisation, so at least one branch is formed
    (O9), if the partition formed one.
    """
    single0 = {it.rows[0]: i for i, it in enumerate(items) if len(it.rows) == 1}
    key = (tuple((it.kind, it.gain, it.members, tuple(sect[r] for r in it.rows),
                  xy[list(it.rows)].round(3).tobytes()) for it in items),
           tuple(sorted((tuple(sorted(single0.get(r, -1) for r in rows)), w) for rows, w in existing.items())),
           need_one, "L5" in levers, config.joint_max_units, config.joint_min_members,
           config.joint_max_distance_m)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    found = _solve_grid_uncached(items, xy, sect, config, levers, existing, need_one=need_one)
    if len(_CACHE) > _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = found
    return found


#: Solved grid problems (the same grid recurs across the lever variants of one plan).
_CACHE: dict[tuple[object, ...], list[tuple[int, ...]]] = {}
_CACHE_MAX: Final = 50_000


def _solve_grid_uncached(items: list[_Item], xy: np.ndarray, sect: list[str], config: Config,
                         levers: frozenset[str], existing: dict[frozenset[int], float], *, need_one: bool
                         ) -> list[tuple[int, ...]]:
    cols = _columns(items, xy, sect, config, levers)
    blocks = [i for i, it in enumerate(items) if it.kind == "kept"]
    # the partition's own branches stay feasible even when they gain nothing (O9)
    single = {it.rows[0]: i for i, it in enumerate(items) if len(it.rows) == 1}
    have = {frozenset(idx) for idx, *_ in cols}
    # in row order: the MILP's columns (and so its choice among equal packings) must not
    # follow the order of a set of branch ids, which changes with each process's string hashes
    for rows in sorted(existing, key=sorted):
        if all(r in single for r in rows):
            idx = tuple(sorted(single[r] for r in rows))
            if frozenset(idx) not in have:
                p = xy[sorted(rows)]
                spread = float(np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(axis=2).max()))
                secs = {sect[r] for r in rows}
                cols.append((idx, sum(items[i].gain for i in idx), len(rows),
                             len(secs) == 1 and "" not in secs, spread))
    # a kept organisation alone is always a choice (value 0): it stays as it is
    cols += [((i,), 0, len(items[i].rows), False, 0.0) for i in blocks]
    if not cols:
        return []
    w_sec = _W_SECTION_L5 if "L5" in levers else _W_SECTION
    value = np.empty(len(cols))
    for k, (idx, gain, _units, same, spread) in enumerate(cols):
        is_block = any(items[i].kind == "kept" for i in idx)
        rows = frozenset(r for i in idx for r in items[i].rows)
        value[k] = (_W_GAIN * gain - (0.0 if is_block else _W_BRANCH) + (w_sec if same else 0.0)
                    - (1.0 if spread > 1500.0 else 0.0) + existing.get(rows, 0.0))
    r, c = [], []
    for k, (idx, *_rest) in enumerate(cols):
        for i in idx:
            r.append(i)
            c.append(k)
    a = coo_matrix((np.ones(len(r)), (r, c)), shape=(len(items), len(cols))).tocsr()
    lo = np.zeros(len(items))
    lo[blocks] = 1.0  # each kept organisation in exactly one branch
    constraints = [LinearConstraint(a, lo, np.ones(len(items)))]
    if need_one and existing:
        constraints.append(LinearConstraint(np.ones((1, len(cols))), 1, np.inf))
    res = milp(-value, constraints=constraints,
               integrality=np.ones(len(cols)), bounds=Bounds(0, 1),
               options={"disp": False, "node_limit": NODE_LIMIT})
    if res.x is None:  # pragma: no cover - the all-alone solution is always feasible
        return []
    x = np.round(res.x).astype(int)
    return [cols[k][0] for k in np.flatnonzero(x) if cols[k][1] > 0 or len(cols[k][0]) > 1
            or items[cols[k][0][0]].kind == "kept"]


#: Grids of the last call: kept (provably optimal), solved, greedy at / below the bound (quick).
_STATS: dict[str, int] = {"skipped": 0, "solved": 0, "greedy": 0, "greedy_unproved": 0}


def _greedy_grid(items: list[_Item], xy: np.ndarray, config: Config) -> list[tuple[int, ...]]:
    """A quick legal packing of one grid's items (hosts, kept organisations, then member
    groups, each taking the nearest gain units that fit); optimal when it reaches
    :func:`_gain_bound`."""
    cap, need = config.joint_max_units, config.joint_min_members
    limit = config.joint_max_distance_m + _EPS
    n = len(items)
    # the greatest distance between two items' rows (all pairs at once; 0 on the diagonal)
    owner = np.repeat(np.arange(n), [len(it.rows) for it in items])
    pts = xy[[r for it in items for r in it.rows]]
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=2))
    if len(owner) == n:
        far = dist
    else:
        far = np.zeros((n, n))
        np.maximum.at(far, (owner[:, None], owner[None, :]), dist)
    np.fill_diagonal(far, 0.0)
    ok = far <= limit
    free = {i for i, it in enumerate(items) if it.gain}
    used: set[int] = set()
    out: list[tuple[int, ...]] = []

    def fill(core: list[int], size: int) -> list[int]:
        take = list(core)
        for j in sorted(free, key=lambda j: (float(far[core[0], j]), j)):
            if size >= cap:
                break
            if all(ok[j, t] for t in take):
                take.append(j)
                size += 1
        return take

    hosts = [i for i, it in enumerate(items) if it.kind in ("host", "kept") and it.members >= need]
    for h in sorted(hosts, key=lambda h: (sum(1 for j in free if ok[h, j]), h)):
        take = fill([h], len(items[h].rows))
        if len(take) > 1:
            free.difference_update(take)
            used.update(take)
            out.append(tuple(sorted(take)))
    mem_units = [i for i, it in enumerate(items) if not it.gain and it.members > 0 and i not in used
                 and it.kind not in ("host", "kept")]
    for a in sorted(mem_units, key=lambda a: (-items[a].members, a)):
        if a in used or not free:
            continue
        core, total = [a], items[a].members
        for b in sorted((b for b in mem_units if b not in used and b != a and ok[a, b]),
                        key=lambda b: (-items[b].members, float(far[a, b]), b)):
            if total >= need or len(core) >= cap - 1:
                break
            if all(ok[b, t] for t in core):
                core.append(b)
                total += items[b].members
        if total < need:
            continue
        take = fill(core, len(core))
        if len(take) > len(core):
            free.difference_update(take)
            used.update(take)
            out.append(tuple(sorted(take)))
    out += [(i,) for i, it in enumerate(items) if it.kind == "kept" and i not in used]
    return out


def _legal(rows: list[int], xy: np.ndarray, mem: np.ndarray, config: Config) -> bool:
    """O6/O7 of a branch made of ``rows`` (units, formal members, pairwise distance)."""
    if not 2 <= len(rows) <= config.joint_max_units or int(mem[rows].sum()) < config.joint_min_members:
        return False
    p = xy[rows]
    return bool(np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(axis=2)).max() <= config.joint_max_distance_m + _EPS)


def _current_gain(items: list[_Item], branch: np.ndarray) -> int:
    """Gain units of the items that are in a branch now."""
    return sum(it.gain for it in items if it.gain and branch[it.rows[0]] != "")


def _gain_bound(items: list[_Item], xy: np.ndarray, config: Config) -> int:
    """An upper bound on the gain units any legal packing of one grid's items covers.

    A gain unit needs another item with formal members within ``joint_max_distance_m``
    (O6/O7). When no gain unit holds members, every member comes from the other items and
    each branch has ``joint_max_units`` places: an L1 host leaves ``max - 1`` for gain
    units, a kept organisation its free places, and member units (fewer than
    ``joint_min_members`` each) leave ``max - k`` when ``k`` of them reach the member floor
    (best grouping by a small exact recursion over their member counts).
    """
    limit = config.joint_max_distance_m + _EPS
    gain_rows = [it.rows[0] for it in items if it.gain]
    supp = [it for it in items if it.members > 0]
    reach = 0
    for it in items:
        if not it.gain:
            continue
        r = it.rows[0]
        if any(s is not it and float(np.sqrt(((xy[list(s.rows)] - xy[r]) ** 2).sum(axis=1)).max()) <= limit
               for s in supp):
            reach += 1
    del gain_rows
    if any(it.gain and it.members > 0 for it in items):
        return reach
    cap, need = config.joint_max_units, config.joint_min_members
    slots = 0
    counts = [0] * need
    for it in supp:
        if it.kind == "kept":
            slots += max(cap - len(it.rows), 0)
        elif it.members >= need:
            slots += cap - 1
        else:
            counts[it.members] += 1
    return min(reach, slots + _group_slots(tuple(counts[1:]), need, cap))


def _group_slots(counts: tuple[int, ...], need: int, cap: int) -> int:
    """Most free places of disjoint groups of member units (``counts[k-1]`` units with ``k``
    members, ``k < need``), each group reaching ``need`` members; a group of ``g`` units
    leaves ``cap - g`` places."""
    return _group_slots_cached(counts, need, cap)


@functools.lru_cache(maxsize=4096)
def _group_slots_cached(counts: tuple[int, ...], need: int, cap: int) -> int:
    # the group holding the largest remaining member unit (or none: stop)
    top = max((k for k in range(len(counts)) if counts[k]), default=-1)
    if top < 0:
        return 0
    rest = list(counts)
    rest[top] -= 1
    best = _group_slots_cached(tuple(rest), need, cap)  # that unit in no group
    # complete a group with units no larger than it, largest first (fewest units)
    def grow(c: list[int], total: int, size: int, hi: int) -> None:
        nonlocal best
        if total >= need:
            if size < cap:
                best = max(best, cap - size + _group_slots_cached(tuple(c), need, cap))
            return
        if size >= cap - 1:
            return
        for k in range(hi, -1, -1):
            if c[k]:
                c[k] -= 1
                grow(c, total + k + 1, size + 1, k)
                c[k] += 1
    grow(rest, top + 1, 1, top)
    return best


# --- per unit: L2 fill and township/community branches ---------------------------------------------------
class _UnitState:
    """Geometry of one unit's rows for the L2 phase: pairwise checks and nearest rows."""

    #: Most neighbours looked at around a row (nearest first).
    MAX_NEAR: Final = 256

    def __init__(self, xy: np.ndarray, rows: np.ndarray, config: Config,
                 known: _UnitState | None = None) -> None:
        from scipy.spatial import cKDTree

        self.xy = xy
        self.d = config.joint_max_distance_m + _EPS
        self.r2 = self.d ** 2
        self.rows = np.asarray(rows, dtype=np.int64)
        self.xy_rows: np.ndarray
        self.tree: Any
        self.pt: dict[int, tuple[float, float]]
        #: every row's neighbours, compact: rows ``_flat[_start[i]:_start[i] + _len[i]]`` of
        #: local row ``i`` (int32), shared by the lever sets of one plan
        self._flat: np.ndarray
        self._start: np.ndarray
        self._len: np.ndarray
        self._near: dict[int, list[int]] = {}  # lists made from them, for this lever set only
        if known is not None and known.d == self.d and np.array_equal(known.rows, self.rows) \
                and np.array_equal(known.xy_rows, xy[self.rows]):
            # the same rows at the same places (another lever set of one plan): reuse
            self.xy_rows, self.tree, self.pt = known.xy_rows, known.tree, known.pt
            self._flat, self._start, self._len = known._flat, known._start, known._len
            return
        self.xy_rows = xy[self.rows].copy()
        self.tree = cKDTree(self.xy_rows) if len(self.rows) else None
        self.pt = {int(r): (float(xy[r, 0]), float(xy[r, 1])) for r in self.rows.tolist()}
        self._batch()

    def _batch(self) -> None:
        """Every row's neighbours at once (the same lists :meth:`near` finds one by one):
        the 64 nearest, and the :attr:`MAX_NEAR` nearest for rows whose 64 are all close."""
        n = len(self.rows)
        self._start = np.zeros(n, dtype=np.int64)
        self._len = np.zeros(n, dtype=np.int64)
        chunks: list[np.ndarray] = []
        at = 0
        todo = np.arange(n)
        k = 64
        while len(todo) and self.tree is not None:
            kk = min(k, n)
            dist, idx = self.tree.query(self.xy[self.rows[todo]], k=kk)
            dist, idx = dist.reshape(len(todo), kk), idx.reshape(len(todo), kk)
            more = (dist[:, -1] <= self.d) & (kk < n) & (k < self.MAX_NEAR)
            done = np.flatnonzero(~more)
            dist, rows = dist[done], self.rows[idx[done]]
            count = (dist <= self.d).sum(axis=1)  # the query's distances are ascending
            # equal distances come in the tree's order: those rows are put in row order
            tied = ((dist[:, 1:] == dist[:, :-1]) & (np.arange(1, kk) < count[:, None])).any(axis=1)
            for t in np.flatnonzero(tied).tolist():
                c = int(count[t])
                rows[t, :c] = rows[t, :c][np.lexsort((rows[t, :c], dist[t, :c]))]
            flat = rows[np.arange(kk) < count[:, None]].astype(np.int32)
            self._start[todo[done]] = at + np.cumsum(count) - count
            self._len[todo[done]] = count
            chunks.append(flat)
            at += len(flat)
            todo = todo[more]
            k *= 4
        self._flat = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)

    def release(self) -> None:
        """Drop this lever set's neighbour lists (the compact arrays stay)."""
        self._near = {}

    def fits(self, rows: Iterable[int], j: int) -> bool:
        xj, yj = self.pt[j]
        r2 = self.r2
        for r in rows:
            x, y = self.pt[r]
            if (x - xj) ** 2 + (y - yj) ** 2 > r2:
                return False
        return True

    def near(self, j: int) -> list[int]:
        """Rows within the O7 distance of ``j`` (itself included), nearest first."""
        found = self._near.get(j)
        if found is not None:
            return found
        i = int(np.searchsorted(self.rows, j))
        if i < len(self.rows) and self.rows[i] == j:
            s = int(self._start[i])
            found = self._flat[s:s + int(self._len[i])].tolist()
            self._near[j] = found
            return found
        n = len(self.rows)
        k = 64
        while True:
            dist, idx = self.tree.query(self.xy[j], k=min(k, n))  # type: ignore[union-attr]
            dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
            if k >= n or k >= self.MAX_NEAR or dist[-1] > self.d:
                break
            k *= 4
        ok = dist <= self.d
        order = np.lexsort((self.rows[idx[ok]], dist[ok]))
        found = self.rows[idx[ok]][order].tolist()
        self._near[j] = found
        return found


def _nearest_first(state: _UnitState, centre: int, pool: set[int] | frozenset[int]) -> list[int]:
    """Rows of ``pool`` within the O7 distance of ``centre``, nearest first."""
    return [j for j in state.near(centre) if j in pool]


def apply_levers(plan: Plan, config: Config | None = None, *, keep_grids: Iterable[str] = (),
                 previous: Plan | None = None, quick: bool = False,
                 geometry: dict[str, _UnitState] | None = None) -> Plan:
    """The lever stage: re-pack each unit's joint branches with what ``config.levers`` allows.

    Parameters
    ----------
    plan
        A partitioned plan (``enterprises`` with ``grid_id, branch_id, action``; ``branches``).
    config
        Rules and the active levers (``config.levers``); the plan's config by default.
    keep_grids
        Grid ids left exactly as they are (a re-plan's kept and locked grids).
    previous
        A re-plan's previous plan: its branches whose units are all here are preferred
        (unless re-packing covers more) and keep their ids.
    quick
        Only the coverage matters (the targets' lever variants of a large plan): each
        re-packed grid takes the greedy packing instead of the exact MILP — the same
        coverage where it reaches the grid's upper bound (almost every grid: 726 of 731 on
        a 20,000-row county with L1), at most that bound below it; maybe more branches;
        and the L2 phase in its unperturbed order only.
    geometry
        A dict kept between calls on one plan with different levers: each unit's
        neighbour lists of the L2 phase are computed once and reused (the same result).

    Returns
    -------
    Plan
        The plan with new ``branch_id``/``action`` per enterprise and the new
        ``branches`` table (``lever`` column filled), config replaced by ``config``.
    """
    from .partition import BRANCH_COLUMNS, _with_precision

    config = config or plan.config
    levers = frozenset(config.levers)
    fixed = frozenset(keep_grids)
    _STATS.update(dict.fromkeys(_STATS, 0))
    ent = plan.enterprises
    if not len(ent) or "grid_id" not in ent:
        return plan.replace(config=config)
    branches = plan.branches if len(plan.branches) else pd.DataFrame(columns=list(BRANCH_COLUMNS))
    pool = lever_pool(ent, branches, config)
    allowed = {"cand"} | ({"host"} if "L1" in levers else set()) | ({"attached"} if "L3" in levers else set()) \
        | ({"kept"} if "L4" in levers else set())
    uscc = ent.index.astype(str).to_numpy()
    grid = ent["grid_id"].fillna("").astype(str).to_numpy()
    branch = ent["branch_id"].fillna("").astype(str).to_numpy().copy()
    action = ent["action"].fillna("").astype(str).to_numpy().copy()
    org = ent["org_type"].fillna("none").astype(str).to_numpy()
    unit = ent["unit"].fillna("").astype(str).to_numpy()
    sect = ent["industry"].fillna("").astype(str).tolist() if "industry" in ent else [""] * len(ent)
    kind = pool["kind"].to_numpy()
    gain = pool["gain"].to_numpy()
    mem = pool["members"].to_numpy()
    old = branches.set_index(branches["branch_id"].astype(str)) if len(branches) else branches
    status_of = dict(zip(branches["branch_id"].astype(str), branches["status"].astype(str), strict=True))
    old_lever = dict(zip(branches["branch_id"].astype(str), branches["lever"].fillna("").astype(str), strict=True)) \
        if "lever" in branches else {}

    lon = pd.to_numeric(ent["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(ent["lat"], errors="coerce").to_numpy(dtype=float)
    new_rows: list[dict[str, object]] = []
    touched: set[str] = set()
    rows_of: dict[str, list[int]] = {}
    for r, b in enumerate(branch.tolist()):
        if b:
            rows_of.setdefault(b, []).append(r)
    # a re-plan: the previous plan's branches (as rows here), preferred and keeping their ids
    prev_sets: dict[frozenset[int], str] = {}
    if previous is not None and len(previous.enterprises) and "branch_id" in previous.enterprises:
        pos = {u: i for i, u in enumerate(uscc.tolist())}
        pb = previous.enterprises["branch_id"].fillna("").astype(str)
        for bid, members_b in pb[pb.ne("")].groupby(pb[pb.ne("")], sort=True):
            rows_b = [pos.get(str(u), -1) for u in members_b.index]
            if min(rows_b) >= 0:
                prev_sets[frozenset(rows_b)] = str(bid)
        status_of = {**dict(zip(previous.branches["branch_id"].astype(str), previous.branches["status"].astype(str),
                                strict=True)), **status_of} if len(previous.branches) else status_of
    # each unit's located rows, in row order (one sort, not a scan of every row per unit)
    located = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
    order = located[np.argsort(unit[located], kind="stable")]
    names, starts = np.unique(unit[order], return_index=True)
    rows_by_unit = dict(zip(names.tolist(), np.split(order, starts[1:]), strict=True)) if len(order) else {}
    xy = np.full((len(ent), 2), np.nan)  # metres of the unit being packed, NaN elsewhere
    for u in sorted(set(unit[kind != ""].tolist()) - {""}):
        rows_u = rows_by_unit.get(u, np.zeros(0, dtype=np.int64))
        if not len(rows_u):
            continue
        xy[rows_u] = _utm(lon[rows_u], lat[rows_u])
        result, solved = _pack_unit(rows_u, xy, kind, gain, mem, grid, branch, org, sect, allowed, levers,
                                    config, status_of, rows_of, fixed, prev_sets, quick, u, geometry)
        xy[rows_u] = np.nan
        touched.update(solved)
        for rows, lever, bid, status in result:
            touched.update(branch[list(rows)].tolist())
            new_rows.append({"rows": rows, "lever": lever, "branch_id": bid, "status": status, "unit": u})
    touched.discard("")
    # clear the re-packed units' old branches, then write the new ones
    in_old = pd.Series(branch).isin(touched).to_numpy() if touched else np.zeros(len(ent), dtype=bool)
    was_placed = in_old.copy()
    branch[in_old] = ""
    counters: dict[str, int] = {}
    for b in [*branches["branch_id"].astype(str), *prev_sets.values()]:
        head, _, tail = b.rpartition("-B")
        if tail.isdigit():
            counters[head] = max(counters.get(head, 0), int(tail))
    table = []
    spans = _max_distances(lon, lat, [list(rec["rows"]) for rec in new_rows])  # type: ignore[call-overload]
    for rec, span in zip(new_rows, spans, strict=True):
        rows = list(rec["rows"])  # type: ignore[call-overload]
        g = sorted({grid[r] for r in rows} - {""})
        gid = g[0] if g else ""
        bid = str(rec["branch_id"])
        if not bid:
            head = gid if gid else f"{rec['unit']}-L2"
            counters[head] = counters.get(head, 0) + 1
            bid = f"{head}-B{counters[head]}"
        branch[rows] = bid
        table.append({"branch_id": bid, "grid_id": gid, "unit": rec["unit"], "status": rec["status"],
                      "uscc": ";".join(sorted(uscc[rows].tolist())), "n_units": len(rows),
                      "members": int(mem[rows].sum()), "max_distance_m": span,
                      "lever": rec["lever"]})
    # actions: placed units join; units that lost a branch fall back (O8)
    placed = branch != ""
    for i in np.flatnonzero(placed & (kind != "host") & (kind != "kept")):
        if kind[i] == "host":
            continue
        action[i] = "revoke_shell" if org[i] == "own" else "split_joint" if org[i] == "joint" else "join_branch"
    for i in np.flatnonzero(was_placed & ~placed):
        action[i] = ("keep" if org[i] == "attached" and config.org_coverage_counts_attached
                     else "attach" if mem[i] >= 1 else "instructor" if grid[i] else "not_gridded")
    kept_rows = branches[~branches["branch_id"].astype(str).isin(touched)] if len(branches) else branches
    out_b = pd.concat([kept_rows.drop(columns=[c for c in ("approx_points",) if c in kept_rows]),
                       pd.DataFrame(table, columns=[c for c in BRANCH_COLUMNS if c != "approx_points"])],
                      ignore_index=True)
    out_b["lever"] = out_b["lever"].fillna("").astype(str)
    for c in ("n_units", "members"):
        out_b[c] = out_b[c].astype("int64")
    out_b["max_distance_m"] = out_b["max_distance_m"].astype(float)
    out_b = out_b.sort_values(["unit", "grid_id", "branch_id"], kind="stable").reset_index(drop=True)
    enterprises = ent.copy(deep=False)  # two new columns; the others stay shared with the base plan
    enterprises["branch_id"] = pd.Series(branch, index=ent.index, dtype="str")
    enterprises["action"] = pd.Series(action, index=ent.index, dtype="str")
    del old, old_lever
    logger.info("levers %s: %d branches (%d before)", ",".join(sorted(levers)) or "none", len(out_b),
                len(branches))
    return plan.replace(enterprises=enterprises, branches=_with_precision(out_b, enterprises), config=config)


def settled_grids(previous: Plan, plan: Plan, locked_grids: Iterable[str] = (),
                  locked_branches: Iterable[str] = ()) -> frozenset[str]:
    """Grids a re-plan kept exactly: locked grids, grids holding a locked branch, and grids
    with the same enterprises and the same branches (ids and units) as in ``previous``.

    The lever stage leaves these as they are, so a re-plan of an unchanged ledger keeps
    every grid and branch with its id.
    """
    def sets(ent: pd.DataFrame, col: str) -> dict[str, frozenset[str]]:
        if col not in ent or not len(ent):
            return {}
        s = ent[col].fillna("").astype(str)
        s = s[s.ne("")]
        return {str(k): frozenset(v.index.astype(str)) for k, v in s.groupby(s, sort=False)}

    pe, ne = previous.enterprises, plan.enterprises
    before_g, after_g = sets(pe, "grid_id"), sets(ne, "grid_id")
    before_b, after_b = sets(pe, "branch_id"), sets(ne, "branch_id")
    locked_b = frozenset(locked_branches)
    out = set(locked_grids)
    if len(ne) and "branch_id" in ne:
        b = ne["branch_id"].fillna("").astype(str)
        out |= set(ne.loc[b.isin(sorted(locked_b)), "grid_id"].fillna("").astype(str)) - {""}
    grid_branches: dict[str, set[str]] = {}
    for ent, store in ((pe, "before"), (ne, "after")):
        if "branch_id" not in ent or "grid_id" not in ent:
            continue
        for g, bid in zip(ent["grid_id"].fillna("").astype(str), ent["branch_id"].fillna("").astype(str), strict=True):
            if g and bid:
                grid_branches.setdefault(f"{store}:{g}", set()).add(bid)
    for g, members in after_g.items():
        if before_g.get(g) != members:
            continue
        ids = grid_branches.get(f"after:{g}", set())
        if ids == grid_branches.get(f"before:{g}", set()) and all(after_b[i] == before_b.get(i) for i in ids):
            out.add(g)
    return frozenset(out)


def repack_replan(config: Config) -> Callable[[Plan, Plan, frozenset[str], frozenset[str]], Plan]:
    """The lever stage of a re-plan (``replan(..., repack=...)``): grids the re-plan kept
    exactly (:func:`settled_grids`) stay as they are; the others are re-packed for
    coverage gained, keeping the re-plan's branches unless re-packing covers more."""
    def repack(previous: Plan, plan: Plan, locked_grids: frozenset[str], locked_branches: frozenset[str]) -> Plan:
        keep = settled_grids(previous, plan, locked_grids, locked_branches)
        return apply_levers(plan, config, keep_grids=keep, previous=previous)
    return repack


def _max_distance(lonlat: np.ndarray) -> float:
    ok = np.isfinite(lonlat).all(axis=1)
    p = lonlat[ok]
    if len(p) < 2:
        return 0.0
    xy = _utm(p[:, 0], p[:, 1])
    return round(float(np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2).max())), 1)


def _max_distances(lon: np.ndarray, lat: np.ndarray, groups: list[list[int]]) -> list[float]:
    """:func:`_max_distance` of each group of rows, batched: each group projected in the
    UTM zone of its own located rows (as there), the zones in one transform each."""
    from .partition import _to_metres, _utm_epsg

    out = [0.0] * len(groups)
    by_zone: dict[int, list[int]] = {}
    located: list[list[int]] = []
    for k, rows in enumerate(groups):
        ok = [r for r in rows if np.isfinite(lon[r]) and np.isfinite(lat[r])]
        located.append(ok)
        if len(ok) >= 2:
            by_zone.setdefault(_utm_epsg(float(np.mean(lon[ok])), float(np.mean(lat[ok]))), []).append(k)
    for epsg, ks in by_zone.items():
        flat = np.asarray([r for k in ks for r in located[k]], dtype=np.int64)
        xy = _to_metres(lon[flat], lat[flat], epsg)
        size = max(len(located[k]) for k in ks)
        pad = np.full((len(ks), size, 2), np.nan)
        at = 0
        for i, k in enumerate(ks):
            m = len(located[k])
            pad[i, :m] = xy[at:at + m]
            at += m
        d2 = ((pad[:, :, None, :] - pad[:, None, :, :]) ** 2).sum(axis=3)
        far = np.sqrt(np.nanmax(np.where(np.isnan(d2), -np.inf, d2).reshape(len(ks), -1), axis=1))
        for i, k in enumerate(ks):
            out[k] = round(float(far[i]), 1)
    return out


def _pack_unit(rows_u: np.ndarray, xy: np.ndarray, kind: np.ndarray, gain: np.ndarray, mem: np.ndarray,
               grid: np.ndarray, branch: np.ndarray, org: np.ndarray, sect: list[str], allowed: set[str],
               levers: frozenset[str], config: Config, status_of: dict[str, str],
               rows_of: dict[str, list[int]], keep_grids: frozenset[str] = frozenset(),
               previous: dict[frozenset[int], str] | None = None, quick: bool = False,
               unit_name: str = "", geometry: dict[str, _UnitState] | None = None) -> tuple[list[tuple[tuple[int, ...], str, str, str]], set[str]]:
    """Branches of one unit: (rows, lever, kept branch id or "", status), and the old
    branch ids they replace (every branch of a re-packed grid)."""
    out: list[tuple[tuple[int, ...], str, str, str]] = []
    solved: set[str] = set()
    # rows of the unit by grid (one pass; a grid's rows in row order)
    by_grid: dict[str, list[int]] = {}
    for r, g in zip(rows_u.tolist(), grid[rows_u].tolist(), strict=True):
        if g:
            by_grid.setdefault(g, []).append(r)
    for g in sorted(by_grid):
        if g in keep_grids:
            continue
        in_grid = np.asarray(by_grid[g], dtype=np.int64)
        rows_g = in_grid[np.isin(kind[in_grid], sorted(allowed))]
        items: list[_Item] = []
        seen_kept: dict[str, int] = {}
        for r in rows_g.tolist():
            if kind[r] == "kept":
                b = branch[r]
                if b in seen_kept:
                    it = items[seen_kept[b]]
                    items[seen_kept[b]] = _Item((*it.rows, r), "kept", 0, it.members + int(mem[r]))
                    continue
                seen_kept[b] = len(items)
                items.append(_Item((r,), "kept", 0, int(mem[r])))
            else:
                items.append(_Item((r,), str(kind[r]), int(gain[r]), int(mem[r])))
        # kept organisations spanning grids or already full are left as they are
        items = [it for it in items if it.kind != "kept" or (
            len(it.rows) < config.joint_max_units
            and len(rows_of[branch[it.rows[0]]]) == len(it.rows))]
        if not any(it.gain for it in items):
            continue
        # a re-plan: the previous plan's branches of this grid, still whole here
        pool_rows = {r for it in items for r in it.rows}
        grid_rows = set(by_grid[g])
        prev_here = {rows: bid for rows, bid in (previous or {}).items()
                     if grid[next(iter(rows))] == g and rows <= pool_rows
                     and set(rows_of.get(bid, ())) <= grid_rows and _legal(sorted(rows), xy, mem, config)}
        changed = bool(prev_here) and set(prev_here) != {frozenset(rows_of[b]) for b in
                                                          set(branch[rows_g].tolist()) - {""}}
        # the current packing already covers as many as any packing can: keep it (ids stay);
        # not with L2, whose phase needs the member units a packing does not (nor with L5)
        if not levers & {"L2", "L5"} and not changed and _current_gain(items, branch) >= _gain_bound(items, xy, config):
            _STATS["skipped"] += 1
            continue
        _STATS["solved"] += 1
        packing = None
        if quick and not changed:  # rates only (the targets): the greedy packing, optimal at the bound
            packing = _greedy_grid(items, xy, config)
            proved = sum(items[i].gain for idx in packing for i in idx) >= _gain_bound(items, xy, config)
            _STATS["greedy" if proved else "greedy_unproved"] += 1
        old_ids = set(branch[rows_g].tolist()) - {""}
        solved.update(old_ids)
        existing = {frozenset(rows_of[b]): _W_KEEP for b in old_ids}
        existing.update({rows: _W_KEEP_REPLAN for rows in prev_here})
        other_org = bool(np.any(np.isin(kind[in_grid], ["host", "kept"]))) or any(
            b and b not in old_ids for b in branch[in_grid].tolist())
        if packing is None:
            packing = _solve_grid(items, xy, sect, config, levers, existing, need_one=not other_org)
        for idx in packing:
            rows = tuple(r for i in idx for it in [items[i]] for r in it.rows)
            kinds = {items[i].kind for i in idx}
            block = next((items[i] for i in idx if items[i].kind == "kept"), None)
            if block is not None and len(idx) == 1:
                out.append((rows, "", branch[block.rows[0]], "kept"))  # unchanged
                continue
            rowset = frozenset(rows)
            same_old = [b for b in sorted(set(branch[list(rows)].tolist()) - {""})
                        if frozenset(rows_of[b]) == rowset]
            lever = _lever_of(kinds, rows, sect, levers)
            if block is not None:
                out.append((rows, "L4", branch[block.rows[0]], "kept"))
            elif same_old:
                out.append((rows, "" if lever in ("", "L5") else lever, same_old[0], status_of.get(same_old[0], "new")))
            elif rowset in prev_here:
                bid = prev_here[rowset]
                out.append((rows, "" if lever in ("", "L5") else lever, bid, status_of.get(bid, "new")))
            else:
                st = "split" if any(org[r] == "joint" for r in rows) else "new"
                out.append((rows, lever, "", st))
    # every grid unit that was re-packed keeps its old branch untouched unless re-placed:
    # units of old branches in the solved grids not in the new set are released by the caller
    if "L2" in levers:
        # the greedy L2 phase in L2_RESTARTS orders (the first unperturbed, the others with
        # seeded noise); the most gain, then the fewest branches, then the earliest is kept
        best: tuple[tuple[int, int, int], list[tuple[tuple[int, ...], str, str, str]]] | None = None
        geo = _UnitState(xy, rows_u, config, known=None if geometry is None else geometry.get(str(unit_name)))
        if geometry is not None:
            geometry[str(unit_name)] = geo
        # a large unit gets fewer orders (each pass is near-linear; a city stays within seconds)
        restarts = 1 if quick else L2_RESTARTS if len(rows_u) <= L2_FULL_RESTARTS_MAX else \
            max(2, L2_RESTARTS * L2_FULL_RESTARTS_MAX // len(rows_u))
        for restart in range(restarts):
            trial = _l2_unit(rows_u, xy, kind, gain, mem, grid, branch, out, solved, levers, config, status_of, rows_of,
                             keep_grids, geo, restart=restart)
            score = (sum(int(gain[r]) for rows, *_ in trial for r in rows), -len(trial), -restart)
            if best is None or score > best[0]:
                best = (score, trial)
        assert best is not None
        geo.release()  # only the compact arrays are kept for the next lever set
        out = best[1]
        solved.update(b for rows, *_ in out for b in branch[list(rows)].tolist())
        solved.discard("")
    return out, solved


def _lever_of(kinds: set[str], rows: tuple[int, ...], sect: list[str], levers: frozenset[str]) -> str:
    if "host" in kinds:
        return "L1"
    if "kept" in kinds:
        return "L4"
    if "attached" in kinds:
        return "L3"
    if "small" in kinds:
        return "L2"
    if "L5" in levers and len({sect[r] for r in rows}) == 1 and sect[rows[0]]:
        return "L5"
    return ""


def _l2_unit(rows_u: np.ndarray, xy: np.ndarray, kind: np.ndarray, gain: np.ndarray, mem: np.ndarray,
             grid: np.ndarray, branch: np.ndarray, out: list[tuple[tuple[int, ...], str, str, str]],
             solved: set[str], levers: frozenset[str], config: Config, status_of: dict[str, str],
             rows_of: dict[str, list[int]], keep_grids: frozenset[str], st: _UnitState, *, restart: int = 0) -> list[tuple[tuple[int, ...], str, str, str]]:
    """L2: below-E1 (and left-over grid) units fill free places, join unused hosts, and form
    township/community branches among themselves."""
    noise = np.random.default_rng(restart).random(len(xy)) * 2 if restart else np.zeros(len(xy))
    # the unit's branches after the grid phase: re-packed ones, plus untouched old ones
    placed_rows = {r for rows, *_ in out for r in rows}
    work: list[list[object]] = [[list(rows), lever, bid, status] for rows, lever, bid, status in out]
    row_work: dict[int, int] = {r: k for k, w in enumerate(work) for r in w[0]}  # type: ignore[attr-defined]
    for b in sorted(set(branch[rows_u].tolist()) - {""} - solved):
        rows = list(rows_of[b])
        if (status_of.get(b) == "kept" and "L4" not in levers) or grid[rows[0]] in keep_grids:
            continue
        if len(rows) < config.joint_max_units and all(np.isfinite(xy[r]).all() for r in rows):
            row_work.update({r: len(work) for r in rows})
            work.append([rows, "", b, status_of.get(b, "new")])
            placed_rows.update(rows)
    free = [int(r) for r in rows_u if r not in placed_rows and gain[r] > 0
            and (kind[r] == "small" or (kind[r] == "cand" and (branch[r] == "" or branch[r] in solved)
                                        and grid[r] not in keep_grids))]
    free_set = set(free)

    def grid_ok(rows: list[int], j: int) -> bool:
        gs = {grid[r] for r in rows} - {""}
        return not grid[j] or not gs or gs == {grid[j]}

    # 1. free places (fewest options first, then nearest branch)
    cap = config.joint_max_units

    def options(j: int) -> list[int]:
        near: set[int] = {k for k in map(row_work.get, st.near(j)) if k is not None}
        return [k for k in sorted(near) if len(work[k][0]) < cap  # type: ignore[arg-type,index]
                and grid_ok(work[k][0], j) and st.fits(work[k][0], j)]  # type: ignore[arg-type,index]

    for j in sorted(free, key=lambda j: (len(options(j)) + noise[j], j)):
        opts = options(j)
        if not opts:
            continue
        k = min(opts, key=lambda k: (float(((xy[work[k][0]].mean(axis=0) - xy[j]) ** 2).sum()), k))  # type: ignore[index,call-overload]
        work[k][0].append(j)  # type: ignore[attr-defined]
        row_work[j] = k
        if not work[k][1]:
            work[k][1] = "L2" if kind[j] == "small" else work[k][1]
        if work[k][3] == "kept":
            work[k][1] = "L4"
        free_set.discard(j)
    # 2. unused L1 hosts take in up to four nearest
    if "L1" in levers:
        hosts = [int(r) for r in rows_u if kind[r] == "host" and r not in placed_rows]
        for h in sorted(hosts, key=lambda h: (sum(1 for j in st.near(h) if j in free_set) + noise[h], h)):
            rows = [h]
            for j in [j for j in _nearest_first(st, h, free_set) if grid_ok([h], j)]:
                if len(rows) >= config.joint_max_units:
                    break
                if st.fits(rows, j) and grid_ok(rows, j):
                    rows.append(j)
            if len(rows) >= 2:
                free_set.difference_update(rows)
                row_work.update({r: len(work) for r in rows})
                work.append([rows, "L1", "", "new"])
    # 3. township/community branches anchored by below-E1 member units
    anchors = [int(r) for r in rows_u if kind[r] == "small" and gain[r] == 0 and mem[r] >= 1]
    # grid units left out of every branch that hold members (attached fallback, L3 anchors)
    anchors += [int(r) for r in rows_u if r not in placed_rows and gain[r] == 0 and mem[r] >= 1
                and (kind[r] == "cand" or (kind[r] == "attached" and "L3" in levers)) and grid[r] not in keep_grids
                and int(r) not in row_work]
    anchors += [j for j in sorted(free_set) if mem[j] >= 1]
    anchor_set = set(anchors)
    used: set[int] = set()
    for a in sorted(anchors, key=lambda a: (-int(mem[a]) + noise[a], a)):
        if a in used or len(free_set) - (a in free_set) == 0:
            continue
        core = [a]
        total = int(mem[a])
        for b in [b for b in _nearest_first(st, a, anchor_set) if b not in used and b != a]:
            if total >= config.joint_min_members:
                break
            if st.fits(core, b) and grid_ok(core, b) and len(core) < config.joint_max_units - 1:
                core.append(b)
                total += int(mem[b])
        if total < config.joint_min_members:
            continue
        rows = list(core)
        for j in [j for j in _nearest_first(st, a, free_set) if j not in rows]:
            if len(rows) >= config.joint_max_units:
                break
            if st.fits(rows, j) and grid_ok(rows, j):
                rows.append(j)
        if sum(int(gain[r]) for r in rows) == 0:
            continue
        used.update(rows)
        free_set.difference_update(rows)
        row_work.update({r: len(work) for r in rows})
        work.append([rows, "L2", "", "new"])
    # 4. last pass: free places again, then swaps — a unit without members takes the place of
    # a unit that gains nothing and whose members the branch does not need (O6 kept)
    for j in sorted(free_set, key=lambda j: (len(options(j)) + noise[j], j)):
        opts = options(j)
        if opts:
            k = min(opts, key=lambda k: (float(((xy[work[k][0]].mean(axis=0) - xy[j]) ** 2).sum()), k))  # type: ignore[index,call-overload]
            work[k][0].append(j)  # type: ignore[attr-defined]
            row_work[j] = k
            free_set.discard(j)
    for j in sorted(free_set):
        for kw in sorted({row_work[r] for r in st.near(j) if r in row_work}):
            w = work[kw]
            rows = w[0]  # type: ignore[assignment]
            total = int(sum(int(mem[r]) for r in rows))  # type: ignore[attr-defined]
            out_k = next((k for k in rows  # type: ignore[attr-defined]
                          if gain[k] == 0 and kind[k] not in ("host", "kept")
                          and total - int(mem[k]) + int(mem[j]) >= config.joint_min_members
                          and st.fits([r for r in rows if r != k], j)  # type: ignore[attr-defined]
                          and grid_ok([r for r in rows if r != k], j)), None)  # type: ignore[attr-defined]
            if out_k is not None:
                rows.remove(out_k)  # type: ignore[attr-defined]
                rows.append(j)  # type: ignore[attr-defined]
                del row_work[out_k]
                row_work[j] = kw
                free_set.discard(j)
                break
    return [(tuple(int(r) for r in w[0]), str(w[1]), str(w[2]), str(w[3])) for w in work]  # type: ignore[attr-defined]


def check_branches(plan: Plan, config: Config | None = None) -> list[str]:
    """Every violation of O6/O7 and of "one grid per branch" in a plan, from its enterprise table.

    Independent of the packing: reads ``branch_id`` per enterprise and recomputes
    units, formal members, the unit, the grids and the pairwise distance.
    """
    config = config or plan.config
    ent = plan.enterprises
    problems: list[str] = []
    with_b = ent[ent["branch_id"].fillna("").astype(str).ne("")]
    for bid, g in with_b.groupby("branch_id", sort=True):
        if not 2 <= len(g) <= config.joint_max_units:
            problems.append(f"{bid}: {len(g)} units")
        if int(g["members"].sum()) < config.joint_min_members:
            problems.append(f"{bid}: {int(g['members'].sum())} formal members")
        if g["unit"].astype(str).nunique() != 1:
            problems.append(f"{bid}: {g['unit'].nunique()} units (jurisdictions)")
        grids = set(g["grid_id"].fillna("").astype(str)) - {""}
        if len(grids) > 1:
            problems.append(f"{bid}: {len(grids)} grids")
        ok = g[np.isfinite(g["lon"].astype(float)) & np.isfinite(g["lat"].astype(float))]
        if len(ok) >= 2:
            d = _max_distance(np.c_[ok["lon"].astype(float), ok["lat"].astype(float)])
            if d > config.joint_max_distance_m + 1e-3:
                problems.append(f"{bid}: {d:.0f} m apart")
    return problems
