"""Grid clustering (网格划分) on arrays: recursive bisection, then local improvement.

The core works on plain arrays in metres so it can be benchmarked and run per unit
anywhere. An *item* is one enterprise, or several enterprises that must stay together
(the grid-eligible units of a kept joint branch); ``weight`` counts its enterprises.

Algorithm (O9, O10)
-------------------
1. Choose the number of grids ``k``: about ``n / target`` (target defaults to the middle
   of the size bounds), inside ``[ceil(n / max), floor(n / min)]`` so every grid can hold
   5–15 enterprises, and no more grids than the unit's formal members can give
   ``min_members`` each (so every grid can reach the member floor when the unit allows).
2. Recursive bisection along the principal axis: a node of ``k`` grids is cut into
   ``k // 2`` and ``k - k // 2`` grids at the position nearest to proportional that keeps
   both sides' sizes splittable within the bounds and their (capped) member counts at
   or above ``k_side * min_members``. Cost O(n log² n); no N×N matrix anywhere.
3. Local improvement: items move to a neighbouring grid whose centre is nearer (largest
   gain first) while sizes stay within bounds and no grid drops below the member floor;
   then a repair pass moves or swaps members into grids below the floor.
4. Grids are numbered in reading order (north to south, then west to east).

Then, on the Delaunay graph of the enterprises (a grid in several parts has a Voronoi
polygon in several pieces): :func:`connect_grids` moves whole items between grids, and
:func:`untangle_branches` hands a joint-branch unit lying beyond another grid over to
that grid, re-forming the new branches it leaves without covering fewer enterprises.

Everything is deterministic: stable sorts with index tie-breaks, no randomness.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from ._branches import pack_branches

__all__ = ["choose_grid_count", "cluster_grids", "connect_grids", "reshape_grids", "untangle_branches"]

logger = logging.getLogger(__name__)

#: Rounds of the local-improvement pass (each is one vectorised sweep).
IMPROVE_ROUNDS = 12
#: Neighbouring grid centres an item may move to in the improvement pass.
IMPROVE_NEIGHBOURS = 5
#: :func:`reshape_grids`: price (metres of distance) of an enterprise changing grid, and
#: of a branch unit leaving its branch (far above any distance: only when needed).
MOVE_PRICE_M = 50.0
LEAVE_PRICE_M = 1.0e6
#: :func:`reshape_grids`: grids re-drawn together at most (bundled county: 3 -> 141 of 149
#: grids in one piece, 4 -> 142, 5 -> 144; each step costs time, bench/RESULTS.md).
RESHAPE_MAX_GRIDS = 4
#: :func:`reshape_grids`: Delaunay steps from a grid within which a point may join it
#: (None: any point of the grids re-drawn together; measured best on the bundled county).
RESHAPE_HOPS: int | None = None


def choose_grid_count(n: int, member_capacity: int, *, min_size: int, max_size: int,
                      min_members: int, target_size: float | None = None) -> int:
    """Number of grids for ``n`` enterprises (O10 size bounds, O9 member floor).

    Parameters
    ----------
    n
        Grid-eligible enterprises in the unit.
    member_capacity
        Sum over items of ``min(formal members, min_members)``: an upper bound on the
        member mass that can be spread over grids.
    min_size, max_size
        O10 size bounds.
    min_members
        O9 member floor of a grid.
    target_size
        Preferred grid size; the middle of the bounds by default.

    Returns
    -------
    int
        At least 1. A unit with fewer than ``min_size`` enterprises is one grid.
    """
    if n <= 0:
        return 0
    if n < min_size:
        return 1
    target = (min_size + max_size) / 2 if target_size is None else float(target_size)
    k_lo = math.ceil(n / max_size)
    k_hi = n // min_size
    if k_lo > k_hi:  # no k puts every grid within the bounds: least violation
        def violation(k: int) -> int:
            return max(0, math.ceil(n / k) - max_size) + max(0, min_size - n // k)
        return min((k for k in (k_hi, k_lo) if k >= 1), key=lambda k: (violation(k), k))
    k = min(max(round(n / target), k_lo), k_hi)
    if min_members > 0:
        k_mem = member_capacity // min_members
        # O9: no more grids than the members can give a floor each; never fewer than k_lo
        k = max(k_lo, min(k, k_mem))
    return int(k)


def cluster_grids(xy: ArrayLike, *, weight: ArrayLike | None = None, members: ArrayLike | None = None,
                  min_size: int = 5, max_size: int = 15, min_members: int = 3,
                  target_size: float | None = None, n_grids: int | None = None,
                  rounds: int = IMPROVE_ROUNDS) -> NDArray[np.int64]:
    """Partition items into compact grids of bounded size that reach the member floor.

    Parameters
    ----------
    xy
        ``(n, 2)`` coordinates in metres.
    weight
        Enterprises per item (default 1 each).
    members
        Formal members per item (default 0).
    min_size, max_size
        O10: enterprises per grid.
    min_members
        O9: formal members each grid should hold.
    target_size
        Preferred grid size (middle of the bounds by default).
    n_grids
        Force the number of grids (default: :func:`choose_grid_count`).
    rounds
        Local-improvement rounds.

    Returns
    -------
    numpy.ndarray
        Grid label ``0..k-1`` per item, numbered in reading order (north first).

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.c_[np.arange(20) * 100.0, np.zeros(20)]
    >>> labels = cluster_grids(xy, members=np.ones(20), min_size=5, max_size=15)
    >>> np.bincount(labels).tolist()
    [10, 10]
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    n_items = len(pts)
    w = np.ones(n_items, dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
    mem = np.zeros(n_items, dtype=np.int64) if members is None else np.asarray(members, dtype=np.int64)
    if n_items == 0:
        return np.zeros(0, dtype=np.int64)
    if np.any(w < 1):
        msg = "every item needs a weight of at least 1"
        raise ValueError(msg)
    if not np.all(np.isfinite(pts)):
        msg = "grid clustering needs finite coordinates for every item"
        raise ValueError(msg)
    cap = np.minimum(mem, min_members) if min_members > 0 else np.zeros_like(mem)
    n = int(w.sum())
    k = n_grids if n_grids is not None else choose_grid_count(
        n, int(cap.sum()), min_size=min_size, max_size=max_size, min_members=min_members,
        target_size=target_size)
    k = max(1, min(int(k), n_items))
    labels = _bisect(pts, w, cap, k, min_size=min_size, max_size=max_size, min_members=min_members)
    # heavy items (a branch, a point shared by many) can leave fewer grids than asked: no empty grid
    _, labels = np.unique(labels, return_inverse=True)
    labels = labels.reshape(-1).astype(np.int64)
    k = int(labels.max()) + 1
    if k > 1:
        labels = _repair_sizes(pts, w, mem, labels, k, min_size=min_size, max_size=max_size,
                               min_members=min_members)
    if k > 1 and rounds > 0:
        labels = _improve(pts, w, mem, labels, k, min_size=min_size, max_size=max_size,
                          min_members=min_members, rounds=rounds)
        labels = _repair_floor(pts, w, mem, labels, k, min_size=min_size, max_size=max_size,
                               min_members=min_members)
        labels = _improve(pts, w, mem, labels, k, min_size=min_size, max_size=max_size,
                          min_members=min_members, rounds=max(2, rounds // 3))
    return _reading_order(pts, w, labels, k)


# --- recursive bisection -------------------------------------------------------------------
def _principal_axis(pts: NDArray[np.float64], w: NDArray[np.int64]) -> NDArray[np.float64]:
    wf = w.astype(float)
    # np.average(pts, axis=0, weights=w) and np.allclose(cov, 0.0), spelled out (same
    # arithmetic, without their per-call overhead: this runs once per bisection node)
    centre = (pts * wf[:, None]).sum(axis=0) / wf.sum()
    d = pts - centre
    cov = (d * w[:, None]).T @ d
    if not np.all(np.isfinite(cov)) or bool(np.all(np.abs(cov) <= 1e-8)):
        return np.array([1.0, 0.0])
    vals, vecs = np.linalg.eigh(cov)
    axis = vecs[:, int(np.argmax(vals))]
    if axis[0] < 0 or (axis[0] == 0 and axis[1] < 0):  # one sign, for determinism
        axis = -axis
    return axis


def _cut(order_w: NDArray[np.int64], order_cap: NDArray[np.int64], k1: int, k2: int, *,
         min_size: int, max_size: int, min_members: int) -> NDArray[np.bool_]:
    """Which items (in axis order) go to the first side of the cut."""
    m = len(order_w)
    cw = np.cumsum(order_w)[:-1]  # left weight when cutting after position j
    n = int(order_w.sum())
    lo = max(k1 * min_size, n - k2 * max_size)
    hi = min(k1 * max_size, n - k2 * min_size)
    size_violation = np.maximum(lo - cw, 0) + np.maximum(cw - hi, 0)
    if min_members > 0:
        cm = np.cumsum(order_cap)[:-1]
        total = int(order_cap.sum())
        # grids each side could bring to the floor (O9); best is min(k, total // floor)
        score = np.minimum(cm // min_members, k1) + np.minimum((total - cm) // min_members, k2)
    else:
        score = np.zeros_like(cw)
    target = n * k1 / (k1 + k2)
    # lexicographic: size bounds, then member floor, then balance, then position
    key = np.lexsort((np.arange(len(cw)), np.abs(cw - target), -score, size_violation))
    j = int(key[0]) + 1
    left = np.zeros(m, dtype=bool)
    left[:j] = True
    if size_violation[key[0]] > 0 and lo <= hi:
        # a heavy item (a branch kept whole) jumps over the window: take items in axis
        # order, passing over any that would overflow, until the left side is big enough
        goal = min(max(round(target), lo), hi)
        left[:] = False
        acc = 0
        for t in range(m):
            if acc >= goal:
                break
            if acc + int(order_w[t]) <= hi:
                left[t] = True
                acc += int(order_w[t])
        if acc < lo:  # one exchange: give back a taken item, take a passed-over one
            acc = _exchange(order_w, left, acc, lo, hi)
        if not lo <= acc <= hi or left.all() or not left.any():
            left[:] = False
            left[:j] = True
    return left


def _exchange(order_w: NDArray[np.int64], left: NDArray[np.bool_], acc: int, lo: int, hi: int) -> int:
    """Swap one taken item for one passed-over item so the side's weight lands in [lo, hi].

    Among weights, the last taken item and the first passed-over item of each weight are
    tried (they lie nearest the cut along the axis). ``left`` is updated in place.
    """
    taken = np.flatnonzero(left)
    passed = np.flatnonzero(~left)
    last_taken: dict[int, int] = {int(order_w[t]): int(t) for t in taken}
    first_passed: dict[int, int] = {}
    for t in passed[::-1]:
        first_passed[int(order_w[t])] = int(t)
    best: tuple[int, int, int] | None = None  # (positions apart, taken, passed)
    for wa, a in last_taken.items():
        for wb, b in first_passed.items():
            if lo <= acc - wa + wb <= hi and (best is None or abs(b - a) < best[0]):
                best = (abs(b - a), a, b)
    if best is None:
        return acc
    _, a, b = best
    left[a] = False
    left[b] = True
    return acc - int(order_w[a]) + int(order_w[b])


def _bisect(pts: NDArray[np.float64], w: NDArray[np.int64], cap: NDArray[np.int64], k: int, *,
            min_size: int, max_size: int, min_members: int) -> NDArray[np.int64]:
    labels = np.zeros(len(pts), dtype=np.int64)
    stack: list[tuple[NDArray[np.int64], int]] = [(np.arange(len(pts)), k)]
    next_label = 0
    while stack:
        idx, kk = stack.pop()
        if kk <= 1 or len(idx) <= 1:
            labels[idx] = next_label
            next_label += 1
            continue
        kk = min(kk, len(idx))
        k1 = kk // 2
        k2 = kk - k1
        proj = pts[idx] @ _principal_axis(pts[idx], w[idx])
        order = idx[np.lexsort((idx, proj))]
        left = _cut(w[order], cap[order], k1, k2, min_size=min_size, max_size=max_size,
                    min_members=min_members)
        stack.append((order[~left], k2))
        stack.append((order[left], k1))
    return labels


# --- local improvement ---------------------------------------------------------------------
def _centres(pts: NDArray[np.float64], w: NDArray[np.int64], labels: NDArray[np.int64],
             k: int) -> NDArray[np.float64]:
    tot = np.bincount(labels, weights=w, minlength=k)
    cx = np.bincount(labels, weights=w * pts[:, 0], minlength=k)
    cy = np.bincount(labels, weights=w * pts[:, 1], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.c_[cx / tot, cy / tot]


def _improve(pts: NDArray[np.float64], w: NDArray[np.int64], mem: NDArray[np.int64],
             labels: NDArray[np.int64], k: int, *, min_size: int, max_size: int,
             min_members: int, rounds: int) -> NDArray[np.int64]:
    labels = labels.copy()
    size = np.bincount(labels, weights=w, minlength=k).astype(np.int64)
    gmem = np.bincount(labels, weights=mem, minlength=k).astype(np.int64)
    q = min(IMPROVE_NEIGHBOURS + 1, k)
    w_l, mem_l = w.tolist(), mem.tolist()
    for _ in range(rounds):
        centres = _centres(pts, w, labels, k)
        valid = np.isfinite(centres[:, 0])
        tree = cKDTree(np.where(valid[:, None], centres, 1e18))
        dist, near = tree.query(pts, k=q)
        dist = dist.reshape(len(pts), q)
        near = near.reshape(len(pts), q)
        own = np.hypot(*(pts - centres[labels]).T)
        gain = (own[:, None] - dist) * w[:, None]
        gain[near == labels[:, None]] = -np.inf
        cand_i, cand_j = np.nonzero(gain > 1e-6)
        if len(cand_i) == 0:
            break
        g = gain[cand_i, cand_j]
        order = np.lexsort((cand_j, cand_i, -g))
        # the moves in gain order, on plain lists (a Python loop over numpy scalars is slow)
        items = cand_i[order].tolist()
        dests = near[cand_i[order], cand_j[order]].tolist()
        lab, sz, gm = labels.tolist(), size.tolist(), gmem.tolist()
        moved = [False] * len(pts)
        n_moves = 0
        for i, dst in zip(items, dests, strict=True):
            if moved[i]:
                continue
            src = lab[i]
            wi = w_l[i]
            mi = mem_l[i]
            if sz[src] - wi < min_size or sz[dst] + wi > max_size:
                continue
            if min_members > 0 and gm[src] >= min_members and gm[src] - mi < min_members:
                continue  # O9: never break a grid's member floor
            lab[i] = dst
            sz[src] -= wi
            sz[dst] += wi
            gm[src] -= mi
            gm[dst] += mi
            moved[i] = True
            n_moves += 1
        labels = np.asarray(lab, dtype=np.int64)
        size = np.asarray(sz, dtype=np.int64)
        gmem = np.asarray(gm, dtype=np.int64)
        if n_moves == 0:
            break
    return labels


def _repair_floor(pts: NDArray[np.float64], w: NDArray[np.int64], mem: NDArray[np.int64],
                  labels: NDArray[np.int64], k: int, *, min_size: int, max_size: int,
                  min_members: int) -> NDArray[np.int64]:
    """O9: move or swap members into grids below the floor from neighbours with surplus."""
    if min_members <= 0:
        return labels
    labels = labels.copy()
    size = np.bincount(labels, weights=w, minlength=k).astype(np.int64)
    gmem = np.bincount(labels, weights=mem, minlength=k).astype(np.int64)
    short = [g for g in range(k) if gmem[g] < min_members]
    if not short or int(gmem.sum()) < min_members:
        return labels
    centres = _centres(pts, w, labels, k)
    tree = cKDTree(centres)
    q = min(8, k)
    for g in short:
        _, near = tree.query(centres[g], k=q)
        neighbours = [int(h) for h in np.atleast_1d(near) if int(h) != g]
        for _attempt in range(min_members):
            if gmem[g] >= min_members:
                break
            best: tuple[float, int, int] | None = None  # (distance, donor item, swap item or -1)
            for h in neighbours:
                donors = np.flatnonzero((labels == h) & (mem > 0) & (gmem[h] - mem >= min_members))
                for i in donors:
                    d = float(np.hypot(*(pts[i] - centres[g])))
                    if best is not None and d >= best[0]:
                        continue
                    wi = int(w[i])
                    if size[h] - wi >= min_size and size[g] + wi <= max_size:
                        best = (d, int(i), -1)
                        continue
                    # swap with a member-less item of g of the same weight, nearest to h
                    zeros = np.flatnonzero((labels == g) & (mem == 0) & (w == wi))
                    if len(zeros):
                        dz = np.hypot(*(pts[zeros] - centres[h]).T)
                        best = (d, int(i), int(zeros[np.lexsort((zeros, dz))[0]]))
            if best is None:
                break
            _, donor, z = best
            h = int(labels[donor])  # the donor grid
            labels[donor] = g
            size[h] -= int(w[donor])
            size[g] += int(w[donor])
            gmem[h] -= int(mem[donor])
            gmem[g] += int(mem[donor])
            if z >= 0:
                labels[z] = h
                size[g] -= int(w[z])
                size[h] += int(w[z])
    return labels


def _repair_sizes(pts: NDArray[np.float64], w: NDArray[np.int64], mem: NDArray[np.int64],
                  labels: NDArray[np.int64], k: int, *, min_size: int, max_size: int,
                  min_members: int) -> NDArray[np.int64]:
    """O10 safety net: a grid over the maximum hands its outermost items to the nearest
    grids with room; one under the minimum takes the nearest items grids can spare.
    Never breaks a member floor; leaves a grid as it is when nothing fits."""
    labels = labels.copy()
    size = np.bincount(labels, weights=w, minlength=k).astype(np.int64)
    if size.max() <= max_size and size.min() >= min_size:
        return labels
    gmem = np.bincount(labels, weights=mem, minlength=k).astype(np.int64)
    centres = _centres(pts, w, labels, k)
    tree = cKDTree(centres)
    q = min(8, k)

    def floor_ok(g: int, i: int) -> bool:
        return not (min_members > 0 and gmem[g] >= min_members and gmem[g] - mem[i] < min_members)

    def move(i: int, dst: int) -> None:
        src = int(labels[i])
        labels[i] = dst
        size[src] -= w[i]
        size[dst] += w[i]
        gmem[src] -= mem[i]
        gmem[dst] += mem[i]

    for g in range(k):
        _, near = tree.query(centres[g], k=q)
        others = [int(h) for h in np.atleast_1d(near) if int(h) != g]
        while size[g] > max_size:  # hand out the outermost items
            rows = np.flatnonzero(labels == g)
            far = rows[np.lexsort((rows, -np.hypot(*(pts[rows] - centres[g]).T)))]
            done = False
            for i in far.tolist():
                for h in others:
                    if size[h] + w[i] <= max_size and size[g] - w[i] >= min_size and floor_ok(g, i):
                        move(i, h)
                        done = True
                        break
                if done:
                    break
            if not done:
                break
        while size[g] < min_size:  # take the nearest items others can spare
            rows = np.flatnonzero(np.isin(labels, others))
            close = rows[np.lexsort((rows, np.hypot(*(pts[rows] - centres[g]).T)))]
            done = False
            for i in close.tolist():
                h = int(labels[i])
                if size[h] - w[i] >= min_size and size[g] + w[i] <= max_size and floor_ok(h, i):
                    move(i, g)
                    done = True
                    break
            if not done:
                break
    return labels


def _reading_order(pts: NDArray[np.float64], w: NDArray[np.int64], labels: NDArray[np.int64],
                   k: int) -> NDArray[np.int64]:
    present = np.unique(labels)
    centres = _centres(pts, w, labels, k)[present]
    order = np.lexsort((centres[:, 0], -centres[:, 1]))
    remap = np.empty(k, dtype=np.int64)
    remap[present[order]] = np.arange(len(present))
    return remap[labels]


# --- contiguity -----------------------------------------------------------------------------
def _delaunay_adjacency(pts: NDArray[np.float64]) -> tuple[NDArray[np.int64], list[list[int]]]:
    """Location of each point and the Delaunay neighbours of each location (the Voronoi
    cells that share an edge). Co-located points share a location."""
    keys = np.round(pts, 2)
    _, first, loc = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    loc = loc.reshape(-1)
    upts = pts[first]
    m = len(upts)
    adj: list[list[int]] = [[] for _ in range(m)]
    if m == 2:
        adj = [[1], [0]]
    elif m > 2:
        centred = upts - upts.mean(axis=0)
        if np.linalg.matrix_rank(centred, tol=1e-6) < 2:  # collinear: neighbours along the line
            order = np.argsort(centred @ np.linalg.svd(centred, full_matrices=False)[2][0], kind="stable")
            for a, b in zip(order[:-1], order[1:], strict=True):
                adj[a].append(int(b))
                adj[b].append(int(a))
        else:
            from scipy.spatial import Delaunay

            indptr, indices = Delaunay(upts).vertex_neighbor_vertices
            adj = [indices[indptr[i]:indptr[i + 1]].tolist() for i in range(m)]
    return loc, adj


def _parts(nodes: set[int], adj: list[list[int]]) -> list[set[int]]:
    """Connected parts of a set of locations in the Delaunay graph, largest first."""
    parts: list[set[int]] = []
    todo = set(nodes)
    while todo:
        start = min(todo)
        seen = {start}
        stack = [start]
        while stack:
            v = stack.pop()
            for u in adj[v]:
                if u in todo and u not in seen:
                    seen.add(u)
                    stack.append(u)
        todo -= seen
        parts.append(seen)
    parts.sort(key=lambda p: (-len(p), min(p)))
    return parts


def _grid_state(pts: NDArray[np.float64], lab: NDArray[np.int64], mem: NDArray[np.int64]
                ) -> tuple[NDArray[np.int64], list[list[int]], int, NDArray[np.int64], NDArray[np.int64],
                           dict[int, list[int]], dict[int, set[int]]]:
    """What the contiguity moves start from: each point's location and the Delaunay
    neighbours of each location, the number of grids, each grid's size and formal
    members, the points at each location and the rows of each grid."""
    loc, adj = _delaunay_adjacency(pts)
    k = int(lab.max()) + 1
    size = np.bincount(lab, minlength=k).astype(np.int64)
    gmem = np.bincount(lab, weights=mem, minlength=k).astype(np.int64)
    at_loc: dict[int, list[int]] = {}
    for i, v in enumerate(loc.tolist()):
        at_loc.setdefault(v, []).append(i)
    rows_of: dict[int, set[int]] = {g: set() for g in range(k)}
    for i, g in enumerate(lab.tolist()):
        rows_of[g].add(i)
    return loc, adj, k, size, gmem, at_loc, rows_of


def connect_grids(xy: ArrayLike, labels: ArrayLike, *, item: ArrayLike | None = None,
                  members: ArrayLike | None = None, min_size: int = 5, max_size: int = 15,
                  min_members: int = 3, rounds: int = 4) -> NDArray[np.int64]:
    """Fewer grids in several pieces: local moves on the Delaunay graph of the enterprises.

    A grid whose enterprises form several parts of the Delaunay graph (its Voronoi
    polygon would be in several pieces) gets, in order of preference: a detached part
    handed to a neighbouring grid it touches, or a single enterprise of another grid that
    touches two of its parts moved in to bridge them. Moves keep every size within the
    bounds, never break a grid's member floor (O9), never split an ``item`` (a joint
    branch kept in one grid), and never add pieces to the other grid.

    Parameters
    ----------
    xy
        ``(n, 2)`` enterprise coordinates in metres.
    labels
        Grid label per enterprise.
    item
        Item id per enterprise; enterprises of one item move together (default: each alone).
    members
        Formal members per enterprise.
    min_size, max_size, min_members
        O10 bounds and the O9 floor.
    rounds
        Sweeps over the grids in pieces.

    Returns
    -------
    numpy.ndarray
        New labels (the same grids; only enterprises move).
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    lab = np.asarray(labels, dtype=np.int64).copy()
    n = len(pts)
    if n < 3 or lab.max(initial=0) < 1:
        return lab
    it = np.arange(n) if item is None else np.unique(np.asarray(item), return_inverse=True)[1].reshape(-1)
    mem = np.zeros(n, dtype=np.int64) if members is None else np.asarray(members, dtype=np.int64)
    loc, adj, k, size, gmem, at_loc, rows_of = _grid_state(pts, lab, mem)
    item_rows: dict[int, list[int]] = {}
    for i, t in enumerate(it.tolist()):
        item_rows.setdefault(t, []).append(i)

    def nodes_of(g: int) -> set[int]:
        return {int(loc[i]) for i in rows_of[g]}

    def pieces(g: int) -> int:
        return len(_parts(nodes_of(g), adj))

    def can_move(rows: list[int], src: int, dst: int) -> bool:
        w = len(rows)
        mm = int(mem[rows].sum())
        if size[src] - w < min_size or size[dst] + w > max_size:
            return False
        return not (min_members > 0 and gmem[src] >= min_members and gmem[src] - mm < min_members)

    def move(rows: list[int], dst: int) -> None:
        for i in rows:
            src = int(lab[i])
            rows_of[src].discard(i)
            rows_of[dst].add(i)
            size[src] -= 1
            size[dst] += 1
            gmem[src] -= int(mem[i])
            gmem[dst] += int(mem[i])
            lab[i] = dst

    def try_move(rows: list[int], src: int, dst: int) -> bool:
        """Move rows from src to dst if that lowers the total number of pieces."""
        if not can_move(rows, src, dst):
            return False
        before = pieces(src) + pieces(dst)
        move(rows, dst)
        if pieces(src) + pieces(dst) < before:
            return True
        move(rows, src)
        return False

    def try_swap(rows: list[int], src: int, dst: int, main: set[int]) -> bool:
        """Give rows to dst and take back as many single enterprises of dst touching
        src's main part (sizes unchanged) if that lowers the total number of pieces."""
        if len(rows) > 3:
            return False
        back = sorted({j for v in main for u in adj[v] for j in at_loc[u]
                       if lab[j] == dst and len(item_rows[int(it[j])]) == 1})
        if len(back) < len(rows):
            return False
        cx, cy = pts[[i for v in main for i in at_loc[v]]].mean(axis=0)
        back = sorted(back, key=lambda j: (math.hypot(pts[j, 0] - cx, pts[j, 1] - cy), j))[:len(rows)]
        d_mem = int(mem[back].sum()) - int(mem[rows].sum())
        if min_members > 0 and ((gmem[src] >= min_members and gmem[src] + d_mem < min_members)
                                or (gmem[dst] >= min_members and gmem[dst] - d_mem < min_members)):
            return False
        before = pieces(src) + pieces(dst)
        move(rows, dst)
        move(back, src)
        if pieces(src) + pieces(dst) < before:
            return True
        move(back, dst)
        move(rows, src)
        return False

    for _ in range(rounds):
        changed = False
        for g in range(k):
            parts = _parts(nodes_of(g), adj)
            if len(parts) <= 1:
                continue
            done = False
            # 1. hand a detached part to a neighbouring grid, with the whole items that
            #    reach into it (a joint branch moves as one)
            for part in parts[1:]:
                rows = sorted({j for v in part for i in at_loc[v] if lab[i] == g
                               for j in item_rows[int(it[i])]})
                touching: dict[int, int] = {}
                for v in part:
                    for u in adj[v]:
                        for j in at_loc[u]:
                            h = int(lab[j])
                            if h != g:
                                touching[h] = touching.get(h, 0) + 1
                for h in sorted(touching, key=lambda h: (-touching[h], h)):
                    if try_move(rows, g, h) or try_swap(rows, g, h, parts[0]):
                        done = True
                        break
                if done:
                    break
            if done:
                changed = True
                continue
            # 2. bridge: an enterprise (a whole item) of another grid touching two parts
            part_of = {v: p for p, part in enumerate(parts) for v in part}
            bridges: dict[int, set[int]] = {}
            for v, p in part_of.items():
                for u in adj[v]:
                    for j in at_loc[u]:
                        if lab[j] != g:
                            bridges.setdefault(j, set()).add(p)
            for j in sorted(bridges, key=lambda j: (-len(bridges[j]), j)):
                if len(bridges[j]) < 2:
                    break
                rows = item_rows[int(it[j])]
                if try_move(rows, int(lab[j]), g):
                    done = True
                    break
            changed |= done
        if not changed:
            break
    return lab


def untangle_branches(xy: ArrayLike, labels: ArrayLike, branch: ArrayLike, *, movable: ArrayLike,
                      candidate: ArrayLike | None = None, members: ArrayLike | None = None,
                      industry: ArrayLike | None = None, min_size: int = 5, max_size: int = 15,
                      min_members: int = 3, max_units: int = 5, branch_min_members: int = 3,
                      max_distance: float = 3000.0, next_branch: int | None = None, rounds: int = 4
                      ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Detached parts of grids handed to the grid they touch, joint branches re-formed.

    A grid whose Delaunay graph is in several parts usually holds a joint branch with a
    unit on the far side of another grid (branches are packed over the whole unit). Such
    a detached part (with every enterprise of the grid at its points) moves to a grid it
    touches, and each branch unit in it leaves its branch, in order of preference:

    1. joining a branch of that grid (the branch left behind stays valid);
    2. trading places with a unit of one of that grid's branches that touches the rest
       of its own grid;
    3. giving its place to an enterprise in no branch that could be in one (a
       ``candidate``, with formal members exactly when it has some) touching the rest
       of its grid — from the grid it goes to, its own grid, or a third grid — and staying
       in the new grid on its own;
    4. both grids' new branches re-packed, each inside its grid (with ``industry``).

    Moves keep as many enterprises in joint branches as before (never fewer), and as
    many of them without formal members (one with members left out is attached, O8, so
    the organisational cover never drops either), every
    re-formed branch within O6/O7 (``max_units`` units, ``branch_min_members`` formal
    members, ``max_distance`` pairwise) and inside one grid, kept organisations
    (``movable`` False) as they are, sizes within O10's bounds, every member floor met
    (O9) and enterprises at one point together, and happen only when the grids they
    touch together come in fewer pieces. Deterministic: grids, parts and candidates
    are taken in index and distance order.

    Parameters
    ----------
    xy
        ``(n, 2)`` enterprise coordinates in metres (the unit's grid-eligible enterprises).
    labels
        Grid label per enterprise.
    branch
        Joint branch per enterprise (``-1``: none).
    movable
        Per enterprise: True when its branch may be re-formed (a new branch; kept
        organisations stay as they are).
    candidate
        Per enterprise: True when it may be placed in a new branch (O5). An enterprise
        in no branch may take the place of a branch unit that moves to its grid.
    members
        Formal members per enterprise.
    industry
        GB/T 4754 section per enterprise (same section preferred when re-packing).
    min_size, max_size, min_members
        O10 bounds and the O9 floor.
    max_units, branch_min_members, max_distance
        O6/O7.
    next_branch
        First id for branches re-packed here (default: one above the highest given).
    rounds
        Sweeps over the grids in pieces.

    Returns
    -------
    labels, branch
        New arrays (the same grids and branches; only enterprises move).
    """
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    lab = np.asarray(labels, dtype=np.int64).copy()
    br = np.asarray(branch, dtype=np.int64).copy()
    movable_rows = np.asarray(movable, dtype=bool)
    cand = None if candidate is None else np.asarray(candidate, dtype=bool)
    ind = None if industry is None else np.asarray(industry, dtype=object)
    n = len(pts)
    if n < 3 or lab.max(initial=0) < 1:
        return lab, br
    mem = np.zeros(n, dtype=np.int64) if members is None else np.asarray(members, dtype=np.int64)
    loc, adj, k, size, gmem, at_loc, rows_of = _grid_state(pts, lab, mem)
    units: dict[int, set[int]] = {}
    for i, b in enumerate(br.tolist()):
        if b >= 0:
            units.setdefault(b, set()).add(i)
    # branches that may be re-formed (an enterprise that joins one may be moved on with it)
    free_b = {int(b) for b in np.unique(br[movable_rows & (br >= 0)])}

    def free(i: int) -> bool:
        return int(br[i]) in free_b
    d2max = max_distance * max_distance + 1e-6

    def pieces(g: int) -> int:
        return len(_parts({int(loc[i]) for i in rows_of[g]}, adj))

    def fits(i: int, rows: set[int]) -> bool:
        """Enterprise i may join the units ``rows`` (O6 size, O7 distance)."""
        if len(rows) + 1 > max_units:
            return False
        r = np.fromiter(rows, dtype=np.int64, count=len(rows))
        return bool(np.all(((pts[r] - pts[i]) ** 2).sum(axis=1) <= d2max))

    def valid(rows: set[int]) -> bool:
        return len(rows) >= 2 and int(mem[list(rows)].sum()) >= branch_min_members

    def set_grid(i: int, g: int) -> None:
        src = int(lab[i])
        rows_of[src].discard(i)
        rows_of[g].add(i)
        size[src] -= 1
        size[g] += 1
        gmem[src] -= int(mem[i])
        gmem[g] += int(mem[i])
        lab[i] = g

    def set_branch(i: int, b: int) -> None:
        old = int(br[i])
        if old >= 0:
            units[old].discard(i)
        if b >= 0:
            units.setdefault(b, set()).add(i)
        br[i] = b

    def attempt(g: int, h: int, rows: list[int], main: set[int], was: int) -> bool:
        """Move ``rows`` (a detached part of g) to h, re-forming the branches they leave."""
        log: list[tuple[int, int, int]] = []  # (row, old grid, old branch)
        third: dict[int, int] = {}  # other grids giving an enterprise: their pieces before

        def do(i: int, grid: int, b: int) -> None:
            log.append((i, int(lab[i]), int(br[i])))
            set_grid(i, grid)
            set_branch(i, b)

        def undo() -> None:
            for i, grid, b in reversed(log):
                set_grid(i, grid)
                set_branch(i, b)

        part = set(rows)
        for i in rows:
            do(i, h, int(br[i]))
        for i in rows:
            b = int(br[i])
            if b < 0 or not (units[b] - part):  # alone, or its whole branch moves along
                continue
            if not free(i):
                undo()
                return False
            rest = units[b] - {i}
            placed = False
            # join a branch of h, when the branch left behind stays valid
            if valid(rest):
                opts = sorted({int(br[j]) for j in rows_of[h] if br[j] >= 0 and free(j)} - {b})
                opts = [c for c in opts if units[c] <= rows_of[h] and fits(i, units[c])]
                if opts:
                    cx = {c: float(np.hypot(*(pts[list(units[c])].mean(axis=0) - pts[i]))) for c in opts}
                    do(i, h, min(opts, key=lambda c: (cx[c], c)))
                    placed = True
            if not placed:
                # trade places: a unit of one of h's branches, alone at its point and
                # touching g's main part, takes i's place in b; i takes its place
                near = sorted({j for v in main for u in adj[v] for j in at_loc[u]
                               if lab[j] == h and br[j] >= 0 and free(j) and len(at_loc[u]) == 1
                               and j not in part})
                for j in sorted(near, key=lambda j: (float(np.hypot(*(pts[j] - pts[i]))), j)):
                    c = int(br[j])
                    if c == b or not units[c] <= rows_of[h]:
                        continue
                    rest_c = units[c] - {j}
                    if fits(j, rest) and valid(rest | {j}) and fits(i, rest_c) and valid(rest_c | {i}):
                        do(j, g, b)
                        do(i, h, c)
                        placed = True
                        break
            if not placed and cand is not None:
                # or an enterprise of h in no branch that could be in one takes i's place
                # (as many enterprises in branches as before); i stays in h on its own
                near = sorted({j for v in main for u in adj[v] for j in at_loc[u]
                               if lab[j] == h and br[j] < 0 and cand[j] and len(at_loc[u]) == 1
                               and j not in part and (mem[j] > 0) == (mem[i] > 0)})
                for j in sorted(near, key=lambda j: (float(np.hypot(*(pts[j] - pts[i]))), j)):
                    if fits(j, rest) and valid(rest | {j}):
                        do(j, g, b)
                        do(i, h, -1)
                        placed = True
                        break
            if not placed and cand is not None:
                # or an enterprise of g's main part in no branch takes i's place in b, and
                # i goes to h on its own (as many enterprises in branches as before)
                stay = sorted(j for j in rows_of[g] if br[j] < 0 and cand[j] and int(loc[j]) in main
                              and (mem[j] > 0) == (mem[i] > 0))
                for j in sorted(stay, key=lambda j: (float(np.hypot(*(pts[j] - pts[i]))), j)):
                    if fits(j, rest) and valid(rest | {j}):
                        do(j, g, b)
                        do(i, h, -1)
                        placed = True
                        break
            if not placed and cand is not None:
                # or one from a third grid, touching g's main part (three grids change)
                near = sorted({j for v in main for u in adj[v] for j in at_loc[u]
                               if lab[j] not in (g, h) and br[j] < 0 and cand[j] and len(at_loc[u]) == 1
                               and (mem[j] > 0) == (mem[i] > 0)})
                for j in sorted(near, key=lambda j: (float(np.hypot(*(pts[j] - pts[i]))), j)):
                    x = int(lab[j])
                    if size[x] - 1 >= min_size and fits(j, rest) and valid(rest | {j}):
                        third.setdefault(x, pieces(x))
                        do(j, g, b)
                        do(i, h, -1)
                        placed = True
                        break
            if not placed:
                undo()
                return False
        if size[h] > max_size or size[g] < min_size:
            # sizes back within bounds: enterprises of h in no branch, alone at their point
            # and touching g's main part, go to g
            back = sorted({j for v in main for u in adj[v] for j in at_loc[u]
                           if lab[j] == h and br[j] < 0 and len(at_loc[u]) == 1 and j not in part})
            cx, cy = pts[[j for j in rows_of[g] if int(loc[j]) in main]].mean(axis=0)
            for j in sorted(back, key=lambda j: (float(np.hypot(pts[j, 0] - cx, pts[j, 1] - cy)), j)):
                if size[h] <= max_size and size[g] >= min_size:
                    break
                do(j, g, -1)
        touched = (g, h, *sorted(third))
        ok = all(min_size <= size[x] <= max_size for x in touched)
        if ok and min_members > 0:
            now = {x: int(gmem[x]) for x in touched}
            then = dict(now)
            for i, grid, _ in log:
                then[grid] += int(mem[i])
                then[int(lab[i])] -= int(mem[i])
            ok = all(now[x] >= min_members or then[x] < min_members for x in touched)
        if ok and sum(pieces(x) for x in touched) < was + sum(third.values()):
            return True
        undo()
        return False

    next_id = [int(br.max(initial=-1)) + 1 if next_branch is None else int(next_branch)]

    def repack(g: int, h: int, rows: list[int], was: int) -> bool:
        """Move ``rows`` to h and re-pack the new branches of both grids, each inside its
        grid, when that keeps at least as many enterprises in branches."""
        if cand is None or ind is None:
            return False
        part = set(rows)
        for i in rows:
            if br[i] >= 0 and not free(i) and not units[int(br[i])] <= part:
                return False  # a kept organisation stays whole
        log: list[tuple[int, int, int]] = []

        def do(i: int, grid: int, b: int) -> None:
            log.append((i, int(lab[i]), int(br[i])))
            set_grid(i, grid)
            set_branch(i, b)

        def undo() -> None:
            for i, grid, b in reversed(log):
                set_grid(i, grid)
                set_branch(i, b)

        then = {x: int(gmem[x]) for x in (g, h)}
        for i in rows:
            do(i, h, int(br[i]))
        ok = all(min_size <= size[x] <= max_size for x in (g, h))
        if ok and min_members > 0:
            ok = all(gmem[x] >= min_members or then[x] < min_members for x in (g, h))
        if not ok or pieces(g) + pieces(h) >= was:
            undo()
            return False
        both = rows_of[g] | rows_of[h]
        before = (sum(1 for j in both if br[j] >= 0), sum(1 for j in both if br[j] >= 0 and mem[j] == 0))
        pools = {x: sorted(j for j in rows_of[x] if (br[j] < 0 and cand[j]) or free(j)) for x in (g, h)}
        packed = {}
        for x, pool in pools.items():
            if len(pool) >= 2:
                packed[x] = pack_branches(pts[pool], mem[pool], ind[pool], max_units=max_units,
                                          min_members=branch_min_members, max_distance=max_distance)
            else:
                packed[x] = np.full(len(pool), -1, dtype=np.int64)
        fixed = [j for j in both if br[j] >= 0 and not free(j)]
        after = (len(fixed) + sum(int((p >= 0).sum()) for p in packed.values()),
                 sum(1 for j in fixed if mem[j] == 0)
                 + sum(int(((p >= 0) & (mem[pools[x]] == 0)).sum()) for x, p in packed.items()))
        if after[0] < before[0] or after[1] < before[1]:
            undo()
            return False
        for x in (g, h):
            lab_x = packed[x]
            ids = {int(t): next_id[0] + t for t in np.unique(lab_x[lab_x >= 0])}
            next_id[0] += len(ids)
            free_b.update(ids.values())
            for j, t in zip(pools[x], lab_x.tolist(), strict=True):
                do(j, x, ids[t] if t >= 0 else -1)
        return True

    for _ in range(rounds):
        changed = False
        for g in range(k):
            parts = _parts({int(loc[i]) for i in rows_of[g]}, adj)
            if len(parts) <= 1:
                continue
            for part in sorted(parts[1:], key=lambda p: (len(p), min(p))):
                rows = sorted(i for v in part for i in at_loc[v] if lab[i] == g)
                touching: dict[int, int] = {}
                for v in part:
                    for u in adj[v]:
                        for j in at_loc[u]:
                            if lab[j] != g:
                                touching[int(lab[j])] = touching.get(int(lab[j]), 0) + 1
                done = False
                order = sorted(touching, key=lambda h: (-touching[h], h))
                for h in order:
                    if attempt(g, h, rows, parts[0], pieces(g) + pieces(h)):
                        done = True
                        break
                for h in order if not done else []:
                    if repack(g, h, rows, pieces(g) + pieces(h)):
                        done = True
                        break
                if done:
                    changed = True
                    break
        if not changed:
            break
    return lab, br



def _clipped_adjacency(upts: NDArray[np.float64], adj: list[list[int]], unit: BaseGeometry) -> list[list[int]]:
    """The Delaunay neighbours whose Voronoi cells still share an edge inside ``unit``
    (metres): a grid polygon is the union of its cells clipped by the unit, so two cells
    whose common edge lies outside a concave unit do not join its pieces."""
    import shapely
    from scipy.spatial import Voronoi

    m = len(upts)
    if m < 4 or unit is None or unit.is_empty:
        return adj
    try:
        vor = Voronoi(upts)
    except Exception:  # noqa: BLE001 - degenerate input (collinear): keep the plain graph
        return adj
    centre = upts.mean(axis=0)
    extent = float(np.ptp(upts, axis=0).max()) * 4.0 + 1.0e4
    segs = []
    for (p, q), (a, b) in zip(vor.ridge_points.tolist(), vor.ridge_vertices, strict=True):
        if a >= 0 and b >= 0:
            segs.append((p, q, vor.vertices[a], vor.vertices[b]))
            continue
        v = vor.vertices[b if a < 0 else a]
        t = upts[q] - upts[p]
        nrm = np.array([-t[1], t[0]]) / max(float(np.hypot(*t)), 1e-9)
        mid = (upts[p] + upts[q]) / 2
        if np.dot(mid - centre, nrm) < 0:
            nrm = -nrm
        segs.append((p, q, v, v + nrm * extent))
    lines = shapely.linestrings([[s[2], s[3]] for s in segs])
    shapely.prepare(unit)
    inside = shapely.intersects(unit, lines)
    keep = {(min(p, q), max(p, q)) for (p, q, _, _), ok in zip(segs, inside.tolist(), strict=True) if ok}
    return [[u for u in nb if (min(v, u), max(v, u)) in keep] for v, nb in enumerate(adj)]


def reshape_grids(xy: ArrayLike, labels: ArrayLike, branch: ArrayLike, *, movable: ArrayLike | None = None,
                  members: ArrayLike | None = None, min_size: int = 5, max_size: int = 15, min_members: int = 3,
                  branch_min_members: int = 3, unit: BaseGeometry | None = None,
                  max_grids: int = RESHAPE_MAX_GRIDS,
                  node_limit: int = 2000, rounds: int = 2) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Grids still in pieces re-drawn exactly together with the grids around them.

    For a grid whose Delaunay graph is in several parts, the grids it touches (those
    touching a detached part first, then those touching its main part; grids in pieces
    themselves left out) are re-drawn together with it, two grids first, then up to
    ``max_grids``, by a MILP (``scipy.optimize.milp``, HiGHS, deterministic node limit
    ``node_limit``, no time limit):

    * every point goes to one grid with all enterprises at it (co-located together);
    * the points joined by joint branches form a block that goes to one grid whole (a
      branch inside one grid), except that a point of a ``movable`` (new) branch may
      leave it when the rest stays a branch (two units or more, ``branch_min_members``
      formal members or more), at most one point per branch, at a price far above any
      distance, so a unit leaves its branch only where no other way keeps the grids in
      one piece;
    * each grid keeps its size within O10's bounds and its member floor (O9) when it had
      it, keeps the block nearest its centre, and is connected in the Delaunay graph
      (a single-commodity flow from that block's point);
    * the objective is the enterprises' distance to the centre of their grid's main
      part before (compactness), plus a small price per enterprise that changes grid.

    The result replaces the grids only when every grid of the set is in one piece and the
    set comes in fewer pieces than before.

    Parameters
    ----------
    xy
        ``(n, 2)`` enterprise coordinates in metres.
    labels
        Grid label per enterprise.
    branch
        Joint branch per enterprise (``-1``: none).
    movable
        Per enterprise: True when its branch may lose a unit (a new branch; default: none,
        kept organisations never change).
    members
        Formal members per enterprise.
    min_size, max_size, min_members
        O10 bounds and the O9 floor.
    branch_min_members
        O6: formal members a branch keeps when a unit leaves it.
    unit
        The unit polygon in metres: two enterprises are neighbours only when their Voronoi
        cells share an edge inside it (default: the plain Delaunay graph).
    max_grids
        Grids re-drawn together at most (the grid in pieces included).
    node_limit
        Branch-and-bound nodes per MILP.
    rounds
        Sweeps over the grids in pieces.

    Returns
    -------
    labels, branch
        New arrays (the same grids and branches; a unit that left its branch has ``-1``).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_array

    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    lab = np.asarray(labels, dtype=np.int64).copy()
    br = np.asarray(branch, dtype=np.int64).copy()
    n = len(pts)
    if n < 3 or lab.max(initial=0) < 1:
        return lab, br
    mov = np.zeros(n, dtype=bool) if movable is None else np.asarray(movable, dtype=bool)
    mem = np.zeros(n, dtype=np.int64) if members is None else np.asarray(members, dtype=np.int64)
    loc, adj, k, size, gmem, at_loc, rows_of = _grid_state(pts, lab, mem)
    n_loc = len(adj)
    loc_grids = [sorted({int(lab[i]) for i in at_loc[v]}) for v in range(n_loc)]
    loc_w = np.bincount(loc, minlength=n_loc).astype(np.int64)
    loc_m = np.bincount(loc, weights=mem, minlength=n_loc).astype(np.int64)
    loc_xy = np.c_[np.bincount(loc, weights=pts[:, 0], minlength=n_loc),
                   np.bincount(loc, weights=pts[:, 1], minlength=n_loc)] / np.maximum(loc_w, 1)[:, None]
    if unit is not None:
        adj = _clipped_adjacency(loc_xy, adj, unit)
    units: dict[int, list[int]] = {}
    for i in np.flatnonzero(br >= 0).tolist():
        units.setdefault(int(br[i]), []).append(i)

    def nodes_of(g: int) -> set[int]:
        return {int(loc[i]) for i in rows_of[g]}

    def touching(nodes: set[int], g: int) -> dict[int, int]:
        out: dict[int, int] = {}
        for v in nodes:
            for u in adj[v]:
                for h in loc_grids[u]:
                    if h != g:
                        out[h] = out.get(h, 0) + 1
        return out

    def blocks(nodes: list[int]) -> tuple[dict[int, int], dict[int, int]]:
        """Block (lowest point) of each point, and the branch a point may leave."""
        parent = {v: v for v in nodes}

        def find(v: int) -> int:
            while parent[v] != v:
                parent[v] = parent[parent[v]]
                v = parent[v]
            return v

        leave: dict[int, int] = {}
        for v in nodes:
            bs = {int(br[i]) for i in at_loc[v] if br[i] >= 0}
            if len(bs) == 1:
                b = next(iter(bs))
                here = [i for i in units[b] if int(loc[i]) == v]
                rest = [i for i in units[b] if int(loc[i]) != v]
                if all(mov[i] for i in here) and len(rest) >= 2 and int(mem[rest].sum()) >= branch_min_members:
                    leave[v] = b
        for b in sorted({int(br[i]) for v in nodes for i in at_loc[v] if br[i] >= 0}):
            locs = sorted({int(loc[i]) for i in units[b]})
            for v in locs[1:]:
                a, c = find(locs[0]), find(v)
                if a != c:
                    parent[max(a, c)] = min(a, c)
        return {v: find(v) for v in nodes}, leave

    def solve(grids: list[int]) -> tuple[dict[int, int], list[int]] | None:
        """Point -> grid for the set ``grids`` re-drawn exactly, and the points whose
        branch units leave their branch; None when there is no such drawing."""
        nodes = sorted(set().union(*(nodes_of(s) for s in grids)))
        if any(len(loc_grids[v]) > 1 for v in nodes):
            return None  # a point cut into several grids: left as it is
        pos = {v: p for p, v in enumerate(nodes)}
        nv, ns = len(nodes), len(grids)
        block, leave = blocks(nodes)
        arcs = [(pos[v], pos[u]) for v in nodes for u in adj[v] if u in pos]
        nbr: list[list[int]] = [[] for _ in range(nv)]
        for p, q in arcs:
            nbr[p].append(q)
        centre = {}
        roots: dict[int, int] = {}  # each grid keeps the block nearest its centre (its root)
        fixed: dict[int, int] = {}  # block -> grid
        for t, s in enumerate(grids):
            main = sorted(_parts(nodes_of(s), adj)[0])
            centre[s] = pts[[i for v in main for i in at_loc[v]]].mean(axis=0)
            d = np.hypot(*(loc_xy[main] - centre[s]).T)
            anchor = main[int(np.argmin(d))]
            roots[t] = pos[anchor]
            fixed.setdefault(block[anchor], s)
            if fixed[block[anchor]] != s:
                return None  # two grids' centres in one block: cannot happen, branches are in one grid
        # a block's representative: its lowest point that cannot leave (else its lowest)
        rep: dict[int, int] = {}
        for v in nodes:
            if v not in leave:
                rep.setdefault(block[v], v)
        for v in nodes:
            rep.setdefault(block[v], v)
        detach = [v for v in nodes if v in leave and rep[block[v]] != v]
        # quick screen: each grid's fixed points must reach its root avoiding the others'
        owner = {pos[v]: fixed[block[v]] for v in nodes
                 if block[v] in fixed and not (v in leave and rep[block[v]] != v)}
        for t, s in enumerate(grids):
            seen = {roots[t]}
            stack = [roots[t]]
            while stack:
                p = stack.pop()
                for q in nbr[p]:
                    if q not in seen and owner.get(q, s) == s:
                        seen.add(q)
                        stack.append(q)
            if any(o == s and p not in seen for p, o in owner.items()):
                return None
        dpos = {v: j for j, v in enumerate(detach)}
        # a point may go only to a grid within RESHAPE_HOPS Delaunay steps of it (fewer variables)
        allowed = np.full((nv, ns), RESHAPE_HOPS is None)
        for t, s in enumerate(grids if RESHAPE_HOPS is not None else []):
            seen = {pos[v] for v in nodes_of(s)}
            front = set(seen)
            for _ in range(RESHAPE_HOPS or 0):
                front = {q for p in front for q in nbr[p]} - seen
                seen |= front
            allowed[sorted(seen), t] = True
        # variables: x[p, t] binary, y[j] binary (point j leaves its branch), f[a, t] flow
        nx = nv * ns
        ny = len(detach)
        arcs_t = [[a for a, (p, q) in enumerate(arcs) if allowed[p, t] and allowed[q, t]] for t in range(ns)]
        f_at: list[dict[int, int]] = []
        off = nx + ny
        for t in range(ns):
            f_at.append({a: off + j for j, a in enumerate(arcs_t[t])})
            off += len(arcs_t[t])

        def xi(p: int, t: int) -> int:
            return p * ns + t

        def fi(a: int, t: int) -> int:
            return f_at[t][a]

        nvar = off
        cost = np.zeros(nvar)
        lb = np.zeros(nvar)
        ub = np.ones(nvar)
        ub[nx + ny:] = float(max_size)
        integrality = np.zeros(nvar)
        integrality[:nx + ny] = 1
        for p, v in enumerate(nodes):
            cur = loc_grids[v][0]
            for t, s in enumerate(grids):
                d = float(np.hypot(*(loc_xy[v] - centre[s])))
                cost[xi(p, t)] = loc_w[v] * (d + (0.0 if s == cur else MOVE_PRICE_M))
                if block[v] in fixed and v not in dpos:
                    lb[xi(p, t)] = ub[xi(p, t)] = 1.0 if s == fixed[block[v]] else 0.0
                elif not allowed[p, t]:
                    ub[xi(p, t)] = 0.0
        for j, v in enumerate(detach):
            cost[nx + j] = LEAVE_PRICE_M * sum(1 for i in at_loc[v] if br[i] >= 0)
        rows_i: list[int] = []
        cols_i: list[int] = []
        vals: list[float] = []
        clo: list[float] = []
        chi: list[float] = []
        c = 0

        def add(entries: list[tuple[int, float]], lo: float, hi: float) -> None:
            nonlocal c
            for j, a in entries:
                rows_i.append(c)
                cols_i.append(j)
                vals.append(a)
            clo.append(lo)
            chi.append(hi)
            c += 1

        for p in range(nv):  # each point in exactly one grid
            add([(xi(p, t), 1.0) for t in range(ns)], 1.0, 1.0)
        for p, v in enumerate(nodes):  # a block in one grid, but for a point that leaves its branch
            q = pos[rep[block[v]]]
            if q == p or (block[v] in fixed and v not in dpos):
                continue
            y = [(nx + dpos[v], -1.0)] if v in dpos else []
            for t, s in enumerate(grids):
                if block[v] in fixed:  # x[p, t] = [s is the block's grid] unless it leaves
                    if s == fixed[block[v]]:
                        add([(xi(p, t), 1.0), *[(j, -a) for j, a in y]], 1.0, np.inf)
                    continue
                add([(xi(p, t), 1.0), (xi(q, t), -1.0), *y], -np.inf, 0.0)
                add([(xi(q, t), 1.0), (xi(p, t), -1.0), *y], -np.inf, 0.0)
        per_branch: dict[int, list[int]] = {}
        for j, v in enumerate(detach):
            per_branch.setdefault(leave[v], []).append(j)
        for js in per_branch.values():  # at most one point leaves each branch
            if len(js) > 1:
                add([(nx + j, 1.0) for j in js], -np.inf, 1.0)
        big = float(max_size)
        for t, s in enumerate(grids):
            add([(xi(p, t), float(loc_w[v])) for p, v in enumerate(nodes)], float(min_size), float(max_size))
            if min_members > 0 and gmem[s] >= min_members:  # O9 floor kept
                add([(xi(p, t), float(loc_m[v])) for p, v in enumerate(nodes)], float(min_members), np.inf)
            inflow: dict[int, list[tuple[int, float]]] = {p: [] for p in range(nv)}
            for a in arcs_t[t]:  # flow only between points of the grid
                p, q = arcs[a]
                add([(fi(a, t), 1.0), (xi(p, t), -big)], -np.inf, 0.0)
                add([(fi(a, t), 1.0), (xi(q, t), -big)], -np.inf, 0.0)
                inflow[q].append((fi(a, t), 1.0))
                inflow[p].append((fi(a, t), -1.0))
            for p in range(nv):  # each point of the grid but its root takes one unit of flow
                if roots[t] != p and allowed[p, t]:
                    add([*inflow[p], (xi(p, t), -1.0)], 0.0, np.inf)
        a_mat = coo_array((vals, (rows_i, cols_i)), shape=(c, nvar)).tocsr()
        res = milp(cost, constraints=LinearConstraint(a_mat, clo, chi), integrality=integrality,
                   bounds=Bounds(lb, ub), options={"node_limit": node_limit, "presolve": True})
        logger.debug("reshape_grids: grids %s, %d points, MILP status %s", grids, nv, res.status)
        if res.x is None:
            return None
        x = np.round(res.x[:nx]).reshape(nv, ns)
        to = {v: grids[int(np.argmax(x[p]))] for p, v in enumerate(nodes)}
        gone = [v for v in detach if to[v] != to[rep[block[v]]]]
        return to, gone

    def assign(to: dict[int, int]) -> None:
        for v, s in to.items():
            for i in at_loc[v]:
                src = int(lab[i])
                if src == s:
                    continue
                rows_of[src].discard(i)
                rows_of[s].add(i)
                size[src] -= 1
                size[s] += 1
                gmem[src] -= int(mem[i])
                gmem[s] += int(mem[i])
                lab[i] = s
            loc_grids[v] = [s]

    for _ in range(rounds):
        changed = False
        for g in range(k):
            parts = _parts(nodes_of(g), adj)
            if len(parts) <= 1:
                continue
            detached: set[int] = set().union(*parts[1:])
            t1 = touching(detached, g)
            t_main = touching(parts[0], g)
            first = sorted(t1, key=lambda h: (-t1[h], h))
            second = sorted((h for h in t_main if h not in t1), key=lambda h: (-t_main[h], h))
            near = [h for h in [*first, *second] if len(_parts(nodes_of(h), adj)) == 1]
            for m in range(2, min(max_grids, len(near) + 1) + 1):
                grids = [g, *near[:m - 1]]
                before = sum(len(_parts(nodes_of(s), adj)) for s in grids)
                got = solve(grids)
                if got is None:
                    continue
                to, gone = got
                undo = {v: loc_grids[v][0] for v in to}
                assign(to)
                after = [len(_parts(nodes_of(s), adj)) for s in grids]
                if max(after) == 1 and sum(after) < before:
                    for v in gone:  # the unit leaves its branch (the rest stays a branch)
                        for i in at_loc[v]:
                            if br[i] >= 0:
                                units[int(br[i])].remove(i)
                                br[i] = -1
                    changed = True
                    break
                assign(undo)
        if not changed:
            break
    return lab, br
