"""Joint-branch packing (联合党支部) on arrays: greedy with repair, exact search when small.

Candidates are enterprises with fewer than ``min_members`` formal members and no own
branch (O5). A joint branch holds 2 to ``max_units`` candidates (O6) with at least
``min_members`` formal members in total (O6), all within ``max_distance`` metres of
each other (O7, pairwise). The objective, lexicographically:

1. the number of enterprises covered (in some branch);
2. the number of branches (among equal cover, more and smaller branches);
3. tie-breaks in the O5 order 地域相邻、行业相近: the same group (grid) when given, near
   (in distance bands), then the same GB/T 4754 section.

Algorithm
---------
The candidates split into groups linked by the O7 distance (connected components of
the nearest-neighbour graph; a branch never spans two). Per group:

1. *Cores*: member-holding candidates, most members first and most constrained first,
   take the completion with the least member waste (a 2-member unit takes a 1-member
   partner; 1-member units form triples) that can end up covering the most candidates
   (its "reach": units plus free candidates compatible with all of them, bitmasks),
   then near partners. An augmenting search (like Kuhn's matching) lets a left-over
   member unit replace a partner in a core when the freed partner can start another.
2. *Fill*: the rest join cores with room: candidates with at most two options first,
   then nearest pair first (a heap), then a one-step ejection chain for who is left.
3. *Split*: a branch with members for two is split when both halves stay valid.
4. *Restarts*: groups up to :data:`RESTART_MAX_N` candidates run the greedy
   :data:`RESTARTS` times with seeded tie-break noise (odd restarts rank reach before
   waste: a 2+2+1 core can cover more than two 2+1 cores can fill); the best is kept.
5. *Exact*: a group of at most :data:`EXACT_MAX` candidates (one grid holds at most 15)
   below the geometry-free upper bound gets a branch-and-bound search over all
   packings (node-limited); larger groups get a ruin-and-recreate pass that re-solves
   windows of the nearest :data:`WINDOW` candidates (whole branches) exactly around
   every unplaced candidate and branch with room, under a node budget per candidate.
   Neither ever lowers the cover.
6. *Tighten*: fillers far from their branch move to, or swap into, a nearer branch
   (same cover, more compact branches and hence grids).

Neighbours come from a KD-tree (``scipy.spatial.cKDTree``, the nearest
:data:`NEIGHBOUR_CAP` within the O7 distance), never an N×N matrix, so the same code
packs a grid of 15 or a unit of 10,000 candidates. Deterministic: every order has an
index tie-break and the restart noise is seeded.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = [
    "EXACT_MAX", "branch_max_distance", "check_packing", "covered", "fill_branches", "pack_branches",
    "upper_bound",
]

logger = logging.getLogger(__name__)

#: Largest candidate set solved by exact branch-and-bound (one grid holds at most 15).
EXACT_MAX = 16
#: Node limit of the exact search (it stops with the best packing found so far).
NODE_LIMIT = 40_000
#: Partners considered when completing a core (nearest/most constrained first).
COMPLETION_BREADTH = 10
#: Depth of the augmenting search for left-over member units.
AUGMENT_DEPTH = 3
#: Nearest neighbours (within the O7 distance) a candidate considers as partners.
NEIGHBOUR_CAP = 48
#: Candidates in one window of the exact local improvement (ruin and recreate); groups
#: up to RESTART_MAX_N candidates run windows of each of WINDOW_SIZES in turn.
WINDOW = 16
WINDOW_SIZES = (24, 20, 16, 12)
#: Node limit of the exact search inside one window.
WINDOW_NODES = 20_000
#: Passes of the window improvement over the unplaced candidates.
WINDOW_PASSES = 3
#: Node budget of the whole window improvement, per candidate (groups up to
#: RESTART_MAX_N candidates; larger ones get LARGE_WINDOW_BUDGET and small windows).
WINDOW_BUDGET = 8_000
LARGE_WINDOW_BUDGET = 50
#: Cap on the window search of one packing call (about 10–20 s of Python), whatever its size.
WINDOW_BUDGET_CAP = 3_000_000
#: Greedy restarts (perturbed tie-breaks) on a group of linked candidates; best kept.
RESTARTS = 8
#: Greedy results (best first) that each get the window improvement.
IMPROVE_TOP = 1
#: Largest group of linked candidates that gets the restarts.
RESTART_MAX_N = 400
#: Core partners: distance bands (m); nearer bands first once waste and reach tie.
PARTNER_BAND_M = 500.0
#: Tighten: fillers at least this far (m) from their branch's centre look for a nearer one.
TIGHTEN_M = 800.0
#: Fill: candidates with at most this many branches to choose from go first.
CONSTRAINED = 2
#: Fill: distance bands (m) inside which the same GB/T 4754 section is preferred.
FILL_BAND_M = 500.0
#: Fillers examined per ejection attempt (bounds the fill on large candidate sets).
EJECT_BUDGET = 40
_EPS = 1e-6


def upper_bound(members: ArrayLike, *, max_units: int = 5, min_members: int = 3) -> tuple[int, int]:
    """Geometry-free upper bound on (covered enterprises, branches).

    Exact for members in {0, 1, 2} with ``min_members == 3`` (pairs of 2+1, then triples
    of 1s, then pairs of 2s); otherwise the member-sum bound.
    """
    m = np.asarray(members, dtype=np.int64)
    n = len(m)
    if n == 0 or min_members <= 0:
        return n, n // 2
    if min_members == 3 and (m.max(initial=0) <= 2):
        n1 = int(np.sum(m == 1))
        n2 = int(np.sum(m == 2))
        b = n2 + (n1 - n2) // 3 if n1 >= n2 else n1 + (n2 - n1) // 2
    else:
        b = int(np.minimum(m, 10**9).sum()) // min_members
    b = min(b, n // 2)
    return min(n, max_units * b), b


def _upper_bound_list(m: list[int], max_units: int, min_members: int) -> tuple[int, int]:
    """:func:`upper_bound` of a short list of member counts, in plain Python (same values)."""
    n = len(m)
    if n == 0 or min_members <= 0:
        return n, n // 2
    if min_members == 3 and max(m) <= 2:
        n1 = m.count(1)
        n2 = m.count(2)
        b = n2 + (n1 - n2) // 3 if n1 >= n2 else n1 + (n2 - n1) // 2
    else:
        b = sum(min(v, 10**9) for v in m) // min_members
    b = min(b, n // 2)
    return min(n, max_units * b), b


def branch_max_distance(xy: ArrayLike) -> float:
    """Largest pairwise distance between the points (0 for fewer than two)."""
    p = np.asarray(xy, dtype=float).reshape(-1, 2)
    if len(p) < 2:
        return 0.0
    d = np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])
    return float(d.max())


class _Neighbours:
    """Nearest neighbours within the O7 distance (at most :data:`NEIGHBOUR_CAP`, nearest
    first), from a KD-tree, computed when first needed."""

    def __init__(self, xy: NDArray[np.float64], radius: float, cap: int) -> None:
        self.xy = xy
        self.radius = radius
        self.k = min(cap + 1, len(xy))
        self._tree: cKDTree | None = None
        self.cache: dict[int, list[int]] = {}

    @property
    def tree(self) -> cKDTree | None:
        """The KD-tree of the points (built when first needed; None without points)."""
        if self._tree is None and len(self.xy):
            self._tree = cKDTree(self.xy)
        return self._tree

    def compute(self, units: Sequence[int] | range) -> None:
        todo = [u for u in units if u not in self.cache]
        if not todo or not len(self.xy):
            return
        if self.k == len(self.xy):
            # every point is among the k nearest: the neighbours are all points within the
            # radius (strictly, as the KD-tree's bound), from one small distance matrix
            pts = self.xy
            sub = pts[todo]
            d2 = (sub[:, None, 0] - pts[None, :, 0]) ** 2 + (sub[:, None, 1] - pts[None, :, 1]) ** 2
            within = d2 < self.radius * self.radius
            within[np.arange(len(todo)), todo] = False
            self._store(todo, np.nonzero(within)[1], within.sum(axis=1))
            return
        tree = self.tree
        assert tree is not None
        dist, idx = tree.query(self.xy[todo], k=self.k, distance_upper_bound=self.radius)
        dist = np.asarray(dist).reshape(len(todo), self.k)
        idx = np.asarray(idx).reshape(len(todo), self.k)
        ok = np.isfinite(dist) & (idx != np.asarray(todo)[:, None])
        self._store(todo, idx[ok], ok.sum(axis=1))

    def _store(self, todo: list[int], flat: NDArray[np.int64], counts: NDArray[np.int64]) -> None:
        """Cache the neighbour lists: ``flat`` holds them row after row, ``counts`` long."""
        values = flat.tolist()
        ends = np.cumsum(counts).tolist()
        start = 0
        for u, end in zip(todo, ends, strict=True):
            self.cache[u] = values[start:end]
            start = end

    def __getitem__(self, u: int) -> list[int]:
        if u not in self.cache:
            self.compute([u])
        return self.cache[u]


class _Packer:
    """Mutable packing state over one candidate set (private; used by the functions)."""

    def __init__(self, xy: NDArray[np.float64], members: NDArray[np.int64], industry: Sequence[str],
                 group: Sequence[int] | None, *, max_units: int, min_members: int,
                 max_distance: float, restart: int = 0, nbrs: _Neighbours | None = None,
                 masks: dict[int, int] | None = None) -> None:
        self.n = len(xy)
        # restart 0 is the plain greedy; others perturb its tie-breaks (seeded, deterministic)
        self.noise = (np.random.default_rng(restart).random(self.n) * 2).tolist() if restart else [0.0] * self.n
        self.member_first = 1
        # odd restarts put a core's reach (the candidates it can end up covering) before
        # member waste: a 2+2+1 core may cover more than two 2+1 cores can fill
        self.waste_first = restart % 2 == 0
        self.x = xy[:, 0].tolist()
        self.y = xy[:, 1].tolist()
        self.m = [int(v) for v in members]
        self.ind = [str(v) for v in industry]
        self.grp = [int(v) for v in group] if group is not None else [0] * self.n
        self.max_units = max_units
        self.min_members = min_members
        self.r2 = (max_distance + _EPS) ** 2
        # neighbours and their bitmasks depend on the points only: restarts share them
        self.nbrs = nbrs if nbrs is not None else _Neighbours(xy, max_distance + _EPS, NEIGHBOUR_CAP)
        self.label = [-1] * self.n
        self.units: dict[int, list[int]] = {}
        self.bmem: dict[int, int] = {}
        self.locked: set[int] = set()
        self._next = 0
        self._deg: list[int] = []
        self._masks: dict[int, int] = masks if masks is not None else {}
        self._free = (1 << self.n) - 1  # bitmask of candidates in no branch
        self._near: dict[int, list[int]] = {}
        self._roomset: set[int] = set()
        # first unit of each branch with room, hashed in cells of twice the O7 distance
        # (built when a large fill first needs it, then kept in step with ``_roomset``)
        self._cells: dict[tuple[int, int], set[int]] | None = None
        self._first: dict[int, int] = {}
        self._cell = 2.0 * math.sqrt(self.r2) * (1 + 1e-9)
        self.same_group = False

    # --- basic operations ---------------------------------------------------------------
    def d2(self, i: int, j: int) -> float:
        return (self.x[i] - self.x[j]) ** 2 + (self.y[i] - self.y[j]) ** 2

    def ok(self, i: int, j: int) -> bool:
        return self.d2(i, j) <= self.r2

    def fits(self, u: int, b: int, skip: int = -1) -> bool:
        """O7: u lies within the distance of every unit of branch b (except ``skip``)."""
        x, y, r2 = self.x, self.y, self.r2
        xu, yu = x[u], y[u]
        for v in self.units[b]:
            if v != skip and (xu - x[v]) ** 2 + (yu - y[v]) ** 2 > r2:
                return False
        return True

    def new(self, units: Sequence[int]) -> int:
        b = self._next
        self._next += 1
        self.units[b] = []
        self.bmem[b] = 0
        for u in units:
            self.add(u, b)
        return b

    def add(self, u: int, b: int) -> None:
        self._free &= ~(1 << u)
        self.units[b].append(u)
        self.bmem[b] += self.m[u]
        self.label[u] = b
        self._update_room(b)

    def remove(self, u: int) -> None:
        b = self.label[u]
        self.units[b].remove(u)
        self.bmem[b] -= self.m[u]
        self.label[u] = -1
        self._free |= 1 << u
        if not self.units[b]:
            del self.units[b], self.bmem[b]
        self._update_room(b)

    def dissolve(self, b: int) -> None:
        for u in list(self.units[b]):
            self.remove(u)

    def same_ind(self, u: int, b: int) -> int:
        """Units of b in u's GB/T 4754 section (O7 preference)."""
        s = self.ind[u]
        return sum(1 for v in self.units[b] if s and self.ind[v] == s)

    def spread(self, u: int, b: int) -> float:
        x, y = self.x, self.y
        xu, yu = x[u], y[u]
        return max([(xu - x[v]) ** 2 + (yu - y[v]) ** 2 for v in self.units[b]], default=0.0)

    def free_member_nbrs(self, u: int) -> list[int]:
        return [j for j in self.nbrs[u] if self.label[j] == -1 and self.m[j] > 0]

    # --- 1. cores -------------------------------------------------------------------------
    def mask(self, u: int) -> int:
        """Bitmask of u and the neighbours it may share a branch with (O7)."""
        bits = self._masks.get(u)
        if bits is None:
            bits = 1 << u
            for j in self.nbrs[u]:
                bits |= 1 << j
            self._masks[u] = bits
        return bits

    def completion(self, s: int, pool: Sequence[int]) -> list[int] | None:
        """Partners from ``pool`` that complete a core around seed s.

        Preference: least member waste (keeps the number of branches up), then the most
        enterprises the core can end up covering (its units plus the free candidates
        compatible with all of them, up to the unit cap), then fewer partners, then
        constrained, same-section and near partners.
        """
        need = self.min_members - self.m[s]
        if need <= 0:
            return []
        deg = self._deg
        x, y = self.x, self.y
        xs, ys = x[s], y[s]
        d2s = {p: (xs - x[p]) ** 2 + (ys - y[p]) ** 2 for p in pool}  # = self.d2(s, p)
        gs = self.grp[s]
        ranked = sorted(pool, key=lambda p: (self.grp[p] != gs, d2s[p], p))[:COMPLETION_BREADTH]
        best: tuple[tuple[float, ...], list[int]] | None = None
        base = self.mask(s) & self._free & ~(1 << s)
        # per partner, once: members, its compatible set without itself, and the key parts
        mem = {p: self.m[p] for p in ranked}
        bits = {p: self.mask(p) & ~(1 << p) for p in ranked}
        other_of = {p: 1 if self.grp[p] != gs else 0 for p in ranked}
        dist_of = {p: math.sqrt(d2s[p]) for p in ranked}
        deg_of = {p: deg[p] + self.noise[p] for p in ranked}
        ind_s = self.ind[s]
        same_of = {p: 1 if ind_s and self.ind[p] == ind_s else 0 for p in ranked}
        r2 = self.r2
        for size in range(1, min(need + (0 if self.waste_first else 1), self.max_units - 1) + 1):
            for combo in itertools.combinations(ranked, size):
                total = sum([mem[p] for p in combo])
                if total < need:
                    continue
                if size > 1 and not all((x[a] - x[b]) ** 2 + (y[a] - y[b]) ** 2 <= r2
                                        for a, b in itertools.combinations(combo, 2)):
                    continue
                common = base
                for p in combo:
                    common &= bits[p]
                room = self.max_units - 1 - size
                reach = size + 1 + min(common.bit_count(), room)
                other = sum([other_of[p] for p in combo])
                near = max([dist_of[p] for p in combo]) // PARTNER_BAND_M
                waste = total - need
                head = (waste, other, -reach) if self.waste_first else (-reach, waste, other)
                key = (*head, size, near,
                       sum([deg_of[p] for p in combo]),
                       -sum([same_of[p] for p in combo]),
                       max([d2s[p] for p in combo]), *combo)
                if best is None or key < best[0]:
                    best = (key, list(combo))
        return None if best is None else best[1]

    def form_cores(self) -> None:
        self.nbrs.compute(range(self.n))
        self._deg = [sum(1 for j in self.nbrs[i] if self.m[j] > 0) for i in range(self.n)]
        seeds = sorted((i for i in range(self.n) if self.m[i] > 0 and self.label[i] == -1),
                       key=lambda i: (-self.m[i] * self.member_first, self._deg[i] + self.noise[i], i))
        for s in seeds:
            if self.label[s] != -1:
                continue
            combo = self.completion(s, self.free_member_nbrs(s))
            if combo is not None:
                self.new([s, *combo])
        self.augment_cores()

    def augment_cores(self) -> None:
        """Kuhn-like augmenting: a left-over member unit takes a partner's place in a core
        when the freed partner can in turn start a core (depth-limited)."""
        improved = True
        while improved:
            improved = False
            for u in range(self.n):
                if self.label[u] == -1 and self.m[u] > 0 and self._augment(u, AUGMENT_DEPTH, {u}):
                    improved = True

    def _augment(self, u: int, depth: int, seen: set[int]) -> bool:
        combo = self.completion(u, self.free_member_nbrs(u))
        if combo is not None:
            self.new([u, *combo])
            return True
        if depth == 0:
            return False
        for b in sorted({self.label[j] for j in self.nbrs[u] if self.label[j] >= 0} - self.locked):
            for p in list(self.units[b]):
                if p in seen or self.m[p] == 0:
                    continue
                if self.bmem[b] - self.m[p] + self.m[u] < self.min_members or not self.fits(u, b, skip=p):
                    continue
                self.remove(p)
                self.add(u, b)
                seen.add(p)
                if self._augment(p, depth - 1, seen):
                    return True
                self.remove(u)
                self.add(p, b)
        return False

    # --- 2. fill --------------------------------------------------------------------------
    def near_branches(self, u: int) -> list[int]:
        """Branches holding a neighbour of u (cached during a fill: no branch is created then)."""
        near = self._near.get(u)
        if near is None:
            near = sorted({self.label[j] for j in self.nbrs[u] if self.label[j] >= 0} - self.locked)
            self._near[u] = near
        return near

    def open_branches(self, u: int) -> list[int]:
        """Valid branches with room that u may join (O6/O7)."""
        near = self.near_branches(u)
        if len(self._roomset) < len(near):
            found = sorted(b for b in self._roomset if self.fits(u, b))
        else:
            found = [b for b in near if b in self._roomset and self.fits(u, b)]
        if self.same_group:
            found = [b for b in found if all(self.grp[v] == self.grp[u] for v in self.units[b])]
        return found

    def _has_room(self, b: int) -> bool:
        return b not in self.locked and self.bmem[b] >= self.min_members and len(self.units[b]) < self.max_units

    def _update_room(self, b: int) -> None:
        if b in self.units and self._has_room(b):
            self._roomset.add(b)
            if self._cells is not None and self._first.get(b) != self.units[b][0]:
                self._unhash(b)
                self._hash(b)
        else:
            self._roomset.discard(b)
            if self._cells is not None:
                self._unhash(b)

    def _cell_of(self, u: int) -> tuple[int, int]:
        return (math.floor(self.x[u] / self._cell), math.floor(self.y[u] / self._cell))

    def _hash(self, b: int) -> None:
        assert self._cells is not None
        f = self.units[b][0]
        self._first[b] = f
        self._cells.setdefault(self._cell_of(f), set()).add(b)

    def _unhash(self, b: int) -> None:
        assert self._cells is not None
        f = self._first.pop(b, -1)
        if f >= 0:
            self._cells[self._cell_of(f)].discard(b)

    def fill(self, free: Sequence[int] | None = None) -> None:
        """Candidates join branches with room (O6/O7).

        Candidates with at most :data:`CONSTRAINED` options go first, fewest options
        first (that keeps the cover up); the others then join by nearest pair first
        (地域相邻: compact branches, hence compact grids); who is left tries a one-step
        ejection chain.
        """
        self._near = {}
        self._roomset = {b for b in self.units if self._has_room(b)}
        self._cells = None
        self._first = {}
        todo = [u for u in (range(self.n) if free is None else free) if self.label[u] == -1]
        self.nbrs.compute(todo)
        options = {u: len(self.open_branches(u)) for u in todo}
        todo.sort(key=lambda u: (options[u], u))
        for u in todo:
            if options[u] > CONSTRAINED:
                break
            if self.label[u] == -1:
                self._join_best(u)
        heap: list[tuple[tuple[float, ...], int, int]] = []
        for u in todo:
            if options[u] > CONSTRAINED and self.label[u] == -1:
                self._push(heap, u)
        while heap:
            _, u, b = heapq.heappop(heap)
            if self.label[u] != -1:
                continue
            if b in self._roomset and self.fits(u, b):
                self.add(u, b)
            else:
                self._push(heap, u)
        for u in todo:
            if self.label[u] == -1:
                self._join_best(u)

    def _push(self, heap: list[tuple[tuple[float, ...], int, int]], u: int) -> None:
        cands = self.open_branches(u)
        if cands:
            key = min([self._fill_key(u, b) for b in cands])  # keys end with b: unique
            heapq.heappush(heap, (key, u, int(key[-1])))

    def _join_best(self, u: int) -> None:
        cands = self.open_branches(u)
        if cands:
            self.add(u, int(min([self._fill_key(u, b) for b in cands])[-1]))
        elif self._room_within_two_steps(u):
            self._eject_into(u)  # some branch with room lies within two steps

    def _room_within_two_steps(self, u: int) -> bool:
        """Whether the first unit of some branch with room lies within twice the distance."""
        room = self._roomset
        if not room:
            return False
        x, y, lim, units = self.x, self.y, 4 * self.r2, self.units
        xu, yu = x[u], y[u]
        if len(room) <= 32:
            return any((xu - x[f]) ** 2 + (yu - y[f]) ** 2 <= lim for f in (units[b][0] for b in room))
        # the same test, local: a first unit within twice the distance lies in the 3 x 3 cells
        if self._cells is None:
            self._cells = {}
            self._first = {}
            for b in room:
                self._hash(b)
        cx, cy = self._cell_of(u)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for b in self._cells.get((cx + dx, cy + dy), ()):
                    f = units[b][0]
                    if (xu - x[f]) ** 2 + (yu - y[f]) ** 2 <= lim:
                        return True
        return False

    def _fill_key(self, u: int, b: int) -> tuple[float, ...]:
        """O5 order: same group (grid), near (地域相邻, in bands), same section (行业相近), small."""
        units = self.units[b]
        x, y = self.x, self.y
        xu, yu = x[u], y[u]
        spread = math.sqrt(max([(xu - x[v]) ** 2 + (yu - y[v]) ** 2 for v in units], default=0.0))
        s = self.ind[u]
        same = 0
        if s:
            ind = self.ind
            for v in units:
                if ind[v] == s:
                    same += 1
        return (self.grp[units[0]] != self.grp[u], spread // FILL_BAND_M, -same, len(units), spread, b)

    def _eject_into(self, u: int) -> bool:
        """One-step ejection chain: u takes the place of a filler that moves elsewhere."""
        budget = EJECT_BUDGET
        for b in self.near_branches(u):
            if b not in self.units or self.bmem[b] < self.min_members or len(self.units[b]) < self.max_units:
                continue
            if self.same_group and any(self.grp[v] != self.grp[u] for v in self.units[b]):
                continue
            for f in list(self.units[b]):
                if self.bmem[b] - self.m[f] + self.m[u] < self.min_members or not self.fits(u, b, skip=f):
                    continue
                budget -= 1
                dest = [c for c in self.open_branches(f) if c != b]
                if dest:
                    self.remove(f)
                    self.add(f, dest[0])
                    self.add(u, b)
                    return True
                if budget <= 0:
                    return False
        return False

    # --- 2b. tighten ------------------------------------------------------------------------
    def _centre(self, b: int, skip: int = -1) -> tuple[float, float]:
        units = [v for v in self.units[b] if v != skip]
        x, y = self.x, self.y
        return (sum([x[v] for v in units]) / len(units), sum([y[v] for v in units]) / len(units))

    def _dist_to(self, u: int, c: tuple[float, float]) -> float:
        return math.hypot(self.x[u] - c[0], self.y[u] - c[1])

    def tighten(self, rounds: int = 2) -> None:
        """地域相邻: a filler far from its branch moves to, or swaps with a filler of, a
        nearer branch when O6/O7 still hold and the two distances to the branch centres
        shrink; the cover never changes."""
        for _ in range(rounds):
            moved = False
            for b in sorted(self.units):
                if b in self.locked or b not in self.units:
                    continue
                for f in list(self.units[b]):
                    if self.label[f] != b or len(self.units[b]) <= 2 or self.bmem[b] - self.m[f] < self.min_members:
                        continue
                    own = self._dist_to(f, self._centre(b, skip=f))
                    if own < TIGHTEN_M:
                        continue
                    if self._relocate(f, b, own):
                        moved = True
            if not moved:
                return

    def _relocate(self, f: int, b: int, own: float) -> bool:
        bc: tuple[float, float] | None = None  # b's centre without f (b is unchanged until a move)
        for c in self.near_branches(f):
            if c == b or c not in self.units or c in self.locked:
                continue
            cc = self._centre(c)
            there = self._dist_to(f, cc)
            if there >= own:
                continue
            if len(self.units[c]) < self.max_units and self.fits(f, c):
                self.remove(f)
                self.add(f, c)
                return True
            if bc is None:
                bc = self._centre(b, skip=f)
            for g in self.units[c]:
                if self.bmem[c] - self.m[g] + self.m[f] < self.min_members \
                        or self.bmem[b] - self.m[f] + self.m[g] < self.min_members:
                    continue
                cg = self._centre(c, skip=g)
                gain = own + self._dist_to(g, cg) - self._dist_to(f, cg) - self._dist_to(g, bc)
                if gain > 1.0 and self.fits(f, c, skip=g) and self.fits(g, b, skip=f):
                    self.remove(f)
                    self.remove(g)
                    self.add(f, c)
                    self.add(g, b)
                    return True
        return False

    # --- 3. split ---------------------------------------------------------------------------
    def split_large(self) -> None:
        """More, smaller branches at equal cover: split a branch whose members suffice twice."""
        for b in sorted(self.units):
            if b in self.locked:
                continue
            units = self.units[b]
            if len(units) < 4 or self.bmem[b] < 2 * self.min_members:
                continue
            best: tuple[tuple[int, float], list[int], list[int]] | None = None
            first, rest = units[0], units[1:]
            for size in range(1, len(rest)):
                for combo in itertools.combinations(rest, size):
                    a = [first, *combo]
                    c = [v for v in rest if v not in combo]
                    if len(c) < 2 or sum(self.m[v] for v in a) < self.min_members \
                            or sum(self.m[v] for v in c) < self.min_members:
                        continue
                    key = (abs(len(a) - len(c)), max(_spread2(self, a), _spread2(self, c)))
                    if best is None or key < best[0]:
                        best = (key, a, c)
            if best is not None:
                self.dissolve(b)
                self.new(best[1])
                self.new(best[2])

    def finalize(self) -> None:
        for b in sorted(self.units):
            if b in self.locked:
                continue
            if self.bmem[b] < self.min_members or len(self.units[b]) < 2:
                self.dissolve(b)

    def score(self) -> tuple[int, int]:
        covered = sum(len(v) for b, v in self.units.items() if b not in self.locked)
        return covered, sum(1 for b in self.units if b not in self.locked)

    def labels(self) -> NDArray[np.int64]:
        """Labels renumbered 0..b-1 by each branch's smallest unit."""
        out = np.full(self.n, -1, dtype=np.int64)
        for new, b in enumerate(sorted(self.units, key=lambda b: min(self.units[b]))):
            out[self.units[b]] = new
        return out


def _spread2(p: _Packer, units: Sequence[int]) -> float:
    return max((p.d2(a, b) for a, b in itertools.combinations(units, 2)), default=0.0)


# --- exact search ---------------------------------------------------------------------------
def _exact(p: _Packer, incumbent: tuple[int, int], node_limit: int) -> tuple[list[list[int]] | None, int]:
    """Branch and bound over all packings of a small candidate set.

    Member-holding candidates are placed first (into an open branch, a new branch, or
    none); then the branches short of members are dropped and the member-less candidates
    fill the rest. Bounds: a member phase can end with at most ``(members left) // M``
    valid branches of at most K units; a fill phase covers at most the room left, and
    only candidates that fit some branch with room.

    Returns the branches of a packing strictly better than ``incumbent`` in (cover,
    branches) or None (none exists, or the node limit was hit first), and the nodes used.
    """
    n = p.n
    compat = [p.mask(i) for i in range(n)]
    mem_units = sorted((i for i in range(n) if p.m[i] > 0),
                       key=lambda i: (-p.m[i], compat[i].bit_count(), i))
    zero_units = sorted((i for i in range(n) if p.m[i] == 0), key=lambda i: (compat[i].bit_count(), i))
    order = mem_units + zero_units
    nm = len(mem_units)
    suffix_mem = [0] * (nm + 1)
    for t in range(nm - 1, -1, -1):
        suffix_mem[t] = suffix_mem[t + 1] + p.m[order[t]]
    zero_after = [0] * (n + 1)  # bitmask of the zero units at positions >= t
    for t in range(n - 1, nm - 1, -1):
        zero_after[t] = zero_after[t + 1] | (1 << order[t])
    ub = _upper_bound_list(p.m, p.max_units, p.min_members)
    best_val = list(incumbent)
    best: list[list[int]] | None = None
    nodes = 0
    b_units: list[list[int]] = []
    b_allow: list[int] = []
    b_mem: list[int] = []
    K, M = p.max_units, p.min_members

    class _Stop(Exception):
        pass

    def leaf(valid: list[int]) -> None:
        nonlocal best
        ok = [k for k in valid if len(b_units[k]) >= 2]
        cover = sum(len(b_units[k]) for k in ok)
        if (cover, len(ok)) > (best_val[0], best_val[1]):
            best_val[0], best_val[1] = cover, len(ok)
            best = [list(b_units[k]) for k in ok]
            if (cover, len(ok)) >= ub:
                raise _Stop

    def zero_phase(pos: int, valid: list[int], covered: int) -> None:
        # covered: the units in the valid branches (the sum of their lengths)
        nonlocal nodes
        nodes += 1
        if nodes > node_limit:
            raise _Stop
        open_: list[tuple[int, int]] = []  # (units, branch) of the valid branches with room
        reach = 0
        room = 0
        for k in valid:
            size = len(b_units[k])
            if size < K:
                open_.append((size, k))
                reach |= b_allow[k]
                room += K - size
        can = (reach & zero_after[pos]).bit_count()
        bound = covered + min(can, room)
        if (bound, len(valid)) <= (best_val[0], best_val[1]):
            return
        if pos == n or not can or not room:
            leaf(valid)
            return
        u = order[pos]
        cu = compat[u]
        for _, k in sorted(open_):
            if (b_allow[k] >> u) & 1:
                b_units[k].append(u)
                saved = b_allow[k]
                b_allow[k] &= cu
                zero_phase(pos + 1, valid, covered + 1)
                b_allow[k] = saved
                b_units[k].pop()
        zero_phase(pos + 1, valid, covered)

    m_of = p.m

    def member_phase(pos: int, placed: int, in_branches: int) -> None:
        # in_branches: the members of the branches so far (the sum of b_mem)
        nonlocal nodes
        nodes += 1
        if nodes > node_limit:
            raise _Stop
        max_branches = (in_branches + suffix_mem[pos]) // M
        bound = min(placed + (n - pos), K * max_branches)
        if (bound, max_branches) <= (best_val[0], best_val[1]):
            return
        if pos == nm:
            valid = [k for k in range(len(b_units)) if b_mem[k] >= M]
            zero_phase(pos, valid, sum([len(b_units[k]) for k in valid]))
            return
        u = order[pos]
        mu = m_of[u]
        cu = compat[u]
        for k in range(len(b_units)):
            if len(b_units[k]) < K and (b_allow[k] >> u) & 1:
                b_units[k].append(u)
                saved = b_allow[k]
                b_allow[k] &= cu
                b_mem[k] += mu
                member_phase(pos + 1, placed + 1, in_branches + mu)
                b_mem[k] -= mu
                b_allow[k] = saved
                b_units[k].pop()
        b_units.append([u])
        b_allow.append(cu)
        b_mem.append(mu)
        member_phase(pos + 1, placed + 1, in_branches + mu)
        b_units.pop()
        b_allow.pop()
        b_mem.pop()
        member_phase(pos + 1, placed, in_branches)

    if tuple(incumbent) >= ub:
        return None, 0
    try:
        member_phase(0, 0, 0)
    except _Stop:
        if nodes > node_limit:
            logger.debug("exact branch search stopped at the node limit (%d candidates)", n)
    return best, nodes


# --- exact local improvement ------------------------------------------------------------------
def _solve_small(p: _Packer, incumbent: tuple[int, int], node_limit: int
                 ) -> tuple[list[list[int]] | None, int]:
    """Greedy then exact on a small packer; branches when better than ``incumbent``."""
    p.form_cores()
    p.fill()
    p.split_large()
    p.finalize()
    greedy = p.score()
    found, nodes = _exact(p, max(greedy, incumbent), node_limit)
    if found is not None:
        return found, nodes
    if greedy > incumbent:
        return [list(v) for v in p.units.values()], nodes
    return None, nodes


def _improve_windows(p: _Packer, *, window: int = WINDOW, node_limit: int = WINDOW_NODES,
                     passes: int = WINDOW_PASSES, budget: list[int] | None = None) -> None:
    """Ruin and recreate around each unplaced candidate: the nearest ``window`` candidates
    (whole branches only) are re-packed exactly; the result is kept when it covers more
    (or as many in more branches). The cover never decreases."""
    if p.n <= window or p.nbrs.tree is None or (budget is not None and budget[0] <= 0):
        return
    pts = np.c_[p.x, p.y]
    k = min(p.n, 3 * window)
    budget = [WINDOW_BUDGET * p.n] if budget is None else budget  # shared, mutable: nodes left
    for _ in range(passes):
        improved = False
        # seeds: unplaced candidates, then one unit of each branch that still has room
        seeds = [u for u in range(p.n) if p.label[u] == -1]
        if not seeds:
            return
        seeds += [min(v) for b, v in sorted(p.units.items())
                  if b not in p.locked and len(v) < p.max_units]
        _, near = p.nbrs.tree.query(pts[seeds], k=k)
        near = np.asarray(near).reshape(len(seeds), k)
        for row, s in enumerate(seeds):
            if p.label[s] != -1 and (p.label[s] in p.locked or len(p.units[p.label[s]]) >= p.max_units):
                continue
            win: list[int] = []
            taken: set[int] = set()
            for v in near[row].tolist():
                if v in taken:
                    continue
                b = p.label[v]
                group = [v] if b == -1 else (None if b in p.locked else list(p.units[b]))
                if group is None or len(win) + len(group) > window:
                    continue
                win.extend(group)
                taken.update(group)
                if len(win) >= window:
                    break
            inside = {p.label[v] for v in win if p.label[v] >= 0}
            current = (sum(len(p.units[b]) for b in inside), len(inside))
            win_m = [p.m[v] for v in win]
            if _upper_bound_list(win_m, p.max_units, p.min_members) <= current:
                continue
            sub = _Packer(pts[win], np.asarray(win_m), [p.ind[v] for v in win],
                          [p.grp[v] for v in win], max_units=p.max_units, min_members=p.min_members,
                          max_distance=math.sqrt(p.r2) - _EPS)
            found, used = _solve_small(sub, current, min(node_limit, budget[0]))
            budget[0] -= used + 1
            if budget[0] <= 0:
                logger.debug("window improvement stopped at its node budget (%d candidates)", p.n)
                return
            if found is None:
                continue
            for b in inside:
                p.dissolve(b)
            for units in found:
                p.new([win[i] for i in units])
            improved = True
        if not improved:
            return


# --- public functions ------------------------------------------------------------------------
def _arrays(xy: ArrayLike, members: ArrayLike, industry: ArrayLike | None
            ) -> tuple[NDArray[np.float64], NDArray[np.int64], list[str]]:
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    m = np.asarray(members, dtype=np.int64).reshape(-1)
    if len(m) != len(pts):
        msg = f"{len(pts)} points but {len(m)} member counts"
        raise ValueError(msg)
    if not np.all(np.isfinite(pts)):
        msg = "joint-branch packing needs finite coordinates for every candidate"
        raise ValueError(msg)
    values = [] if industry is None else np.asarray(industry, dtype=object).reshape(-1).tolist()
    ind = [""] * len(pts) if industry is None else ["" if v is None else str(v) for v in values]
    return pts, m, ind


def pack_branches(xy: ArrayLike, members: ArrayLike, industry: ArrayLike | None = None, *,
                  group: ArrayLike | None = None, max_units: int = 5, min_members: int = 3,
                  max_distance: float = 3000.0, exact_max: int = EXACT_MAX,
                  node_limit: int = NODE_LIMIT, improve: bool = True) -> NDArray[np.int64]:
    """Pack candidates into joint branches (O5–O7), maximising the enterprises covered.

    Parameters
    ----------
    xy
        ``(n, 2)`` candidate coordinates in metres.
    members
        Formal members per candidate.
    industry
        GB/T 4754 section letter per candidate ("" unknown); same section is preferred.
    group
        Optional group per candidate (e.g. grid); the same group is preferred.
    max_units, min_members
        O6: at most this many units, at least this many formal members per branch.
    max_distance
        O7: greatest pairwise distance inside a branch, metres.
    exact_max
        Candidate sets up to this size get the exact search when the greedy result is
        below the upper bound.
    node_limit
        Node limit of the exact search.
    improve
        Run the exact window improvement on larger sets (never lowers the cover).

    Returns
    -------
    numpy.ndarray
        Branch label per candidate, ``-1`` when in no branch; labels ``0..b-1``.

    Examples
    --------
    >>> import numpy as np
    >>> xy = np.array([[0, 0], [100, 0], [0, 100], [100, 100], [9000, 0]], dtype=float)
    >>> pack_branches(xy, [2, 1, 0, 0, 2]).tolist()
    [0, 0, 0, 0, -1]
    """
    pts, m, ind = _arrays(xy, members, industry)
    grp = [0] * len(pts) if group is None else np.asarray(group).tolist()
    out = np.full(len(pts), -1, dtype=np.int64)
    rules = {"max_units": max_units, "min_members": min_members, "max_distance": max_distance}
    budget = [WINDOW_BUDGET_CAP]  # nodes of exact window search left for this call
    nxt = 0  # one more than the largest label given so far
    for comp in _components(pts, max_distance):
        if len(comp) < 2:
            continue
        sub = comp.tolist()
        lab = _pack_component(pts[comp], m[comp], [ind[i] for i in sub], [grp[i] for i in sub], rules,
                              exact_max=exact_max, node_limit=node_limit, improve=improve, budget=budget)
        hit = lab >= 0
        if hit.any():
            out[comp[hit]] = lab[hit] + nxt
            nxt = max(nxt, nxt + int(lab[hit].max()) + 1)
    # renumber by each branch's smallest candidate
    found = np.flatnonzero(out >= 0)
    if len(found):
        first: dict[int, int] = {}
        for i in found.tolist():
            first.setdefault(int(out[i]), i)
        rank = {b: r for r, b in enumerate(sorted(first, key=first.__getitem__))}
        out[found] = [rank[int(b)] for b in out[found]]
    return out


def _components(pts: NDArray[np.float64], max_distance: float) -> list[NDArray[np.int64]]:
    """Groups of candidates linked by the O7 distance (through the nearest neighbours)."""
    n = len(pts)
    if n <= 1:
        return [np.arange(n)]
    k = min(NEIGHBOUR_CAP + 1, n)
    dist, idx = cKDTree(pts).query(pts, k=k, distance_upper_bound=max_distance + _EPS)
    dist = np.asarray(dist).reshape(n, k)
    idx = np.asarray(idx).reshape(n, k)
    ok = np.isfinite(dist)
    rows = np.repeat(np.arange(n), k)[ok.ravel()]
    graph = coo_matrix((np.ones(len(rows)), (rows, idx.ravel()[ok.ravel()])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    order = np.argsort(comp, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(comp[order]) != 0])
    return sorted(np.split(order, starts[1:]), key=lambda c: int(c[0]))


def _improve(p: _Packer, budget: list[int]) -> None:
    """The exact window passes on one packing, charged to the shared node budget."""
    if p.n <= RESTART_MAX_N:  # sparse groups: where the greedy leaves gaps, search wider
        # large windows catch wide re-arrangements; small ones then solve completely;
        # each size gets an equal share of the nodes, unused nodes carry over
        start = min(WINDOW_BUDGET * p.n, max(budget[0], 0))
        share = [0]
        for window in WINDOW_SIZES:
            share[0] += start // len(WINDOW_SIZES)
            _improve_windows(p, window=window, node_limit=WINDOW_NODES, budget=share)
            share[0] = max(share[0], 0)
        budget[0] -= start - share[0]
    else:  # large dense groups mostly reach the bound already: a light pass
        start = min(LARGE_WINDOW_BUDGET * p.n, max(budget[0], 0))
        share = [start]
        _improve_windows(p, window=EXACT_MAX - 2, node_limit=WINDOW_NODES // 4, budget=share)
        budget[0] -= start - max(share[0], 0)


def _pack_component(pts: NDArray[np.float64], m: NDArray[np.int64], ind: list[str], grp: list[int],
                    rules: dict[str, Any], *, exact_max: int, node_limit: int, improve: bool,
                    budget: list[int]) -> NDArray[np.int64]:
    bound = upper_bound(m, max_units=rules["max_units"], min_members=rules["min_members"])
    restarts = RESTARTS if len(pts) <= RESTART_MAX_N else 1
    greedy: list[_Packer] = []
    nbrs = _Neighbours(pts, rules["max_distance"] + _EPS, NEIGHBOUR_CAP)
    masks: dict[int, int] = {}
    for r in range(restarts):
        q = _Packer(pts, m, ind, grp, restart=r, nbrs=nbrs, masks=masks, **rules)
        q.form_cores()
        q.fill()
        q.split_large()
        q.finalize()
        greedy.append(q)
        if q.score() >= bound:
            break
    # the best few greedy results (ties: the earlier restart) each get the improvement
    order = sorted(range(len(greedy)), key=lambda r: (greedy[r].score(), -r), reverse=True)
    keep = [greedy[r] for r in order[:IMPROVE_TOP]]
    if len(pts) > exact_max and improve and keep[0].score() < bound:
        for q in keep:
            _improve(q, budget)
    p = max(keep[: IMPROVE_TOP if improve else 1], key=lambda q: q.score())
    if p.n <= exact_max:
        found, _ = _exact(p, p.score(), node_limit)
        if found is not None:
            for b in list(p.units):
                p.dissolve(b)
            for units in found:
                p.new(units)
            p.fill()  # keeps the exact cover; settles tie-breaks of the member-less units
            p.split_large()
            p.finalize()
    p._near = {}
    p.tighten()
    return p.labels()


def fill_branches(xy: ArrayLike, members: ArrayLike, labels: ArrayLike,
                  industry: ArrayLike | None = None, *, group: ArrayLike | None = None,
                  free: ArrayLike | None = None, locked: ArrayLike | None = None,
                  same_group: bool = False, max_units: int = 5, min_members: int = 3,
                  max_distance: float = 3000.0) -> NDArray[np.int64]:
    """Let unplaced candidates join existing branches with room (O6/O7 kept).

    Parameters
    ----------
    xy, members, industry, group
        As :func:`pack_branches`, for all units of the existing branches and the free ones.
    labels
        Current branch label per unit (-1 none); labels are kept, free units get one.
    free
        Boolean mask of units that may be placed (default: every unit with label -1).
    locked
        Branch labels that take no new unit (e.g. kept joint organisations).
    same_group
        Only join branches whose first unit is in the same ``group`` (e.g. grid).
    max_units, min_members, max_distance
        O6/O7.

    Returns
    -------
    numpy.ndarray
        New labels (existing branch labels are preserved, not renumbered).
    """
    pts, m, ind = _arrays(xy, members, industry)
    lab = np.asarray(labels, dtype=np.int64).reshape(-1)
    p = _Packer(pts, m, ind, None if group is None else np.asarray(group).tolist(),
                max_units=max_units, min_members=min_members, max_distance=max_distance)
    originals: dict[int, int] = {}
    for old in sorted(set(lab[lab >= 0].tolist())):
        b = p.new(np.flatnonzero(lab == old).tolist())
        originals[b] = old
    if locked is not None:
        lock = set(np.asarray(locked).tolist())
        p.locked = {b for b, old in originals.items() if old in lock}
    p.same_group = same_group
    mask = (lab < 0) if free is None else (np.asarray(free, dtype=bool) & (lab < 0))
    p.fill(np.flatnonzero(mask).tolist())
    out = lab.copy()
    for b, units in p.units.items():
        out[units] = originals[b]
    return out


def covered(labels: ArrayLike) -> int:
    """Candidates in some branch."""
    return int(np.sum(np.asarray(labels) >= 0))


def check_packing(xy: ArrayLike, members: ArrayLike, labels: ArrayLike, *, max_units: int = 5,
                  min_members: int = 3, max_distance: float = 3000.0) -> list[str]:
    """Violations of O6/O7 in a packing (empty when valid); used by tests and benchmarks."""
    pts = np.asarray(xy, dtype=float).reshape(-1, 2)
    m = np.asarray(members, dtype=np.int64)
    lab = np.asarray(labels, dtype=np.int64)
    problems = []
    for b in sorted(set(lab[lab >= 0].tolist())):
        idx = np.flatnonzero(lab == b)
        if not 2 <= len(idx) <= max_units:
            problems.append(f"branch {b}: {len(idx)} units")
        if m[idx].sum() < min_members:
            problems.append(f"branch {b}: {int(m[idx].sum())} members")
        d = branch_max_distance(pts[idx])
        if d > max_distance + 1e-3:
            problems.append(f"branch {b}: {d:.0f} m apart")
    return problems

