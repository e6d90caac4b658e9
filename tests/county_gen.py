"""Generated county ledgers shaped like real ones, for checks that the bundled county cannot make.

Many existing joint organisations (kept ones, and ones the rules split: too many units,
too few members, too far apart, below-E1 units among them), empty shells, attached
enterprises, committees and general branches, ledger instructors (some overloaded) and
a roster short of what the plan needs. Points lie in the bundled county's townships and
parks, in clusters. Plain numpy/pandas/shapely: nothing of gridcover's planning code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridcover import datasets

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

HEADERS = {
    "uscc": "统一社会信用代码", "name": "企业名称", "lon": "经度", "lat": "纬度", "staff": "职工人数",
    "fixed_premises": "有无固定经营场所", "above_scale": "是否规上企业", "members": "正式党员数",
    "probationary": "预备党员数", "org_type": "党组织组建方式", "org_name": "所在党组织",
    "instructor": "党建工作指导员", "industry": "行业",
}
ORG_LABELS = {"own": "单独建", "joint": "联合建", "attached": "挂靠建", "none": "未建"}


def uscc(serial: int) -> str:
    """A valid 统一社会信用代码 (GB 32100-2015) for a serial number."""
    body = "91350799" + "".join(ALPHABET[(serial // 31**k) % 31] for k in range(9))[::-1]
    values = {c: i for i, c in enumerate(ALPHABET)}
    total = sum(values[c] * w for c, w in zip(body, WEIGHTS, strict=True))
    return body + ALPHABET[(31 - total % 31) % 31]


@dataclass(frozen=True)
class County:
    ledger: Path
    roster: Path
    townships: Path
    parks: Path
    table: pd.DataFrame  # canonical columns, one row per enterprise


def _points_in(polys: gpd.GeoSeries, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in clusters inside the union of ``polys`` (lon, lat)."""
    area = shapely.union_all(polys.to_numpy())
    minx, miny, maxx, maxy = area.bounds
    centres = []
    while len(centres) < max(8, n // 60):
        p = (rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if area.contains(shapely.Point(p)):
            centres.append(p)
    centres_arr = np.asarray(centres)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        c = centres_arr[rng.integers(len(centres_arr), size=4 * n)]
        pts = c + rng.normal(0.0, 0.006, size=c.shape)  # ~600 m clusters
        inside = shapely.contains_xy(area, pts[:, 0], pts[:, 1])
        out.append(pts[inside])
        got += int(inside.sum())
    return np.concatenate(out)[:n]


def make_county(folder: Path, n: int = 20_000, *, seed: int = 1, roster_share: float = 0.5) -> County:
    """Write a generated ledger (CSV) and a roster short by ``1 - roster_share`` into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    townships = gpd.read_file(datasets.get_path("townships")).to_crs("EPSG:4326")
    xy = _points_in(townships.geometry, n, rng)
    staff = np.round(np.exp(rng.normal(2.6, 1.3, n))).astype(int)
    small = rng.random(n) < 0.28
    staff[small] = rng.integers(0, 6, size=int(small.sum()))
    fixed = rng.random(n) < 0.95
    above = (staff >= 50) & (rng.random(n) < 0.6)
    members = rng.choice([0, 1, 2, 3, 4, 5, 8, 12], size=n, p=[0.52, 0.18, 0.1, 0.07, 0.05, 0.04, 0.025, 0.015])
    big = rng.random(n) < 0.008
    members[big] = rng.integers(45, 140, size=int(big.sum()))
    members = np.minimum(members, np.maximum(staff, 0))
    probationary = np.where(rng.random(n) < 0.1, 1, 0)
    probationary = np.minimum(probationary, np.maximum(staff - members, 0))
    org = np.full(n, "none", dtype=object)
    org_name = np.full(n, "", dtype=object)
    ids = np.array([uscc(i + 7) for i in range(n)], dtype=object)
    names = np.array([f"示例{i:05d}有限公司" for i in range(n)], dtype=object)
    # own organisations, with the level their name shows
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
    # joint organisations: groups of nearby enterprises, some obeying O6/O7, some not
    free = np.flatnonzero((org == "none") & (members < 3))
    rng.shuffle(free)
    taken = np.zeros(n, dtype=bool)
    lat0 = np.deg2rad(xy[:, 1].mean())
    metres = np.c_[xy[:, 0] * 111_320 * np.cos(lat0), xy[:, 1] * 110_540]
    g = 0
    for anchor in free[: n // 25]:
        if taken[anchor]:
            continue
        kind = rng.choice(["ok", "ok", "many", "few", "far"])
        size = int(rng.integers(6, 8)) if kind == "many" else int(rng.integers(2, 6))
        d = np.hypot(*(metres[free] - metres[anchor]).T)
        radius = 8000.0 if kind == "far" else 900.0
        near = free[(d < radius) & ~taken[free]]
        if kind == "far":
            near = near[np.argsort(-np.hypot(*(metres[near] - metres[anchor]).T))]
        else:
            near = near[np.argsort(np.hypot(*(metres[near] - metres[anchor]).T))]
        group = np.unique(np.r_[anchor, near[: size - 1]])
        if len(group) < 2:
            continue
        if kind == "few":
            members[group] = np.minimum(members[group], 0)
            members[group[0]] = min(1, max(staff[group[0]], 0))
        elif int(members[group].sum()) < 3 and kind == "ok":
            need = 3 - int(members[group].sum())
            members[group[0]] = min(members[group[0]] + need, 2)
            members[group[1]] = min(members[group[1]] + (3 - int(members[group].sum())), 2)
        taken[group] = True
        org[group] = "joint"
        org_name[group] = f"第{g:04d}联合党支部"
        g += 1
    members = np.minimum(members, np.maximum(staff, 0))
    # ledger instructors: some enterprises without an organisation, a few instructors overloaded
    instructor = np.full(n, "", dtype=object)
    have = np.flatnonzero((org == "none") & (rng.random(n) < 0.06))
    pool = [f"指导员{k:03d}" for k in range(max(1, len(have) // 3))]
    instructor[have] = rng.choice(pool, size=len(have))
    industry = rng.choice(list("CFGHILMEO"), size=n)
    table = pd.DataFrame({
        "uscc": ids, "name": names, "lon": xy[:, 0].round(6), "lat": xy[:, 1].round(6), "staff": staff,
        "fixed_premises": np.where(fixed, "是", "否"), "above_scale": np.where(above, "是", "否"),
        "members": members, "probationary": probationary, "org_type": [ORG_LABELS[o] for o in org],
        "org_name": org_name, "instructor": instructor, "industry": industry,
    })
    ledger = folder / "ledger.csv"
    table.rename(columns=HEADERS).to_csv(ledger, index=False, encoding="utf-8")
    # the roster: about ``roster_share`` of the instructors the plan will need (3 enterprises each)
    need = int(((org == "none") & (members == 0) & fixed & (staff >= 6) & (instructor == "")).sum())
    k = max(1, int(round(need / 3 * roster_share)))
    rxy = _points_in(townships.geometry, k, rng)
    roster = pd.DataFrame({"name": [f"名册{j:04d}" for j in range(k)], "lon": rxy[:, 0].round(6),
                           "lat": rxy[:, 1].round(6), "capacity": 3})
    roster_path = folder / "instructors.csv"
    roster.to_csv(roster_path, index=False, encoding="utf-8")
    canon = table.assign(
        org_type=org, fixed_premises=fixed, above_scale=above).set_index("uscc")
    return County(ledger=ledger, roster=roster_path, townships=datasets.get_path("townships"),
                  parks=datasets.get_path("parks"), table=canon)
