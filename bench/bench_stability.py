"""Stability of a plan: row order, one enterprise added, a simulated quarter, contiguity.

Run: ``python bench/bench_stability.py [--only order,one,quarter,contiguity,colocated,colocated-cli]
[--rows 20000] [--colocated-rows 40000]``

* **order**: the bundled county through ``gridcover plan`` three times — the ledger as
  shipped (rejected rows left out, so source row numbers cannot differ), its data rows
  shuffled, and reversed; counts enterprises whose grid or branch differs, and compares
  every output file byte for byte (``run.json`` aside: it records the input file's hash
  and the timings).
* **one**: one eligible enterprise added next to an existing one, re-planned with the
  plan as ``previous``: how many grids changed (kept/changed/new/dissolved in
  ``changes``), on the bundled county and on a synthetic county.
* **quarter**: a simulated quarter (3% closed, 3% new, 5% with changed staff or members,
  1% moved 300–1,500 m) on the bundled county and on a synthetic county of ``--rows``
  rows (``bench_partition.county``), re-planned from the previous plan: share of
  surviving gridded enterprises keeping grid and branch, every rule checked, and
  ``changes`` checked to account for every change.
* **contiguity**: grids in one piece on the bundled county, and compactness (mean
  distance of a grid's enterprises to the grid centre).
* **colocated**: 100 enterprises at one point in a synthetic county of
  ``--colocated-rows`` rows, whole partition; **colocated-cli**: the whole ``gridcover
  plan`` on such a ledger file with 30 points of 100 enterprises, and with 1,000 points of 25.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gridcover as gc  # noqa: E402
from gridcover import Config, Ledger  # noqa: E402
from gridcover.partition import partition  # noqa: E402
from gridcover.replan import replan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


# --- inputs ------------------------------------------------------------------------------------------
def sample_county() -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """The bundled county, located and classified, and its units."""
    from gridcover.jurisdictions import load_jurisdictions

    inputs = gc.sample_inputs()
    ledger = gc.locate(inputs)
    units = load_jurisdictions(inputs.townships, inputs.parks).units()
    return ledger.enterprises, units


def synthetic_county(n: int) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    from bench_partition import county

    ent, units, _ = county(n)
    ent["fixed_premises"] = True
    return ent, units


def _unit_of(units: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    out = np.full(len(lon), "", dtype=object)
    pts = shapely.points(lon, lat)
    # parks first: a park wins over the township it lies in
    order = sorted(range(len(units)), key=lambda i: units["unit_type"].iloc[i] != "park")
    for i in order:
        geom = units.geometry.iloc[i]
        hit = shapely.covers(geom, pts) & (out == "")
        out[hit] = units["unit"].iloc[i]
    return out


def simulate_quarter(ent: pd.DataFrame, units: gpd.GeoDataFrame, seed: int = 11, *, closed: float = 0.03,
                     new: float = 0.03, changed: float = 0.05, moved: float = 0.01) -> pd.DataFrame:
    """Next quarter's enterprise table: some closed, new, changed and moved enterprises."""
    rng = np.random.default_rng(seed)
    n = len(ent)
    idx = rng.permutation(n)
    n_closed, n_changed, n_moved = round(closed * n), round(changed * n), round(moved * n)
    gone = ent.index[idx[:n_closed]]
    change = ent.index[idx[n_closed:n_closed + n_changed]]
    move = ent.index[idx[n_closed + n_changed:n_closed + n_changed + n_moved]]
    out = ent.drop(index=gone).copy()
    # changed staff or members
    staff = out.loc[change, "staff"].to_numpy()
    mem = out.loc[change, "members"].to_numpy()
    which = rng.random(len(change)) < 0.5
    staff = np.where(which, np.maximum(0, np.round(staff * rng.uniform(0.6, 1.5, len(change)))), staff).astype(int)
    mem = np.where(~which, np.maximum(0, mem + rng.choice([-1, 1, 2], len(change))), mem).astype(int)
    mem = np.minimum(mem, staff)
    out.loc[change, "staff"] = staff
    out.loc[change, "members"] = mem
    # moved 300–1,500 m, staying inside some unit
    ang = rng.uniform(0, 2 * np.pi, len(move))
    dist = rng.uniform(300, 1500, len(move))
    lat0 = out.loc[move, "lat"].to_numpy(dtype=float)
    lon = out.loc[move, "lon"].to_numpy(dtype=float) + dist * np.cos(ang) / (111_320 * np.cos(np.radians(lat0)))
    lat = lat0 + dist * np.sin(ang) / 110_540
    unit = _unit_of(units, lon, lat)
    ok = unit != ""
    out.loc[move[ok], "lon"] = lon[ok]
    out.loc[move[ok], "lat"] = lat[ok]
    out.loc[move[ok], "unit"] = unit[ok]
    # new enterprises: copies of random ones, 100–800 m away, fresh codes
    src = ent.iloc[rng.choice(n, round(new * n), replace=False)].copy()
    ang = rng.uniform(0, 2 * np.pi, len(src))
    dist = rng.uniform(100, 800, len(src))
    lat0 = src["lat"].to_numpy(dtype=float)
    src["lon"] = src["lon"].to_numpy(dtype=float) + dist * np.cos(ang) / (111_320 * np.cos(np.radians(lat0)))
    src["lat"] = lat0 + dist * np.sin(ang) / 110_540
    src["unit"] = _unit_of(units, src["lon"].to_numpy(), src["lat"].to_numpy())
    src = src[src["unit"] != ""]
    if "org_type" in src:
        src["org_type"] = np.where(src["members"] >= 3, src["org_type"], "none")
        src["org_name"] = np.where(src["org_type"] == "joint", src["org_name"], "")
    src.index = pd.Index([f"NEW{seed:03d}{i:07d}" for i in range(len(src))], name=ent.index.name)
    out = pd.concat([out, src])
    fixed = out["fixed_premises"].astype(bool) if "fixed_premises" in out else True
    out["eligible"] = fixed & (out["staff"] >= 6) & np.isfinite(out["lon"].astype(float)) & (out["unit"] != "")
    return out


# --- checks -------------------------------------------------------------------------------------------
def rule_breaks(plan: gc.Plan, cfg: Config) -> dict[str, int]:
    """Counts of rule breaks in a plan (what a fresh plan also guarantees)."""
    e = plan.enterprises
    gridded = e[e["grid_id"] != ""]
    sizes = gridded.groupby("grid_id").size()
    unit_n = gridded.groupby("unit").size()
    unit_of = gridded.groupby("grid_id")["unit"].first()
    big_units = unit_of.map(unit_n) >= cfg.grid_min_size
    breaks = {
        "eligible without grid": int((e["eligible"].astype(bool) & (e["grid_id"] == "")).sum()),
        "grid over units": int((gridded.groupby("grid_id")["unit"].nunique() > 1).sum()),
        "grid size outside 5-15": int((((sizes < cfg.grid_min_size) | (sizes > cfg.grid_max_size)) & big_units).sum()),
    }
    bad_branch = 0
    for _, b in plan.branches.iterrows():
        rows = e.loc[b["uscc"].split(";")]
        if b["status"] == "kept":
            continue
        if not (2 <= len(rows) <= cfg.joint_max_units and rows["members"].sum() >= cfg.joint_min_members
                and rows["unit"].nunique() == 1 and float(b["max_distance_m"]) <= cfg.joint_max_distance_m
                and set(rows["grid_id"]) == {b["grid_id"]}):
            bad_branch += 1
    breaks["branch breaks O6/O7/one grid"] = bad_branch
    gm = gridded.groupby("grid_id")["members"].sum()
    breaks["grids below member floor"] = int((gm < cfg.grid_min_members).sum())
    return breaks


def accounted(prev: gc.Plan, plan: gc.Plan) -> dict[str, int]:
    """Changes not listed in ``plan.changes`` (all zero when it accounts for every change)."""
    ch = plan.changes
    listed = {(o, i) for o, i in zip(ch["object"], ch["id"], strict=True)}
    pe, ne = prev.enterprises, plan.enterprises
    both = pe.index.intersection(ne.index)
    moved = both[(pe.loc[both, "grid_id"] != ne.loc[both, "grid_id"])
                 | (pe.loc[both, "branch_id"] != ne.loc[both, "branch_id"])]
    closed = pe.index.difference(ne.index)
    added = ne.index.difference(pe.index)
    ids = {("grid", g) for g in set(pe["grid_id"]) | set(ne["grid_id"]) if g} | \
          {("branch", b) for b in set(pe["branch_id"]) | set(ne["branch_id"]) if b}
    kinds = dict(zip(zip(ch["object"], ch["id"], strict=True), ch["change"], strict=True))
    return {
        "moved not listed": sum(kinds.get(("enterprise", u)) != "moved" for u in moved),
        "closed not listed": sum(kinds.get(("enterprise", u)) != "dissolved" for u in closed),
        "new not listed": sum(kinds.get(("enterprise", u)) != "new" for u in added),
        "grid/branch ids not listed": len(ids - listed),
    }


def kept_share(prev: gc.Plan, plan: gc.Plan) -> tuple[float, int]:
    pe, ne = prev.enterprises, plan.enterprises
    both = pe.index.intersection(ne.index)
    g = both[(pe.loc[both, "grid_id"] != "") & (ne.loc[both, "grid_id"] != "")]
    same = (pe.loc[g, "grid_id"] == ne.loc[g, "grid_id"]) & (pe.loc[g, "branch_id"] == ne.loc[g, "branch_id"])
    return float(same.mean()), int(len(g))


def compactness(plan: gc.Plan) -> tuple[float, float]:
    """Grids in one piece, and the mean distance (m) of enterprises to their grid's centre."""
    from gridcover.partition import _to_metres, _utm_epsg

    pieces = shapely.get_num_geometries(plan.grids.geometry.to_numpy())
    e = plan.enterprises[plan.enterprises["grid_id"] != ""]
    lon, lat = e["lon"].to_numpy(float), e["lat"].to_numpy(float)
    xy = _to_metres(lon, lat, _utm_epsg(float(lon.mean()), float(lat.mean())))
    df = pd.DataFrame({"g": e["grid_id"].to_numpy(), "x": xy[:, 0], "y": xy[:, 1]})
    c = df.groupby("g")[["x", "y"]].transform("mean")
    return float((pieces == 1).mean()), float(np.hypot(df["x"] - c["x"], df["y"] - c["y"]).mean())


# --- the runs -----------------------------------------------------------------------------------------------
def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same_but_row_numbers(a: Path, b: Path) -> bool:
    """Two output files equal once the source row numbers (台账行号, ``source_row``) are set aside:
    the same rows in another order sit on other rows of the ledger, and the plan says where."""
    import warnings

    import pyogrio

    if a.suffix == ".csv":
        x, y = (pd.read_csv(p, dtype=str, keep_default_na=False).drop(columns="source_row", errors="ignore")
                for p in (a, b))
        # rows listed in ledger order: the same rows once sorted
        x, y = (t.sort_values(list(t.columns)).reset_index(drop=True) for t in (x, y))
        return x.equals(y)
    if a.suffix == ".xlsx":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xa, xb = pd.ExcelFile(a, engine="openpyxl"), pd.ExcelFile(b, engine="openpyxl")
            if xa.sheet_names != xb.sheet_names:
                return False
            for sheet in xa.sheet_names:
                x, y = (pd.read_excel(f, sheet_name=sheet, header=None, dtype=str).fillna("") for f in (xa, xb))
                if x.shape != y.shape:
                    return False
                diff = x != y
                cols = {int(c) for _, c in zip(*np.nonzero(diff.to_numpy()), strict=True)}
                for c in cols:  # only the row-number column may differ
                    if "台账行号" not in set(x.iloc[:3, c]):
                        rows = np.flatnonzero(diff.iloc[:, c].to_numpy())
                        if not all(str(x.iat[r, c]).startswith("台账文件") for r in rows):
                            return False
        return True
    if a.suffix == ".gpkg":
        for layer, _ in pyogrio.list_layers(a):
            x, y = (gpd.read_file(p, layer=layer) for p in (a, b))
            if not x.drop(columns="source_row", errors="ignore").equals(y.drop(columns="source_row", errors="ignore")):
                return False
        return True
    return False


def bench_order() -> dict:
    """Shuffled and reversed data rows of the bundled ledger through ``gridcover plan``."""
    import openpyxl

    inputs = gc.sample_inputs()
    ledger = gc.locate(inputs)
    bad_rows = set(int(r) for r in ledger.rejects["source_row"]) if len(ledger.rejects) else set()
    wb = openpyxl.load_workbook(inputs.ledger, read_only=True)
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(rows) if any(str(c or "").strip() == "统一社会信用代码" for c in r))
    head, data = rows[: header_at + 1], rows[header_at + 1:]
    data = [r for j, r in enumerate(data) if header_at + 2 + j not in bad_rows and any(c is not None for c in r)]
    out: dict = {"rows": len(data)}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {}
        for name, order in (("as shipped", np.arange(len(data))),
                            ("shuffled", np.random.default_rng(3).permutation(len(data))),
                            ("reversed", np.arange(len(data))[::-1])):
            book = openpyxl.Workbook()
            ws = book.active
            for r in head + [data[i] for i in order]:
                ws.append(r)
            base = Path(tmp) / name.replace(" ", "_")
            base.mkdir()
            path = base / "ledger.xlsx"  # one name: the report quotes the ledger's file name
            book.save(path)
            folder = base / "plan"
            cmd = [sys.executable, "-m", "gridcover", "plan", str(path), "--townships", str(inputs.townships),
                   "--parks", str(inputs.parks), "--gazetteer", str(inputs.gazetteer),
                   "--service-centres", str(inputs.service_centres), "--instructors", str(inputs.instructors),
                   "--out", str(folder), "--quiet"]
            subprocess.run(cmd, check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "SOURCE_DATE_EPOCH": "1767225600",
                                                       "PATH": "/usr/bin:/bin"})
            folders[name] = folder
        first = folders["as shipped"]
        base_ent = pd.read_csv(first / "enterprises.csv", dtype=str, keep_default_na=False).set_index("uscc")
        files = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file() and p.name != "run.json")
        for name in ("shuffled", "reversed"):
            other = pd.read_csv(folders[name] / "enterprises.csv", dtype=str,
                                keep_default_na=False).set_index("uscc").reindex(base_ent.index)
            moved = int(((base_ent["grid_id"] != other["grid_id"]) | (base_ent["branch_id"] != other["branch_id"])).sum())
            differ = [f for f in files if not (folders[name] / f).is_file()
                      or _sha(first / f) != _sha(folders[name] / f)]
            out[name] = {"enterprises changing grid or branch": moved, "files compared": len(files),
                         "files byte-identical": len(files) - len(differ), "files differing": differ,
                         "differing only in source row numbers": [f for f in differ
                                                                  if _same_but_row_numbers(first / f, folders[name] / f)]}
    return out


def bench_one(ent: pd.DataFrame, units: gpd.GeoDataFrame, label: str) -> dict:
    cfg = Config()
    prev = partition(Ledger(ent), units=units, config=cfg)
    e = prev.enterprises
    res = []
    for j, u in enumerate(e.index[e["eligible"].astype(bool) & (e["grid_id"] != "")][:: max(1, len(e) // 5)][:5]):
        row = ent.loc[[u]].copy()
        row.index = pd.Index([f"ADD{j:015d}"], name=ent.index.name)
        row["lon"] = row["lon"] + 0.0005
        row["members"] = 0
        row["org_type"] = "none"
        row["org_name"] = ""
        row["unit"] = _unit_of(units, row["lon"].to_numpy(float), row["lat"].to_numpy(float))
        new = replan(Ledger(pd.concat([ent, row])), units=units, config=cfg, previous=prev)
        ch = new.changes
        grids_changed = ch[(ch["object"] == "grid") & (ch["change"] != "kept")]["id"].tolist()
        moved = int((ch["object"].eq("enterprise") & ch["change"].eq("moved")).sum())
        res.append({"grids not kept": len(grids_changed), "joins": new.enterprises.loc[row.index[0], "grid_id"],
                    "changed": grids_changed, "enterprises moved": moved})
    return {"county": label, "trials": res}


def bench_quarter(ent: pd.DataFrame, units: gpd.GeoDataFrame, label: str) -> dict:
    cfg = Config()
    t0 = time.perf_counter()
    prev = partition(Ledger(ent), units=units, config=cfg)
    t_fresh = time.perf_counter() - t0
    nxt = simulate_quarter(ent, units)
    t0 = time.perf_counter()
    new = replan(Ledger(nxt), units=units, config=cfg, previous=prev)
    t_replan = time.perf_counter() - t0
    fresh = partition(Ledger(nxt), units=units, config=cfg)
    share, n = kept_share(prev, new)
    share_fresh, _ = kept_share(prev, fresh)
    ch = new.changes
    counts = ch.groupby(["object", "change"]).size().to_dict()
    return {"county": label, "enterprises": len(ent), "next quarter": len(nxt),
            "surviving gridded": n, "keep grid and branch (re-plan)": round(share, 4),
            "keep grid and branch (fresh plan)": round(share_fresh, 4),
            "rule breaks previous": rule_breaks(prev, cfg), "rule breaks re-plan": rule_breaks(new, cfg),
            "rule breaks fresh": rule_breaks(fresh, cfg), "not accounted": accounted(prev, new),
            "changes": {f"{o}/{c}": int(v) for (o, c), v in counts.items()},
            "in branch: previous, re-plan, fresh": [int((p.enterprises["branch_id"] != "").sum())
                                                    for p in (prev, new, fresh)],
            "grids in one piece: previous, re-plan, fresh": [round(compactness(p)[0], 4)
                                                             for p in (prev, new, fresh)],
            "seconds fresh, re-plan": [round(t_fresh, 1), round(t_replan, 1)]}


def bench_contiguity(ent: pd.DataFrame, units: gpd.GeoDataFrame, label: str) -> dict:
    """Grids in one piece, compactness, and the joint-branch cover beside them (contiguity
    must not be bought with sprawl nor with fewer enterprises in branches)."""
    t0 = time.perf_counter()
    plan = partition(Ledger(ent), units=units)
    seconds = time.perf_counter() - t0
    one, dist = compactness(plan)
    pieces = shapely.get_num_geometries(plan.grids.geometry.to_numpy())
    return {"county": label, "grids": len(plan.grids), "grids in one piece": int((pieces == 1).sum()),
            "one piece": round(one, 4), "mean distance to grid centre m": round(dist, 1),
            "enterprises in joint branches": int((plan.enterprises["branch_id"] != "").sum()),
            "org_rate_after": round(float(plan.summary()["org_rate_after"]), 4),
            "seconds": round(seconds, 1)}


def generated_county(n: int, folder: Path) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """The generated county of the tests (``tests/county_gen.py``, seed 1), located."""
    sys.path.insert(0, str(ROOT / "tests"))
    from county_gen import make_county

    from gridcover.jurisdictions import load_jurisdictions

    county = make_county(folder, n, seed=1)
    ledger = gc.locate(gc.Inputs(ledger=county.ledger, townships=county.townships, parks=county.parks))
    return ledger.enterprises, load_jurisdictions(county.townships, county.parks).units()


def bench_colocated(n: int) -> dict:
    ent, units = synthetic_county(n)
    u0 = ent["unit"].iloc[0]
    idx = np.flatnonzero(ent["unit"].to_numpy() == u0)[:100]
    ent.iloc[idx, ent.columns.get_loc("lon")] = ent["lon"].iloc[idx[0]]
    ent.iloc[idx, ent.columns.get_loc("lat")] = ent["lat"].iloc[idx[0]]
    t0 = time.perf_counter()
    plan = partition(Ledger(ent), units=units)
    grids = plan.enterprises.loc[ent.index[idx], "grid_id"]
    return {"rows": n, "at one point": len(idx), "seconds": round(time.perf_counter() - t0, 1),
            "grids at that point": int(grids.nunique()), "grids": len(plan.grids)}


def bench_colocated_cli(n: int, groups: int, size: int) -> dict:
    """The whole ``gridcover plan`` on an ``n``-row ledger file where ``groups`` points each
    hold ``size`` enterprises (address-only rows geocoded to one village point do this)."""
    from gridcover._uscc import make_uscc

    ent, units = synthetic_county(n)
    rng = np.random.default_rng(5)
    lon, lat = ent["lon"].to_numpy().copy(), ent["lat"].to_numpy().copy()
    unit = ent["unit"].to_numpy()
    perm = rng.permutation(n)
    for g in range(groups):
        idx = perm[g * size:(g + 1) * size]
        same = idx[unit[idx] == unit[idx[0]]]
        lon[same], lat[same] = lon[idx[0]], lat[idx[0]]
    codes: set[str] = set()
    while len(codes) < n:
        codes.add(make_uscc(rng))
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        pd.DataFrame({"统一社会信用代码": sorted(codes), "企业名称": ent["name"].to_numpy(), "经度": lon.round(6),
                      "纬度": lat.round(6), "职工人数": ent["staff"].to_numpy(), "正式党员数": ent["members"].to_numpy(),
                      "党组织组建方式": np.where(ent["org_type"] == "own", "单独建", "未建")}
                     ).to_csv(t / "ledger.csv", index=False, encoding="utf-8-sig")
        for kind, name in (("township", "townships"), ("park", "parks")):
            units[units["unit_type"] == kind][["unit", "geometry"]].rename(columns={"unit": "name"}).to_file(
                t / f"{name}.geojson", driver="GeoJSON")
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "gridcover", "plan", str(t / "ledger.csv"), "--townships",
                            str(t / "townships.geojson"), "--parks", str(t / "parks.geojson"), "--out", str(t / "out"),
                            "--no-maps", "--quiet"], capture_output=True, text=True, cwd=ROOT,
                           env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=False)
        seconds = time.perf_counter() - t0
        ent_out = pd.read_csv(t / "out" / "enterprises.csv", dtype=str, keep_default_na=False) if r.returncode == 0 \
            else pd.DataFrame()
    return {"rows": n, "points": groups, "enterprises per point": size, "exit code": r.returncode,
            "stderr last line": (r.stderr.strip().splitlines() or [""])[-1][:200], "seconds": round(seconds, 1),
            "enterprises written": len(ent_out)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="order,one,quarter,contiguity,colocated,colocated-cli")
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--colocated-rows", type=int, default=40_000)
    args = ap.parse_args()
    only = set(args.only.split(","))
    out: dict = {}
    if only & {"one", "quarter", "contiguity"}:
        ent, units = sample_county()
    if "order" in only:
        out["order"] = bench_order()
    if "contiguity" in only:
        with tempfile.TemporaryDirectory() as tmp:
            out["contiguity"] = [bench_contiguity(ent, units, "bundled"),
                                 bench_contiguity(*generated_county(args.rows, Path(tmp)),
                                                  f"generated {args.rows:,} rows")]
    if "one" in only:
        out["one added"] = [bench_one(ent, units, "bundled"), bench_one(*synthetic_county(args.rows), f"{args.rows:,} rows")]
    if "quarter" in only:
        out["quarter"] = [bench_quarter(ent, units, "bundled"),
                          bench_quarter(*synthetic_county(args.rows), f"{args.rows:,} rows")]
    if "colocated" in only:
        out["colocated"] = bench_colocated(args.colocated_rows)
    if "colocated-cli" in only:
        out["colocated plan"] = [bench_colocated_cli(args.colocated_rows, 30, 100),
                                 bench_colocated_cli(args.colocated_rows, 1000, 25)]
    print(json.dumps(out, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
