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

Everything is deterministic: stable sorts with index tie-breaks, no randomness.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

__all__ = ["choose_grid_count", "cluster_grids", "connect_grids"]

logger = logging.getLogger(__name__)

#: Rounds of the local-improvement pass (each is one vectorised sweep).
IMPROVE_ROUNDS = 12
#: Neighbouring grid centres an item may move to in the improvement pass.
IMPROVE_NEIGHBOURS = 5


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
    loc, adj = _delaunay_adjacency(pts)
    k = int(lab.max()) + 1
    size = np.bincount(lab, minlength=k).astype(np.int64)
    gmem = np.bincount(lab, weights=mem, minlength=k).astype(np.int64)
    item_rows: dict[int, list[int]] = {}
    for i, t in enumerate(it.tolist()):
        item_rows.setdefault(t, []).append(i)
    at_loc: dict[int, list[int]] = {}
    for i, v in enumerate(loc.tolist()):
        at_loc.setdefault(v, []).append(i)

    rows_of: dict[int, set[int]] = {g: set() for g in range(k)}
    for i, g in enumerate(lab.tolist()):
        rows_of[g].add(i)

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
