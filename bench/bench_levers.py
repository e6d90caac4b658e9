"""Levers on the bundled county: coverage per cumulative lever set, O6/O7, bounds; set cover.

Run: ``python bench/bench_levers.py [--time-limit SECONDS]`` (per connected group of the MILP; 20 by default)

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

#: Seconds per connected group of the MILP (the dual bound is reported when it stops).
TIME_LIMIT = 20.0
SETS = (("today's rules", ()), ("+ L3", ("L3",)), ("+ L4", ("L3", "L4")), ("+ L1", ("L1", "L3", "L4")),
        ("+ L2", ("L1", "L2", "L3", "L4")), ("+ L5 (all)", ("L1", "L2", "L3", "L4", "L5")))


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


def _items(base: gc.Plan, config: gc.Config, levers: tuple[str, ...]) -> dict[str, list[dict]]:
    """The pool of each unit as the lever rules define it: units and kept blocks."""
    ent = base.enterprises
    pool = lever_pool(ent, base.branches, config)
    kinds = {"cand"} | ({"host"} if "L1" in levers else set()) | ({"attached"} if "L3" in levers else set()) \
        | ({"kept"} if "L4" in levers else set()) | ({"small"} if "L2" in levers else set())
    ok = pool["kind"].isin(kinds)
    out: dict[str, list[dict]] = {}
    for u, g in ent[ok].groupby("unit", sort=True):
        xy = _utm(g["lon"].to_numpy(float), g["lat"].to_numpy(float))
        items: list[dict] = []
        blocks: dict[str, int] = {}
        for k, (uscc, row) in enumerate(g.iterrows()):
            p = pool.loc[uscc]
            if p["kind"] == "kept":
                b = row["branch_id"]
                n_b = int((ent["branch_id"] == b).sum())
                if n_b >= config.joint_max_units or n_b != int((g["branch_id"] == b).sum()):
                    continue
                if b in blocks:
                    it = items[blocks[b]]
                    it["xy"] = np.vstack([it["xy"], xy[k]])
                    it["members"] += int(p["members"])
                    it["size"] += 1
                    continue
                blocks[b] = len(items)
            items.append({"xy": xy[k][None, :], "members": int(p["members"]), "gain": int(p["gain"]),
                          "kind": p["kind"], "grid": row["grid_id"], "size": 1})
        out[str(u)] = items
    return out


def _adder(rows: list, cols: list, vals: list, lo: list, hi: list):
    """A function appending one sparse constraint row (coefficients, bounds)."""
    def add(coefs: list[tuple[int, float]], low: float, high: float) -> None:
        r = len(lo)
        for cc, v in coefs:
            rows.append(r)
            cols.append(cc)
            vals.append(v)
        lo.append(low)
        hi.append(high)
    return add


def exact_gain(items: list[dict], config: gc.Config, time_limit: float) -> tuple[int, float, bool]:
    """Most gain units in legal branches (anchor MILP, scipy HiGHS): (best, dual bound, proved)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(items)
    if n < 2 or not any(it["gain"] for it in items):
        return 0, 0.0, True
    lim = config.joint_max_distance_m + 1e-6
    comp_ok = np.zeros((n, n), dtype=bool)
    for i in range(n):
        for j in range(i, n):
            a, b = items[i], items[j]
            d = np.sqrt(((a["xy"][:, None, :] - b["xy"][None, :, :]) ** 2).sum(axis=2)).max()
            same_grid = not a["grid"] or not b["grid"] or a["grid"] == b["grid"]
            two_special = i != j and ((a["kind"] == b["kind"] == "host") or (a["kind"] == b["kind"] == "kept"))
            comp_ok[i, j] = comp_ok[j, i] = bool(d <= lim and same_grid and not two_special) or i == j
    ncomp, lab = connected_components(sp.csr_array(comp_ok & ~np.eye(n, dtype=bool)), directed=False)
    best = 0
    bound = 0.0
    proved = True
    for c in range(ncomp):
        idx = np.flatnonzero(lab == c)
        if len(idx) < 2 or not any(items[i]["gain"] for i in idx):
            continue
        sub = [items[i] for i in idx]
        ok = comp_ok[np.ix_(idx, idx)]
        m = len(sub)
        pairs = [(i, a) for a in range(m) for i in range(a, m) if ok[i, a]]
        var = {p: k for k, p in enumerate(pairs)}
        rows, cols, vals, lo, hi = [], [], [], [], []
        add = _adder(rows, cols, vals, lo, hi)
        by_anchor: dict[int, list[int]] = {}
        for (i, a) in pairs:
            by_anchor.setdefault(a, []).append(i)
        for i in range(m):
            add([(var[(i, a)], 1.0) for a in range(i + 1) if (i, a) in var], -np.inf, 1.0)
        for a, units in by_anchor.items():
            y = var[(a, a)]
            others = [i for i in units if i != a]
            for i in others:
                add([(var[(i, a)], 1.0), (y, -1.0)], -np.inf, 0.0)
            add([*[(var[(i, a)], float(sub[i]["size"])) for i in units], (y, -float(config.joint_max_units))],
                -np.inf, 0.0)
            add([*[(var[(i, a)], float(sub[i]["size"])) for i in units], (y, -2.0)], 0.0, np.inf)
            add([*[(var[(i, a)], float(sub[i]["members"])) for i in units], (y, -float(config.joint_min_members))],
                0.0, np.inf)
            for p_, q_ in np.argwhere(~ok[np.ix_(others, others)]):
                if p_ < q_:
                    add([(var[(others[p_], a)], 1.0), (var[(others[q_], a)], 1.0)], -np.inf, 1.0)
        cvec = np.array([-float(sub[i]["gain"]) for (i, a) in pairs])
        res = milp(cvec, constraints=LinearConstraint(coo_matrix((vals, (rows, cols)), shape=(len(lo), len(pairs))).tocsr(),
                                                      lo, hi),
                   integrality=np.ones(len(pairs)), bounds=Bounds(0, 1),
                   options={"time_limit": time_limit, "disp": False})
        val = int(round(-res.fun)) if res.x is not None else 0
        dual = -res.mip_dual_bound if res.mip_dual_bound is not None else float(sum(it["gain"] for it in sub))
        best += val
        bound += min(dual, float(sum(it["gain"] for it in sub)))
        proved &= res.status == 0
    return best, bound, proved


def main() -> None:
    global TIME_LIMIT
    if "--time-limit" in sys.argv:
        TIME_LIMIT = float(sys.argv[sys.argv.index("--time-limit") + 1])
    t0 = time.perf_counter()
    inputs = gc.sample_inputs()
    config = gc.Config()
    from gridcover.partition import partition
    from gridcover.pipeline import _locate, _Timer

    ledger, juris = _locate(inputs, config, _Timer(None), None)
    base = partition(ledger, juris, config)
    n = len(base.enterprises)
    print(f"sample county: {n} enterprises; partition {time.perf_counter() - t0:.1f} s\n")
    print("| lever set | levers | org coverage after | branches | by lever | O6/O7/grid violations "
          "| MILP best found | MILP upper bound | tool below the bound (pp) | optimum proved | simple bound | s (tool) | s (MILP) |")
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|")
    for label, levers in SETS:
        t = time.perf_counter()
        plan = apply_levers(base, config.replace(levers=levers))
        cov = measure_plan(plan).total()
        secs = time.perf_counter() - t
        viol = check_branches(plan)
        ub = bound(base, config, levers)
        by = plan.branches["lever"].replace("", "base").value_counts().sort_index().to_dict()
        # tool's gain covered vs the MILP's: the rest of the cover does not depend on packing
        pool = lever_pool(base.enterprises, base.branches, config)
        flags = measure_plan(plan).enterprises
        gain_units = pool["gain"].astype(bool) & pool["kind"].ne("")
        tool_gain = int((flags["org_after"] & gain_units).sum())
        rest = int(cov["org_covered_after"]) - tool_gain
        t = time.perf_counter()
        best = dual = 0.0
        proved = True
        for items in _items(base, config, levers).values():
            b_, d_, p_ = exact_gain(items, config, TIME_LIMIT)
            best += b_
            dual += d_
            proved &= p_
        tm = time.perf_counter() - t
        opt = (rest + best) / n
        print(f"| {label} | {','.join(levers) or '—'} | {cov['org_rate_after']:.2%} | {len(plan.branches)} | "
              f"{by} | {len(viol)} | {opt:.2%} | {(rest + np.floor(dual + 1e-6)) / n:.2%} | "
              f"{100 * ((rest + np.floor(dual + 1e-6)) / n - cov['org_rate_after']):.2f} | {proved} | "
              f"{ub / n:.2%} | {secs:.1f} | {tm:.0f} |",
              flush=True)
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
