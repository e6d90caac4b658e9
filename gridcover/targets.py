"""What it takes to reach the targets (M4): ``targets.csv``, ``members_needed.csv``, 达标路径.

For each scope (all / eligible / survey), each unit and the total, and each
organisational coverage target of ``config.org_targets_by_year`` (M4: 90 %, then 100 %):

* ``org_rate_now`` — M1 as the ledger stands; ``org_rate_plan`` — M1 after the plan (with
  the plan's own levers, ``config.levers``);
* ``ceiling_base`` — M1 under the base rules (no lever), packed for coverage gained;
* ``L1`` … ``L5`` — M1 with the levers switched on cumulatively (L1; L1+L2; …; all five).
  Each variant re-packs the plan per unit and grid (:func:`gridcover.levers.apply_levers`
  per grid an exact MILP; above :data:`QUICK_ABOVE` enterprises with ``quick``: a grid
  whose greedy packing reaches its proven bound skips the MILP);
* ``gap_after_levers`` — what remains to the target with every lever (a fraction, 0 when met);
* ``members_needed`` — the fewest new formal members (发展党员) that close that gap.

All rates are read from :func:`gridcover.coverage.measure` run on each variant plan,
never recomputed here.

New members close the gap this way (the model, documented and tested): an uncovered
enterprise brought to ``branch_min_members`` formal members builds its own branch (O1)
and, as an L1 host, takes in up to ``joint_max_units - 1`` other uncovered enterprises of
its unit (one grid, pairwise ``joint_max_distance_m``, O6/O7). The fewest members that
cover ``need`` more enterprises are found exactly (a MILP, ``scipy.optimize.milp``) when
at most :data:`EXACT_MAX` enterprises are uncovered in the area solved, otherwise greedily
(most enterprises per new member first, per unit with a spatial index, near-linear).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from .config import LEVERS, Config
from .coverage import SCOPES, Coverage, measure_plan
from .plan import Plan

__all__ = ["MEMBERS_COLUMNS", "TARGET_COLUMNS", "Targets", "fewest_members", "what_it_takes"]

logger = logging.getLogger(__name__)

#: Columns of ``targets.csv`` (DESIGN.md), in order.
TARGET_COLUMNS: Final = ("scope", "unit_type", "unit", "org_rate_now", "org_rate_plan", "ceiling_base",
                         *LEVERS, "target", "gap_after_levers", "members_needed")
#: Columns of ``members_needed.csv`` (DESIGN.md).
MEMBERS_COLUMNS: Final = ("uscc", "grid_id", "new_members", "reason")
#: Largest set of uncovered enterprises solved exactly ...
EXACT_MAX: Final = 120
#: ... when they have at most this many compatible (host, enterprise) pairs (a dense set
#: makes the MILP slow: 100 enterprises in 6 km × 6 km, 4,600 pairs, take seconds).
EXACT_MAX_PAIRS: Final = 1500
#: Plans above this many enterprises pack their lever variants in ``quick`` mode.
QUICK_ABOVE: Final = 5000


@dataclass(frozen=True)
class Targets:
    """The "what it takes" tables of a plan.

    Attributes
    ----------
    table
        ``targets.csv`` (:data:`TARGET_COLUMNS`), one row per scope, unit and target.
    members
        ``members_needed.csv`` (:data:`MEMBERS_COLUMNS`): the new formal members that
        close the last target's gap on the whole area (scope all), with every lever.
    years
        The target year of each row of ``table`` (M4, ``config.org_targets_by_year``).
    """

    table: pd.DataFrame
    members: pd.DataFrame
    years: tuple[int, ...] = ()


def _empty_members() -> pd.DataFrame:
    return pd.DataFrame({"uscc": pd.Series(dtype="str"), "grid_id": pd.Series(dtype="str"),
                         "new_members": pd.Series(dtype="int64"), "reason": pd.Series(dtype="str")})


def _compatible(xy: np.ndarray, grid: list[str], unit: list[str], limit: float) -> np.ndarray:
    d = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    ok = d <= limit + 1e-6
    g = np.asarray(grid, dtype=object)
    u = np.asarray(unit, dtype=object)
    same_unit = u[:, None] == u[None, :]
    grid_ok = (g[:, None] == g[None, :]) | (g[:, None] == "") | (g[None, :] == "")
    return ok & same_unit & grid_ok


def fewest_members(xy: np.ndarray, members: np.ndarray, grid: list[str], unit: list[str], need: int,
                   config: Config, *, exact: bool = True) -> list[tuple[int, int, list[int]]]:
    """The fewest new formal members that cover ``need`` of the given uncovered enterprises.

    Parameters
    ----------
    xy
        ``(n, 2)`` metres of the uncovered enterprises.
    members
        Their formal members now.
    grid, unit
        Their grid ("" none) and jurisdiction unit (a host takes in only its unit's and
        grid's enterprises).
    need
        How many of them must become covered.
    config
        O1 (``branch_min_members``), O6 (``joint_max_units``), O7 (``joint_max_distance_m``).
    exact
        Try the exact MILP where the set is small (below); ``False``: the greedy only
        (plans above :data:`QUICK_ABOVE` enterprises, where hundreds of unit × scope ×
        target sets would each take a MILP).

    Returns
    -------
    list of (host, new members, covered)
        Positions of the hosts, the members each needs, and the positions each covers
        (itself first). Empty when ``need <= 0``; covers as many as possible when
        fewer than ``need`` can be.

    Notes
    -----
    Exact (a MILP) when at most :data:`EXACT_MAX` enterprises with at most
    :data:`EXACT_MAX_PAIRS` compatible pairs are given; beyond, greedy
    per unit (hosts never cross a unit): each unit's hosts in order of enterprises covered
    per new member (lazy, each host's take re-checked before it is used), the units'
    sequences merged by that ratio — near-linear in the enterprises.
    """
    n = len(xy)
    if need <= 0 or n == 0:
        return []
    need = min(need, n)
    cost = np.maximum(config.branch_min_members - np.asarray(members, dtype=int), 1)
    xy = np.asarray(xy, dtype=float)
    if exact and n <= EXACT_MAX:
        comp = _compatible(xy, grid, unit, config.joint_max_distance_m)
        if int(comp.sum()) <= EXACT_MAX_PAIRS:
            found = _exact(comp, cost, need, config.joint_max_units)
            if found is not None:
                return found
    return _greedy(xy, cost, grid, unit, need, config)


def _greedy(xy: np.ndarray, cost: np.ndarray, grid: list[str], unit: list[str], need: int,
            config: Config) -> list[tuple[int, int, list[int]]]:
    """Lazy greedy over all units at once (one heap keyed by covered per member)."""
    import heapq

    from scipy.spatial import cKDTree

    n = len(cost)
    cap = config.joint_max_units
    d = config.joint_max_distance_m + 1e-6
    g = np.asarray(grid, dtype=object)
    u = np.asarray(unit, dtype=object)
    near: list[list[int]] = [[] for _ in range(n)]
    for name in sorted(set(u.tolist())):
        idx = np.flatnonzero(u == name)
        tree = cKDTree(xy[idx])
        for a, hits in zip(idx.tolist(), tree.query_ball_point(xy[idx], d), strict=True):
            rows = idx[np.asarray(hits, dtype=np.int64)]
            near[a] = rows[np.lexsort((rows, ((xy[rows] - xy[a]) ** 2).sum(axis=1)))].tolist()
    free = np.ones(n, dtype=bool)
    pts = xy.tolist()

    def ok(a: int, b: int) -> bool:
        (x1, y1), (x2, y2) = pts[a], pts[b]
        return (x1 - x2) ** 2 + (y1 - y2) ** 2 <= d * d and (g[a] == g[b] or not g[a] or not g[b])

    def take_of(h: int) -> list[int]:
        take = [h]
        for j in near[h]:
            if len(take) >= cap:
                break
            if j != h and free[j] and all(ok(j, t) for t in take):
                take.append(j)
        return take

    heap = [(-len(take_of(h)) / cost[h], h) for h in range(n)]
    heapq.heapify(heap)
    out: list[tuple[int, int, list[int]]] = []
    got = 0
    while got < need and heap:
        key, h = heapq.heappop(heap)
        if not free[h]:
            continue
        take = take_of(h)
        fresh = -len(take) / cost[h]
        if fresh > key + 1e-12 and heap and (fresh, h) > heap[0]:
            heapq.heappush(heap, (fresh, h))  # its take shrank: back in the queue
            continue
        if len(take) > need - got:
            take = take[: need - got]
        free[take] = False
        out.append((h, int(cost[h]), take))
        got += len(take)
    return out


def _exact(comp: np.ndarray, cost: np.ndarray, need: int, cap: int, time_limit: float = 30.0
           ) -> list[tuple[int, int, list[int]]] | None:
    """MILP: y_h hosts, x[h, j] j covered by h; min Σ cost·y with Σ x ≥ need."""
    n = len(cost)
    pairs = [(h, j) for h in range(n) for j in range(n) if comp[h, j]]
    var = {p: k for k, p in enumerate(pairs)}
    ny = len(pairs)
    nv = ny + n
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0

    def add(coefs: list[tuple[int, float]], low: float, high: float) -> None:
        nonlocal r
        for c, v in coefs:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        lo.append(low)
        hi.append(high)
        r += 1

    for j in range(n):
        add([(var[(h, j)], 1.0) for h in range(n) if (h, j) in var], -np.inf, 1.0)
    for h in range(n):
        y = ny + h
        add([(var[(h, h)], 1.0), (y, -1.0)], 0.0, 0.0)  # a host covers itself
        members = [j for j in range(n) if (h, j) in var]
        add([*[(var[(h, j)], 1.0) for j in members], (y, -float(cap))], -np.inf, 0.0)
        for a in members:
            for b in members:
                if a < b and not comp[a, b]:
                    add([(var[(h, a)], 1.0), (var[(h, b)], 1.0)], -np.inf, 1.0)
    add([(k, 1.0) for k in range(ny)], float(need), np.inf)
    c = np.zeros(nv)
    c[ny:] = cost
    res = milp(c, constraints=LinearConstraint(coo_matrix((vals, (rows, cols)), shape=(r, nv)).tocsr(), lo, hi),
               integrality=np.ones(nv), bounds=Bounds(0, 1), options={"disp": False, "time_limit": time_limit})
    if res.x is None or res.status != 0:
        return None
    x = np.round(res.x).astype(int)
    out = []
    for h in range(n):
        if x[ny + h]:
            covered = [h] + [j for j in range(n) if j != h and (h, j) in var and x[var[(h, j)]]]
            out.append((h, int(cost[h]), covered))
    return out


#: The coverage tables the lever variants are measured for (their unit and total rates).
_RATES_BY: Final = ("unit", "total")


def _lever_plans(base: Plan, plan: Plan, cov: Coverage, config: Config
                 ) -> tuple[dict[str, Coverage], tuple[str, Plan, Coverage]]:
    """The rates of the plan re-packed with no lever and with L1…Lk for each k (the plan
    itself where its levers are that set), and the variant that covers the most.

    Returns
    -------
    rates, (name, plan, coverage)
        Each variant's coverage (its unit and total tables), and the variant of L1…L5 that
        covers the most enterprises (ties: the later). Only that variant's plan is kept
        while the others are made (at a million rows each is a copy of the whole table).
    """
    from .levers import _UnitState, apply_levers

    rates: dict[str, Coverage] = {}
    best: tuple[tuple[int, int], str, Plan, Coverage] | None = None
    geometry: dict[str, _UnitState] = {}  # the units' neighbour lists, shared by the variants
    for name, levers in (("base", ()), *((LEVERS[k - 1], LEVERS[:k]) for k in range(1, len(LEVERS) + 1))):
        if tuple(config.levers) == tuple(levers):
            variant, measured = plan, cov
        else:  # a large plan: a grid's greedy packing that reaches its proven bound is taken
            variant = apply_levers(base, config.replace(levers=levers), quick=len(base.enterprises) > QUICK_ABOVE,
                                   geometry=geometry)
            measured = measure_plan(variant, by=_RATES_BY, funding=False)
        rates[name] = measured
        if name in LEVERS:
            key = (int(measured.total()["org_covered_after"]), LEVERS.index(name))
            if best is None or key > best[0]:
                best = (key, name, variant, measured)
        del variant
    assert best is not None
    return rates, best[1:]


def _uncovered_frame(plan: Plan, cov: Coverage, scope: str) -> pd.DataFrame:
    from .levers import _utm

    ent = plan.enterprises
    flags = cov.enterprises
    rows = ~flags["org_after"]
    if scope != "all":
        rows &= flags[f"in_{scope}"]
    lon = pd.to_numeric(ent["lon"], errors="coerce")
    lat = pd.to_numeric(ent["lat"], errors="coerce")
    rows &= lon.notna() & lat.notna() & ent["unit"].fillna("").astype(str).ne("")
    sub = ent.loc[rows]
    xy = _utm(lon[rows].to_numpy(), lat[rows].to_numpy()) if len(sub) else np.zeros((0, 2))
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "members": sub["members"].astype(int).to_numpy(),
                         "grid_id": sub["grid_id"].fillna("").astype(str).to_numpy(),
                         "unit": sub["unit"].astype(str).to_numpy()}, index=sub.index)


def what_it_takes(plan: Plan, base: Plan, config: Config | None = None) -> Targets:
    """targets.csv and members_needed.csv of a plan.

    Parameters
    ----------
    plan
        The measured plan (``plan.coverage``), with its own levers.
    base
        The same plan before the lever stage (the partition's output), from which each
        lever variant is made.
    config
        The plan's config by default.
    """
    config = config or plan.config
    cov = plan.coverage if plan.coverage is not None else measure_plan(plan)
    evaluate = len(plan.enterprises) <= config.targets_lever_max_enterprises
    if evaluate:
        # the gap and members_needed start from the variant that covers the most (a lever
        # allowed is never forced: the heuristic L2 phase may do better with fewer levers);
        # a plan made with levers starts from itself, so members_needed.csv names only
        # enterprises this plan leaves without an organisation
        variants, (best, full, full_cov) = _lever_plans(base, plan, cov, config)
        if config.levers:
            best, full, full_cov = "", plan, cov
    else:  # too large to re-pack once per lever set: the lever columns stay blank (NaN)
        logger.warning("targets: %d enterprises > targets_lever_max_enterprises (%d): the lever columns and "
                       "members_needed of targets.csv are not evaluated", len(plan.enterprises),
                       config.targets_lever_max_enterprises)
        from .levers import apply_levers

        plain = plan if not config.levers else apply_levers(base, config.replace(levers=()))
        variants = {"base": cov if not config.levers else measure_plan(plain, by=_RATES_BY, funding=False)}
        full, full_cov = plan, cov
        best = "base"
    goals = config.org_targets()
    parts = []
    member_rows: pd.DataFrame = _empty_members()
    exact = len(plan.enterprises) <= QUICK_ABOVE
    solved: dict[tuple[str, str, str, int], list[tuple[int, int, list[int]]]] = {}
    for scope in SCOPES:
        table = pd.concat([cov.tables[(scope, "unit")], cov.tables[(scope, "total")]], ignore_index=True)
        keys = table[["unit_type", "unit"]].astype(str)
        base_t = {name: pd.concat([v.tables[(scope, "unit")], v.tables[(scope, "total")]], ignore_index=True)
                  for name, v in variants.items()}
        unc = _uncovered_frame(full, full_cov, scope)
        by_unit = dict(iter(unc.groupby("unit", sort=False))) if len(unc) else {}  # one pass, not one per unit
        for year, goal in goals:
            for i, (utype, uname) in enumerate(keys.itertuples(index=False)):
                n = int(table.loc[i, "enterprises"])
                row = {"scope": scope, "unit_type": utype, "unit": uname,
                       "org_rate_now": table.loc[i, "org_rate_before"],
                       "org_rate_plan": table.loc[i, "org_rate_after"],
                       "ceiling_base": base_t["base"].loc[i, "org_rate_after"]}
                for lever in LEVERS:
                    row[lever] = base_t[lever].loc[i, "org_rate_after"] if evaluate else np.nan
                covered = int((base_t[best] if evaluate and best else table).loc[i, "org_covered_after"])
                need = max(0, math.ceil(goal * n - 1e-9) - covered)
                row["target"] = goal
                row["year"] = year
                row["gap_after_levers"] = need / n if n else 0.0
                sub = unc if utype == "total" else by_unit.get(uname, unc.iloc[:0])
                key = (scope, utype, uname, need)
                if key not in solved:  # targets of several years often leave the same gap
                    solved[key] = fewest_members(sub[["x", "y"]].to_numpy(), sub["members"].to_numpy(),
                                                 sub["grid_id"].tolist(), sub["unit"].tolist(), need, config,
                                                 exact=exact) if need and evaluate else []
                picks = solved[key]
                row["members_needed"] = int(sum(p[1] for p in picks)) if evaluate or not need else np.nan
                parts.append(row)
                if scope == "all" and utype == "total" and (year, goal) == goals[-1]:
                    member_rows = _member_rows(sub, picks, year, goal)
    out = pd.DataFrame(parts)
    # allowing one more lever never forces its use: the rate with more levers is at least
    # the rate with fewer (a heuristic packing that came out lower is not the answer)
    if evaluate:
        out[list(LEVERS)] = out[["ceiling_base", *LEVERS]].cummax(axis=1)[list(LEVERS)]
    return Targets(table=out[list(TARGET_COLUMNS)].reset_index(drop=True), members=member_rows,
                   years=tuple(int(y) for y in out["year"]))


def _member_rows(sub: pd.DataFrame, picks: list[tuple[int, int, list[int]]], year: int,
                 goal: float) -> pd.DataFrame:
    if not picks:
        return _empty_members()
    uscc = sub.index.astype(str).tolist()
    rows = []
    for h, k, covered in picks:
        others = len(covered) - 1
        reason = (f"发展{k}名正式党员后单独组建党支部（O1）"
                  + (f"，并带建周边{others}家未覆盖企业（L1，O6/O7）" if others else "")
                  + f"；为实现{year}年党组织覆盖率{goal:.0%}目标")
        rows.append({"uscc": uscc[h], "grid_id": str(sub["grid_id"].iloc[h]), "new_members": int(k),
                     "reason": reason})
    return pd.DataFrame(rows, columns=list(MEMBERS_COLUMNS)).astype({"new_members": "int64"})
