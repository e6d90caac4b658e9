"""Benchmark of coordinate conversion and of geocoding with the jurisdiction join.

Run ``python bench/bench_geocode.py [--points N] [--enterprises M] [--repeat R]``.

Cases, each in a fresh subprocess (so the peak memory, ``ru_maxrss``, is that case's):

- coordinate conversion of N (default 1,000,000) points: GCJ-02 → WGS-84 and
  BD-09 → WGS-84 (iterated inverses), WGS-84 → GCJ-02 (forward), and ``to_wgs84`` on a
  mix of the three systems;
- ``geocode`` of M (default 100,000) enterprises — 70 % given points (WGS-84 60 %,
  GCJ-02 25 %, BD-09 15 %), 25 % address-only rows naming a village, community or park
  road, 4 % naming only a township, 1 % only a park — with point-in-polygon against 10
  townships and 3 parks (``load_jurisdictions`` not timed), checked against the true
  locations;
- ``geocode-traps`` — ``geocode`` of M enterprises of the trap ledger of
  ``tests/test_geocode.py`` (the bundled sample county with stale declared townships,
  ``东村路`` road names, 新村 in three townships, short forms, self-contradictory
  addresses), checked against the truth known by construction, and the share of
  planted disagreements found in the conflicts table;
- ``uscc-stdnum`` — the USCC check of :mod:`gridcover._uscc` against python-stdnum's
  ``cn.uscc`` on 200,000 random codes (first two characters digits, where GB 32100
  allows letters stdnum refuses): the number of disagreements.

Prints a Markdown table: best wall and CPU (user + system) time of R runs — on a
shared machine the CPU time is the steadier figure — throughput per CPU second, peak
resident memory of the process and its increase over the process after building the
inputs.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date

import numpy as np

TOWN_NAMES = ["青龙镇", "安平镇", "城关街道", "东城街道", "白沙镇", "石门乡", "溪口镇", "凤岭镇", "龙湾镇", "桃源乡"]
PARK_NAMES = ["安平经济开发区", "青龙工业园区", "城东科技园"]
_A = "石金银铁木水火土东西南北上下大小新老长高和兴福寿康宁明光华美青白红黄"
_B = "桥山林川溪塘湾坑岭坪坝岗坞垄岩洋埠庄店田湖泉井塔"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------- inputs
def _county(seed: int = 0):
    import geopandas as gpd
    import shapely
    from shapely.geometry import MultiPoint, Point, Polygon, box

    rng = np.random.default_rng(seed)
    county = box(117.80, 29.80, 118.20, 30.10)
    seeds = np.column_stack([rng.uniform(117.83, 118.17, 10), rng.uniform(29.83, 30.07, 10)])
    cells = shapely.get_parts(shapely.voronoi_polygons(MultiPoint(seeds), extend_to=county))
    towns = [shapely.set_precision(next(c for c in cells if c.contains(Point(x, y))).intersection(county), 1e-6)
             for x, y in seeds]
    parks = []
    for (x, y), r in zip([seeds[1], seeds[4], seeds[7]], (2200, 1500, 1300), strict=True):
        ang = np.sort(rng.uniform(0, 2 * np.pi, 14))
        rad = r * rng.uniform(0.65, 1.0, 14)
        kx, ky = 1 / (111320 * np.cos(np.radians(y))), 1 / 110574
        parks.append(shapely.set_precision(Polygon(np.column_stack([x + rad * np.cos(ang) * kx,
                                                                    y + rad * np.sin(ang) * ky])), 1e-6))
    townships = gpd.GeoDataFrame({"name": TOWN_NAMES}, geometry=towns, crs="EPSG:4326")
    park_frame = gpd.GeoDataFrame({"name": PARK_NAMES}, geometry=parks, crs="EPSG:4326")
    return rng, county, seeds, townships, park_frame


def _inside(rng, geom, k):
    import shapely

    x0, y0, x1, y1 = geom.bounds
    out = np.empty((0, 2))
    while len(out) < k:
        pts = np.column_stack([rng.uniform(x0, x1, 4 * k), rng.uniform(y0, y1, 4 * k)])
        out = np.vstack([out, pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])]])
    return np.round(out[:k], 6)


def _truth(townships, parks, lon, lat):
    import shapely

    town = np.full(len(lon), "", dtype=object)
    park = np.full(len(lon), "", dtype=object)
    for name, geom in zip(townships["name"], townships.geometry, strict=True):
        town[(town == "") & shapely.contains_xy(geom, lon, lat)] = name
    for name, geom in zip(parks["name"], parks.geometry, strict=True):
        park[(park == "") & shapely.contains_xy(geom, lon, lat)] = name
    return town, park


def build_geocode_inputs(n: int, seed: int = 0):
    """Townships, parks, gazetteer, a ledger of n enterprises and its truth."""
    import pandas as pd

    from gridcover._address import loose_key
    from gridcover.coords import wgs84_to_bd09, wgs84_to_gcj02
    from gridcover.geocode import Gazetteer
    from gridcover.ledger import Ledger
    from gridcover.schema import LEDGER_COLUMNS

    rng, county, seeds, townships, parks = _county(seed)
    # gazetteer: townships, 30 villages + 5 communities each, parks, 2 roads per park
    rows, used = [], set()
    for k, (tname, geom) in enumerate(zip(townships["name"], townships.geometry, strict=True)):
        rows.append((tname, tname, round(seeds[k][0], 6), round(seeds[k][1], 6), "township"))
        names = []
        while len(names) < 35:
            core = rng.choice(list(_A)) + rng.choice(list(_B))
            if core not in used:
                used.add(core)
                names.append(core + ("村" if len(names) < 30 else "社区"))
        for nm, (x, y) in zip(names, _inside(rng, geom, len(names)), strict=True):
            rows.append((nm, tname, x, y, "community" if nm.endswith("社区") else "village"))
    roads = ["创业路", "科技大道", "工业路", "兴业路", "纬一路", "经二路"]
    for k, (pname, geom) in enumerate(zip(parks["name"], parks.geometry, strict=True)):
        c = geom.representative_point()
        rows.append((pname, "", round(c.x, 6), round(c.y, 6), "park"))
        for road, (x, y) in zip(roads[2 * k: 2 * k + 2], _inside(rng, geom, 2), strict=True):
            rows.append((road, "", x, y, "road"))
    gaz = pd.DataFrame(rows, columns=["name", "township", "lon", "lat", "kind"])
    vill = gaz[gaz["kind"].isin(["village", "community"])].reset_index(drop=True)
    road_rows = gaz[gaz["kind"] == "road"].reset_index(drop=True)

    kind = rng.choice(["exact", "address", "township", "park"], size=n, p=[0.70, 0.25, 0.04, 0.01])
    x0, y0, x1, y1 = county.bounds
    lon_true = rng.uniform(x0, x1, n)
    lat_true = rng.uniform(y0, y1, n)
    crs = rng.choice(["wgs84", "gcj02", "bd09"], size=n, p=[0.6, 0.25, 0.15]).astype(object)
    lon_src, lat_src = lon_true.copy(), lat_true.copy()
    for code, fn in (("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)):
        m = crs == code
        lon_src[m], lat_src[m] = fn(lon_true[m], lat_true[m])
    lon_src, lat_src = np.round(lon_src, 6), np.round(lat_src, 6)
    address = np.full(n, "", dtype=object)
    true_town, true_park = _truth(townships, parks, lon_true, lat_true)
    num = rng.integers(1, 500, n)
    road_share = rng.random(n) < 0.15
    pick_v = rng.integers(0, len(vill), n)
    pick_r = rng.integers(0, len(road_rows), n)
    template = rng.integers(0, 4, n)
    park_of_town = {}
    for pname, geom in zip(parks["name"], parks.geometry, strict=True):
        areas = [geom.intersection(t).area for t in townships.geometry]
        park_of_town[pname] = townships["name"].iloc[int(np.argmax(areas))]
    for i in np.flatnonzero(kind != "exact"):
        if kind[i] == "address":
            if road_share[i]:
                r = road_rows.iloc[pick_r[i]]
                lon_true[i], lat_true[i] = r["lon"], r["lat"]
                pname = _truth(townships, parks, np.array([r["lon"]]), np.array([r["lat"]]))[1][0]
                address[i] = (f"浙江省龙湾市安平县{pname}{r['name']}{num[i]}号" if template[i] % 2
                              else f"{loose_key(pname)}园区{r['name']}{num[i]}号厂房")
            else:
                v = vill.iloc[pick_v[i]]
                lon_true[i], lat_true[i] = v["lon"], v["lat"]
                t = v["township"]
                address[i] = (f"浙江省龙湾市安平县{t}{v['name']}{num[i]}号", f"安平县{loose_key(t)}{v['name']}{num[i]}组",
                              f"{t}{loose_key(v['name'])}{num[i]}号", f"{t} {v['name']} {num[i]}号")[template[i]]
        elif kind[i] == "township":
            t = TOWN_NAMES[num[i] % 10]
            address[i] = f"安平县{t}人民路{num[i]}号"
            true_town[i], true_park[i] = t, ""
        else:
            p = PARK_NAMES[num[i] % 3]
            address[i] = f"安平县{p}{num[i]}号厂房"
            true_town[i], true_park[i] = park_of_town[p], p
    addr_rows = kind == "address"
    t2, p2 = _truth(townships, parks, lon_true[addr_rows], lat_true[addr_rows])
    true_town[addr_rows], true_park[addr_rows] = t2, p2
    given = kind == "exact"
    ledger = pd.DataFrame({
        "uscc": [f"91330328{i:010d}" for i in range(n)],
        "source_row": np.arange(3, n + 3), "name": [f"企业{i}" for i in range(n)], "address": address,
        "lon_src": np.where(given, lon_src, np.nan), "lat_src": np.where(given, lat_src, np.nan),
        "crs": np.where(given, crs, "wgs84"), "township_declared": "", "village": "", "park_declared": "",
        "industry": "C", "staff": 10, "fixed_premises": True, "above_scale": False, "members": 0,
        "probationary": 0, "org_type": "none", "org_name": "", "instructor": "", "investor_member": False,
    }).set_index("uscc")[list(LEDGER_COLUMNS)]
    truth = pd.DataFrame({"true_township": true_town, "true_park": true_park, "kind": kind}, index=ledger.index)
    return townships, parks, Gazetteer.from_frame(gaz), Ledger(enterprises=ledger, n_rows=n), truth


# ------------------------------------------------------------------------------- cases
def run_case(case: str, n: int, repeat: int) -> dict:
    from gridcover import coords

    extra: dict = {}
    if case.startswith("coords"):
        rng = np.random.default_rng(1)
        lon = rng.uniform(97.0, 124.0, n)
        lat = rng.uniform(21.0, 45.0, n)
        if case == "coords-gcj02-to-wgs84":
            args, fn = coords.wgs84_to_gcj02(lon, lat), coords.gcj02_to_wgs84
        elif case == "coords-bd09-to-wgs84":
            args, fn = coords.wgs84_to_bd09(lon, lat), coords.bd09_to_wgs84
        elif case == "coords-wgs84-to-gcj02":
            args, fn = (lon, lat), coords.wgs84_to_gcj02
        else:
            codes = rng.choice(np.array(["wgs84", "gcj02", "bd09"], dtype=object), n, p=[0.6, 0.25, 0.15])
            glon, glat = coords.wgs84_to_gcj02(lon, lat)
            blon, blat = coords.wgs84_to_bd09(lon, lat)
            src_lon = np.where(codes == "gcj02", glon, np.where(codes == "bd09", blon, lon))
            src_lat = np.where(codes == "gcj02", glat, np.where(codes == "bd09", blat, lat))
            args = (src_lon, src_lat, codes)
            fn = coords.to_wgs84
        gc.collect()
        base = _rss_mb()
        times, cpu = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn(*args)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        if case != "coords-wgs84-to-gcj02":
            err = np.hypot((out[0] - lon) * 111320 * np.cos(np.radians(lat)), (out[1] - lat) * 110574)
            extra["max_error_m"] = float(err.max())
    elif case == "uscc-stdnum":
        extra, times, cpu, base = _uscc_case(n, repeat)
    elif case == "geocode-traps":
        extra, times, cpu, base = _traps_case(n, repeat)
    else:
        from gridcover.geocode import geocode
        from gridcover.jurisdictions import load_jurisdictions

        townships, parks, gaz, ledger, truth = build_geocode_inputs(n)
        juris = load_jurisdictions(townships, parks)
        juris.units()
        gc.collect()
        base = _rss_mb()
        times, cpu = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = geocode(ledger, juris, gazetteer=gaz)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        e = out.enterprises.join(truth)
        right = (e["township"] == e["true_township"]) & (e["park"] == e["true_park"])
        extra["right_share"] = float(right.mean())
        extra["precision"] = {k: int(v) for k, v in e["precision"].value_counts().sort_index().items()}
        extra["rejects"] = len(out.rejects)
    return {"case": case, "n": n, "best_s": min(times), "cpu_s": min(cpu), "runs": len(times), "peak_mb": _peak_mb(),
            "base_mb": base, **extra}


def _uscc_case(n: int, repeat: int) -> tuple[dict, list[float], list[float], float]:
    from stdnum.cn import uscc as stdnum_uscc

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
    from test_uscc import ours, random_codes

    codes = random_codes(n, seed=20261201)
    gc.collect()
    base = _rss_mb()
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        mine = [ours(c) for c in codes]
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    theirs = [stdnum_uscc.is_valid(c) for c in codes]
    letters = sum(any(ch.isalpha() for ch in c.replace("-", "").replace(" ", "").upper()[2:8]) for c in codes)
    return ({"disagree": sum(a != b for a, b in zip(mine, theirs, strict=True)), "valid": sum(mine),
             "letter_division": letters}, times, cpu, base)


def _traps_case(n: int, repeat: int) -> tuple[dict, list[float], list[float], float]:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests"))
    from test_geocode import trap_ledger

    from gridcover.geocode import Gazetteer, geocode
    from gridcover.jurisdictions import load_jurisdictions

    traps = trap_ledger(n, seed=141)
    juris = load_jurisdictions(traps.townships, traps.parks)
    gaz = Gazetteer.from_frame(traps.gazetteer)
    juris.units()
    gc.collect()
    base = _rss_mb()
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = geocode(traps.ledger, juris, gazetteer=gaz)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    e = out.enterprises.join(traps.truth)
    right = (e["township"] == e["true_township"]) & (e["park"] == e["true_park"])
    by_kind = {k: f"{v:.2%}" for k, v in right.groupby(e["kind"]).mean().sort_index().items()}
    planted = traps.truth[traps.truth["expected_field"] != ""]
    got = set(zip(out.conflicts["uscc"], out.conflicts["field"], strict=True))
    found = sum((u, f) in got for u, f in zip(planted.index, planted["expected_field"], strict=True))
    return ({"right_share": float(right.mean()), "wrong": int((~right).sum()), "by_kind": by_kind,
             "planted": len(planted), "found": found, "conflicts": len(out.conflicts),
             "rejects": len(out.rejects)}, times, cpu, base)


CASES = ["coords-gcj02-to-wgs84", "coords-bd09-to-wgs84", "coords-wgs84-to-gcj02", "coords-to_wgs84-mixed",
         "geocode-join", "geocode-traps", "uscc-stdnum"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--enterprises", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--codes", type=int, default=200_000, help="random USCCs checked against python-stdnum")
    parser.add_argument("--only", nargs="+", choices=CASES, help="run only these cases")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n, args.repeat), ensure_ascii=False))
        return
    results = []
    for case in CASES:
        if args.only and case not in args.only:
            continue
        n = {"geocode-join": args.enterprises, "geocode-traps": args.enterprises, "uscc-stdnum": args.codes}.get(
            case, args.points)
        repeat = min(args.repeat, 2) if case.startswith(("geocode", "uscc")) else args.repeat
        proc = subprocess.run([sys.executable, __file__, "--case", case, "--n", str(n), "--repeat", str(repeat)],
                              capture_output=True, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {date.today().isoformat()}\n")
    print("| case | n | best wall time (s) | best CPU time (s) | per CPU second | peak RSS (MB) | "
          "increase (MB) | check |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in results:
        if r["case"] == "geocode-traps":
            check = (f"{r['right_share']:.3%} right park and township ({r['wrong']} wrong); planted "
                     f"disagreements in conflicts {r['found']}/{r['planted']}; {r['rejects']} rejects; by kind "
                     + ", ".join(f"{k} {v}" for k, v in r["by_kind"].items()))
        elif r["case"] == "uscc-stdnum":
            check = (f"{r['disagree']} disagreements with stdnum cn.uscc; {r['valid']:,} valid; "
                     f"{r['letter_division']:,} with a letter in characters 3-8")
        elif r["case"] == "geocode-join":
            check = (f"{r['right_share']:.2%} right park and township; precision "
                     + ", ".join(f"{k} {v}" for k, v in r["precision"].items()) + f"; {r['rejects']} rejects")
        else:
            check = f"max error {r['max_error_m']:.1e} m" if "max_error_m" in r else "forward"
        print(f"| {r['case']} | {r['n']:,} | {r['best_s']:.2f} | {r['cpu_s']:.2f} | {r['n'] / r['cpu_s']:,.0f} | "
              f"{r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} | {check} |")


if __name__ == "__main__":
    main()
