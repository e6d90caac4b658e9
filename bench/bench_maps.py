"""Benchmark of the coverage maps: file size, build time and browser render time.

Run: ``python bench/bench_maps.py [--sizes 1000,10000,100000] [--out bench/out/maps]``

Builds a synthetic plan per size (townships as Voronoi cells, a few parks, enterprises
clustered around village centres, grids of ~10 eligible enterprises as Voronoi cells of
grid seeds, joint branches of three), renders ``map.html`` offline with no base map,
then opens it in Debian's chromium (Playwright, every network request blocked) and
times the load until the enterprise layer is built (and clustered), plus one zoom-in.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import box

from gridcover import Config, Plan
from gridcover._uscc import check_char
from gridcover.maps import coverage_map, map_html

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_USCC_CHARS = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))


def _usccs(rng: np.random.Generator, n: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        body = rng.choice(_USCC_CHARS, size=(n, 8))
        for row in body:
            first17 = "91350100" + "MA" + "".join(row[:7])
            code = first17 + check_char(first17)
            if code not in seen:
                seen.add(code)
                out.append(code)
                if len(out) == n:
                    break
    return out


def _voronoi(seeds: np.ndarray, clip) -> list:
    """Voronoi cells of the seeds clipped to ``clip``, in the order of the seeds."""
    if len(seeds) == 1:
        return [clip]
    pts = shapely.multipoints(seeds)
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=clip))
    tree = cKDTree(seeds)
    order = tree.query(np.column_stack([shapely.get_x(shapely.point_on_surface(cells)),
                                        shapely.get_y(shapely.point_on_surface(cells))]))[1]
    out = [None] * len(seeds)
    for cell, i in zip(cells, order, strict=True):
        out[i] = cell.intersection(clip)
    return [c if c is not None else clip for c in out]


def synthetic_plan(n: int, *, seed: int = 0) -> Plan:
    """A plan of ``n`` enterprises over ~n/1000 townships (at least 10) and a few parks."""
    rng = np.random.default_rng(seed)
    config = Config()
    n_town = max(10, n // 1000)
    side = 0.12 * math.sqrt(n_town)  # degrees; ~13 km per township
    x0, y0 = 118.0, 24.3
    area = box(x0, y0, x0 + side, y0 + side)
    town_seeds = np.column_stack([rng.uniform(x0, x0 + side, n_town), rng.uniform(y0, y0 + side, n_town)])
    town_geoms = _voronoi(town_seeds, area)
    town_names = [f"镇{i:03d}" for i in range(n_town)]
    n_park = max(2, n_town // 8)
    parks = [shapely.Point(town_seeds[i]).buffer(0.02, quad_segs=4).intersection(town_geoms[i])
             for i in range(n_park)]
    park_names = [f"园区{i:02d}" for i in range(n_park)]
    units = [{"unit": p, "unit_type": "park", "township": town_names[i], "geometry": g}
             for i, (p, g) in enumerate(zip(park_names, parks, strict=True))]
    for i, (t, g) in enumerate(zip(town_names, town_geoms, strict=True)):
        units.append({"unit": t, "unit_type": "township", "township": t,
                      "geometry": g.difference(parks[i]) if i < n_park else g})
    units_gdf = gpd.GeoDataFrame(units, crs="EPSG:4326")

    # enterprises around village centres (~40 per village), a share inside parks
    n_vil = max(20, n // 40)
    vil = np.column_stack([rng.uniform(x0, x0 + side, n_vil), rng.uniform(y0, y0 + side, n_vil)])
    vil[: n_park * 4] = np.repeat(town_seeds[:n_park], 4, axis=0) + rng.normal(0, 0.006, (n_park * 4, 2))
    which = rng.integers(0, n_vil, n)
    xy = vil[which] + rng.normal(0, 0.008, (n, 2))
    xy[:, 0] = np.clip(xy[:, 0], x0 + 1e-4, x0 + side - 1e-4)
    xy[:, 1] = np.clip(xy[:, 1], y0 + 1e-4, y0 + side - 1e-4)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs="EPSG:4326")
    hit = gpd.sjoin(pts, units_gdf, predicate="within", how="left")
    hit = hit[~hit.index.duplicated()]
    unit = hit["unit"].fillna(town_names[0]).to_numpy()
    utype = hit["unit_type"].fillna("township").to_numpy()
    township = hit["township"].fillna(town_names[0]).to_numpy()
    staff = np.minimum((rng.pareto(1.2, n) * 8).astype(int) + 1, 5000)
    members = np.minimum(rng.choice([0, 0, 0, 1, 1, 2, 3, 5, 8], n), staff)
    org = rng.choice(["own", "joint", "attached", "none"], n, p=[0.05, 0.1, 0.1, 0.75])
    org = np.where((org == "own") & (members < 3), "none", org)
    uscc = _usccs(rng, n)
    ent = pd.DataFrame({
        "source_row": np.arange(2, n + 2), "name": [f"测试企业{i:06d}有限公司" for i in range(n)],
        "address": [f"{t}工业路{i % 500}号" for i, t in enumerate(township)],
        "lon_src": xy[:, 0], "lat_src": xy[:, 1], "crs": "wgs84", "township_declared": township,
        "village": [f"村{w:04d}" for w in which], "park_declared": np.where(utype == "park", unit, ""),
        "industry": rng.choice(list("CFGIM"), n), "staff": staff, "fixed_premises": True,
        "above_scale": staff >= 100, "members": members, "probationary": rng.choice([0, 0, 1], n),
        "org_type": org, "org_name": np.where(org == "joint", "联合党支部", ""),
        "instructor": np.where(rng.random(n) < 0.1, "指导员甲", ""), "investor_member": rng.random(n) < 0.2,
        "lon": np.round(xy[:, 0], 6), "lat": np.round(xy[:, 1], 6), "precision": "exact",
        "township": township, "park": np.where(utype == "park", unit, ""), "unit": unit, "unit_type": utype,
        "size_class": np.select([staff < 6, staff < 50, staff < 100], ["<6", "6-49", "50-99"], ">=100"),
        "eligible": staff >= 6,
    }, index=pd.Index(uscc, name="uscc"))

    # grids: ~10 eligible enterprises per grid, Voronoi cells of seeds inside each unit
    grid_id = np.full(n, "", dtype=object)
    grid_rows = []
    geom_by_unit = dict(zip(units_gdf["unit"], units_gdf.geometry, strict=True))
    type_by_unit = dict(zip(units_gdf["unit"], units_gdf["unit_type"], strict=True))
    for u, idx in pd.Series(np.arange(n))[ent["eligible"].to_numpy()].groupby(unit[ent["eligible"].to_numpy()]):
        rows = idx.to_numpy()
        k = max(1, len(rows) // 10)
        seeds_i = rng.choice(rows, k, replace=False)
        seeds = xy[seeds_i] + rng.normal(0, 1e-6, (k, 2))
        near = cKDTree(seeds).query(xy[rows])[1]
        cells = _voronoi(seeds, geom_by_unit[u].buffer(0))
        for g in range(k):
            gid = f"{u}-G{g + 1:03d}"
            inside = rows[near == g]
            grid_id[inside] = gid
            m = members[inside]
            leader = uscc[inside[int(np.argmax(m))]] if len(inside) and m.max() > 0 else ""
            grid_rows.append({"grid_id": gid, "unit": u, "unit_type": type_by_unit[u],
                              "n_enterprises": len(inside), "staff": int(staff[inside].sum()),
                              "members": int(m.sum()), "leader_uscc": leader,
                              "leader_status": "member" if leader else "instructor post to fill",
                              "geometry": cells[g]})
    ent["grid_id"] = grid_id
    grids = gpd.GeoDataFrame(grid_rows, crs="EPSG:4326")

    # branches: triples of enterprises without an organisation and < 3 members in a grid
    action = np.where(ent["eligible"], "keep", "not_gridded").astype(object)
    branch_id = np.full(n, "", dtype=object)
    branch_rows = []
    cand = ent["eligible"].to_numpy() & (org == "none") & (members < 3)
    for gid, idx in pd.Series(np.arange(n))[cand].groupby(grid_id[cand]):
        rows = idx.to_numpy()
        for b in range(len(rows) // 3):
            trio = rows[3 * b: 3 * b + 3]
            if members[trio].sum() < 3:
                continue
            bid = f"{gid}-B{b + 1:02d}"
            branch_id[trio] = bid
            action[trio] = "join_branch"
            branch_rows.append({"branch_id": bid, "grid_id": gid, "unit": unit[trio[0]], "status": "new",
                                "uscc": ";".join(uscc[i] for i in trio), "n_units": 3,
                                "members": int(members[trio].sum()), "max_distance_m": 1500.0})
    rest = cand & (branch_id == "")
    action[rest & (members > 0)] = "attach"
    action[rest & (members == 0)] = "instructor"
    ent["branch_id"] = branch_id
    ent["action"] = action
    gaps = np.where((staff >= 100) & (org == "none"), "G2", "")
    gaps = np.where((staff >= 50) & (members == 0), np.char.add(gaps.astype(str), np.where(gaps == "", "G1", ";G1")), gaps)
    ent["gaps"] = gaps
    gap_rows = [{"uscc": u, "rule_id": g, "message": f"职工{s}人（{g}：规则）"}
                for u, gs, s in zip(uscc, gaps, staff, strict=True) if gs for g in gs.split(";")]
    centres = gpd.GeoDataFrame({"name": [f"{t}党群服务中心" for t in town_names], "township": town_names},
                               geometry=gpd.points_from_xy(town_seeds[:, 0], town_seeds[:, 1]), crs="EPSG:4326")
    return Plan(enterprises=ent, grids=grids, branches=pd.DataFrame(branch_rows), units=units_gdf,
                gaps=pd.DataFrame(gap_rows, columns=["uscc", "rule_id", "message"]),
                service_centres=centres, config=config)


def render_in_chromium(path: Path) -> tuple[float, float, list[str]]:
    """(seconds to load and build every layer, seconds for one zoom-in, console errors)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri(), timeout=300_000)
        page.wait_for_function("window.gridcover && window.gridcover.ready && "
                               "window.gridcover.layers.enterprises.gcLoaded", timeout=300_000, polling=50)
        page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        load = time.perf_counter() - t0
        t1 = time.perf_counter()
        page.evaluate("""new Promise(r => { const m = window.gridcover.map;
            m.once('zoomend', () => requestAnimationFrame(() => requestAnimationFrame(r)));
            m.setZoom(m.getZoom() + 1, {animate: false}); })""")
        zoom = time.perf_counter() - t1
        browser.close()
    return load, zoom, errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--out", default="bench/out/maps")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--force-detail", action="store_true",
                        help="also draw the largest size in detail mode (no clustering), for comparison")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = [(n, False) for n in sizes] + ([(max(sizes), True)] if args.force_detail else [])
    for n, force in runs:
        t = time.perf_counter()
        plan = synthetic_plan(n)
        gen = time.perf_counter() - t
        if force:
            plan = plan.replace(config=plan.config.replace(map_detail_max=n))
        t = time.perf_counter()
        m = coverage_map(plan, basemap="none", date="2024-06-30")
        page = map_html(m)
        build = time.perf_counter() - t
        path = out / f"map_{n}{'_detail' if force else ''}.html"
        path.write_text(page, encoding="utf-8")
        mode = "aggregate (clustered)" if n > plan.config.map_detail_max else "detail"
        mode += " (forced)" if force else ""
        load = zoom = math.nan
        errors: list[str] = []
        if not args.no_browser:
            load, zoom, errors = render_in_chromium(path)
        rows.append((n, len(plan.grids), len(plan.branches), mode, len(page.encode("utf-8")) / 1e6, build,
                     load, zoom, len(errors)))
        print(f"# n={n}: synthetic plan {gen:.1f} s; errors: {errors[:3]}", file=sys.stderr)
    command = " ".join(["python bench/bench_maps.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"Maps benchmark — {date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; `{command}`\n")
    print("| enterprises | grids | branches | mode | map.html MB | build s | chromium load s | zoom-in s "
          "| console errors |")
    print("|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for n, g, b, mode, mb, build, load, zoom, err in rows:
        print(f"| {n:,} | {g:,} | {b:,} | {mode} | {mb:.2f} | {build:.1f} | {load:.1f} | {zoom:.2f} | {err} |")


if __name__ == "__main__":
    main()
