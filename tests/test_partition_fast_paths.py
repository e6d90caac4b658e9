"""The partition's fast paths answer exactly what the plain definitions answer (hypothesis).

The speed work on the partition (bench/RESULTS.md, "Partition speed") replaced a few
plain computations by faster ones that must give the same plans: neighbour lists from
one distance matrix instead of a KD-tree on small sets, a cell hash instead of a scan
over every branch with room, a plain-Python upper bound, a spelled-out principal axis,
and the grid and leader tables built for all grids at once. Each is checked here
against the plain definition on random data that has the awkward cases (co-located
points, ties, empty grids of members).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from gridcover import Config
from gridcover._branches import _Neighbours, _Packer, _upper_bound_list, upper_bound
from gridcover._grids import _principal_axis
from gridcover._leaders import LEADER_INSTRUCTOR, LEADER_MEMBER, leader_reason, rank_leaders
from gridcover.partition import _grid_tables, _prepare

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def points(draw, max_n: int = 60):
    n = draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    spread = draw(st.sampled_from([300.0, 3000.0, 12000.0]))
    xy = rng.uniform(0, spread, (n, 2)) + 4.0e5
    if n > 3 and draw(st.booleans()):
        xy[: n // 3] = xy[0]  # co-located points
    return xy, rng


# --- neighbours -------------------------------------------------------------------------------
@FAST
@given(points(max_n=49), st.sampled_from([500.0, 3000.0]))
def test_small_sets_get_every_neighbour_within_the_radius(case, radius):
    xy, _ = case
    nb = _Neighbours(xy, radius, cap=48)  # n <= cap + 1: the distance-matrix path
    nb.compute(range(len(xy)))
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    for u in range(len(xy)):
        want = {j for j in range(len(xy)) if j != u and d[u, j] < radius}
        assert set(nb[u]) == want
        assert len(nb[u]) == len(set(nb[u]))


@FAST
@given(points(max_n=120), st.integers(1, 20))
def test_large_sets_get_the_nearest_within_the_radius(case, cap):
    xy, rng = case
    xy = xy + rng.uniform(0, 1e-3, xy.shape)  # no exact ties: "the nearest cap" is one set
    radius = 2500.0
    nb = _Neighbours(xy, radius, cap=cap)
    if nb.k == len(xy):
        return
    tree = cKDTree(xy)
    for u in range(len(xy)):
        d, idx = tree.query(xy[u], k=nb.k, distance_upper_bound=radius)
        assert set(nb[u]) == {int(j) for j, dj in zip(idx, d, strict=True) if np.isfinite(dj) and j != u}


# --- upper bound --------------------------------------------------------------------------------
@FAST
@given(st.lists(st.integers(0, 6), max_size=30), st.integers(2, 6), st.integers(0, 4))
def test_plain_upper_bound_equals_the_array_one(m, max_units, min_members):
    assert _upper_bound_list(m, max_units, min_members) == upper_bound(
        np.asarray(m, dtype=np.int64), max_units=max_units, min_members=min_members)


# --- branches with room within two steps ------------------------------------------------------------
def _plain_two_steps(p: _Packer, u: int) -> bool:
    return any(p.d2(u, p.units[b][0]) <= 4 * p.r2 for b in p._roomset)


@FAST
@given(points(max_n=200), st.data())
def test_the_cell_hash_answers_like_the_scan_while_branches_change(case, data):
    xy, rng = case
    n = len(xy)
    members = rng.choice([0, 1, 2, 3], size=n)
    p = _Packer(xy, members, [""] * n, None, max_units=5, min_members=3, max_distance=800.0)
    order = rng.permutation(n).tolist()
    while len(order) >= 2:  # branches of 2-4 units (O7 not needed for this check)
        size = min(len(order), int(rng.integers(2, 5)))
        p.new([order.pop() for _ in range(size)])
    p._roomset = {b for b in p.units if p._has_room(b)}
    p._cells = None
    steps = data.draw(st.integers(0, 25))
    for _ in range(steps + 1):
        for u in range(n):
            assert p._room_within_two_steps(u) == _plain_two_steps(p, u)
        # change the branches: move a unit (a branch's first unit too) or dissolve one
        placed = [u for u in range(n) if p.label[u] >= 0]
        if not placed:
            break
        u = placed[int(rng.integers(len(placed)))]
        if rng.random() < 0.2:
            p.dissolve(p.label[u])
        else:
            p.remove(u)
            targets = sorted(p.units)
            if targets:
                p.add(u, targets[int(rng.integers(len(targets)))])


# --- principal axis ---------------------------------------------------------------------------------
def _plain_axis(pts, w):
    centre = np.average(pts, axis=0, weights=w)
    d = pts - centre
    cov = (d * w[:, None]).T @ d
    if not np.all(np.isfinite(cov)) or np.allclose(cov, 0.0):
        return np.array([1.0, 0.0])
    vals, vecs = np.linalg.eigh(cov)
    axis = vecs[:, int(np.argmax(vals))]
    if axis[0] < 0 or (axis[0] == 0 and axis[1] < 0):
        axis = -axis
    return axis


@FAST
@given(points(max_n=400))
def test_principal_axis_is_bit_for_bit_the_weighted_average_one(case):
    xy, rng = case
    w = rng.integers(1, 16, len(xy))
    perm = rng.permutation(len(xy))  # bisection works on gathered (non-contiguous) rows
    for pts, ww in ((xy, w), (xy[perm], w[perm])):
        assert np.array_equal(_principal_axis(pts, ww), _plain_axis(pts, ww))


# --- grid and leader tables -------------------------------------------------------------------------
@FAST
@given(points(max_n=80), st.integers(1, 12))
def test_grid_tables_rank_leaders_like_one_grid_at_a_time(case, k):
    xy, rng = case
    n = len(xy)
    k = min(k, n)
    grid = np.r_[np.arange(k), rng.integers(0, k, n - k)]  # every grid holds someone
    rng.shuffle(grid)
    grid[rng.random(n) < 0.1] = -1  # not gridded
    present = np.unique(grid[grid >= 0])
    grid = np.where(grid >= 0, np.searchsorted(present, grid), -1)
    k = len(present)
    # ties on purpose: few staff and member values, uscc not in row order
    raw = pd.DataFrame({
        "lon": 118.0, "lat": 24.5, "unit": "镇", "eligible": True,
        "staff": rng.choice([5, 20, 20, 80], n), "members": rng.choice([0, 0, 1, 3, 7], n),
        "org_type": rng.choice(["own", "none", "attached"], n), "investor_member": rng.random(n) < 0.3,
        "name": [f"企业{i}" for i in range(n)],
    }, index=pd.Index([f"U{(i * 7919) % 100003:06d}" for i in range(n)], name="uscc"))
    df = _prepare(raw).sort_index(kind="stable")
    order = np.argsort(raw.index.to_numpy(dtype=str), kind="stable")
    xy_s, grid_s = xy[order], grid[order]
    ids = [f"镇-G{g + 1:02d}" for g in range(k)]
    config = Config()
    grids, leaders = _grid_tables(df, grid_s, k, ids, xy_s, [None] * k, "镇", "township", config)

    members = df["members"].to_numpy()
    staff = df["staff"].to_numpy()
    own = (df["org_type"].to_numpy() == "own") & (members >= config.branch_min_members)
    inv = df["investor_member"].to_numpy()
    uscc = df.index.astype(str).to_numpy(dtype=object)
    want_leaders, want_grids = [], []
    for g in range(k):
        idx = np.flatnonzero(grid_s == g)
        top, total = rank_leaders(xy_s[idx], own_org=own[idx], members=members[idx], investor_member=inv[idx],
                                  staff=staff[idx], uscc=uscc[idx].tolist(), top=3)
        has = bool(members[idx].sum() > 0)
        for r, t in enumerate(top):
            i = idx[t]
            want_leaders.append((ids[g], r + 1, uscc[i], df["name"].iloc[i], leader_reason(
                own_org=bool(own[i]), members=int(members[i]), investor_member=bool(inv[i]), staff=int(staff[i]),
                mean_distance_m=float(total[t]) / max(len(idx) - 1, 1), grid_has_member=has)))
        want_grids.append((ids[g], len(idx), int(staff[idx].sum()), int(members[idx].sum()),
                           uscc[idx[top[0]]] if has else "", LEADER_MEMBER if has else LEADER_INSTRUCTOR))
    got = list(leaders[["grid_id", "rank", "uscc", "name", "reason"]].itertuples(index=False, name=None))
    assert got == want_leaders
    cols = ["grid_id", "n_enterprises", "staff", "members", "leader_uscc", "leader_status"]
    assert list(grids[cols].itertuples(index=False, name=None)) == want_grids
    assert grids["n_enterprises"].dtype == np.int64 and leaders["rank"].dtype == np.int64
