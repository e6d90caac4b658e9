"""Benchmark of the work-coverage resource solvers against exact solutions.

Run: ``python bench/bench_resources.py`` (prints Markdown tables; about 2–4 minutes).

1. Instructor assignment (W1/W2): the sparse min-cost flow of
   :func:`gridcover._flow.capacitated_assignment` (k = 8 nearest instructors per
   enterprise, then proved optimal by reduced costs; networkx and OR-Tools) against the exact assignment
   (``scipy.optimize.linear_sum_assignment`` on the dense enterprise × capacity-slot
   matrix of the same integer-metre costs): enterprises assigned, total distance, time.
2. The same on the sample county, unit by unit, through :func:`gridcover.resources.assign_instructors`.
3. Maximal covering location (W3): greedy + swap (:func:`gridcover._flow.mclp_greedy_swap`)
   against the MILP optimum (:func:`gridcover._flow.mclp_milp`, HiGHS, gap 0) on random
   clustered instances and on the sample county: share of the optimal covered staff, times.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gridcover as gc  # noqa: E402
from gridcover._flow import capacitated_assignment, coverage_matrix, mclp_greedy_swap, mclp_milp  # noqa: E402
from gridcover.resources import (  # noqa: E402
    _mclp_problem,
    assign_instructors,
    read_roster,
    read_service_centres,
)

RNG_SEED = 20240601


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def exact_assignment(ent: np.ndarray, ins: np.ndarray, cap: np.ndarray) -> tuple[int, int]:
    slots = np.repeat(np.arange(len(ins)), cap)
    if len(slots) == 0 or len(ent) == 0:
        return 0, 0
    cost = np.rint(np.hypot(ent[:, None, 0] - ins[None, slots, 0], ent[:, None, 1] - ins[None, slots, 1]))
    r, c = linear_sum_assignment(cost)
    return len(r), int(cost[r, c].sum())


def clustered(rng: np.random.Generator, n: int, centres: int, spread: float, size: float = 30_000.0) -> np.ndarray:
    c = rng.uniform(0, size, (centres, 2))
    which = rng.integers(0, centres, n)
    return c[which] + rng.normal(0, spread, (n, 2))


def table(rows: list[dict], columns: list[str]) -> str:
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        out.append("| " + " | ".join(str(r[c]) for c in columns) + " |")
    return "\n".join(out)


# --- 1. instructor assignment, random instances -------------------------------------------

def bench_assignment_random() -> str:
    rng = np.random.default_rng(RNG_SEED)
    cases = [
        ("uniform", 50, 15, 3), ("uniform", 200, 60, 3), ("uniform", 500, 150, 3),
        ("uniform", 1000, 300, 3), ("uniform", 2000, 600, 3), ("uniform", 5000, 1500, 3),
        ("clustered", 500, 150, 3), ("clustered", 1000, 300, 3), ("clustered", 3000, 900, 3),
        ("shortage", 1000, 150, 3), ("shortage clustered", 1000, 150, 3),
        ("capacity 1–5", 1000, 300, 0),
    ]
    rows = []
    for kind, n, m, cap_value in cases:
        if "clustered" in kind:
            ent = clustered(rng, n, 12, 1500.0)
            ins = clustered(rng, m, 12, 3000.0)
        else:
            ent = rng.uniform(0, 30_000, (n, 2))
            ins = rng.uniform(0, 30_000, (m, 2))
        cap = rng.integers(1, 6, m) if cap_value == 0 else np.full(m, cap_value)
        res, t_or = timed(capacitated_assignment, ent, ins, cap, solver="ortools")
        if res.edges <= 40_000:
            res_nx, t_nx = timed(capacitated_assignment, ent, ins, cap, solver="networkx")
            nx_same = (res_nx.cost == res.cost) and ((res_nx.supplier >= 0).sum() == (res.supplier >= 0).sum())
            t_nx_text = f"{t_nx:.2f}" + ("" if nx_same else " (DIFFERS)")
        else:
            t_nx_text = "—"
        (n_exact, cost_exact), t_exact = timed(exact_assignment, ent, ins, cap)
        n_flow = int((res.supplier >= 0).sum())
        rows.append({
            "instance": kind, "enterprises": n, "instructors": m, "capacity": int(cap.sum()),
            "assigned flow / exact": f"{n_flow} / {n_exact}",
            "total m flow": f"{res.cost:,}", "total m exact": f"{cost_exact:,}",
            "same": "yes" if (n_flow, res.cost) == (n_exact, cost_exact) else "NO",
            "graph pairs (all pairs)": f"{res.edges:,} ({n * m:,})", "rounds": res.rounds,
            "flow networkx s": t_nx_text, "flow OR-Tools s": f"{t_or:.2f}", "exact LSA s": f"{t_exact:.2f}",
        })
    return table(rows, list(rows[0]))


# --- 2. sample county -------------------------------------------------------------------------

def sample_plan() -> tuple[gc.Plan, str]:
    """The sample county's plan; a proxy when the partition stage is not available."""
    from gridcover.pipeline import locate, sample_inputs

    inputs = sample_inputs()
    try:
        plan = gc.pipeline.run(inputs)
        return plan, "full pipeline (partition actions)"
    except ImportError:
        pass
    from gridcover.jurisdictions import load_jurisdictions

    ledger = locate(inputs)
    jur = load_jurisdictions(inputs.townships, inputs.parks)
    ent = ledger.enterprises.copy()
    # Proxy of the partition's O8 outcome: eligible, no organisation, no member, no instructor.
    need = ent["eligible"] & ent["org_type"].eq("none") & ent["members"].eq(0) & ent["instructor"].eq("")
    ent["action"] = np.where(need, "instructor", "keep")
    centres = read_service_centres(inputs.service_centres)
    proxy = "proxy: action = instructor for eligible enterprises with no organisation and no member"
    return gc.Plan(enterprises=ent, units=jur.units(), service_centres=centres), proxy


def bench_assignment_sample(plan: gc.Plan) -> str:
    roster = read_roster(gc.datasets.get_path("instructors"))
    out, t = timed(assign_instructors, plan, roster)
    ins = out.instructors
    assigned = ins[ins["instructor"].ne("")]
    # exact per unit, same placement and capacities as the library uses
    from gridcover.resources import _place_roster, _project, _remaining_capacity, _utm

    placed = _place_roster(roster, plan.units)
    cap = _remaining_capacity(placed, plan.enterprises, plan.config)
    ent = plan.enterprises.loc[ins["uscc"]]
    crs = _utm(ent["lon"].to_numpy(float), ent["lat"].to_numpy(float))
    exy = _project(ent["lon"].to_numpy(float), ent["lat"].to_numpy(float), crs)
    ixy = _project(placed["lon"].to_numpy(float), placed["lat"].to_numpy(float), crs)
    # the flow's own integer-metre cost of each assigned pair (distance_m is rounded to 0.1 m)
    where = {name: j for j, name in enumerate(placed["name"])}
    is_assigned = ins["instructor"].ne("").to_numpy()
    j_of = np.array([where.get(x, -1) for x in ins["instructor"]])
    pair_cost = np.zeros(len(ins), dtype=np.int64)
    pair_cost[is_assigned] = np.rint(np.hypot(*(exy[is_assigned] - ixy[j_of[is_assigned]]).T)).astype(np.int64)
    rows = []
    n_total = c_total = 0
    for unit in sorted(set(ins["unit"])):
        in_unit = ins["unit"].to_numpy() == unit
        e_sel = np.flatnonzero(in_unit)
        i_sel = np.flatnonzero(placed["unit"].to_numpy() == unit)
        n_ex, c_ex = exact_assignment(exy[e_sel], ixy[i_sel], cap[i_sel])
        n_total += n_ex
        c_total += c_ex
        rows.append({"unit": unit, "needing": len(e_sel), "instructors": len(i_sel),
                     "capacity": int(cap[i_sel].sum()),
                     "assigned flow / exact": f"{int((in_unit & is_assigned).sum())} / {n_ex}",
                     "total m flow": f"{int(pair_cost[in_unit].sum()):,}", "total m exact": f"{c_ex:,}"})
    rows.append({"unit": "**all**", "needing": len(ins), "instructors": len(placed), "capacity": int(cap.sum()),
                 "assigned flow / exact": f"{len(assigned)} / {n_total}",
                 "total m flow": f"{int(pair_cost.sum()):,}", "total m exact": f"{c_total:,}"})
    text = table(rows, list(rows[0]))
    return text + f"\n\nassign_instructors on the whole county: {t:.2f} s (reading the roster excluded)."


# --- 3. MCLP ------------------------------------------------------------------------------------

def mclp_row(name: str, cover, staff: np.ndarray, k: int) -> dict:
    weight = staff.astype(np.int64) * (len(staff) + 1) + 1
    heur, t_h = timed(mclp_greedy_swap, cover, weight, k)
    exact, t_e = timed(mclp_milp, cover, staff, k, time_limit=300.0)
    covered_h = float(staff[np.asarray(cover[:, heur.selected].sum(axis=1)).ravel() > 0].sum())
    share = covered_h / exact.value if exact.value else 1.0
    return {"instance": name, "demand": cover.shape[0], "candidates": cover.shape[1], "k": k,
            "staff greedy+swap": f"{covered_h:,.0f}", "staff MILP": f"{exact.value:,.0f}",
            "share of optimum": f"{share:.4f}", "MILP proved optimal": "yes" if exact.optimal else "no",
            "swaps": heur.swaps, "greedy+swap s": f"{t_h:.3f}", "MILP s": f"{t_e:.2f}"}


def bench_mclp_random() -> str:
    rng = np.random.default_rng(RNG_SEED + 1)
    rows = []
    for n_dem, n_cand, k, radius in [(1000, 100, 3, 2000.0), (1000, 100, 10, 2000.0), (5000, 300, 3, 2000.0),
                                     (5000, 300, 10, 2000.0), (5000, 1000, 5, 3000.0), (20000, 1000, 10, 2000.0),
                                     (20000, 2000, 20, 2500.0)]:
        for trial in range(2):
            dem = clustered(rng, n_dem, 25, 2500.0, size=60_000.0)
            cand = np.vstack([clustered(rng, n_cand // 2, 25, 4000.0, size=60_000.0),
                              rng.uniform(0, 60_000, (n_cand - n_cand // 2, 2))])
            staff = np.maximum(1, rng.lognormal(2.8, 1.0, n_dem)).astype(np.int64)
            cover = coverage_matrix(dem, cand, radius)
            rows.append(mclp_row(f"random {trial + 1}, r = {radius / 1000:g} km", cover, staff, k))
    return table(rows, list(rows[0]))


def bench_mclp_sample(plan: gc.Plan) -> str:
    rows = []
    config = plan.config
    cand_sets: list[tuple[str, gpd.GeoDataFrame | None]] = []
    if len(plan.grids):
        cand_sets.append(("grid + park centroids (default)", None))
    gaz = pd.read_csv(gc.datasets.get_path("gazetteer"), encoding="utf-8-sig")
    cand_sets.append((f"gazetteer villages/townships ({len(gaz)})",
                      gpd.GeoDataFrame({"name": gaz["name"]}, geometry=gpd.points_from_xy(gaz["lon"], gaz["lat"]),
                                       crs="EPSG:4326")))
    ent = plan.enterprises[plan.enterprises["lon"].notna()]
    cand_sets.append((f"every enterprise point ({len(ent)})",
                      gpd.GeoDataFrame({"name": ent.index.astype(str)},
                                       geometry=gpd.points_from_xy(ent["lon"], ent["lat"]), crs="EPSG:4326")))
    for label, cands in cand_sets:
        cand, staff, cover = _mclp_problem(plan, None, cands, config)
        for k in (3, 5, 10):
            rows.append(mclp_row(f"sample county, {label}", cover, staff, k))
    return table(rows, list(rows[0]))


def bench_sites_sample(plan: gc.Plan) -> str:
    from gridcover.resources import catchment, site_new_centres, site_new_centres_exact

    total = catchment(plan).iloc[-1]
    fast, t_fast = timed(site_new_centres, plan)
    exact, t_exact = timed(site_new_centres_exact, plan)
    cols = ["rank", "name", "source", "new_enterprises_covered", "new_staff_covered"]
    lines = [f"Existing centres cover {total['enterprises_covered']} of {total['enterprises']} located "
             f"enterprises ({total['enterprise_share']:.1%}) and {total['staff_share']:.1%} of their staff.", "",
             f"site_new_centres(plan) (k = 3, greedy + swap, whole adapter): {t_fast:.2f} s",
             "", table(fast[cols].to_dict("records"), cols), "",
             f"site_new_centres_exact(plan) (MILP, whole adapter): {t_exact:.2f} s", "",
             table(exact[cols].to_dict("records"), cols)]
    return "\n".join(lines)


def main() -> None:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    print("## Instructor assignment: sparse min-cost flow vs exact assignment (random instances)\n")
    print(bench_assignment_random())
    plan, how = sample_plan()
    print(f"\n## Instructor assignment on the sample county, per unit ({how})\n")
    print(bench_assignment_sample(plan))
    print("\n## MCLP: greedy + swap vs MILP optimum (random clustered instances, lognormal staff)\n")
    print(bench_mclp_random())
    print("\n## MCLP on the sample county (existing centres from data/service_centres.csv, 2 km)\n")
    print(bench_mclp_sample(plan))
    print("\n## New service-centre sites on the sample county (default candidates)\n")
    print(bench_sites_sample(plan))
    print(f"\n_total benchmark time {time.perf_counter() - t0:.0f} s_")


if __name__ == "__main__":
    main()
