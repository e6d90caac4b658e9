"""Solver cores on points in metres and on coverage matrices (no GeoDataFrames here).

Two problems of the work-coverage resources (RULES.md W1–W3):

* :func:`capacitated_assignment` — instructors (党建工作指导员) to enterprises,
  nearest-first within capacity (W1/W2): a min-cost flow (``networkx.network_simplex``,
  or OR-Tools' SimpleMinCostFlow for large graphs when installed)
  on a sparse graph of the ``k`` nearest instructors of each enterprise, with integer
  metre costs. The sparse answer is then *proved* optimal for the complete bipartite
  graph by the reduced-cost test on node potentials (Bellman–Ford on the residual
  graph); any pair that fails the test joins the graph and the flow is solved again,
  so the result always equals the all-pairs optimum.
* :func:`mclp_greedy_swap` and :func:`mclp_milp` — the maximal covering location
  problem (W3) on a sparse demand × candidate coverage matrix: a fast greedy with
  swap local search, and the exact MILP (``scipy.optimize.milp``, HiGHS) to compare.

Examples
--------
>>> import numpy as np
>>> from gridcover._flow import capacitated_assignment
>>> ent = np.array([[0.0, 0.0], [10.0, 0.0], [1000.0, 0.0]])
>>> ins = np.array([[5.0, 0.0], [990.0, 0.0]])
>>> capacitated_assignment(ent, ins, np.array([2, 1])).supplier.tolist()
[0, 0, 1]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.spatial import cKDTree

__all__ = [
    "Assignment",
    "MclpResult",
    "capacitated_assignment",
    "coverage_matrix",
    "mclp_greedy_swap",
    "mclp_milp",
    "mclp_value",
]

logger = logging.getLogger(__name__)

#: Nearest instructors first put in the flow graph per enterprise (the graph stays sparse;
#: optimality over all pairs is checked afterwards, see the module docstring).
DEFAULT_NEIGHBOURS = 8
#: With ``solver="auto"``, flow graphs with more pairs than this go to OR-Tools when it
#: is installed (networkx's pure-Python network simplex takes about a second at 10^4 pairs
#: and is called once per unit and round, so every graph goes to OR-Tools where it exists).
AUTO_ORTOOLS_EDGES = 0
_SLOW_EDGES = 20_000

Solver = Literal["auto", "networkx", "ortools"]
_CHUNK = 2048


@dataclass(frozen=True)
class Assignment:
    """Result of :func:`capacitated_assignment`.

    Attributes
    ----------
    supplier
        Index of the instructor each enterprise is assigned to, -1 when unassigned.
    distance
        Straight-line distance in metres (NaN when unassigned).
    cost
        Total integer-metre cost of the assigned pairs.
    edges
        Enterprise–instructor pairs in the final flow graph.
    rounds
        Flow solves needed (1 when the k-nearest graph was already optimal).
    """

    supplier: NDArray[np.int64]
    distance: NDArray[np.float64]
    cost: int
    edges: int
    rounds: int


def _int_cost(d: NDArray[np.float64]) -> NDArray[np.int64]:
    return np.rint(d).astype(np.int64)


def _ortools_available() -> bool:
    try:
        from ortools.graph.python import min_cost_flow  # noqa: F401
    except ImportError:
        return False
    return True


def _solve_flow(n: int, m: int, rows: NDArray[np.int64], cols: NDArray[np.int64],
                cost: NDArray[np.int64], capacity: NDArray[np.int64], big: int,
                solver: Solver) -> NDArray[np.int64]:
    if solver == "auto":
        solver = "networkx"
        if len(rows) > AUTO_ORTOOLS_EDGES:
            if _ortools_available():
                solver = "ortools"
            elif len(rows) > _SLOW_EDGES:
                logger.info("%d pairs in the flow graph: `pip install ortools` solves it much faster", len(rows))
    if solver == "ortools":
        return _solve_flow_ortools(n, m, rows, cols, cost, capacity, big)
    return _solve_flow_networkx(n, m, rows, cols, cost, capacity, big)


def _solve_flow_ortools(n: int, m: int, rows: NDArray[np.int64], cols: NDArray[np.int64],
                        cost: NDArray[np.int64], capacity: NDArray[np.int64], big: int) -> NDArray[np.int64]:
    """The flow of :func:`_solve_flow_networkx` with OR-Tools' SimpleMinCostFlow (C++)."""
    try:
        from ortools.graph.python import min_cost_flow
    except ImportError:
        msg = "solver='ortools' needs OR-Tools: pip install ortools"
        raise ImportError(msg) from None
    sink = n + m
    spare = np.flatnonzero(capacity > 0)
    tails = np.concatenate([rows, n + spare, np.arange(n)]).astype(np.int64)
    heads = np.concatenate([n + cols, np.full(len(spare), sink), np.full(n, sink)]).astype(np.int64)
    caps = np.concatenate([np.ones(len(rows)), capacity[spare], np.ones(n)]).astype(np.int64)
    costs = np.concatenate([cost, np.zeros(len(spare)), np.full(n, big)]).astype(np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supplies = np.zeros(n + m + 1, dtype=np.int64)
    supplies[:n] = 1
    supplies[sink] = -n
    flow.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        msg = f"OR-Tools min-cost flow failed: status {status}"
        raise RuntimeError(msg)
    used = flow.flows(arcs[:len(rows)]) > 0
    supplier = np.full(n, -1, dtype=np.int64)
    supplier[rows[used]] = cols[used]
    return supplier


def _solve_flow_networkx(n: int, m: int, rows: NDArray[np.int64], cols: NDArray[np.int64],
                         cost: NDArray[np.int64], capacity: NDArray[np.int64], big: int) -> NDArray[np.int64]:
    """Min-cost flow: enterprise ``j`` (supply 1) → instructor ``i`` (cost) → sink (capacity),
    plus a bypass ``j`` → sink at cost ``big`` so that the most enterprises are assigned first."""
    import networkx as nx

    g = nx.DiGraph()
    sink = n + m
    for j in range(n):
        g.add_node(j, demand=-1)
    for i in range(m):
        g.add_node(n + i, demand=0)
    g.add_node(sink, demand=n)
    for j, i, c in zip(rows.tolist(), cols.tolist(), cost.tolist(), strict=True):
        g.add_edge(j, n + i, capacity=1, weight=c)
    for i in range(m):
        if capacity[i] > 0:
            g.add_edge(n + i, sink, capacity=int(capacity[i]), weight=0)
    for j in range(n):
        g.add_edge(j, sink, capacity=1, weight=big)
    _, flow = nx.network_simplex(g)
    supplier = np.full(n, -1, dtype=np.int64)
    for j in range(n):
        for node, f in flow[j].items():
            if f > 0 and node != sink:
                supplier[j] = node - n
    return supplier


def _potentials(n: int, m: int, rows: NDArray[np.int64], cols: NDArray[np.int64],
                cost: NDArray[np.int64], capacity: NDArray[np.int64], supplier: NDArray[np.int64],
                big: int) -> NDArray[np.int64]:
    """Node potentials of the residual graph (Bellman–Ford towards a virtual sink)."""
    sink = n + m
    used = supplier[rows] == cols
    load = np.bincount(supplier[supplier >= 0], minlength=m)
    ent = np.arange(n)
    ins = np.arange(m)
    src = [np.where(used, n + cols, rows)]
    dst = [np.where(used, rows, n + cols)]
    wgt = [np.where(used, -cost, cost)]
    spare = load < capacity
    src += [n + ins[spare], np.full(int((load > 0).sum()), sink)]
    dst += [np.full(int(spare.sum()), sink), n + ins[load > 0]]
    wgt += [np.zeros(int(spare.sum()), np.int64), np.zeros(int((load > 0).sum()), np.int64)]
    assigned = supplier >= 0
    src += [ent[assigned], np.full(int((~assigned).sum()), sink)]
    dst += [np.full(int(assigned.sum()), sink), ent[~assigned]]
    wgt += [np.full(int(assigned.sum()), big, np.int64), np.full(int((~assigned).sum()), -big, np.int64)]
    u = np.concatenate(src).astype(np.int64)
    v = np.concatenate(dst).astype(np.int64)
    w = np.concatenate(wgt).astype(np.int64)
    # Shortest distance from every node to a virtual sink (0-cost edges from all nodes):
    # pi = -rho are the *least* feasible potentials. With them an unassigned enterprise
    # (reached only by the -big bypass edge) keeps a potential near 0, so a missing pair
    # fails the reduced-cost test only where it could really shorten the assignment.
    rho = np.zeros(n + m + 1, dtype=np.int64)
    for _ in range(n + m + 2):
        new = rho.copy()
        np.minimum.at(new, u, w + rho[v])
        if np.array_equal(new, rho):
            return -rho
        rho = new
    msg = "negative cycle in the residual graph: the flow solution is not optimal"
    raise RuntimeError(msg)


def _violations(ent: NDArray[np.float64], ins: NDArray[np.float64], pi: NDArray[np.int64],
                rows: NDArray[np.int64], cols: NDArray[np.int64], per_row: int
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pairs outside the graph with negative reduced cost (they could improve the flow):
    at most ``per_row`` per enterprise, the most negative first."""
    n, m = len(ent), len(ins)
    out_r: list[NDArray[np.int64]] = []
    out_c: list[NDArray[np.int64]] = []
    pi_e = pi[:n]
    pi_i = pi[n:n + m]
    take = min(per_row, m)
    for start in range(0, n, _CHUNK):
        block = ent[start:start + _CHUNK]
        d = _int_cost(np.hypot(block[:, None, 0] - ins[None, :, 0], block[:, None, 1] - ins[None, :, 1]))
        reduced = d + pi_e[start:start + len(block), None] - pi_i[None, :]
        sel = (rows >= start) & (rows < start + len(block))
        reduced[rows[sel] - start, cols[sel]] = 0  # already in the graph
        bad_rows = np.flatnonzero((reduced < 0).any(axis=1))
        if bad_rows.size == 0:
            continue
        sub = reduced[bad_rows]
        order = np.argsort(sub, axis=1, kind="stable")[:, :take]
        vals = np.take_along_axis(sub, order, axis=1)
        r_idx, k_idx = np.nonzero(vals < 0)
        out_r.append((bad_rows[r_idx] + start).astype(np.int64))
        out_c.append(order[r_idx, k_idx].astype(np.int64))
    if not out_r:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_r), np.concatenate(out_c)


def capacitated_assignment(enterprises_xy: NDArray[np.float64], instructors_xy: NDArray[np.float64],
                           capacity: NDArray[np.int64], *, k: int = DEFAULT_NEIGHBOURS,
                           max_distance: float | None = None, solver: Solver = "auto") -> Assignment:
    """Assign points to capacitated suppliers, most assigned first, then least total distance.

    W1/W2: each enterprise gets at most one instructor, an instructor takes at most
    ``capacity`` enterprises; among the assignments that place the most enterprises,
    the one with the least total (integer-metre) distance is returned.

    Parameters
    ----------
    enterprises_xy, instructors_xy
        ``(n, 2)`` and ``(m, 2)`` coordinates in metres (a projected CRS).
    capacity
        ``(m,)`` non-negative integers.
    k
        Nearest instructors per enterprise in the first flow graph.
    max_distance
        Pairs farther apart are never assigned (``None``: no limit).
    solver
        ``networkx`` (network simplex, pure Python), ``ortools`` (SimpleMinCostFlow,
        needs ``ortools``) or ``auto``: OR-Tools when installed, else networkx. Both are exact: the same number assigned and
        the same total distance; between equally short assignments they may differ.

    Returns
    -------
    Assignment
        Supplier index per enterprise (-1 when unassigned) and distances.
    """
    ent = np.asarray(enterprises_xy, dtype=float).reshape(-1, 2)
    ins = np.asarray(instructors_xy, dtype=float).reshape(-1, 2)
    cap = np.asarray(capacity, dtype=np.int64).reshape(-1)
    n, m = len(ent), len(ins)
    if len(cap) != m:
        msg = f"capacity has {len(cap)} entries for {m} instructors"
        raise ValueError(msg)
    if (cap < 0).any():
        msg = "capacity must be non-negative"
        raise ValueError(msg)
    if n == 0 or m == 0 or cap.sum() == 0:
        return Assignment(np.full(n, -1, np.int64), np.full(n, np.nan), 0, 0, 0)
    limit = np.inf if max_distance is None else float(max_distance)
    kk = min(max(1, k), m)
    dist, idx = cKDTree(ins).query(ent, k=kk)
    dist = np.asarray(dist, dtype=float).reshape(n, kk)
    idx = np.asarray(idx, dtype=np.int64).reshape(n, kk)
    rows = np.repeat(np.arange(n, dtype=np.int64), kk)
    cols = idx.reshape(-1)
    keep = dist.reshape(-1) <= limit
    rows, cols = rows[keep], cols[keep]
    # Bypass cost: more than any total distance, so the most enterprises are assigned first.
    span = float(np.ptp(np.vstack([ent, ins]), axis=0).sum()) + 2.0
    big = int(n * (span if max_distance is None else min(span, limit)) + 1)
    rounds = 0
    while True:
        rounds += 1
        cost = _int_cost(np.hypot(*(ent[rows] - ins[cols]).T))
        supplier = _solve_flow(n, m, rows, cols, cost, cap, big, solver)
        if kk == m and max_distance is None:
            break  # the graph already holds every pair
        pi = _potentials(n, m, rows, cols, cost, cap, supplier, big)
        # more pairs per enterprise each round: few rounds even where capacity is tight
        add_r, add_c = _violations(ent, ins, pi, rows, cols, kk << min(rounds - 1, 20))
        if max_distance is not None and add_r.size:
            ok = np.hypot(*(ent[add_r] - ins[add_c]).T) <= limit
            add_r, add_c = add_r[ok], add_c[ok]
        if add_r.size == 0:
            break
        logger.debug("flow round %d: %d pairs with negative reduced cost added", rounds, add_r.size)
        rows = np.concatenate([rows, add_r])
        cols = np.concatenate([cols, add_c])
    distance = np.full(n, np.nan)
    ok = supplier >= 0
    distance[ok] = np.hypot(*(ent[ok] - ins[supplier[ok]]).T)
    total = int(_int_cost(distance[ok]).sum())
    return Assignment(supplier, distance, total, int(len(rows)), rounds)


# --- maximal covering location (W3) ----------------------------------------------------


@dataclass(frozen=True)
class MclpResult:
    """Result of an MCLP solver.

    Attributes
    ----------
    selected
        Candidate indices in rank order (each adds the most of what is left).
    value
        Covered weight of the selection.
    optimal
        True when proved optimal (MILP finished), False for the heuristic or a
        MILP stopped at its time limit.
    swaps
        Improving swaps the local search made (heuristic only).
    """

    selected: NDArray[np.int64]
    value: float
    optimal: bool
    swaps: int = 0


def coverage_matrix(demand_xy: NDArray[np.float64], candidate_xy: NDArray[np.float64],
                    radius: float) -> sp.csr_array:
    """Sparse boolean ``(demand, candidate)`` matrix: candidate within ``radius`` metres.

    Examples
    --------
    >>> import numpy as np
    >>> a = coverage_matrix(np.array([[0.0, 0.0], [5.0, 0.0]]), np.array([[0.0, 0.0]]), 2.0)
    >>> a.toarray().ravel().tolist()
    [True, False]
    """
    dem = np.asarray(demand_xy, dtype=float).reshape(-1, 2)
    cand = np.asarray(candidate_xy, dtype=float).reshape(-1, 2)
    if len(dem) == 0 or len(cand) == 0:
        return sp.csr_array((len(dem), len(cand)), dtype=bool)
    pairs = cKDTree(dem).query_ball_tree(cKDTree(cand), r=float(radius))
    rows = np.repeat(np.arange(len(dem)), [len(p) for p in pairs])
    cols = np.fromiter((c for p in pairs for c in sorted(p)), dtype=np.int64, count=len(rows))
    a = sp.csr_array((np.ones(len(rows), dtype=bool), (rows, cols)), shape=(len(dem), len(cand)))
    a.sort_indices()
    return a


def _as_int_cover(cover: sp.sparray | sp.spmatrix) -> sp.csc_array:
    return sp.csc_array(cover, dtype=np.int64)


def mclp_value(cover: sp.sparray | sp.spmatrix, weight: NDArray[np.floating] | NDArray[np.integer],
               selected: NDArray[np.int64]) -> float:
    """Weight of the demand covered by the ``selected`` candidates."""
    a = _as_int_cover(cover)
    sel = np.asarray(selected, dtype=np.int64)
    if sel.size == 0:
        return 0.0
    hit = np.asarray(a[:, sel].sum(axis=1)).ravel() > 0
    return float(np.asarray(weight)[hit].sum())


def _rank(a: sp.csc_array, w: NDArray[np.floating] | NDArray[np.integer], chosen: list[int]
          ) -> NDArray[np.int64]:
    """Order a selection greedily: each next site adds the most remaining weight."""
    left = list(chosen)
    out: list[int] = []
    uncovered = np.ones(a.shape[0], dtype=np.int64)
    while left:
        gains = [float((w * uncovered) @ a[:, [c]].toarray().ravel()) for c in left]
        best = int(np.argmax(gains))
        c = left.pop(best)
        out.append(c)
        uncovered[a[:, [c]].toarray().ravel() > 0] = 0
    return np.asarray(out, dtype=np.int64)


def _greedy_swap(a: sp.csc_array, at: sp.csr_array, w: NDArray[np.int64], k: int, first: list[int],
                 max_swaps: int) -> tuple[list[int], int]:
    """Greedy completion of ``first`` to ``k`` sites, then best-improvement swaps."""
    n_dem = a.shape[0]
    cnt = np.zeros(n_dem, dtype=np.int64)
    chosen: list[int] = []
    for c in first:
        chosen.append(c)
        cnt += a[:, [c]].toarray().ravel()
    while len(chosen) < k:
        gains = at @ (w * (cnt == 0))
        gains[chosen] = -1
        c = int(np.argmax(gains))
        chosen.append(c)
        cnt += a[:, [c]].toarray().ravel()
    swaps = 0
    while swaps < max_swaps:
        base = at @ (w * (cnt == 0))
        best_delta, best_pair = 0, None
        for pos, s in enumerate(chosen):
            col = a[:, [s]].toarray().ravel() > 0
            uniq = col & (cnt == 1)
            loss = int(w[uniq].sum())
            delta = base + at @ (w * uniq) - loss
            delta[chosen] = np.iinfo(np.int64).min
            c = int(np.argmax(delta))
            if delta[c] > best_delta:
                best_delta, best_pair = int(delta[c]), (pos, c)
        if best_pair is None:
            break
        pos, c = best_pair
        cnt -= a[:, [chosen[pos]]].toarray().ravel()
        cnt += a[:, [c]].toarray().ravel()
        chosen[pos] = c
        swaps += 1
    return chosen, swaps


def mclp_greedy_swap(cover: sp.sparray | sp.spmatrix, weight: NDArray[np.integer], k: int, *,
                     starts: int = 8, max_swaps: int = 10_000) -> MclpResult:
    """Maximal covering location by greedy selection and best-improvement swaps.

    Greedy adds, ``k`` times, the candidate that covers the most uncovered weight;
    the swap search then replaces one selected site by one unselected candidate
    while that strictly increases the covered weight. The search is repeated from
    ``starts`` other first sites (the candidates covering the most weight on their
    own) and the best local optimum is kept. Ties go to the earliest start and the
    lowest index, so the result is deterministic.

    Parameters
    ----------
    cover
        ``(demand, candidate)`` sparse boolean matrix.
    weight
        Integer weight per demand point (e.g. staff).
    k
        Sites to select (fewer when there are fewer candidates).
    starts
        Extra starts with a forced first site (0: plain greedy + swap).
    max_swaps
        Safety cap on improving swaps per start.

    Returns
    -------
    MclpResult
        The selection in rank order and its covered weight; ``swaps`` counts the
        improving swaps of the start kept.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csr_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> r = mclp_greedy_swap(cover, np.array([5, 1, 1, 5]), 2)
    >>> r.selected.tolist(), r.value
    ([0, 2], 12.0)
    """
    a = _as_int_cover(cover)
    w = np.asarray(weight, dtype=np.int64).reshape(-1)
    n_dem, n_cand = a.shape
    if len(w) != n_dem:
        msg = f"weight has {len(w)} entries for {n_dem} demand points"
        raise ValueError(msg)
    k = min(max(0, int(k)), n_cand)
    if k == 0:
        return MclpResult(np.zeros(0, np.int64), 0.0, False)
    at = sp.csr_array(a.T)
    best_chosen, best_swaps = _greedy_swap(a, at, w, k, [], max_swaps)
    best_value = mclp_value(a, w, np.asarray(best_chosen, dtype=np.int64))
    if k > 1 and starts > 0:
        alone = at @ w
        order = np.argsort(-alone, kind="stable")
        firsts = [int(c) for c in order if alone[c] > 0 and int(c) != best_chosen[0]][:starts]
        for first in firsts:
            chosen, swaps = _greedy_swap(a, at, w, k, [first], max_swaps)
            value = mclp_value(a, w, np.asarray(chosen, dtype=np.int64))
            if value > best_value:
                best_chosen, best_swaps, best_value = chosen, swaps, value
    selected = _rank(a, w, best_chosen)
    return MclpResult(selected, mclp_value(a, w, selected), False, best_swaps)


def _patterns(a: sp.csr_array, w: NDArray[np.floating] | NDArray[np.integer]
              ) -> tuple[sp.csr_array, NDArray[np.float64]]:
    """Merge demand rows with the same candidate set (summing weights); drop uncoverable ones."""
    groups: dict[tuple[int, ...], int] = {}
    weights: list[float] = []
    rows: list[tuple[int, ...]] = []
    for r in range(a.shape[0]):
        key = tuple(a.indices[a.indptr[r]:a.indptr[r + 1]].tolist())
        if not key or w[r] <= 0:
            continue
        g = groups.get(key)
        if g is None:
            groups[key] = len(rows)
            rows.append(key)
            weights.append(float(w[r]))
        else:
            weights[g] += float(w[r])
    indptr = np.cumsum([0] + [len(k) for k in rows])
    indices = np.fromiter((c for k in rows for c in k), dtype=np.int64, count=int(indptr[-1]))
    merged = sp.csr_array((np.ones(len(indices)), indices, indptr), shape=(len(rows), a.shape[1]))
    return merged, np.asarray(weights, dtype=float)


def mclp_milp(cover: sp.sparray | sp.spmatrix, weight: NDArray[np.floating] | NDArray[np.integer], k: int,
              *, time_limit: float | None = None) -> MclpResult:
    """Exact maximal covering location by MILP (``scipy.optimize.milp``, HiGHS).

    Maximise ``Σ w_d y_d`` subject to ``y_d ≤ Σ_{c covers d} x_c``, ``Σ x_c ≤ k``,
    ``x`` binary, ``0 ≤ y ≤ 1``. Demand points with the same candidate set are merged
    first. The relative MIP gap is 0, so a finished solve is optimal.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> cover = sp.csr_array(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [0, 0, 1]], dtype=bool))
    >>> r = mclp_milp(cover, np.array([5, 1, 1, 5]), 2)
    >>> sorted(r.selected.tolist()), r.value, r.optimal
    ([0, 2], 12.0, True)
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    a = sp.csr_array(cover, dtype=bool)
    a.sort_indices()
    w = np.asarray(weight).reshape(-1)
    n_cand = a.shape[1]
    k = min(max(0, int(k)), n_cand)
    if k == 0 or n_cand == 0:
        return MclpResult(np.zeros(0, np.int64), 0.0, True)
    g, gw = _patterns(a, w)
    n_g = g.shape[0]
    if n_g == 0:
        return MclpResult(np.zeros(0, np.int64), 0.0, True)
    c = np.concatenate([np.zeros(n_cand), -gw])
    link = sp.hstack([-g, sp.eye_array(n_g)], format="csr")
    budget = sp.csr_array(np.concatenate([np.ones(n_cand), np.zeros(n_g)])[None, :])
    constraints = [LinearConstraint(link, -np.inf, 0.0), LinearConstraint(budget, 0.0, float(k))]
    integrality = np.concatenate([np.ones(n_cand), np.zeros(n_g)])
    options: dict[str, float] = {"mip_rel_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    res = milp(c, constraints=constraints, integrality=integrality, bounds=Bounds(0.0, 1.0), options=options)
    if res.x is None:
        msg = f"MCLP MILP found no solution: {res.message}"
        raise RuntimeError(msg)
    chosen = [int(i) for i in np.flatnonzero(res.x[:n_cand] > 0.5)]
    ranked = _rank(sp.csc_array(a, dtype=np.int64), w, chosen)
    if res.status != 0:
        logger.warning("MCLP MILP stopped before proving optimality: %s", res.message)
    return MclpResult(ranked, mclp_value(a, w, ranked), bool(res.status == 0))
