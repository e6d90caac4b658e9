"""Generator of the bundled synthetic sample county (青岚县（虚构示例）).

Everything here is synthetic: the county, its townships (乡镇街道), parks (园区),
villages, enterprises, instructors and service centres are invented, with fictional
names, placed around lon 118.5, lat 26.5 so that the coordinate systems of Chinese
ledgers (WGS-84, GCJ-02, BD-09) behave as they do in a real county. The ledger
(台账) is shaped like the seed county of RULES.md: about 2,000 enterprises, exactly
496 above-scale (规上) of which 44 have their own organisation (单独建, 8.87 %),
heavy-tailed staff counts, most enterprises with 0–2 formal members, existing joint
organisations (联合建) — a few too large (G5) or too spread out (O7) — attached
ones (挂靠建), empty-shell branches (G4), and a handful of planted bad rows.

Run ``python -m gridcover.sample [--out data] [--seed 20240601]``; the output is
byte-identical for a given seed (seeded :class:`numpy.random.Generator`, fixed
formatting, fixed XLSX timestamps).

Examples
--------
>>> from gridcover.sample import build_sample
>>> county = build_sample()
>>> int(county.summary["above_scale"]), int(county.summary["above_scale_own"])
(496, 44)
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPoint, Point, Polygon

from ._uscc import ALPHABET, make_uscc
from .coords import wgs84_to_bd09, wgs84_to_gcj02

__all__ = [
    "COUNTY_NAME",
    "DEFAULT_SEED",
    "LEDGER_HEADERS",
    "LEDGER_TITLE",
    "SampleCounty",
    "build_sample",
    "main",
    "write_sample",
]

logger = logging.getLogger(__name__)

#: Seed of the committed sample (``data/``).
DEFAULT_SEED: Final = 20240601
#: The fictional county.
COUNTY_NAME: Final = "青岚县（虚构示例）"
_COUNTY: Final = "青岚县"
#: Fictional city and (real) province prefixes some addresses carry.
_ADDRESS_PREFIX: Final = "福建省岚江市"
#: Merged title row above the ledger's header row.
LEDGER_TITLE: Final = "青岚县非公企业党建工作台账（合成数据，仅供演示）"
#: The ledger's Chinese header row (DESIGN.md ledger contract), in column order.
LEDGER_HEADERS: Final = (
    "统一社会信用代码", "企业名称", "地址", "经度", "纬度", "坐标系", "乡镇（街道）", "村（社区）",
    "所属园区", "行业门类", "职工人数", "有无固定经营场所", "是否规上企业", "正式党员数",
    "预备党员数", "党组织组建方式", "党组织名称", "党建工作指导员", "出资人是否党员",
)

# --- the shape of the county (figures of the seed county) ------------------------------
N_ENTERPRISES: Final = 2000  # good rows (every one is in truth.csv)
N_ABOVE_SCALE: Final = 496  # M3 denominator of the seed county
N_ABOVE_SCALE_OWN: Final = 44  # M3 numerator: 44 / 496 = 8.87 %
N_OTHER_OWN: Final = 24  # own organisations (单独建) of smaller enterprises with 3+ members
N_SHELLS: Final = 5  # G4: 单独建 with fewer than 3 formal members
N_ATTACHED: Final = 70  # 挂靠建
N_JOINT_GROUPS: Final = 26  # existing joint organisations (联合建) that obey O6/O7
N_ADDRESS_ONLY: Final = 160  # ~8 %: address resolves through the gazetteer
N_VILLAGE_SCATTER: Final = 380  # enterprises scattered around villages (the rest: parks, seats)
VILLAGE_SCATTER_M: Final = 350.0
N_TOWNSHIP_ONLY: Final = 6  # address resolves only to the township
N_CONFLICTS: Final = 5  # declared township disagrees with an exact point
SHARE_GCJ02: Final = 0.10
SHARE_BD09: Final = 0.05
N_ROSTER: Final = 40  # instructors available (W1: mostly 3 enterprises each)
N_EXISTING_INSTRUCTED: Final = 330  # enterprises that already have an instructor
INSTRUCTED_ZERO_WEIGHT: Final = 4.0  # enterprises without members are that many times likelier to have one
MEMBERS_BASE_RATE: Final = 0.3  # Poisson rate of formal members that does not grow with staff

# --- local metric frame around the county centre ---------------------------------------
LON0: Final = 118.5
LAT0: Final = 26.5
_M_PER_DEG_LAT: Final = 110_574.0
_M_PER_DEG_LON: Final = 111_320.0 * math.cos(math.radians(LAT0))
_HALF_WIDTH_M: Final = 20_000.0  # county about 40 km east-west
_HALF_HEIGHT_M: Final = 15_000.0  # and 30 km north-south
_BOUNDARY_CLEAR_M: Final = 15.0  # enterprise points keep off unit boundaries (unambiguous truth)

# name, short form, villages, communities, share of the seat clusters, cluster sigma (m)
_TOWNSHIPS: Final = (
    ("城关街道", "城关", 3, 10, 0.30, 1700.0),
    ("东城街道", "东城", 5, 6, 0.15, 1300.0),
    ("青龙镇", "青龙", 12, 1, 0.08, 1100.0),
    ("白沙镇", "白沙", 11, 1, 0.08, 1100.0),
    ("石门镇", "石门", 10, 0, 0.07, 1000.0),
    ("溪口镇", "溪口", 12, 1, 0.08, 1100.0),
    ("凤岭镇", "凤岭", 9, 0, 0.06, 1000.0),
    ("龙湾镇", "龙湾", 10, 1, 0.07, 1000.0),
    ("桃源乡", "桃源", 9, 0, 0.05, 900.0),
    ("云台乡", "云台", 8, 0, 0.06, 900.0),
)
# name, size (m), enterprises placed uniformly inside, road in the gazetteer
_PARKS: Final = (
    ("青岚经济开发区", (3600.0, 2300.0), 300, "创业大道"),
    ("高新技术产业园", (2300.0, 1500.0), 170, "科创路"),
    ("金山工业集中区", (1800.0, 1200.0), 90, "兴业路"),
)
_TOWN_ROADS: Final = (("人民路", 0), ("滨江路", 0), ("东环路", 1), ("青龙街", 2), ("溪口大街", 5))

_VILLAGE_FIRST: Final = "上下前后大小新老高水岭坑洋坂桥林竹枫桃梅茶马牛黄长横中半塘湖岩樟柏杉蒲田"
_VILLAGE_SECOND: Final = "桥洋坂头尾坑岭林厝墩垄坪田湾岗洲埔源亭寮里园塘岩洞畲际"
_COMMUNITIES: Final = (
    "南门", "北门", "东关", "西关", "文昌", "府前", "学前", "河滨", "新华", "锦绣", "振兴",
    "桥南", "兴贤", "朝阳", "丰乐", "望江", "和平", "清源", "光明", "育才", "龙泉", "安泰",
)
_BRAND: Final = "鑫达恒泰宏远顺华盛源隆昌兴荣鼎丰瑞祥汇通锦腾博越佳誉诚信益凯宇海川峰森永安康乐福德润嘉骏豪展伟"
_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹曾彭肖蔡潘田董袁于余叶蒋杜苏魏程吕丁沈"
    "任姚卢傅钟姜崔谭廖范汪陆金石戴贾韦夏邱方侯邹熊孟秦白江薛尹段雷黎史陶贺顾毛郝龚邵万钱严赖洪武莫孔"
)
_GIVEN: Final = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玲萍红斌宇鹏飞俊峰琳欣怡晨阳浩思雨婷瑶凯健波亮海燕梅兰春秋雪晓志国良德福荣新民永生玉"

# GB/T 4754-2017 sections: words of business names, range of the 2-digit 大类 codes
_INDUSTRY: Final = {
    "A": (("生态农业", "茶叶种植", "农业开发", "林业"), (1, 5)),
    "C": (("机械制造", "竹木制品", "食品", "纺织", "电子科技", "新材料", "茶业", "塑胶制品", "五金",
           "建材", "汽车配件", "包装材料", "服装", "家具", "制药"), (13, 43)),
    "D": (("水务", "新能源", "燃气"), (44, 46)),
    "E": (("建设工程", "建筑工程", "装饰工程", "市政工程", "园林工程"), (47, 50)),
    "F": (("商贸", "贸易", "超市", "建材商行", "农资", "医药连锁", "汽车销售"), (51, 52)),
    "G": (("物流", "运输", "快递", "仓储"), (53, 60)),
    "H": (("酒店", "餐饮管理", "大酒店", "农家乐"), (61, 62)),
    "I": (("网络科技", "信息技术", "软件"), (63, 65)),
    "K": (("房地产开发", "物业管理"), (70, 70)),
    "L": (("商务咨询", "人力资源", "广告", "会展服务"), (71, 72)),
    "M": (("检测", "工程设计", "技术服务", "勘测"), (73, 75)),
    "O": (("汽车维修", "家政服务", "洗涤", "美容美发"), (80, 82)),
    "P": (("职业培训学校",), (83, 83)),
}
_SECTION_NAMES: Final = {
    "A": "农、林、牧、渔业", "C": "制造业", "D": "电力、热力、燃气及水生产和供应业", "E": "建筑业",
    "F": "批发和零售业", "G": "交通运输、仓储和邮政业", "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业", "K": "房地产业", "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业", "O": "居民服务、修理和其他服务业", "P": "教育",
}
# industry mix by where an enterprise sits
_MIX: Final = {
    "park": {"C": 0.68, "M": 0.08, "G": 0.08, "I": 0.04, "D": 0.03, "F": 0.05, "L": 0.04},
    "seat": {"F": 0.27, "C": 0.15, "E": 0.12, "H": 0.11, "L": 0.08, "O": 0.10, "G": 0.06, "M": 0.04,
             "K": 0.04, "I": 0.02, "P": 0.01},
    "village": {"C": 0.30, "A": 0.20, "E": 0.12, "F": 0.12, "O": 0.09, "H": 0.09, "G": 0.08},
}
#: Division codes (USCC characters 3–8) of the registering authority: the fictional county
#: 350799 (no such county exists) and, for some, its prefecture.
_DIVISIONS: Final = ("350799", "350799", "350799", "350799", "350700")


@dataclass(frozen=True)
class SampleCounty:
    """The generated sample county, as tables ready to be written.

    Attributes
    ----------
    county
        The county outline, EPSG:4326 (rounded to 6 decimals).
    townships, parks
        ``name`` and ``geometry`` (EPSG:4326 polygons, 6 decimals); townships tile the county.
    gazetteer
        ``name, township, lon, lat, kind`` (village/community/park/road/township).
    service_centres
        ``name, township, lon, lat``.
    instructors
        ``name, township, lon, lat, capacity`` (lon/lat NaN for roster rows without a point).
    ledger
        The ledger's cells as written (Chinese headers, str/int/float or None for blank).
    truth
        ``uscc, true_lon, true_lat, true_township, true_park`` for every good row.
    summary
        Figures for ``data/README.md`` and the tests.
    seed
        The seed it was built with.
    """

    county: Polygon
    townships: pd.DataFrame
    parks: pd.DataFrame
    gazetteer: pd.DataFrame
    service_centres: pd.DataFrame
    instructors: pd.DataFrame
    ledger: pd.DataFrame
    truth: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    seed: int = DEFAULT_SEED


# =======================================================================================
# geometry helpers (metres in a local equirectangular frame; exact numpy arithmetic)
# =======================================================================================
def _to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return LON0 + np.asarray(x) / _M_PER_DEG_LON, LAT0 + np.asarray(y) / _M_PER_DEG_LAT


def _geom_to_lonlat(geom: Any) -> Any:
    """A metric geometry in EPSG:4326, coordinates rounded to 6 decimals."""

    def fn(coords: np.ndarray) -> np.ndarray:
        lon, lat = _to_lonlat(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), 6)

    return shapely.remove_repeated_points(shapely.transform(geom, fn), 0.0)


def _county_polygon(rng: np.random.Generator) -> Polygon:
    """A smooth irregular outline about 40 km × 30 km (metres)."""
    theta = np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 9):
        r += rng.uniform(0.04, 0.09) / (k - 1) ** 0.8 * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    r += rng.normal(0.0, 0.008, theta.size)
    return Polygon(np.column_stack([_HALF_WIDTH_M * r * np.cos(theta), _HALF_HEIGHT_M * r * np.sin(theta)]))


def _uniform_in(poly: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly inside ``poly`` (metres), by rejection in its bounding box."""
    x0, y0, x1, y1 = poly.bounds
    out: list[np.ndarray] = []
    got = 0
    shapely.prepare(poly)
    while got < n:
        cand = np.column_stack([rng.uniform(x0, x1, 4 * n + 16), rng.uniform(y0, y1, 4 * n + 16)])
        keep = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out.append(keep)
        got += len(keep)
    return np.concatenate(out)[:n]


def _spaced_points(region: Any, n: int, rng: np.random.Generator, *, min_dist: float,
                   avoid: np.ndarray | None = None, avoid_dist: float = 0.0) -> np.ndarray:
    """Up to ``n`` points in ``region`` at least ``min_dist`` apart (greedy dart throwing)."""
    pts: list[np.ndarray] = []
    for _attempt in range(30):
        pts = []
        for c in _uniform_in(region, 60 * n, rng):
            if avoid is not None and len(avoid) and np.min(np.hypot(*(avoid - c).T)) < avoid_dist:
                continue
            if pts and np.min(np.hypot(*(np.asarray(pts) - c).T)) < min_dist:
                continue
            pts.append(c)
            if len(pts) == n:
                return np.asarray(pts)
    if len(pts) < n:
        msg = f"could only place {len(pts)} of {n} points {min_dist:.0f} m apart"
        raise RuntimeError(msg)
    return np.asarray(pts)


def _blob(cx: float, cy: float, w: float, h: float, angle: float, rng: np.random.Generator) -> Polygon:
    """A slightly irregular rotated rectangle (a park outline), metres."""
    base = np.array([[-1, -1], [0, -1], [1, -1], [1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0]], dtype=float)
    base += rng.uniform(-0.08, 0.08, base.shape)
    base[:, 0] *= w / 2
    base[:, 1] *= h / 2
    c, s = math.cos(angle), math.sin(angle)
    rot = base @ np.array([[c, s], [-s, c]])
    return Polygon(rot + [cx, cy])


# =======================================================================================
# jurisdictions
# =======================================================================================
def _township_seeds(county: Polygon, rng: np.random.Generator) -> np.ndarray:
    """Seats of the ten townships: 城关 near the centre, 东城 east of it, the rest around."""
    cg = np.array([rng.uniform(-1500, 1500), rng.uniform(-1200, 1200)])
    ang = rng.uniform(-0.3, 0.3)
    dc = cg + 6800.0 * np.array([math.cos(ang), math.sin(ang)])
    inner = county.buffer(-3500.0)
    others = _spaced_points(inner, 8, rng, min_dist=7500.0, avoid=np.vstack([cg, dc]), avoid_dist=7500.0)
    order = np.argsort(np.arctan2(others[:, 1] - cg[1], others[:, 0] - cg[0]), kind="stable")
    return np.vstack([cg, dc, others[order]])


def _township_cells(county: Polygon, seeds: np.ndarray) -> list[Polygon]:
    """Voronoi cells of the seats clipped to the county (metres), in seed order."""
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=county.buffer(10_000.0))
    polys = list(shapely.get_parts(cells))
    out: list[Polygon] = []
    for sx, sy in seeds:
        cell = next(p for p in polys if p.contains(Point(sx, sy)))
        clipped = shapely.intersection(cell, county)
        if clipped.geom_type != "Polygon":
            msg = "a township cell falls apart into several pieces; try another seed"
            raise RuntimeError(msg)
        out.append(clipped)
    return out


def _parks_m(cells: list[Polygon], seeds: np.ndarray, county: Polygon,
             rng: np.random.Generator) -> list[Polygon]:
    """Three parks: the development zone straddles 城关/东城, the others lie in one township."""
    parks: list[Polygon] = []
    # 青岚经济开发区: across the 城关–东城 border, long axis along the seats' line
    (w, h) = _PARKS[0][1]
    d = seeds[1] - seeds[0]
    ang = math.atan2(d[1], d[0])
    normal = np.array([-math.sin(ang), math.cos(ang)])
    for _ in range(200):
        c = (seeds[0] + seeds[1]) / 2 + normal * rng.uniform(-2500, -1200)
        p = _blob(c[0], c[1], w, h, ang + rng.uniform(-0.25, 0.25), rng)
        shares = [p.intersection(cells[i]).area / p.area for i in (0, 1)]
        if min(shares) > 0.3 and county.buffer(-1000).contains(p):
            parks.append(p)
            break
    # 高新技术产业园 in 城关 (away from 东城); 金山工业集中区 in 青龙镇
    for (name, (w, h), _n, _road), t in zip(_PARKS[1:], (0, 2), strict=True):
        for _ in range(500):
            away = rng.uniform(0, 2 * np.pi)
            c = seeds[t] + rng.uniform(2200, 3800) * np.array([math.cos(away), math.sin(away)])
            p = _blob(c[0], c[1], w, h, rng.uniform(0, np.pi), rng)
            if (cells[t].buffer(-300).contains(p) and all(p.distance(q) > 1500 for q in parks)
                    and p.distance(Point(seeds[t])) > 1000):
                parks.append(p)
                break
        else:
            msg = f"could not place park {name}"
            raise RuntimeError(msg)
    if len(parks) != len(_PARKS):
        msg = "could not place the development zone across two townships"
        raise RuntimeError(msg)
    return parks


def _pip(polys: Sequence[Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (-1 when none)."""
    out = np.full(len(x), -1, dtype=np.int64)
    for i, p in enumerate(polys):
        out[shapely.contains_xy(p, x, y) & (out < 0)] = i
    return out


def _in_any(polys: Sequence[Any], lonlat: tuple[float, float]) -> bool:
    return bool(_pip(polys, np.array([lonlat[0]]), np.array([lonlat[1]]))[0] >= 0)


def _boundary_distance(polys: Sequence[Any], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    pts = shapely.points(x, y)
    lines = shapely.union_all([p.boundary for p in polys])
    return shapely.distance(pts, lines)


# =======================================================================================
# names
# =======================================================================================
def _village_names(rng: np.random.Generator, n: int, banned: Sequence[str]) -> list[str]:
    pool = sorted({a + b for a in _VILLAGE_FIRST for b in _VILLAGE_SECOND if a != b})
    pool = [v for v in pool if not any(v in s or s in v for s in banned)]
    picked = rng.choice(len(pool), size=n, replace=False)
    return [pool[i] for i in picked]


def _person_names(rng: np.random.Generator, n: int, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        name = rng.choice(list(_SURNAMES)) + "".join(rng.choice(list(_GIVEN), size=rng.choice([1, 2])))
        if name not in taken:
            taken.add(name)
            out.append(str(name))
    return out


def _company_name(rng: np.random.Generator, section: str, staff: int, taken: set[str]) -> str:
    words = _INDUSTRY[section][0]
    while True:
        brand = "".join(rng.choice(list(_BRAND), size=2, replace=False))
        word = words[rng.integers(len(words))]
        if staff < 6 and section in "FHO" and rng.random() < 0.5:
            suffix = ("商行", "经营部", "店")[rng.integers(3)]
        elif staff >= 300 and rng.random() < 0.5:
            suffix = "股份有限公司"
        else:
            suffix = "有限公司" if rng.random() < 0.85 else "有限责任公司"
        prefix = _COUNTY if rng.random() < 0.55 else ("福建" if rng.random() < 0.15 else "")
        name = f"{prefix}{brand}{word}{suffix}"
        if name not in taken:
            taken.add(name)
            return name


# =======================================================================================
# the build
# =======================================================================================
@dataclass(frozen=True)
class _Geography:
    """Jurisdictions: metric geometries to generate with, rounded EPSG:4326 ones as written."""

    seeds: np.ndarray  # township seats (metres), in _TOWNSHIPS order
    cells_m: list[Polygon]
    parks_m: list[Polygon]
    county: Polygon
    town_geo: list[Polygon]
    park_geo: list[Polygon]

    def locate(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rounded lon/lat and township/park index (-1 when none) of metric points."""
        lon, lat = _to_lonlat(x, y)
        lon, lat = np.round(lon, 6), np.round(lat, 6)
        return lon, lat, _pip(self.town_geo, lon, lat), _pip(self.park_geo, lon, lat)


@dataclass(frozen=True)
class _Places:
    """The gazetteer, and the villages/communities with their metric points."""

    gazetteer: pd.DataFrame
    villages: pd.DataFrame  # name, kind, t (township index), x, y (metres)
    park_town: np.ndarray  # township index of each park's gazetteer point


def _geography(rng: np.random.Generator) -> _Geography:
    county_m = _county_polygon(rng)
    seeds = _township_seeds(county_m, rng)
    cells_m = _township_cells(county_m, seeds)
    parks_m = _parks_m(cells_m, seeds, county_m, rng)
    town_geo = [_geom_to_lonlat(c) for c in cells_m]
    park_geo = [_geom_to_lonlat(p) for p in parks_m]
    for g in (*town_geo, *park_geo):
        shapely.prepare(g)
    return _Geography(seeds=seeds, cells_m=cells_m, parks_m=parks_m, county=_geom_to_lonlat(county_m),
                      town_geo=town_geo, park_geo=park_geo)


def _places(rng: np.random.Generator, geo: _Geography) -> _Places:
    """Township seats, villages (村) and communities (社区), parks and a few roads."""
    town_names = [t[0] for t in _TOWNSHIPS]
    n_vill = sum(t[2] for t in _TOWNSHIPS)
    banned = [t[1] for t in _TOWNSHIPS] + ["青岚", "岚江", "金山", "开发", "高新", "科创", "兴业", "创业"]
    vnames = iter(_village_names(rng, n_vill, banned))
    cnames = iter(rng.permutation(np.array(_COMMUNITIES)).tolist())
    parks_buf = shapely.union_all([p.buffer(400.0) for p in geo.parks_m])
    gaz: list[dict[str, Any]] = []
    villages: list[dict[str, Any]] = []
    for t, (tname, _short, nv, nc, _w, _s) in enumerate(_TOWNSHIPS):
        lon, lat = _to_lonlat(geo.seeds[t, 0], geo.seeds[t, 1])
        gaz.append({"name": tname, "township": tname, "lon": round(float(lon), 6),
                    "lat": round(float(lat), 6), "kind": "township"})
        region = geo.cells_m[t].buffer(-500.0).difference(parks_buf)
        pts = _spaced_points(region, nv + nc, rng, min_dist=1100.0 if t > 1 else 700.0,
                             avoid=geo.seeds[t:t + 1], avoid_dist=600.0)
        # communities (社区) nearest the seat, villages (村) further out
        order = np.argsort(np.hypot(*(pts - geo.seeds[t]).T), kind="stable")
        for rank, i in enumerate(order):
            kind = "community" if rank < nc else "village"
            name = (next(cnames) + "社区") if kind == "community" else (next(vnames) + "村")
            villages.append({"name": name, "kind": kind, "t": t, "x": pts[i, 0], "y": pts[i, 1]})
    vill = pd.DataFrame(villages)
    vlon, vlat, vtown, vpark = geo.locate(vill["x"].to_numpy(), vill["y"].to_numpy())
    if not ((vtown == vill["t"].to_numpy()).all() and (vpark < 0).all()):
        msg = "a village point left its township"
        raise RuntimeError(msg)
    for v, lo, la in zip(villages, vlon, vlat, strict=True):
        gaz.append({"name": v["name"], "township": town_names[v["t"]], "lon": float(lo), "lat": float(la),
                    "kind": v["kind"]})
    park_town: list[int] = []
    for j, p in enumerate(geo.park_geo):
        lo, la = (round(c, 6) for c in p.representative_point().coords[0])
        tj = int(_pip(geo.town_geo, np.array([lo]), np.array([la]))[0])
        park_town.append(tj)
        gaz.append({"name": _PARKS[j][0], "township": town_names[tj], "lon": lo, "lat": la, "kind": "park"})
    regions = []
    for j, park in enumerate(_PARKS):  # a park road in the part of the park holding its point
        regions.append((park[3], geo.parks_m[j].buffer(-250.0).intersection(
            geo.cells_m[park_town[j]].buffer(-250.0))))
    for road, t in _TOWN_ROADS:  # town roads near the seat, outside parks
        regions.append((road, geo.cells_m[t].buffer(-400.0).difference(parks_buf)
                        .intersection(Point(geo.seeds[t]).buffer(1500.0))))
    for road, region in regions:
        xy = _uniform_in(region, 1, rng)
        lo, la, tt, _pp = geo.locate(xy[:, 0], xy[:, 1])
        gaz.append({"name": road, "township": town_names[tt[0]], "lon": float(lo[0]), "lat": float(la[0]),
                    "kind": "road"})
    gazetteer = pd.DataFrame(gaz, columns=["name", "township", "lon", "lat", "kind"])
    return _Places(gazetteer=gazetteer, villages=vill, park_town=np.asarray(park_town))


def _place_enterprises(rng: np.random.Generator, geo: _Geography,
                       villages: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (metres) of the good enterprises: dense in parks, clustered around township
    seats, scattered around villages. Returns ``xy``, the group (park/seat/village) and
    the home village (-1 for park and seat enterprises)."""
    vxy = villages[["x", "y"]].to_numpy()
    vt = villages["t"].to_numpy()
    n_park = sum(p[2] for p in _PARKS)
    n_seat = N_ENTERPRISES - n_park - N_VILLAGE_SCATTER
    park_of = np.repeat(np.arange(len(_PARKS)), [p[2] for p in _PARKS])
    weights = np.array([t[4] for t in _TOWNSHIPS])
    seat_t = rng.choice(len(_TOWNSHIPS), size=n_seat, p=weights / weights.sum())
    sigma = np.array([t[5] for t in _TOWNSHIPS])
    home = rng.integers(0, len(villages), N_VILLAGE_SCATTER)
    grp = np.array(["park"] * n_park + ["seat"] * n_seat + ["village"] * N_VILLAGE_SCATTER)
    hv = np.concatenate([np.full(n_park + n_seat, -1), home])
    inner = [p.buffer(-30.0) for p in geo.parks_m]

    def draw(i: int) -> np.ndarray:
        if i < n_park:
            return _uniform_in(inner[park_of[i]], 1, rng)[0]
        if i < n_park + n_seat:
            t = seat_t[i - n_park]
            return geo.seeds[t] + rng.normal(0.0, 1.0, 2) * sigma[t]
        return vxy[hv[i]] + rng.normal(0.0, VILLAGE_SCATTER_M, 2)

    xy = np.concatenate([
        *(_uniform_in(inner[j], p[2], rng) for j, p in enumerate(_PARKS)),
        geo.seeds[seat_t] + rng.normal(0.0, 1.0, (n_seat, 2)) * sigma[seat_t][:, None],
        vxy[home] + rng.normal(0.0, VILLAGE_SCATTER_M, (N_VILLAGE_SCATTER, 2)),
    ])
    all_polys = [*geo.cells_m, *geo.parks_m]
    # redraw points that leave the county or sit on a boundary (the truth must be
    # unambiguous), park points that leave their park, and village points that leave
    # their village's township or enter a park (so their address resolves cleanly)
    for _ in range(50):
        _lon, _lat, town, park = geo.locate(xy[:, 0], xy[:, 1])
        bad = (town < 0) | (_boundary_distance(all_polys, xy[:, 0], xy[:, 1]) < _BOUNDARY_CLEAR_M)
        bad |= (grp == "park") & (park < 0)
        vmask = grp == "village"
        bad[vmask] |= (town[vmask] != vt[hv[vmask]]) | (park[vmask] >= 0)
        if not bad.any():
            return xy, grp, hv
        for i in np.flatnonzero(bad):
            xy[i] = draw(int(i))
    msg = "could not place every enterprise inside the county"  # pragma: no cover
    raise RuntimeError(msg)  # pragma: no cover


def _attributes(rng: np.random.Generator, grp: np.ndarray) -> dict[str, np.ndarray]:
    """Industry section, staff (heavy-tailed), above-scale (exactly 496), formal and
    probationary members, fixed premises."""
    n = len(grp)
    sections = np.empty(n, dtype=object)
    for g, mix in _MIX.items():
        m = grp == g
        keys = list(mix)
        pr = np.array([mix[k] for k in keys])
        sections[m] = np.array(keys, dtype=object)[rng.choice(len(keys), size=int(m.sum()), p=pr / pr.sum())]
    # lognormal staff: about a quarter under 6 (E1), a few over 1,000
    mu = np.select([grp == "park", grp == "village"], [3.4, 2.3], 2.4)
    staff = np.clip(np.rint(np.exp(rng.normal(mu, 1.36))), 1, 4200).astype(np.int64)
    big = np.flatnonzero(grp == "park")[:3]  # the largest employers, in the parks
    staff[big] = [1860, 1240, 1085]
    sections[big] = "C"
    # above-scale (规上): the larger ones, industry/construction/trade more often
    score = staff.astype(float) ** 1.3 * np.where(np.isin(sections, ["C", "E", "F", "D"]), 1.6, 1.0)
    pool = np.setdiff1d(np.flatnonzero(staff >= 12), big)
    above = np.zeros(n, dtype=bool)
    above[big] = True
    above[rng.choice(pool, size=N_ABOVE_SCALE - len(big), replace=False, p=score[pool] / score[pool].sum())] = True
    # formal members: overdispersed Poisson growing with staff; most have 0–2
    lam = 0.028 * staff.astype(float) ** 0.92 * rng.gamma(0.7, 1 / 0.7, n) + MEMBERS_BASE_RATE
    lam *= np.where(above, 1.4, 1.0)
    members = np.minimum(rng.poisson(lam), staff).astype(np.int64)
    members[big[:2]] = [108, 62]  # O4 / O3: a committee-size and a general-branch-size membership
    probationary = np.where(rng.random(n) < 0.03 + 0.004 * np.minimum(members, 10), 1, 0)
    probationary = np.minimum(probationary, np.maximum(staff - members, 0)).astype(np.int64)
    fixed = rng.random(n) >= np.where((staff < 6) & np.isin(sections, ["F", "O", "E", "G"]), 0.22, 0.03)
    fixed[above] = True
    return {"section": sections, "staff": staff, "above": above, "members": members,
            "probationary": probationary, "fixed": fixed, "big": big}


def _organisations(rng: np.random.Generator, f: pd.DataFrame, big: np.ndarray,
                   village_names: list[str]) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, str]]]:
    """Organisation code and 党组织名称 of each enterprise, and the joint groups."""
    n = len(f)
    members, above = f["members"].to_numpy(), f["above"].to_numpy()
    staff, fixed = f["staff"].to_numpy(), f["fixed"].to_numpy()
    town, park, vill = f["town"].to_numpy(), f["park"].to_numpy(), f["village"].to_numpy()
    town_names = [t[0] for t in _TOWNSHIPS]
    org = np.array(["none"] * n, dtype=object)
    org_name = np.array([""] * n, dtype=object)
    # M3: exactly 44 above-scale enterprises with their own organisation (单独建)
    cand = np.setdiff1d(np.flatnonzero(above & (members >= 3)), big[:2])
    w_own = members[cand].astype(float)
    org[big[:2]] = "own"
    org[rng.choice(cand, N_ABOVE_SCALE_OWN - 2, replace=False, p=w_own / w_own.sum())] = "own"
    cand = np.flatnonzero(~above & (members >= 3))
    org[rng.choice(cand, N_OTHER_OWN, replace=False)] = "own"
    # G4: empty-shell branches (单独建 with fewer than 3 formal members)
    cand = np.flatnonzero(~above & (members <= 2) & (staff >= 6) & fixed)
    org[rng.choice(cand, N_SHELLS, replace=False)] = "own"
    for i in np.flatnonzero(org == "own"):
        org_name[i] = f"{f['name'].iat[i]}{'党委' if members[i] >= 100 else '党支部'}"
    groups = _joint_groups(rng, f[["x", "y"]].to_numpy(), f["unit_key"].to_numpy(), members, staff, fixed, org)
    for k, (idx, _kind) in enumerate(groups):
        org[idx] = "joint"
        a = idx[0]
        if park[a] >= 0:
            label = f"{_PARKS[park[a]][0]}第{k + 1}联合党支部"
        else:
            label = f"{town_names[town[a]]}{village_names[vill[a]]}片区非公企业联合党支部"
            if label in set(org_name):
                label = label.replace("片区", f"片区第{k + 1}")
        org_name[idx] = label
    # attached (挂靠建): 1–2 members, hosted by the village/community or township organisation
    cand = np.flatnonzero((org == "none") & (members >= 1) & (members <= 2))
    for i in rng.choice(cand, N_ATTACHED, replace=False):
        org[i] = "attached"
        if park[i] >= 0:
            org_name[i] = f"{_PARKS[park[i]][0]}党工委机关党支部"
        elif rng.random() < 0.7:
            org_name[i] = f"{town_names[town[i]]}{village_names[vill[i]]}党支部"
        else:
            org_name[i] = f"{town_names[town[i]]}机关党支部"
    return org, org_name, groups


def _existing_instructors(rng: np.random.Generator, f: pd.DataFrame, taken: set[str]) -> np.ndarray:
    """Instructors already in place (党建工作指导员): cadres not on the roster, each serving
    3–4 nearby enterprises of one unit (W1), mostly enterprises without any member."""
    cand = np.flatnonzero(f["org"].eq("none").to_numpy() & (f["staff"].to_numpy() >= 6) & f["fixed"].to_numpy())
    w = np.where(f["members"].to_numpy()[cand] == 0, INSTRUCTED_ZERO_WEIGHT, 1.0)
    chosen = rng.choice(cand, N_EXISTING_INSTRUCTED, replace=False, p=w / w.sum())
    unit_key, x, y = f["unit_key"].to_numpy(), f["x"].to_numpy(), f["y"].to_numpy()
    instructor = np.array([""] * len(f), dtype=object)
    for key in np.unique(unit_key[chosen]):
        served = chosen[unit_key[chosen] == key]
        served = served[np.lexsort((y[served], x[served]))]  # west to east: neighbours together
        k = math.ceil(len(served) / 3.5)
        people = _person_names(rng, k, taken)
        for rank, i in enumerate(served):
            instructor[i] = people[rank * k // len(served)]
    return instructor


def _how_located(rng: np.random.Generator, f: pd.DataFrame, geo: _Geography,
                 places: _Places) -> tuple[np.ndarray, np.ndarray]:
    """How each good row gives its location — ``address`` (gazetteer), ``township``
    (address names only the township), ``gcj02``, ``bd09`` or ``wgs84`` — and the rows
    whose declared township is a neighbour's (a conflict)."""
    n = len(f)
    grp, town, park = f["group"].to_numpy(), f["town"].to_numpy(), f["park"].to_numpy()
    how = np.array(["wgs84"] * n, dtype=object)
    # a park's road and point lie in one township: only park rows of that township go by address
    park_ok = np.flatnonzero((park >= 0) & (town == places.park_town[np.maximum(park, 0)]))
    n_park_addr = N_ADDRESS_ONLY * 3 // 20
    how[rng.choice(np.flatnonzero(grp == "village"), N_ADDRESS_ONLY - n_park_addr, replace=False)] = "address"
    how[rng.choice(park_ok, n_park_addr, replace=False)] = "address"
    # township-only addresses fall back on the seat or the township's representative point:
    # only where neither lies in a park, so the fallback keeps the true park ("")
    seats = places.gazetteer[places.gazetteer["kind"] == "township"]
    clean = [t for t in range(len(_TOWNSHIPS))
             if not _in_any(geo.park_geo, geo.town_geo[t].representative_point().coords[0])
             and not _in_any(geo.park_geo, (seats["lon"].iat[t], seats["lat"].iat[t]))]
    free = np.flatnonzero((how == "wgs84") & (grp == "seat") & (park < 0) & np.isin(town, clean))
    how[rng.choice(free, N_TOWNSHIP_ONLY, replace=False)] = "township"
    perm = rng.permutation(np.flatnonzero(how == "wgs84"))
    n_gcj, n_bd = round(SHARE_GCJ02 * n), round(SHARE_BD09 * n)
    how[perm[:n_gcj]] = "gcj02"
    how[perm[n_gcj:n_gcj + n_bd]] = "bd09"
    conflict = np.zeros(n, dtype=bool)
    conflict[rng.choice(np.flatnonzero((how == "wgs84") & (park < 0)), N_CONFLICTS, replace=False)] = True
    return how, conflict


def _ledger_rows(rng: np.random.Generator, f: pd.DataFrame, geo: _Geography,
                 village_names: list[str]) -> list[dict[str, Any]]:
    """The ledger cells of the good rows, in generation order."""
    town_names = [t[0] for t in _TOWNSHIPS]
    gcj_lon, gcj_lat = wgs84_to_gcj02(f["lon"].to_numpy(), f["lat"].to_numpy())
    bd_lon, bd_lat = wgs84_to_bd09(f["lon"].to_numpy(), f["lat"].to_numpy())
    rows: list[dict[str, Any]] = []
    for i, e in enumerate(f.itertuples(index=False)):
        tname, tshort = _TOWNSHIPS[e.town][0], _TOWNSHIPS[e.town][1]
        vname = village_names[e.village]
        pname, road = (_PARKS[e.park][0], _PARKS[e.park][3]) if e.park >= 0 else ("", "")
        r: dict[str, Any] = dict.fromkeys(LEDGER_HEADERS)
        u = rng.random()
        r["统一社会信用代码"] = e.uscc.lower() if u < 0.002 else (
            e.uscc[:9] + " " + e.uscc[9:] if u < 0.004 else e.uscc)
        r["企业名称"] = e.name
        number = int(rng.integers(1, 300))
        r["地址"] = f"{_COUNTY}{pname}{road}{number}号" if pname else f"{_COUNTY}{tname}{vname}{number}号"
        if e.how == "address":
            r["地址"] = _messy_address(rng, tname, tshort, vname, pname, road, number)
        elif e.how == "township":
            r["地址"] = (f"{_COUNTY}{tname}（门牌待核实）", f"{tname}圩场旁", f"{_COUNTY}{tname}境内")[i % 3]
        elif e.how == "gcj02":
            r["经度"], r["纬度"] = round(float(gcj_lon[i]), 6), round(float(gcj_lat[i]), 6)
            r["坐标系"] = ("GCJ02", "GCJ02", "GCJ-02", "高德")[int(rng.integers(4))]
        elif e.how == "bd09":
            r["经度"], r["纬度"] = round(float(bd_lon[i]), 6), round(float(bd_lat[i]), 6)
            r["坐标系"] = ("BD09", "BD09", "BD-09", "百度")[int(rng.integers(4))]
        else:
            r["经度"], r["纬度"] = float(e.lon), float(e.lat)
            w = rng.random()
            r["坐标系"] = "" if w < 0.6 else ("WGS84" if w < 0.9 else ("GPS" if w < 0.95 else "WGS-84"))
        declared = tshort if rng.random() < 0.06 else tname
        if e.conflict:  # the nearest other township: a plausible slip of the pen
            dist = [math.inf if k == e.town else g.distance(Point(e.lon, e.lat)) for k, g in enumerate(geo.town_geo)]
            declared = town_names[int(np.argmin(dist))]
        r["乡镇（街道）"] = "" if (e.how == "wgs84" and rng.random() < 0.03) else declared
        r["村（社区）"] = "" if (e.how == "township" or (pname and rng.random() < 0.5)) else vname
        r["所属园区"] = pname if (not pname or e.how == "address" or rng.random() < 0.92) else ""
        r["行业门类"] = _industry_cell(rng, e.section)
        r["职工人数"] = _count_cell(rng, int(e.staff), messy=0.08)
        r["有无固定经营场所"] = ("是" if rng.random() < 0.8 else "有") if e.fixed else ("否" if rng.random() < 0.7 else "无")
        r["是否规上企业"] = "是" if e.above else ("否" if rng.random() < 0.85 else "")
        r["正式党员数"] = _count_cell(rng, int(e.members), messy=0.02)
        r["预备党员数"] = int(e.probationary) if (e.probationary or rng.random() < 0.45) else ""
        r["党组织组建方式"] = _org_cell(rng, e.org)
        r["党组织名称"] = e.org_name
        r["党建工作指导员"] = e.instructor
        r["出资人是否党员"] = e.investor
        rows.append(r)
    return rows


def _interleave(rng: np.random.Generator, rows: list[dict[str, Any]], order: np.ndarray,
                bad: list[tuple[dict[str, Any], str]], dup_of: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Good rows in ``order`` with the bad rows inserted at random places (the duplicate
    after the row it duplicates). Returns the rows and, per row, the good index or -1."""
    n = len(order)
    where = {int(i): pos for pos, i in enumerate(order)}
    slots = rng.choice(np.arange(50, n), len(bad), replace=False)
    for b, (_row, kind) in enumerate(bad):
        if kind == "duplicate uscc":
            slots[b] = int(rng.integers(where[dup_of] + 1, n + 1))
    out: list[dict[str, Any]] = []
    index: list[int] = []
    for pos in range(n + 1):
        for hit in np.flatnonzero(slots == pos):
            out.append(bad[int(hit)][0])
            index.append(-1)
        if pos < n:
            out.append(rows[order[pos]])
            index.append(int(order[pos]))
    return out, index


def build_sample(seed: int = DEFAULT_SEED) -> SampleCounty:
    """Build the synthetic sample county (pure; nothing is written).

    Parameters
    ----------
    seed
        Seed of the :class:`numpy.random.Generator`; the same seed gives the same county.

    Returns
    -------
    SampleCounty
        Every table of ``data/``, plus summary figures.
    """
    rng = np.random.default_rng(seed)
    geo = _geography(rng)
    places = _places(rng, geo)
    village_names = places.villages["name"].tolist()
    town_names = [t[0] for t in _TOWNSHIPS]
    park_names = [p[0] for p in _PARKS]

    # --- the good enterprises, one row each --------------------------------------------
    xy, grp, hv = _place_enterprises(rng, geo, places.villages)
    lon, lat, town, park = geo.locate(xy[:, 0], xy[:, 1])
    # village / community (村（社区）): its own, else the nearest one in its township
    vxy, vt = places.villages[["x", "y"]].to_numpy(), places.villages["t"].to_numpy()
    vill = hv.copy()
    for i in np.flatnonzero(vill < 0):
        cand = np.flatnonzero(vt == town[i])
        vill[i] = cand[np.argmin(np.hypot(*(vxy[cand] - xy[i]).T))]
    attrs = _attributes(rng, grp)
    big = attrs.pop("big")
    f = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "group": grp, "lon": lon, "lat": lat, "town": town,
                      "park": park, "village": vill, "unit_key": np.where(park >= 0, 100 + park, town),
                      **attrs})
    names_taken: set[str] = set()
    f["name"] = [_company_name(rng, s, int(st), names_taken) for s, st in zip(f["section"], f["staff"], strict=True)]
    org, org_name, groups = _organisations(rng, f, big, village_names)
    f["org"], f["org_name"] = org, org_name
    person_taken: set[str] = set()
    f["instructor"] = _existing_instructors(rng, f, person_taken)
    members = f["members"].to_numpy()
    f["investor"] = np.where(rng.random(len(f)) < 0.09 + 0.1 * (members >= 3), "是",
                             np.where(rng.random(len(f)) < 0.75, "否", ""))
    f["how"], f["conflict"] = _how_located(rng, f, geo, places)
    usccs: list[str] = []
    while len(usccs) < len(f) + 20:
        code = make_uscc(rng, _DIVISIONS[int(rng.integers(len(_DIVISIONS)))])
        if code not in usccs:
            usccs.append(code)
    f["uscc"] = usccs[:len(f)]

    # --- the ledger: good rows by unit (townships, then parks), bad rows planted --------
    rows = _ledger_rows(rng, f, geo, village_names)
    order = np.argsort(f["unit_key"].to_numpy() * 10_000 + rng.permutation(len(f)), kind="stable")
    plain = np.flatnonzero(f["how"].eq("wgs84").to_numpy() & ~f["above"].to_numpy() & ~f["conflict"].to_numpy())
    swapped = int(rng.choice(plain))  # lat/lon exchanged: fixed with a warning by default
    rows[swapped]["经度"], rows[swapped]["纬度"] = rows[swapped]["纬度"], rows[swapped]["经度"]
    plain = plain[plain != swapped]
    bad, dup_of = _bad_rows(rng, rows, plain, usccs[len(f):], names_taken)
    ledger_rows, index = _interleave(rng, rows, order, bad, dup_of)
    ledger = pd.DataFrame(ledger_rows, columns=list(LEDGER_HEADERS))
    ledger = ledger.astype(object).where(ledger.notna(), None)
    ti = np.array([i for i in index if i >= 0])
    truth = pd.DataFrame({
        "uscc": f["uscc"].to_numpy()[ti],
        "true_lon": lon[ti],
        "true_lat": lat[ti],
        "true_township": np.array(town_names, dtype=object)[town[ti]],
        "true_park": np.array([*park_names, ""], dtype=object)[park[ti]],
    })

    # --- service centres and the instructor roster ------------------------------------
    centres = _service_centres(rng, geo, places)
    roster = _roster(rng, geo, f, person_taken)
    summary = _summary(seed, f, ledger, bad, groups, places, centres, roster)
    return SampleCounty(county=geo.county,
                        townships=pd.DataFrame({"name": town_names, "geometry": geo.town_geo}),
                        parks=pd.DataFrame({"name": park_names, "geometry": geo.park_geo}),
                        gazetteer=places.gazetteer, service_centres=centres, instructors=roster,
                        ledger=ledger, truth=truth, summary=summary, seed=seed)


def _summary(seed: int, f: pd.DataFrame, ledger: pd.DataFrame, bad: list[tuple[dict[str, Any], str]],
             groups: list[tuple[np.ndarray, str]], places: _Places, centres: pd.DataFrame,
             roster: pd.DataFrame) -> dict[str, Any]:
    """Figures of the sample for data/README.md and the tests."""
    staff, members, org, how = f["staff"], f["members"], f["org"], f["how"]
    park, town = f["park"], f["town"]
    kinds = [k for _, k in bad]
    return {
        "seed": seed,
        "data_rows": len(ledger),
        "good_rows": len(f),
        "bad_rows": len(bad),
        "bad_kinds": kinds,
        "rejected_by_default": len(kinds),
        "above_scale": int(f["above"].sum()),
        "above_scale_own": int((f["above"] & org.eq("own")).sum()),
        "own": int(org.eq("own").sum()),
        "shells": int((org.eq("own") & (members < 3)).sum()),
        "joint": int(org.eq("joint").sum()),
        "joint_groups": len(groups),
        "joint_groups_too_large": sum(1 for _, k in groups if k == "too_large"),
        "joint_groups_too_far": sum(1 for _, k in groups if k == "too_far"),
        "attached": int(org.eq("attached").sum()),
        "none": int(org.eq("none").sum()),
        "with_instructor": int(f["instructor"].ne("").sum()),
        "no_fixed_premises": int((~f["fixed"]).sum()),
        "staff_under_6": int((staff < 6).sum()),
        "staff_50_plus": int((staff >= 50).sum()),
        "staff_100_plus": int((staff >= 100).sum()),
        "staff_over_1000": int((staff > 1000).sum()),
        "members_0": int((members == 0).sum()),
        "members_1_2": int(members.between(1, 2).sum()),
        "members_3_plus": int((members >= 3).sum()),
        "probationary": int((f["probationary"] > 0).sum()),
        "wgs84": int(how.eq("wgs84").sum()),
        "gcj02": int(how.eq("gcj02").sum()),
        "bd09": int(how.eq("bd09").sum()),
        "address_only": int(how.eq("address").sum()),
        "township_only": int(how.eq("township").sum()),
        "conflicts": int(f["conflict"].sum()),
        "in_parks": int((park >= 0).sum()),
        "parks": {p[0]: int((park == j).sum()) for j, p in enumerate(_PARKS)},
        "townships": {t[0]: int(((town == k) & (park < 0)).sum()) for k, t in enumerate(_TOWNSHIPS)},
        "villages": int(places.villages["kind"].eq("village").sum()),
        "communities": int(places.villages["kind"].eq("community").sum()),
        "sections": {s: int(n) for s, n in sorted(f["section"].value_counts().items())},
        "service_centres": len(centres),
        "instructors": len(roster),
        "instructor_capacity": int(roster["capacity"].sum()),
    }


# =======================================================================================
# cells of the ledger (a bit messy, like real ledgers)
# =======================================================================================
_FULLWIDTH: Final = str.maketrans("0123456789", "０１２３４５６７８９")


def _count_cell(rng: np.random.Generator, value: int, *, messy: float) -> int | str:
    """A count as a ledger keeps it: mostly a number, sometimes "25人", "２５" or " 25 "."""
    u = rng.random()
    if u >= messy:
        return value
    forms = (f"{value}人", str(value).translate(_FULLWIDTH), f" {value} ", f"{value}.0")
    return forms[int(u / messy * len(forms))]


def _industry_cell(rng: np.random.Generator, section: str) -> str:
    """GB/T 4754 section as a letter (mostly), the section name, or a code."""
    u = rng.random()
    if u < 0.75:
        return section
    if u < 0.87:
        return _SECTION_NAMES[section]
    lo, hi = _INDUSTRY[section][1]
    major = int(rng.integers(lo, hi + 1))
    return f"{major:02d}" if u < 0.93 else f"{section}{major:02d}{int(rng.integers(10, 100))}"


def _org_cell(rng: np.random.Generator, code: str) -> str:
    u = rng.random()
    if code == "own":
        return "单独建" if u < 0.9 else "单建"
    if code == "joint":
        return "联合建" if u < 0.9 else "联建"
    if code == "attached":
        return "挂靠建" if u < 0.85 else "挂靠"
    return "未建" if u < 0.6 else ("" if u < 0.9 else "无")


def _messy_address(rng: np.random.Generator, tname: str, tshort: str, vname: str, pname: str,
                   road: str, number: int) -> str:
    """An address that resolves through the gazetteer (village/community or park road)."""
    u = rng.random()
    if pname:
        return f"{_COUNTY}{pname}{road}{number}号" if u < 0.6 else f"{pname}{road}{number}号"
    group = int(rng.integers(1, 12))
    if u < 0.4:
        return f"{_COUNTY}{tname}{vname}{number}号"
    if u < 0.6:
        return f"{_ADDRESS_PREFIX}{_COUNTY}{tname}{vname}{number}号"
    if u < 0.8:
        return f"{tshort}{vname}"
    if u < 0.9:
        return f"{vname}{group}组"
    return f"{tname}{vname}{group}组{number}号"


# =======================================================================================
# organisations
# =======================================================================================
def _joint_groups(rng: np.random.Generator, xy: np.ndarray, unit_key: np.ndarray, members: np.ndarray,
                  staff: np.ndarray, fixed: np.ndarray, org: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """Existing joint organisations (联合建): most obey O6/O7 (2–5 units, ≤ 3 km apart, one
    unit); two cover more than 5 units (G5) and two reach across more than 3 km (O7)."""
    free = (org == "none") & (members <= 2) & (staff >= 6) & fixed
    groups: list[tuple[np.ndarray, str]] = []

    def near(anchor: int, radius: float) -> np.ndarray:
        cand = np.flatnonzero(free & (unit_key == unit_key[anchor]))
        cand = cand[cand != anchor]
        d = np.hypot(*(xy[cand] - xy[anchor]).T)
        keep = d <= radius
        return cand[keep][np.argsort(d[keep], kind="stable")]

    def max_pair(idx: np.ndarray) -> float:
        p = xy[idx]
        return float(np.max(np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])))

    plans = [("ok", int(s)) for s in rng.choice([2, 3, 3, 4, 4, 5, 5], N_JOINT_GROUPS)]
    plans += [("too_large", 7), ("too_large", 9), ("too_far", 3), ("too_far", 4)]
    for kind, size in plans:
        for _ in range(400):
            anchors = np.flatnonzero(free & (members >= 1))
            if kind == "too_far":
                anchors = anchors[unit_key[anchors] < 100]  # township units: room to be far apart
            anchor = int(rng.choice(anchors))
            radius = 2000.0 if kind == "too_large" else 1300.0
            nb = near(anchor, radius)
            if kind == "too_far":
                nb = nb[: size - 2]
                cand = np.flatnonzero(free & (unit_key == unit_key[anchor]))
                d = np.hypot(*(xy[cand] - xy[anchor]).T)
                far = cand[(d > 4500.0) & (d < 9000.0)]
                if len(nb) < size - 2 or len(far) == 0:
                    continue
                idx = np.concatenate([[anchor], nb, [int(rng.choice(far))]])
            else:
                if len(nb) < size - 1:
                    continue
                pick = nb[: 2 * size]
                # members first so the group reaches 3 formal members where it can (O6)
                pick = pick[np.argsort(-np.minimum(members[pick], 1), kind="stable")][: size - 1]
                idx = np.concatenate([[anchor], pick])
                if kind == "ok" and max_pair(idx) > 2800.0:
                    continue
            free[idx] = False
            groups.append((idx.astype(np.int64), kind))
            break
        else:  # pragma: no cover - the default seed never gets here
            msg = f"could not form a {kind} joint organisation of {size}"
            raise RuntimeError(msg)
    return groups


# =======================================================================================
# planted bad rows, service centres, instructor roster
# =======================================================================================
def _bad_rows(rng: np.random.Generator, rows: list[dict[str, Any]], plain: np.ndarray, spare: list[str],
              names_taken: set[str]) -> tuple[list[tuple[dict[str, Any], str]], int]:
    """Ten rows with one defect each, so the demo shows rejects (returned with their defect),
    and the index of the good row whose USCC is duplicated. Rows are copied from ``plain``
    good rows (WGS-84 points, not above-scale) and given a new USCC and name."""
    spare = list(spare)

    def base() -> dict[str, Any]:
        i = int(rng.choice(plain))
        r = dict(rows[i])
        r["统一社会信用代码"] = spare.pop()
        r["企业名称"] = _company_name(rng, "F", 10, names_taken)
        r["行业门类"] = "F"
        r["职工人数"] = int(rng.integers(6, 40))
        r["正式党员数"] = 0
        r["预备党员数"] = ""
        r["是否规上企业"] = "否"
        r["党组织组建方式"] = "未建"
        r["党组织名称"] = ""
        r["党建工作指导员"] = ""
        return r

    out: list[tuple[dict[str, Any], str]] = []
    r = base()
    code = r["统一社会信用代码"]
    wrong = ALPHABET[(ALPHABET.index(code[-1]) + 7) % len(ALPHABET)]
    r["统一社会信用代码"] = code[:-1] + wrong
    out.append((r, "bad check character"))
    r = base()
    r["统一社会信用代码"] = r["统一社会信用代码"][:10] + r["统一社会信用代码"][11:]
    out.append((r, "uscc of 17 characters"))
    dup_of = int(rng.choice(plain))
    r = dict(rows[dup_of])
    r["职工人数"] = (int(r["职工人数"]) + 3) if isinstance(r["职工人数"], int) else r["职工人数"]
    out.append((r, "duplicate uscc"))
    r = base()
    r["职工人数"], r["正式党员数"] = 4, 6
    out.append((r, "members > staff"))
    r = base()
    r["职工人数"] = -5
    out.append((r, "negative staff"))
    r = base()
    r["职工人数"] = "若干"
    out.append((r, "non-numeric staff"))
    r = base()
    r["党组织组建方式"] = "未知"
    out.append((r, "unknown org type (未知)"))
    r = base()
    for k in ("地址", "经度", "纬度", "坐标系", "乡镇（街道）", "村（社区）", "所属园区"):
        r[k] = ""
    r["经度"] = r["纬度"] = None
    out.append((r, "no address and no coordinates"))
    r = base()
    r["纬度"] = round(float(r["纬度"]) - 1.0, 6)  # a digit typo: about 110 km south
    out.append((r, "point far outside the county"))
    r = base()
    r["经度"] = round(float(r["经度"]) - 100.0, 6)  # the leading 1 dropped: outside China
    out.append((r, "coordinates outside China"))
    order = rng.permutation(len(out))
    return [out[i] for i in order], dup_of


def _service_centres(rng: np.random.Generator, geo: _Geography, places: _Places) -> pd.DataFrame:
    """Six party-mass service centres (党群服务中心): county, development zone, four townships."""
    names = [t[0] for t in _TOWNSHIPS]
    rows = []
    for label, t in (("青岚县党群服务中心", 0), ("东城街道党群服务中心", 1), ("青龙镇党群服务中心", 2),
                     ("石门镇党群服务中心", 4), ("溪口镇党群服务中心", 5)):
        for _ in range(100):
            p = geo.seeds[t] + rng.normal(0.0, 250.0, 2)
            lo, la, tt, pp = geo.locate(p[:1], p[1:])
            if tt[0] == t and pp[0] < 0:
                break
        rows.append({"name": label, "township": names[t], "lon": float(lo[0]), "lat": float(la[0])})
    zone = places.gazetteer[places.gazetteer["name"] == _PARKS[0][0]].iloc[0]
    rows.insert(1, {"name": f"{_PARKS[0][0]}党群服务中心", "township": zone["township"],
                    "lon": float(zone["lon"]), "lat": float(zone["lat"])})
    return pd.DataFrame(rows, columns=["name", "township", "lon", "lat"])


def _roster(rng: np.random.Generator, geo: _Geography, f: pd.DataFrame, taken: set[str]) -> pd.DataFrame:
    """The instructor roster (党建工作指导员): 40 people spread over the units by their
    enterprises, mostly 3 enterprises each (W1) — fewer than the plan needs, so it shows
    a shortfall."""
    names = [t[0] for t in _TOWNSHIPS]
    keys = [*range(len(_TOWNSHIPS)), *(100 + j for j in range(len(_PARKS)))]
    load = np.array([f["unit_key"].eq(k).sum() for k in keys], dtype=float)
    per_unit = np.maximum(1, np.floor(load / load.sum() * N_ROSTER)).astype(int)
    while per_unit.sum() < N_ROSTER:
        per_unit[int(np.argmax(load / per_unit))] += 1
    people = iter(_person_names(rng, int(per_unit.sum()), taken))
    rows: list[dict[str, Any]] = []
    for key, m in zip(keys, per_unit, strict=True):
        if key >= 100:  # park instructors: anywhere in the park
            xy = _uniform_in(geo.parks_m[key - 100].buffer(-100.0), int(m), rng)
        else:  # township instructors: near the seat, outside parks
            pts: list[np.ndarray] = []
            while len(pts) < m:
                p = geo.seeds[key] + rng.normal(0.0, 900.0, 2)
                _lo, _la, tt, pp = geo.locate(p[:1], p[1:])
                if tt[0] == key and pp[0] < 0:
                    pts.append(p)
            xy = np.asarray(pts)
        lon, lat, town, _park = geo.locate(xy[:, 0], xy[:, 1])
        for q in range(int(m)):
            rows.append({"name": next(people), "township": names[town[q]], "lon": float(lon[q]),
                         "lat": float(lat[q]), "unit_key": key})
    roster = pd.DataFrame(rows)
    capacity = np.full(len(roster), 3, dtype=np.int64)
    capacity[rng.choice(len(roster), 8, replace=False)] = [2, 2, 2, 2, 4, 4, 4, 5]
    roster["capacity"] = capacity
    # four township instructors without a point: the planner places them at their township
    rural = np.flatnonzero(roster["unit_key"].between(2, len(_TOWNSHIPS) - 1).to_numpy())
    roster.loc[rng.choice(rural, 4, replace=False), ["lon", "lat"]] = np.nan
    return roster[["name", "township", "lon", "lat", "capacity"]]


# =======================================================================================
# writers (the I/O edge)
# =======================================================================================
def _orient(geom: Any) -> Any:
    """Exterior rings counter-clockwise (RFC 7946)."""
    return shapely.orient_polygons(geom, exterior_cw=False)


def _geojson_text(frame: pd.DataFrame, layer: str, extra: dict[str, list[Any]] | None = None) -> str:
    features = []
    for k, row in enumerate(frame.itertuples(index=False)):
        geom = shapely.geometry.mapping(_orient(row.geometry))
        props: dict[str, Any] = {"name": row.name}
        for key, values in (extra or {}).items():
            props[key] = values[k]
        props["county"] = COUNTY_NAME
        coords = json.loads(json.dumps(geom["coordinates"]))
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": geom["type"], "coordinates": coords}})
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    head = json.dumps({"type": "FeatureCollection", "name": layer}, ensure_ascii=False)[:-1]
    return head + ', "features": [\n' + ",\n".join(lines) + "\n]}\n"


def _csv_text(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(frame.columns))
    for row in frame.itertuples(index=False):
        w.writerow([_fmt(v) for v in row])
    return buf.getvalue()


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float | np.floating):
        return "" if math.isnan(v) else f"{v:.6f}"
    return str(v)


def _xlsx_bytes(ledger: pd.DataFrame) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False,
                                   "strings_to_formulas": False, "strings_to_urls": False})
    wb.set_properties({"title": LEDGER_TITLE, "subject": "synthetic sample ledger (合成数据)",
                       "author": "gridcover.sample", "comments": "Synthetic data, fictional names.",
                       "created": dt.datetime(2024, 6, 1, tzinfo=dt.UTC)})
    ws = wb.add_worksheet("台账")
    title = wb.add_format({"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"})
    head = wb.add_format({"bold": True, "border": 1, "bg_color": "#DDEBF7", "text_wrap": True,
                          "align": "center", "valign": "vcenter"})
    coord = wb.add_format({"num_format": "0.000000"})
    ncol = len(ledger.columns)
    ws.merge_range(0, 0, 0, ncol - 1, LEDGER_TITLE, title)
    ws.set_row(0, 28)
    for c, h in enumerate(ledger.columns):
        ws.write_string(1, c, h, head)
    widths = {"统一社会信用代码": 21, "企业名称": 30, "地址": 34, "党组织名称": 34}
    for c, h in enumerate(ledger.columns):
        ws.set_column(c, c, widths.get(h, 11), coord if h in ("经度", "纬度") else None)
    ws.freeze_panes(2, 0)
    for r, row in enumerate(ledger.itertuples(index=False), start=2):
        for c, v in enumerate(row):
            if v is None or (isinstance(v, str) and v == ""):
                continue
            if isinstance(v, str):
                ws.write_string(r, c, v)
            else:
                ws.write_number(r, c, float(v) if isinstance(v, float) else int(v))
    wb.close()
    return buf.getvalue()


def _readme_text(county: SampleCounty) -> str:
    s = county.summary
    parks = ", ".join(f"{k} {v}" for k, v in s["parks"].items())
    towns = ", ".join(f"{k} {v}" for k, v in s["townships"].items())
    sections = ", ".join(f"{k} {v}" for k, v in s["sections"].items())
    bad = "\n".join(f"- {k}" for k in sorted(s["bad_kinds"]))
    rate = s["above_scale_own"] / s["above_scale"]
    return f"""# Sample county: {COUNTY_NAME}

**Synthetic data, for demonstration only (合成数据，仅供演示).** The county, its
townships, parks, villages, enterprises, people, codes and addresses are invented;
any likeness to real places, enterprises or people is coincidental. The county is
placed around lon {LON0}, lat {LAT0} (about 40 km × 30 km) so that Chinese coordinate
systems behave as they would in a real county. `gridcover demo` runs on these files
offline.

Regenerate (byte-identical for the same seed):

    python -m gridcover.sample --out data --seed {county.seed}

## Files

| file | content |
|---|---|
| townships.geojson | {len(county.townships)} township/street (乡镇街道) polygons, field `name` (and `kind`); they tile the county with no gaps or overlaps (clipped Voronoi cells); EPSG:4326, 6 decimals |
| parks.geojson | {len(county.parks)} park (园区) polygons, field `name`; 青岚经济开发区 straddles 城关街道 and 东城街道 |
| gazetteer.csv | {len(county.gazetteer)} places for offline geocoding: `name, township, lon, lat, kind` (township seats, {s["villages"]} villages 村, {s["communities"]} communities 社区, parks, roads); UTF-8 with BOM |
| service_centres.csv | {s["service_centres"]} party-mass service centres (党群服务中心): `name, township, lon, lat` |
| instructors.csv | instructor roster (党建工作指导员) for new assignments: {s["instructors"]} people, `name, township, lon, lat, capacity` (total capacity {s["instructor_capacity"]}; 4 rows without a point are placed at their township) — fewer than the plan needs, so it shows a shortfall |
| ledger.xlsx | the ledger (台账): a merged title row, the Chinese header row of DESIGN.md's ledger contract, then {s["data_rows"]} data rows |
| truth.csv | for tests: `uscc, true_lon, true_lat, true_township, true_park` (WGS-84) of every good row ({s["good_rows"]}), to measure geocoding and jurisdiction accuracy |

## Figures of the ledger

- Data rows: {s["data_rows"]} = {s["good_rows"]} good rows + {s["bad_rows"]} planted bad rows.
- Above-scale (规上): exactly {s["above_scale"]}, {s["above_scale_own"]} of them with their own
  organisation (单独建) = {rate:.2%} (M3 of the seed county). No planted bad row is above-scale.
- Organisations: own (单独建) {s["own"]} (of which {s["shells"]} empty shells with fewer than 3
  formal members, G4), joint (联合建) {s["joint"]} enterprises in {s["joint_groups"]} joint
  organisations sharing a 党组织名称 ({s["joint_groups_too_large"]} cover more than 5 units, G5;
  {s["joint_groups_too_far"]} have units more than 3 km apart, O7), attached (挂靠建)
  {s["attached"]}, none (未建 or blank) {s["none"]}; existing instructors {s["with_instructor"]}.
- Staff: {s["staff_under_6"]} under 6, {s["staff_50_plus"]} with 50+, {s["staff_100_plus"]} with
  100+, {s["staff_over_1000"]} over 1,000; {s["no_fixed_premises"]} without fixed premises.
- Formal members: {s["members_0"]} with none, {s["members_1_2"]} with 1–2,
  {s["members_3_plus"]} with 3+; {s["probationary"]} with a probationary member.
- Location: {s["wgs84"]} WGS-84 points (坐标系 blank, WGS84, GPS or WGS-84), {s["gcj02"]}
  GCJ-02 (GCJ02/GCJ-02/高德), {s["bd09"]} BD-09 (BD09/BD-09/百度), {s["address_only"]}
  address-only rows that resolve through the gazetteer (village, community or park road),
  {s["township_only"]} whose address resolves only to the township; {s["conflicts"]} rows declare
  a neighbouring township although their exact point lies elsewhere (a conflict; the point wins).
- In parks: {s["in_parks"]} ({parks}). Outside parks by township: {towns}.
- Industry sections (GB/T 4754, written as letter, name or code): {sections}.
- Messy values: counts such as "25人", full-width "２５", " 25 ", "25.0"; 是/否/有/无; org types
  单建/联建/挂靠/无; a few USCCs in lower case or with a space. USCCs carry valid check
  characters and the made-up division code 350799 (a few 350700, as if registered by the
  prefecture).

## Planted bad rows

{bad}
- swapped lat/lon (one good row: 经度 and 纬度 exchanged; fixed with a warning by default,
  rejected with `fix_swapped_coordinates = false`)

With the default config, {s["rejected_by_default"]} rows are rejected and
{s["data_rows"] - s["rejected_by_default"]} accepted.
"""


def write_sample(county: SampleCounty, out: str | Path) -> list[Path]:
    """Write the sample county's files into ``out`` (created if needed).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kinds = ["街道" if n.endswith("街道") else n[-1] for n in county.townships["name"]]
    texts = {
        "townships.geojson": _geojson_text(county.townships, "townships", {"kind": kinds}),
        "parks.geojson": _geojson_text(county.parks, "parks"),
        "gazetteer.csv": "\ufeff" + _csv_text(county.gazetteer),
        "service_centres.csv": "\ufeff" + _csv_text(county.service_centres),
        "instructors.csv": "\ufeff" + _csv_text(county.instructors),
        "truth.csv": "\ufeff" + _csv_text(county.truth),
        "README.md": _readme_text(county),
    }
    written: list[Path] = []
    for name, text in texts.items():
        path = out / name
        path.write_bytes(text.encode("utf-8"))
        written.append(path)
    path = out / "ledger.xlsx"
    path.write_bytes(_xlsx_bytes(county.ledger))
    written.append(path)
    logger.info("wrote the sample county to %s", out)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gridcover.sample [--out data] [--seed 20240601]``."""
    parser = argparse.ArgumentParser(prog="python -m gridcover.sample",
                                     description="Write the synthetic sample county (data/).")
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed (default: {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    county = build_sample(args.seed)
    for path in write_sample(county, args.out):
        sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
