"""Levers on the bundled county: coverage per cumulative lever set, O6/O7, bounds; set cover.

Run: ``python bench/bench_levers.py``

For each lever set (the issue's order: today's rules, +L3, +L4, +L1, +L2, +L5) the
partition of the sample county is re-packed by :func:`gridcover.levers.apply_levers`
and measured by :func:`gridcover.coverage.measure_plan`; every branch is checked for
O6/O7 and one grid by :func:`gridcover.levers.check_branches`. Bound: a unit without
members (gain 1) can be covered only in a branch with a member unit within 3 km of it
(same unit; same grid unless L2 lets below-E1 units in), so
``covered ≤ covered without any branch + gain units with such a neighbour`` — a valid
upper bound on the exact optimum of that lever set. (Per grid the packing is already an
exact set-packing MILP; the bound covers what the grid-free L2 phase might miss.)
Set cover: the sites of ``--centres full`` (exact MILP) against greedy with its H(d)
bound, on the county and on random instances against the MILP optimum.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gridcover as gc  # noqa: E402
from gridcover.coverage import measure_plan  # noqa: E402
from gridcover.levers import _utm, apply_levers, check_branches, lever_pool  # noqa: E402
from gridcover.resources import set_cover, site_centres_full  # noqa: E402

SETS = (("today's rules", ()), ("+ L3", ("L3",)), ("+ L4", ("L3", "L4")), ("+ L1", ("L1", "L3", "L4")),
        ("+ L2", ("L1", "L2", "L3", "L4")), ("+ L5 (all)", ("L1", "L2", "L3", "L4", "L5")),
        ("L2 alone", ("L2",)))


def bound(base: gc.Plan, config: gc.Config, levers: tuple[str, ...]) -> int:
    """Upper bound on covered enterprises with these levers (see the module docstring)."""
    cfg = config.replace(levers=levers)
    none = measure_plan(apply_levers(base.replace(branches=base.branches.iloc[:0],
                                                  enterprises=base.enterprises.assign(branch_id="")),
                                     cfg.replace(levers=())))
    ent = base.enterprises
    pool = lever_pool(ent, base.branches, cfg)
    flags = measure_plan(base).enterprises
    covered_fixed = int((flags["org_after"] & ~pool["gain"].astype(bool)).sum())
    kinds = {"cand", "host", "attached", "kept"} | ({"small"} if "L2" in levers else set())
    ok = pool["kind"].isin(kinds) & np.isfinite(ent["lon"].astype(float))
    extra = 0
    for _, g in ent[ok].groupby("unit"):
        p = pool.loc[g.index]
        xy = _utm(g["lon"].to_numpy(float), g["lat"].to_numpy(float))
        grid = g["grid_id"].to_numpy()
        anchors = np.flatnonzero(p["members"].to_numpy() > 0)
        if not len(anchors):
            continue
        tree = cKDTree(xy[anchors])
        for i in np.flatnonzero(p["gain"].to_numpy() > 0):
            near = anchors[tree.query_ball_point(xy[i], config.joint_max_distance_m)]
            if any(grid[j] == grid[i] or grid[j] == "" or grid[i] == "" for j in near if j != i):
                extra += 1
    del none
    return covered_fixed + extra


def main() -> None:
    t0 = time.perf_counter()
    inputs = gc.sample_inputs()
    config = gc.Config()
    from gridcover.pipeline import _locate, _Timer
    from gridcover.partition import partition

    ledger, juris = _locate(inputs, config, _Timer(None), None)
    base = partition(ledger, juris, config)
    n = len(base.enterprises)
    print(f"sample county: {n} enterprises; partition {time.perf_counter() - t0:.1f} s\n")
    print("| lever set | levers | org coverage after | branches | by lever | O6/O7/grid violations "
          "| upper bound | gap to bound (pp) | s |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|")
    for label, levers in SETS:
        t = time.perf_counter()
        plan = apply_levers(base, config.replace(levers=levers))
        cov = measure_plan(plan).total()
        secs = time.perf_counter() - t
        viol = check_branches(plan)
        ub = bound(base, config, levers)
        by = plan.branches["lever"].replace("", "base").value_counts().sort_index().to_dict()
        print(f"| {label} | {','.join(levers) or '—'} | {cov['org_rate_after']:.2%} | {len(plan.branches)} | "
              f"{by} | {len(viol)} | {ub / n:.2%} | {100 * (ub / n - cov['org_rate_after']):.2f} | {secs:.1f} |")
    # set cover on the county (after the all-levers plan; gridded enterprises)
    plan = apply_levers(base, config.replace(levers=gc.config.LEVERS))
    plan = plan.replace(service_centres=__import__("gridcover.resources", fromlist=["x"]).read_service_centres(
        inputs.service_centres))
    t = time.perf_counter()
    exact = site_centres_full(plan, exact=True)
    te = time.perf_counter() - t
    t = time.perf_counter()
    greedy = site_centres_full(plan, exact=False)
    tg = time.perf_counter() - t
    print("\n| set cover | sites | lower bound | optimal | s |\n|---|---:|---:|---|---:|")
    print(f"| county, exact (MILP) | {len(exact)} | {exact.attrs['lower_bound']} | {exact.attrs['optimal']} | {te:.1f} |")
    print(f"| county, greedy | {len(greedy)} | {greedy.attrs['lower_bound']} | {greedy.attrs['optimal']} | {tg:.1f} |")
    rng = np.random.default_rng(0)
    worst = 1.0
    same = 0
    for _ in range(30):
        a = rng.random((int(rng.integers(40, 200)), int(rng.integers(20, 80)))) < 0.06
        opt = len(set_cover(sp.csr_array(a), exact=True)[0])
        gr = len(set_cover(sp.csr_array(a), exact=False)[0])
        worst = max(worst, gr / max(opt, 1))
        same += gr == opt
    print(f"| 30 random instances (40–200 × 20–80) | greedy = optimum in {same}/30, worst greedy/optimum "
          f"{worst:.2f} | | | |")


if __name__ == "__main__":
    main()
