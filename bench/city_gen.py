"""A seeded generator of a held-out-like prefecture city (or, at a million rows, a province).

``make_city(folder, n=100_000, seed=1)`` writes into ``folder``:

- ``ledger.csv``: one row per enterprise, the Chinese headers of ``tests/county_gen.py``
  (USCC codes valid under GB 32100-2015, heavy-tailed staff, own / joint / attached
  organisations, empty shells, ledger instructors);
- ``townships.geojson``: the counties (8 per 100,000 enterprises) as Voronoi cells of seeded
  points over a square of ~100 km × 100 km per 8 counties in Yunnan-like lon/lat, each cut
  into 9 townships / streets (Voronoi cells again) with ``name``, ``kind`` and ``county``;
- ``parks.geojson``: 2 parks per county (16 for the city), irregular polygons inside one
  township each, holding clustered enterprises;
- ``instructors.csv``: a roster of about ``roster_share`` (1/3) of the instructors the plan
  will need, ``name, township, lon, lat, capacity``.

Points are clustered (town centres of varied weight, parks denser still). Plain
numpy / pandas / shapely / scipy: nothing of gridcover's planning code, so the generator
is independent of what it tests. A million rows take well under a minute.

Run as a script: ``python bench/city_gen.py OUT [--n 100000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

HEADERS = {
    "uscc": "统一社会信用代码", "name": "企业名称", "lon": "经度", "lat": "纬度", "staff": "职工人数",
    "fixed_premises": "有无固定经营场所", "above_scale": "是否规上企业", "members": "正式党员数",
    "probationary": "预备党员数", "org_type": "党组织组建方式", "org_name": "所在党组织",
    "instructor": "党建工作指导员", "industry": "行业",
}
ORG_LABELS = {"own": "单独建", "joint": "联合建", "attached": "挂靠建", "none": "未建"}

#: Centre of the generated area: central Yunnan (lon, lat).
ORIGIN = (102.7, 25.0)
#: Side of the square holding 8 counties, in km.
SIDE_KM = 100.0
_COUNTY_SYLLABLES = "安宁嵩明晋宁富民宜良石林禄劝寻甸呈贡澄江通海华宁易门峨山新平元江弥勒泸西建水石屏开远蒙自个旧屏边"
_TOWN_SUFFIX = ("街道", "街道", "镇", "镇", "镇", "镇", "乡", "镇", "乡")


@dataclass(frozen=True)
class City:
    """Paths of the generated files, and the size actually written."""

    folder: Path
    ledger: Path
    townships: Path
    parks: Path
    roster: Path
    n: int
    counties: int
    n_townships: int
    n_parks: int


def usccs(serials: np.ndarray, prefix: str = "91530100") -> np.ndarray:
    """Valid 统一社会信用代码 (GB 32100-2015) for distinct serial numbers (vectorised)."""
    serials = np.asarray(serials, dtype=np.int64)
    digits = np.stack([(serials // 31**k) % 31 for k in range(8, -1, -1)], axis=1)  # (n, 9)
    values = {c: i for i, c in enumerate(ALPHABET)}
    head = np.array([values[c] for c in prefix], dtype=np.int64)
    body = np.concatenate([np.broadcast_to(head, (len(serials), 8)), digits], axis=1)
    check = (31 - (body * np.asarray(WEIGHTS)).sum(axis=1) % 31) % 31
    chars = np.array(list(ALPHABET))
    full = np.concatenate([body, check[:, None]], axis=1)
    letters = chars[full]
    return np.array(["".join(r) for r in letters], dtype=object)


def _voronoi(seeds: np.ndarray, clip: shapely.Geometry) -> list[shapely.Geometry]:
    """Voronoi cells of ``seeds`` clipped to ``clip``, in the order of the seeds."""
    if len(seeds) == 1:
        return [clip]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=clip))
    pts = shapely.points(seeds)
    out: list[shapely.Geometry] = [clip] * len(seeds)
    for cell in cells:
        hit = np.flatnonzero(shapely.contains(cell, pts))
        if len(hit):
            out[int(hit[0])] = shapely.intersection(cell, clip)
    return out


def _jittered_grid(k: int, box: tuple[float, float, float, float], rng: np.random.Generator) -> np.ndarray:
    """``k`` points spread over ``box`` (a jittered grid, so no cell is tiny)."""
    minx, miny, maxx, maxy = box
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    cells = rng.permutation(rows * cols)[:k]
    cx = (cells % cols + 0.5 + rng.uniform(-0.3, 0.3, k)) / cols
    cy = (cells // cols + 0.5 + rng.uniform(-0.3, 0.3, k)) / rows
    return np.c_[minx + cx * (maxx - minx), miny + cy * (maxy - miny)]


def _points_in(poly: shapely.Geometry, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` uniform points inside ``poly`` (rejection sampling)."""
    minx, miny, maxx, maxy = poly.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(poly)
    while got < k:
        m = max(16, 3 * (k - got))
        pts = np.c_[rng.uniform(minx, maxx, m), rng.uniform(miny, maxy, m)]
        inside = shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
        out.append(pts[inside])
        got += int(inside.sum())
    return np.concatenate(out)[:k]


def _clustered(poly: shapely.Geometry, k: int, centres: np.ndarray, weights: np.ndarray,
               sigma: float, rng: np.random.Generator) -> np.ndarray:
    """``k`` points inside ``poly``, normal clusters of ``sigma`` degrees around weighted centres."""
    if k == 0:
        return np.empty((0, 2))
    shapely.prepare(poly)
    p = weights / weights.sum()
    out: list[np.ndarray] = []
    got = 0
    while got < k:
        m = max(16, 2 * (k - got))
        c = centres[rng.choice(len(centres), size=m, p=p)]
        scale = sigma * rng.choice([0.5, 1.0, 2.0], size=(m, 1), p=[0.3, 0.5, 0.2])
        pts = c + rng.normal(0.0, 1.0, size=c.shape) * scale
        inside = shapely.contains_xy(poly, pts[:, 0], pts[:, 1])
        out.append(pts[inside])
        got += int(inside.sum())
    return np.concatenate(out)[:k]


def _geography(counties: int, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Townships (9 per county, nested in county Voronoi cells) and parks (2 per county)."""
    side_km = SIDE_KM * math.sqrt(counties / 8)
    lat0 = ORIGIN[1]
    dlon = side_km / (111.32 * math.cos(math.radians(lat0)))
    dlat = side_km / 110.54
    box = (ORIGIN[0] - dlon / 2, lat0 - dlat / 2, ORIGIN[0] + dlon / 2, lat0 + dlat / 2)
    area = shapely.box(*box)
    county_cells = _voronoi(_jittered_grid(counties, box, rng), area)
    rows: list[dict[str, object]] = []
    parks: list[dict[str, object]] = []
    syl = _COUNTY_SYLLABLES
    for c, cell in enumerate(county_cells):
        county = f"{syl[c % len(syl)]}{syl[(c * 7 + 3) % len(syl)]}{'县' if c % 3 else '区'}"
        if c >= len(syl):
            county = f"{county[:-1]}{c}{county[-1]}"
        seeds = _points_in(cell, 9, rng)
        for t, tcell in enumerate(_voronoi(seeds, cell)):
            suffix = _TOWN_SUFFIX[t]
            rows.append({"name": f"{county}第{t + 1}{suffix}", "kind": suffix, "county": county,
                         "geometry": tcell})
        # two parks in two of the street / town townships
        for j, t in enumerate(rng.choice(4, size=2, replace=False)):
            town = rows[-9 + int(t)]["geometry"]
            centre = shapely.Point(_points_in(shapely.buffer(town, -0.01) or town, 1, rng)[0])
            r = rng.uniform(0.012, 0.025)  # ~1.2 to 2.5 km
            blob = shapely.union_all([
                shapely.buffer(shapely.Point(centre.x + rng.normal(0, r / 2), centre.y + rng.normal(0, r / 2)),
                               r * rng.uniform(0.5, 1.0)) for _ in range(3)])
            shape = shapely.intersection(blob, town)
            if shape.geom_type != "Polygon":
                shape = max(shapely.get_parts(shape), key=lambda g: g.area)
            parks.append({"name": f"{county}{'经济开发区' if j == 0 else '工业园区'}", "county": county,
                          "geometry": shapely.simplify(shape, 0.0005)})
    towns = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    towns["geometry"] = shapely.make_valid(towns.geometry.to_numpy())
    return towns, gpd.GeoDataFrame(parks, crs="EPSG:4326")


def _locations(towns: gpd.GeoDataFrame, parks: gpd.GeoDataFrame, n: int,
               rng: np.random.Generator, park_share: float) -> np.ndarray:
    """Clustered enterprise points: ``park_share`` in the parks, the rest in town clusters."""
    in_parks = int(round(n * park_share))
    park_w = rng.pareto(1.5, len(parks)) + 1.0
    park_n = rng.multinomial(in_parks, park_w / park_w.sum())
    town_w = rng.pareto(1.2, len(towns)) + 0.3  # a few urban streets hold most firms
    town_n = rng.multinomial(n - in_parks, town_w / town_w.sum())
    out: list[np.ndarray] = []
    for poly, k in zip(parks.geometry, park_n, strict=True):
        centres = _points_in(poly, max(3, int(k) // 200 + 3), rng)
        out.append(_clustered(poly, int(k), centres, rng.pareto(1.5, len(centres)) + 1, 0.002, rng))
    for poly, k in zip(towns.geometry, town_n, strict=True):
        centres = _points_in(poly, max(4, int(k) // 80 + 4), rng)
        out.append(_clustered(poly, int(k), centres, rng.pareto(1.3, len(centres)) + 0.5, 0.005, rng))
    xy = np.concatenate(out)
    return xy[rng.permutation(len(xy))]


def _table(xy: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """The ledger's canonical columns for the points ``xy`` (county_gen's mix, vectorised)."""
    n = len(xy)
    staff = np.round(np.exp(rng.normal(2.6, 1.3, n))).astype(np.int64)
    tail = rng.random(n) < 0.004  # a heavy tail: a few thousand-staff employers
    staff[tail] = np.round(200 * (rng.pareto(1.1, int(tail.sum())) + 1)).astype(np.int64)
    staff = np.minimum(staff, 60_000)
    small = rng.random(n) < 0.28
    staff[small] = rng.integers(0, 6, size=int(small.sum()))
    fixed = rng.random(n) < 0.95
    above = (staff >= 50) & (rng.random(n) < 0.6)
    members = rng.choice([0, 1, 2, 3, 4, 5, 8, 12], size=n,
                         p=[0.52, 0.18, 0.1, 0.07, 0.05, 0.04, 0.025, 0.015])
    big = rng.random(n) < 0.008
    members[big] = rng.integers(45, 140, size=int(big.sum()))
    members = np.minimum(members, np.maximum(staff, 0))
    probationary = np.where(rng.random(n) < 0.1, 1, 0)
    probationary = np.minimum(probationary, np.maximum(staff - members, 0))
    org = np.full(n, "none", dtype=object)
    org_name = np.full(n, "", dtype=object)
    ids = usccs(np.arange(n) + 7)
    width = max(5, len(str(n)))
    names = np.array([f"示例{i:0{width}d}有限公司" for i in range(n)], dtype=object)
    own = (members >= 3) & (rng.random(n) < 0.6)
    org[own] = "own"
    org_name[own] = names[own] + "党支部"
    committee = own & (members + probationary >= 100) & (rng.random(n) < 0.5)
    org_name[committee] = names[committee] + "党委"
    general = own & (members + probationary > 50) & ~committee & (rng.random(n) < 0.5)
    org_name[general] = names[general] + "党总支"
    shell = (members < 3) & (rng.random(n) < 0.04)  # G4 empty shells
    org[shell] = "own"
    org_name[shell] = names[shell] + "党支部"
    attached = (org == "none") & (members >= 1) & (members < 3) & (rng.random(n) < 0.3)
    org[attached] = "attached"
    _joint(xy, org, org_name, members, staff, rng)
    members = np.minimum(members, np.maximum(staff, 0))
    instructor = np.full(n, "", dtype=object)
    have = np.flatnonzero((org == "none") & (rng.random(n) < 0.06))
    pool = np.array([f"指导员{k:04d}" for k in range(max(1, len(have) // 3))], dtype=object)
    instructor[have] = rng.choice(pool, size=len(have))
    industry = rng.choice(list("CFGHILMEO"), size=n)
    return pd.DataFrame({
        "uscc": ids, "name": names, "lon": xy[:, 0].round(6), "lat": xy[:, 1].round(6), "staff": staff,
        "fixed_premises": fixed, "above_scale": above, "members": members, "probationary": probationary,
        "org_type": org, "org_name": org_name, "instructor": instructor, "industry": industry,
    })


def _joint(xy: np.ndarray, org: np.ndarray, org_name: np.ndarray, members: np.ndarray,
           staff: np.ndarray, rng: np.random.Generator) -> None:
    """Existing joint organisations (in place): groups of nearby free enterprises; some obey
    O6/O7, some have too many units, too few members or lie too far apart."""
    n = len(xy)
    free = np.flatnonzero((org == "none") & (members < 3))
    if len(free) < 2:
        return
    lat0 = np.deg2rad(xy[:, 1].mean())
    metres = np.c_[xy[:, 0] * 111_320 * np.cos(lat0), xy[:, 1] * 110_540]
    tree = cKDTree(metres[free])
    taken = np.zeros(n, dtype=bool)
    anchors = rng.permutation(free)[: n // 25]
    kinds = rng.choice(["ok", "ok", "many", "few", "far"], size=len(anchors))
    g = 0
    for anchor, kind in zip(anchors, kinds, strict=True):
        if taken[anchor]:
            continue
        size = int(rng.integers(6, 8)) if kind == "many" else int(rng.integers(2, 6))
        if kind == "far":
            near = free[tree.query_ball_point(metres[anchor], 8000.0)]
            near = near[~taken[near]]
            near = near[np.argsort(-np.hypot(*(metres[near] - metres[anchor]).T), kind="stable")]
        else:
            _, idx = tree.query(metres[anchor], k=min(len(free), 24), distance_upper_bound=900.0)
            idx = idx[idx < len(free)]
            near = free[idx]
            near = near[~taken[near]]
        group = np.unique(np.r_[anchor, near[: size - 1]])
        if len(group) < 2:
            continue
        if kind == "few":
            members[group] = 0
            members[group[0]] = min(1, max(int(staff[group[0]]), 0))
        elif int(members[group].sum()) < 3 and kind == "ok":
            need = 3 - int(members[group].sum())
            members[group[0]] = min(members[group[0]] + need, 2)
            members[group[1]] = min(members[group[1]] + (3 - int(members[group].sum())), 2)
        taken[group] = True
        org[group] = "joint"
        org_name[group] = f"第{g:05d}联合党支部"
        g += 1


def make_city(folder: Path | str, n: int = 100_000, *, seed: int = 1, counties: int | None = None,
              park_share: float = 0.3, roster_share: float = 1 / 3) -> City:
    """Write a generated city (ledger, townships, parks, roster) into ``folder``.

    Parameters
    ----------
    folder
        Output folder (created).
    n
        Enterprises in the ledger (up to 1,000,000 and more).
    seed
        Seed of every random draw: the same seed gives the same files.
    counties
        Number of counties; default 8 per 100,000 enterprises (at least 8), so a million
        rows make an 80-county province over ~316 km × 316 km.
    park_share
        Share of the enterprises inside the parks.
    roster_share
        The roster holds about this share of the instructors the plan needs
        (3 enterprises each).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    k = counties if counties is not None else max(8, math.ceil(8 * n / 100_000))
    towns, parks = _geography(k, rng)
    xy = _locations(towns, parks, n, rng, park_share)
    table = _table(xy, rng)
    ledger = folder / "ledger.csv"
    table.assign(
        fixed_premises=np.where(table.fixed_premises, "是", "否"),
        above_scale=np.where(table.above_scale, "是", "否"),
        org_type=table.org_type.map(ORG_LABELS),
    ).rename(columns=HEADERS).to_csv(ledger, index=False, encoding="utf-8")
    towns_path = folder / "townships.geojson"
    towns.to_file(towns_path, driver="GeoJSON")
    parks_path = folder / "parks.geojson"
    parks.to_file(parks_path, driver="GeoJSON")
    # the roster: about ``roster_share`` of the instructors the plan will need (3 each)
    need = int(((table.org_type == "none") & (table.members == 0) & table.fixed_premises
                & (table.staff >= 6) & (table.instructor == "")).sum())
    r = max(1, int(round(need / 3 * roster_share)))
    area = shapely.union_all(towns.geometry.to_numpy())
    rxy = _clustered(area, r, xy[rng.choice(len(xy), size=min(len(xy), 500), replace=False)],
                     np.ones(min(len(xy), 500)), 0.01, rng)
    where = shapely.STRtree(towns.geometry.to_numpy()).query(shapely.points(rxy), predicate="within")
    township = np.full(r, "", dtype=object)
    township[where[0]] = towns.name.to_numpy()[where[1]]
    roster = pd.DataFrame({"name": [f"名册{j:05d}" for j in range(r)], "township": township,
                           "lon": rxy[:, 0].round(6), "lat": rxy[:, 1].round(6), "capacity": 3})
    roster_path = folder / "instructors.csv"
    roster.to_csv(roster_path, index=False, encoding="utf-8")
    log.info("city of %d enterprises, %d counties, %d townships, %d parks in %s",
             n, k, len(towns), len(parks), folder)
    return City(folder=folder, ledger=ledger, townships=towns_path, parks=parks_path,
                roster=roster_path, n=n, counties=k, n_townships=len(towns), n_parks=len(parks))


def main() -> None:
    """Command line: write a city into a folder."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--counties", type=int, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    make_city(args.out, args.n, seed=args.seed, counties=args.counties)


if __name__ == "__main__":
    main()
