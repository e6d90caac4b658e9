"""Grids: gridcover's partition versus peers on the same synthetic counties.

Run: ``python bench/bench_partition.py [--sizes 500 2000 10000 100000] [--peer-timeout 90]``

Instances: synthetic counties with N grid-eligible enterprises in 10 units (8 townships
as Voronoi cells of a square county, 2 parks taken out of them), clustered points
(Gaussian clusters around town centres, plus 10% scattered), county side growing with
√N so density stays county-like; formal members realistic, most 0–2 (P: 0 → 0.55,
1 → 0.20, 2 → 0.10, 3–6 → 0.10, 7–49 → 0.045, 50+ → 0.005). Seeded: every method sees
the same instance.

Methods, each in its own subprocess with a time limit (peak memory = that process's
max RSS, Python and libraries included; "cpu s" is the process's CPU time of the call,
which a loaded machine inflates far less than the wall-clock "seconds"):

* ``gridcover``: the whole :func:`gridcover.partition.partition` (grids, joint branches,
  leaders, polygons, actions), per unit;
* ``gridcover grids``: the grid core alone (:func:`gridcover._grids.cluster_grids` and
  :func:`~gridcover._grids.connect_grids` per unit, no branches kept whole), the
  like-for-like comparison with the peers;
* ``max-p``: spopt ``MaxPHeuristic`` over the whole county, floor = 3 formal members,
  KNN (k=8) contiguity, numpy's RNG seeded (PITFALLS.md);
* ``kmeans-constrained``: ``KMeansConstrained(size_min=5, size_max=15, n_init=1)`` over
  the county, ``n_clusters = ceil(N / 10)``;
* ``agglomerative``: scikit-learn ``AgglomerativeClustering(ward)`` with a KNN (k=8)
  connectivity graph over the county, ``n_clusters = ceil(N / 10)``.

Peers do not know the units (that is the point of the "crosses a unit" column); they
are skipped at N = 100,000 (max-p needs a dense N×N matrix: 1.4 GB and 150 s at 10,000;
k-means-constrained 154 s at 10,000 — PITFALLS.md) and stopped at ``--peer-timeout``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

# the checkout under test (the speed mode's baseline runs set BENCH_GRIDCOVER_ROOT)
sys.path.insert(0, os.environ.get("BENCH_GRIDCOVER_ROOT") or str(Path(__file__).resolve().parents[1]))

MIN_SIZE, MAX_SIZE, FLOOR = 5, 15, 3
LON0, LAT0 = 118.0, 24.5
M_LON, M_LAT = 101_300.0, 110_900.0  # metres per degree near 24.5° N


# --- instances --------------------------------------------------------------------------------------
def county(n: int, seed: int = 7):
    """Enterprises (the partition's input table) and units of a synthetic county."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed + n)
    side = 40_000.0 * math.sqrt(max(n, 500) / 2000)
    box = shapely.box(0, 0, side, side)
    seeds = rng.uniform(0.1 * side, 0.9 * side, (8, 2))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=box))
    towns = [shapely.intersection(c, box) for c in cells]
    parks = [shapely.Point(*seeds[i] + side * 0.03).buffer(side * 0.05) for i in (0, 1)]
    units_m = [*parks, *[shapely.difference(t, shapely.union_all(parks)) for t in towns]]
    names = ["园区1", "园区2", *[f"镇{i + 1}" for i in range(8)]]
    kinds = ["park", "park", *["township"] * 8]
    # points: clusters around town seeds and parks, 10% scattered
    k_clusters = max(10, n // 120)
    centres = np.r_[seeds, [np.asarray(p.centroid.coords[0]) for p in parks],
                    rng.uniform(0.05 * side, 0.95 * side, (k_clusters - 10, 2))]
    which = rng.integers(0, len(centres), n)
    xy = centres[which] + rng.normal(0, side * 0.025, (n, 2))
    scatter = rng.random(n) < 0.1
    xy[scatter] = rng.uniform(0, side, (int(scatter.sum()), 2))
    xy = np.clip(xy, 1.0, side - 1.0)
    to_deg = lambda c: np.c_[LON0 + c[:, 0] / M_LON, LAT0 + c[:, 1] / M_LAT]  # noqa: E731
    units = gpd.GeoDataFrame({"unit": names, "unit_type": kinds, "township": ""},
                             geometry=[shapely.transform(u, to_deg) for u in units_m], crs="EPSG:4326")
    ll = to_deg(xy)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(ll[:, 0], ll[:, 1]), crs="EPSG:4326")
    hit = gpd.sjoin(pts, units, predicate="intersects", how="left")
    hit = hit[~hit.index.duplicated()]
    unit = hit["unit"].fillna("").to_numpy()
    members = rng.choice([0, 1, 2, 3, 4, 5, 6, 10, 20, 40, 80],
                         p=[0.55, 0.2, 0.1, 0.04, 0.025, 0.02, 0.015, 0.02, 0.015, 0.01, 0.005], size=n)
    org = np.where((members >= 3) & (rng.random(n) < 0.5), "own", "none")
    ent = pd.DataFrame({
        "name": [f"企业{i}" for i in range(n)], "lon": ll[:, 0], "lat": ll[:, 1], "unit": unit,
        "unit_type": np.where(np.isin(unit, names[:2]), "park", "township"),
        "eligible": True, "staff": np.maximum(members, rng.integers(6, 300, n)), "members": members,
        "probationary": 0, "org_type": org, "org_name": "", "industry": rng.choice(list("CFGIL"), n),
        "investor_member": rng.random(n) < 0.08,
    }, index=pd.Index([f"B{n:06d}{i:07d}" for i in range(n)], name="uscc"))
    return ent, units, xy


# --- metrics ----------------------------------------------------------------------------------------------
def metrics(labels: np.ndarray, xy: np.ndarray, members: np.ndarray, unit: np.ndarray) -> dict:
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k)
    gm = np.bincount(labels, weights=members, minlength=k)
    cx = np.bincount(labels, weights=xy[:, 0], minlength=k) / np.maximum(sizes, 1)
    cy = np.bincount(labels, weights=xy[:, 1], minlength=k) / np.maximum(sizes, 1)
    d = np.hypot(xy[:, 0] - cx[labels], xy[:, 1] - cy[labels])
    units_per = pd.Series(unit).groupby(labels).nunique().reindex(range(k)).fillna(0)
    present = sizes > 0
    # elongation: ratio of the principal standard deviations of a grid's points
    dx, dy = xy[:, 0] - cx[labels], xy[:, 1] - cy[labels]
    sxx = np.bincount(labels, weights=dx * dx, minlength=k)
    syy = np.bincount(labels, weights=dy * dy, minlength=k)
    sxy = np.bincount(labels, weights=dx * dy, minlength=k)
    half_tr, det = (sxx + syy) / 2, sxx * syy - sxy**2
    disc = np.sqrt(np.maximum(half_tr**2 - det, 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt((half_tr + disc) / np.maximum(half_tr - disc, 1e-9))
    long_thin = (ratio > 3) & (sizes >= 3)
    return {
        "grids": int(present.sum()),
        "in size bounds": float(((sizes >= MIN_SIZE) & (sizes <= MAX_SIZE))[present].mean()),
        "member floor met": float((gm >= FLOOR)[present].mean()),
        "grids meeting floor": int(((gm >= FLOOR) & present).sum()),
        "cross a unit": float((units_per > 1)[present].mean()),
        "long thin (>3:1)": float(long_thin[present].mean()),
        "mean dist m": float(d.mean()),
        "max dist m": float(d.max()),
    }


# --- workers (run in a subprocess) ---------------------------------------------------------------------------
def _ours_full(ent, units, xy):
    import shapely

    from gridcover import Ledger
    from gridcover.partition import partition

    plan = partition(Ledger(ent), units=units)
    e = plan.enterprises
    gid = e["grid_id"].to_numpy()
    _, labels = np.unique(gid, return_inverse=True)
    own = e["action"].isin(["keep", "build_branch", "build_general_branch", "build_committee"]) \
        & (e["members"] >= 3)
    with_branch = set(e.loc[e["branch_id"] != "", "grid_id"]) | set(e.loc[own, "grid_id"])
    extra = {"branches": int(len(plan.branches)), "in branch": int((e["branch_id"] != "").sum()),
             "one-piece polygons": float((shapely.get_num_geometries(plan.grids.geometry.to_numpy()) == 1).mean()),
             "pieces per grid": float(shapely.get_num_geometries(plan.grids.geometry.to_numpy()).mean()),
             "grids with a branch": float(plan.grids["grid_id"].isin(with_branch).mean())}
    return labels, extra


def _ours_grids(ent, units, xy):
    from gridcover._grids import cluster_grids, connect_grids

    labels = np.zeros(len(ent), dtype=np.int64)
    offset = 0
    unit = ent["unit"].to_numpy()
    for name in sorted(set(unit)):
        idx = np.flatnonzero(unit == name)
        m = ent["members"].to_numpy()[idx]
        lab = cluster_grids(xy[idx], members=m, min_size=MIN_SIZE, max_size=MAX_SIZE, min_members=FLOOR)
        lab = connect_grids(xy[idx], lab, members=m, min_size=MIN_SIZE, max_size=MAX_SIZE, min_members=FLOOR)
        labels[idx] = lab + offset
        offset += int(lab.max()) + 1
    return labels, {}


def _maxp(ent, units, xy):
    import geopandas as gpd
    from libpysal.weights import KNN
    from spopt.region import MaxPHeuristic

    np.random.seed(0)  # noqa: NPY002 - MaxPHeuristic uses numpy's global RNG (PITFALLS.md)
    gdf = gpd.GeoDataFrame({"x": xy[:, 0], "y": xy[:, 1], "members": ent["members"].to_numpy().astype(float)},
                           geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]))
    w = KNN.from_dataframe(gdf, k=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MaxPHeuristic(gdf, w, ["x", "y"], "members", FLOOR, top_n=2)
        model.solve()
    return np.asarray(model.labels_) - np.min(model.labels_), {}


def _kmeans_constrained(ent, units, xy):
    from k_means_constrained import KMeansConstrained

    k = math.ceil(len(xy) / 10)
    model = KMeansConstrained(n_clusters=k, size_min=MIN_SIZE, size_max=MAX_SIZE, n_init=1, random_state=0)
    return model.fit_predict(xy), {}


def _agglomerative(ent, units, xy):
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.neighbors import kneighbors_graph

    k = math.ceil(len(xy) / 10)
    graph = kneighbors_graph(xy, 8, include_self=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AgglomerativeClustering(n_clusters=k, connectivity=graph, linkage="ward")
        return model.fit_predict(xy), {}


METHODS = {"gridcover": _ours_full, "gridcover grids": _ours_grids, "max-p": _maxp,
           "kmeans-constrained": _kmeans_constrained, "agglomerative": _agglomerative}


def worker(method: str, n: int) -> None:
    ent, units, xy = county(n)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0, c0 = time.perf_counter(), time.process_time()
    labels, extra = METHODS[method](ent, units, xy)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"seconds": secs, "cpu s": cpu, "peak MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "base MB": base_rss / 1024, **extra,
           **metrics(labels, xy, ent["members"].to_numpy(), ent["unit"].to_numpy())}
    print("RESULT " + json.dumps(out))


# --- speed: the whole partition, serial, against another checkout ----------------------------------------------------
def _speed_instance(kind: str, n: int):
    """(ledger, units) of a speed instance: ``bench`` = :func:`county`; ``ledger`` = the
    generated ledger of tests/county_gen.py (kept and split joint organisations, shells,
    heavy-tailed staff) read, geocoded and classified like ``gridcover plan`` does."""
    from gridcover import Ledger

    if kind == "bench":
        ent, units, _ = county(n)
        return Ledger(ent), units
    import tempfile

    import gridcover as gc
    from gridcover.pipeline import _jurisdictions

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from county_gen import make_county

    with tempfile.TemporaryDirectory() as tmp:
        c = make_county(Path(tmp), n, seed=11, roster_share=0.35)
        inputs = gc.Inputs(ledger=c.ledger, townships=c.townships, parks=c.parks)
        return gc.locate(inputs), _jurisdictions(inputs).units()


def speed_worker(kind: str, n: int) -> None:
    """One serial partition in this process: wall and CPU seconds, quality, a plan digest."""
    import hashlib

    import shapely

    from gridcover.partition import partition

    ledger, units = _speed_instance(kind, n)
    t0, c0 = time.perf_counter(), time.process_time()
    plan = partition(ledger, units=units)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    e, g = plan.enterprises, plan.grids
    gridded = e[e["grid_id"] != ""]
    size = g["n_enterprises"]
    in_branch = e[e["branch_id"] != ""]
    with_grid = in_branch[in_branch["grid_id"] != ""]
    xy = county(n)[2] if kind == "bench" else None
    digest = hashlib.sha256()
    for frame in (e[["grid_id", "branch_id", "action", "advice"]], plan.branches, plan.leaders,
                  g.drop(columns="geometry")):
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(b"".join(shapely.to_wkb(g.geometry.to_numpy())))
    lab = pd.factorize(gridded["grid_id"])[0]
    if xy is None:
        lat0 = np.deg2rad(gridded["lat"].mean())
        pts = np.c_[gridded["lon"] * 111_320 * np.cos(lat0), gridded["lat"] * 110_540]
    else:
        pts = xy[(e["grid_id"] != "").to_numpy()]
    cx = np.bincount(lab, pts[:, 0]) / np.bincount(lab)
    cy = np.bincount(lab, pts[:, 1]) / np.bincount(lab)
    covered = e["action"].isin(["keep", "build_branch", "build_general_branch", "build_committee", "join_branch",
                                "revoke_shell", "split_joint"])
    out = {"seconds": secs, "cpu s": cpu, "grids": len(g),
           "in 5-15": float(((size >= 5) & (size <= 15)).mean()),
           "one unit": float((gridded.groupby("grid_id")["unit"].nunique() == 1).mean()),
           "member floor": float((g["members"] >= 3).mean()),
           "branches": len(plan.branches), "in branch": len(in_branch),
           "branch in one grid": float((with_grid.groupby("branch_id")["grid_id"].nunique() == 1).mean()),
           "org coverage after": float(covered.mean()),
           "mean dist m": float(np.hypot(pts[:, 0] - cx[lab], pts[:, 1] - cy[lab]).mean()),
           "one-piece polygons": float((shapely.get_num_geometries(g.geometry.to_numpy()) == 1).mean()),
           "plan sha256": digest.hexdigest()[:16]}
    print("RESULT " + json.dumps(out))


def speed(instances: list[str], baseline: str | None, timeout: float) -> None:
    """Interleaved serial runs of this checkout and ``baseline`` (another checkout's root)."""
    here = str(Path(__file__).resolve().parents[1])
    rows = []
    for inst in instances:
        kind, n = inst.split(":")
        for label, root in ([("baseline", baseline)] if baseline else []) + [("this", here)]:
            env = {**os.environ, "BENCH_GRIDCOVER_ROOT": root}
            load = os.getloadavg()[0]
            cmd = [sys.executable, __file__, "--speed-worker", kind, n]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
                res = next((json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("RESULT ")),
                           {"note": (done.stderr.strip().splitlines() or ["no output"])[-1][:80]})
            except subprocess.TimeoutExpired:
                res = {"note": f"stopped at {timeout:.0f} s"}
            print(f"{inst} {label}: {res}", file=sys.stderr)
            rows.append({"instance": inst, "code": label, "load avg": round(load, 1), **res})
    table = pd.DataFrame(rows)
    for c, fmt in (("seconds", "{:.2f}"), ("cpu s", "{:.2f}"), ("in 5-15", "{:.1%}"), ("one unit", "{:.1%}"),
                   ("member floor", "{:.1%}"), ("branch in one grid", "{:.1%}"), ("org coverage after", "{:.2%}"),
                   ("mean dist m", "{:.0f}"), ("one-piece polygons", "{:.1%}")):
        if c in table:
            table[c] = [fmt.format(v) if isinstance(v, int | float) and not pd.isna(v) else "" for v in table[c]]
    for c in ("grids", "branches", "in branch"):
        if c in table:
            table[c] = [str(int(v)) if isinstance(v, int | float) and not pd.isna(v) else "" for v in table[c]]
    print(markdown(table.fillna("")))


# --- driver -------------------------------------------------------------------------------------------------------
def markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, rule, *body])


def run(method: str, n: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, str(n)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"note": f"stopped at {timeout:.0f} s"}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:80]
    return {"note": f"failed after {time.perf_counter() - t0:.0f} s: {tail}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000, 10000, 100000])
    parser.add_argument("--peer-timeout", type=float, default=90.0)
    parser.add_argument("--ours-timeout", type=float, default=600.0)
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "N"))
    parser.add_argument("--speed", nargs="+", metavar="KIND:N",
                        help="serial whole-partition speed on instances bench:N (synthetic county) and "
                             "ledger:N (tests/county_gen.py ledger through ingest, geocode, classify)")
    parser.add_argument("--baseline", help="root of another checkout to time in the same run (interleaved)")
    parser.add_argument("--speed-worker", nargs=2, metavar=("KIND", "N"))
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    if args.speed_worker:
        speed_worker(args.speed_worker[0], int(args.speed_worker[1]))
        return
    if args.speed:
        speed(args.speed, args.baseline, args.ours_timeout)
        return
    rows = []
    for n in args.sizes:
        for method in METHODS:
            ours = method.startswith("gridcover")
            if not ours and n >= 100_000:
                res = {"note": "skipped at 100,000 (see PITFALLS.md: dense N×N / N×k work)"}
            else:
                res = run(method, n, args.ours_timeout if ours else args.peer_timeout)
            print(f"N={n} {method}: {res}", file=sys.stderr)
            rows.append({"N": n, "method": method, **res})
    table = pd.DataFrame(rows)
    cols = ["N", "method", "seconds", "cpu s", "peak MB", "grids", "in size bounds", "member floor met",
            "grids meeting floor", "cross a unit", "long thin (>3:1)", "mean dist m", "max dist m", "note"]
    for c in cols:
        if c not in table:
            table[c] = ""
    show = table[cols].copy()
    for c, fmt in (("seconds", "{:.2f}"), ("cpu s", "{:.2f}"), ("peak MB", "{:.0f}"), ("in size bounds", "{:.1%}"),
                   ("member floor met", "{:.1%}"), ("cross a unit", "{:.1%}"), ("long thin (>3:1)", "{:.1%}"),
                   ("mean dist m", "{:.0f}"),
                   ("max dist m", "{:.0f}")):
        show[c] = [fmt.format(v) if isinstance(v, int | float) and not pd.isna(v) else "" for v in show[c]]
    for c in ("grids", "grids meeting floor"):
        show[c] = [str(int(v)) if isinstance(v, int | float) and not pd.isna(v) else "" for v in show[c]]
    show["note"] = show["note"].fillna("")
    print("### Grids versus peers\n")
    print(markdown(show))
    ours = table[(table["method"] == "gridcover") & table["seconds"].notna()]
    if len(ours) >= 2:
        slope = np.polyfit(np.log(ours["N"].astype(float)), np.log(ours["seconds"].astype(float)), 1)[0]
        print(f"\nFitted growth of gridcover's partition time: N^{slope:.2f} "
              f"(sizes {', '.join(str(int(v)) for v in ours['N'])}).")
    if "branches" in table:
        print("\ngridcover's whole partition also proposes: " + "; ".join(
            f"N={int(r['N'])}: {int(r['branches'])} joint branches holding {int(r['in branch'])} enterprises, "
            f"{r['one-piece polygons']:.1%} of grid polygons in one piece ({r['pieces per grid']:.2f} pieces a grid), "
            f"{r['grids with a branch']:.1%} of grids with a branch (joint or own)"
            for _, r in table[(table["method"] == "gridcover") & table["branches"].notna()].iterrows()) + ".")


if __name__ == "__main__":
    main()
