"""Coverage maps (覆盖地图): Folium HTML maps of a plan, self-contained for offline use.

One map shows, each layer switchable in the layer control (Chinese names):

* the townships (乡镇（街道）) and parks (园区) coloured by coverage on five classes
  anchored at the M4 targets (< 30 %, 30–60 %, 60–90 %, 90–<100 %, 100 % with the
  defaults), switched between M1 and M2, before and after the plan (the measure switch
  of the ranking panel), with permanent labels of each unit's name and rate;
* a ranking panel of the units by the enterprises still short of the target;
* one layer per gap rule (G1, G2, G7, G8, G9): rings on the enterprises showing it and
  its count per unit (hidden at first);
* the grids (网格) with their proposed boundaries, the grid leader (网格长) ringed;
* the proposed joint branches (联合党支部) as spokes from their centre to the members;
* party-mass service centres (党群服务中心) with their catchment circles;
* a heat map of the staff of the enterprises 未覆盖 after the plan (no organisation and no
  named instructor: the same meaning as in the legend; hidden at first);
* the enterprises coloured by their status after the plan: own organisation, in a joint
  branch, attached, instructor only, uncovered, not gridded. A click opens the
  enterprise's profile (一企一档): the proposed action, grid and branch first, its gaps
  with their rule text, then the ledger fields.

plus a legend, a title with the area, date and headline rates, a search box over
enterprise names, a fullscreen toggle and a distance tool — all small self-contained
scripts, no CDN plugin.

Scale: enterprises are canvas circle markers built in the browser from one compact
column table (popups are made on click, never stored as HTML per marker). Above
``Config.map_detail_max`` (default 20,000) a map switches to aggregates: grids and units coloured by
their coverage, the points clustered (MarkerCluster) with a short profile and a link to
the unit's own map, which has the full profiles.

Offline (the default): :func:`map_html` inlines every JS/CSS asset from the installed
XStatic packages (see :mod:`gridcover._assets`), so the file opens with no network, and
no online base map is added unless one is asked for by name: the units are drawn on a
plain ground with a note that the map is offline, and the page makes no request at all.
``tile_url`` (``--tiles``) points at an intranet tile server (政务外网, a 天地图
deployment), with its ``attribution``. Element ids are made stable, so the same plan
gives byte-identical HTML.

Base maps: ``osm`` (OpenStreetMap, the config's default online), ``amap`` (高德, GCJ-02:
every vector is shifted to GCJ-02 so it sits on AMap's streets), ``tianditu`` (天地图,
CGCS2000 ≈ WGS-84, key from ``config.tianditu_key`` or ``GRIDCOVER_TIANDITU_KEY``; the key
is written into the HTML, as the browser needs it), ``none`` (intranets).
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import html
import json
import logging
import math
import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template
from numpy.typing import NDArray

from ._assets import GRIDCOVER_CSS, GRIDCOVER_JS, inline_assets
from ._io import atomic_file
from ._labels import (
    BRANCH_STATUS_LABELS,
    GAP_LAYER_LABELS,
    NO_DATA_COLOR,
    PRECISION_LABELS,
    RATE_CLASS_COLORS,
    UNIT_TYPE_LABELS,
    rate_class,
    rate_class_labels,
)
from .config import Config
from .coords import wgs84_to_gcj02
from .coverage import enterprise_status as _enterprise_status
from .coverage import measured
from .errors import ConfigError
from .gaps import RULE_IDS, rule_text
from .plan import Plan
from .schema import ACTION_LABELS, INDUSTRY_SECTIONS, ORG_TYPE_LABELS

__all__ = [
    "BASEMAPS",
    "GAP_LAYERS",
    "MEASURES",
    "DETAIL_MAX_ENTERPRISES",
    "STATUSES",
    "STATUS_LABELS",
    "CoverageMap",
    "MapTask",
    "check_tile_url",
    "coverage_map",
    "enterprise_status",
    "map_html",
    "map_tasks",
    "safe_filename",
    "write_maps",
]

logger = logging.getLogger(__name__)

Basemap = Literal["osm", "amap", "tianditu", "none"]
#: Base maps :func:`coverage_map` knows.
BASEMAPS: Final = ("osm", "amap", "tianditu", "none")

#: Most enterprises a map draws with full profiles; above, it shows aggregates (per grid,
#: per unit) and clusters the points. (Proposed Config field ``map_detail_max``.)
#: Default of ``Config.map_detail_max`` (kept for reference; the config decides).
DETAIL_MAX_ENTERPRISES: Final = 20_000

#: Enterprise status after the plan, in legend order.
STATUSES: Final = ("own", "joint", "attached", "instructor", "uncovered", "not_gridded")
STATUS_LABELS: Final = {
    "own": "单独建立党组织",
    "joint": "在联合党支部",
    "attached": "挂靠建",
    "instructor": "仅有党建工作指导员",
    "uncovered": "未覆盖（无党组织、无指导员）",
    "not_gridded": "不入网格（属地兜底）",
}
_STATUS_COLORS: Final = {
    "own": "#c0392b", "joint": "#f39c12", "attached": "#f7dc6f",
    "instructor": "#2e86c1", "uncovered": "#1c1c1c", "not_gridded": "#b3b3b3",
}
#: Point radius (px) per size class S1 (<6, 6–49, 50–99, ≥100 staff by default).
_RADII: Final = (3.0, 4.5, 6.0, 7.5)

_LAYER_NAMES: Final = {
    "townships": "乡镇（街道）党组织覆盖率",
    "parks": "园区党组织覆盖率",
    "grids": "网格及网格长",
    "branches": "拟建联合党支部",
    "centres": "党群服务中心及服务半径",
    "new_centres": "拟新建党群服务中心选址",
    "heat": "未覆盖（无党组织、无指导员）企业职工热力图",
    "enterprises": "企业（按覆盖状态）",
    "labels": "单位名称及覆盖率",
}
#: Gap rules drawn as a layer each (RULES.md G1, G2, G7, G8, G9), with their ring colours.
GAP_LAYERS: Final = ("G1", "G2", "G7", "G8", "G9")
_GAP_COLORS: Final = {"G1": "#6a3d9a", "G2": "#e31a1c", "G7": "#ff7f00", "G8": "#b15928", "G9": "#1f78b4"}
#: The four colourings of the units: (metric, phase) in the order of the measure switch.
MEASURES: Final = (("org", "before"), ("org", "after"), ("work", "before"), ("work", "after"))
_MEASURE_LABELS: Final = ("党组织覆盖率·规划前", "党组织覆盖率·规划后", "工作覆盖率·规划前", "工作覆盖率·规划后")
#: Measure the units are coloured by when a map opens (M1 after the plan).
_DEFAULT_MEASURE: Final = 1
_OFFLINE_NOTE: Final = "离线模式：未加载在线底图，仅显示辖区边界（可用 --tiles 指定内网瓦片服务）"
_BRANCH_STATUS: Final = BRANCH_STATUS_LABELS
_BRANCH_STYLES: Final = (
    {"color": "#8e44ad", "weight": 2.2},                      # new
    {"color": "#7f8c8d", "weight": 1.6, "dashArray": "4 4"},  # kept
    {"color": "#d35400", "weight": 2.2, "dashArray": "8 4"},  # split
)
_PRECISION_LABELS: Final = PRECISION_LABELS
_UNIT_TYPE_LABELS: Final = UNIT_TYPE_LABELS
_NO_DATA_COLOR: Final = NO_DATA_COLOR
_HEAT_GRADIENT: Final = ((0.25, "#2c7bb6"), (0.5, "#abd9e9"), (0.7, "#fdae61"), (1.0, "#d7191c"))

#: Simplification tolerance of polygons, degrees (~3 m; ~20 m for aggregate maps).
_SIMPLIFY_DEG: Final = 3e-5
_SIMPLIFY_AGGREGATE_DEG: Final = 2e-4
_HEAT_CELL_DEG: Final = 4e-3  # ~400 m cells of the heat map on aggregate maps
_ROUND: Final = 6  # decimals of coordinates (0.1 m)

_REQUIRED: Final = ("name", "lon", "lat")

ToMap = Callable[[NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]]


# --- small helpers ---------------------------------------------------------------------
def _text(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df:
        return pd.Series("", index=df.index, dtype="str")
    return df[name].fillna("").astype(str)


def _count(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df:
        return pd.Series(0, index=df.index, dtype="int64")
    return pd.to_numeric(df[name], errors="coerce").fillna(0).astype("int64")


def _truthy(df: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series]:
    """(value, known) of a yes/no column that may come back from a file as text."""
    if name not in df:
        false = pd.Series(False, index=df.index)
        return false, false
    raw = df[name]
    if raw.dtype == bool:
        return raw, pd.Series(True, index=df.index)
    text = raw.astype("string").str.strip().str.lower().fillna("")
    yes = text.isin(["true", "1", "1.0", "是", "y", "yes"])
    no = text.isin(["false", "0", "0.0", "否", "n", "no"])
    return yes.astype(bool), (yes | no).astype(bool)


def _js(obj: Any) -> str:
    """JSON for a ``<script>``: compact, UTF-8, nothing that could close the script."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _pct(x: float) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.1%}"


def _codes(values: pd.Series) -> tuple[list[int], list[str]]:
    """Dictionary-encode a text column: (codes, categories sorted by code point)."""
    codes, cats = pd.factorize(values.astype(str), sort=True)
    return codes.tolist(), [str(c) for c in cats]


def _rate_color(rate: float, config: Config) -> str:
    """Colour of a coverage rate on the classes anchored at the M4 targets (grey without
    enterprises): < target/3, –2·target/3, –target, –<full, full."""
    k = rate_class(rate, config.org_coverage_target, config.org_coverage_full_target)
    return _NO_DATA_COLOR if k < 0 else RATE_CLASS_COLORS[k]


#: Longest unit map file name, characters, without ``.html`` (hash suffix included).
FILENAME_MAX: Final = 60
_RESERVED: Final = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                              *(f"LPT{i}" for i in range(1, 10))})


def _name_hash(name: str) -> str:
    return hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:8]


def safe_filename(name: str, *, max_len: int = FILENAME_MAX) -> str:
    """A short, safe file name (without extension) for a unit's map.

    Letters (Chinese too), digits, ``-`` and ``_`` are kept; everything a file system or
    URL treats specially becomes ``_``. When the name had to change (characters
    replaced, cut to ``max_len``, a Windows device name, empty), an 8-digit hash of the
    original name is appended, so different units never share a file. The result has
    at most ``max_len`` characters (at most 3 bytes each in UTF-8), no path separator,
    and never starts with a dot.

    Examples
    --------
    >>> safe_filename("城关镇")
    '城关镇'
    >>> safe_filename('../a/b:c*?"<>| d')
    'a_b_c_d-ce0bfd9f'
    >>> safe_filename("CON")
    'CON-a3dbc4b6'
    >>> len(safe_filename("很长的名字" * 40))
    60
    """
    original = str(name)
    text = unicodedata.normalize("NFKC", original)
    text = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE)
    text = re.sub(r"_+", "_", text).strip("_.-")
    suffix = "-" + _name_hash(original)
    if text == original and 0 < len(text) <= max_len and text.upper() not in _RESERVED:
        return text
    keep = max(0, max_len - len(suffix))
    text = text[:keep].rstrip("_.-") or "unit"
    return text[:keep] + suffix


def _unit_filenames(units: Sequence[str]) -> dict[str, str]:
    """Unique ``<safe>.html`` per unit, also on case-insensitive file systems (a unit
    whose name differs from another's only by case gets the hash suffix)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for unit in sorted(units):
        name = safe_filename(unit)
        if name.lower() in used:
            name = safe_filename(unit + "\0")  # not a valid name as it is: always hashed
        used.add(name.lower())
        out[unit] = f"{name}.html"
    return out


# --- the status of each enterprise ---------------------------------------------------------
def enterprise_status(plan: Plan) -> pd.Series:
    """Each enterprise's coverage status after the plan (the map's colours).

    Read from the plan's coverage record (:func:`gridcover.coverage.enterprise_status`,
    the one definition): ``own``, ``joint``, ``attached``, ``instructor`` (a named
    instructor only), ``not_gridded`` (the township/village backstop only, M5) and
    ``uncovered`` (no party link after the plan, a planned instructor post with nobody
    named included).

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"org_type": ["own", "none", "none", "none"],
    ...                     "instructor": ["", "", "", "王某"],
    ...                     "action": ["keep", "join_branch", "not_gridded", "instructor"],
    ...                     "branch_id": ["", "B1", "", ""]},
    ...                    index=pd.Index(list("ABCD"), name="uscc"))
    >>> enterprise_status(Plan(enterprises=ent)).tolist()
    ['own', 'joint', 'not_gridded', 'instructor']
    """
    return _enterprise_status(plan)


# --- shared preparation (once per plan, reused by every unit's map) -------------------------
@dataclass(frozen=True)
class _Prepared:
    plan: Plan
    ent: pd.DataFrame          # enterprises with status, flags, size code, leader flag
    unit_rates: pd.DataFrame   # coverage_by(plan, "unit")
    total_rates: pd.Series     # coverage_by(plan, "total") row
    units: gpd.GeoDataFrame    # plan.units in EPSG:4326
    grids: gpd.GeoDataFrame
    centres: gpd.GeoDataFrame
    assigned: pd.Series        # uscc -> "name（距离 m）" of an assigned instructor
    gap_msgs: dict[str, dict[str, str]]  # uscc -> rule id -> message
    # indexes built once, so a unit's map costs what its unit holds (no whole-plan pass)
    rows: Mapping[str, NDArray[np.intp]] = field(default_factory=dict)         # unit -> rows of ent
    unit_rows: Mapping[str, NDArray[np.intp]] = field(default_factory=dict)    # unit -> rows of units
    grid_rows: Mapping[str, NDArray[np.intp]] = field(default_factory=dict)    # unit -> rows of grids
    branch_rows: Mapping[str, NDArray[np.intp]] | None = None                  # unit -> rows of branches
    known: frozenset[str] = frozenset()                                         # the plan's unit names
    branch_info: Mapping[str, list[Any]] = field(default_factory=dict)         # branch -> [status, members]


def _groups(keys: pd.Series) -> dict[str, NDArray[np.intp]]:
    """Row positions of each key (in row order)."""
    if not len(keys):
        return {}
    codes, names = pd.factorize(keys.to_numpy(dtype=object))
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(n): order[starts[k]:starts[k + 1]] for k, n in enumerate(names)}


def _check_plan(plan: Plan) -> None:
    if not isinstance(plan, Plan):
        msg = f"expected a gridcover Plan, got {type(plan).__name__}"
        raise TypeError(msg)
    missing = [c for c in _REQUIRED if c not in plan.enterprises]
    if missing:
        msg = (f"plan.enterprises lacks the column(s) {', '.join(missing)} a map needs; "
               "run the plan through geocoding first")
        raise ValueError(msg)


def _to_4326(gdf: Any) -> gpd.GeoDataFrame:
    if gdf is None or not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    out = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if out.crs is None:
        return out.set_crs("EPSG:4326")
    return out.to_crs("EPSG:4326") if out.crs.to_epsg() != 4326 else out


def _prepare(plan: Plan) -> _Prepared:
    _check_plan(plan)
    src = plan.enterprises
    coverage = measured(plan)
    flags = coverage.enterprises
    ent = pd.DataFrame(index=src.index)
    ent["status"] = flags["status"].to_numpy()
    for c in ("org_before", "org_after", "work_before", "work_after"):
        ent[c] = flags[c].to_numpy()
    ent["lon"] = pd.to_numeric(src["lon"], errors="coerce")
    ent["lat"] = pd.to_numeric(src["lat"], errors="coerce")
    ent["staff"] = _count(src, "staff")
    bounds = np.asarray(plan.config.size_class_bounds)
    ent["size_code"] = np.searchsorted(bounds, ent["staff"].to_numpy(), side="right")
    for c in ("name", "unit", "unit_type", "grid_id", "branch_id", "gaps", "action"):
        ent[c] = _text(src, c)
    grids = _to_4326(plan.grids)
    leaders = set(_text(grids, "leader_uscc")) - {""} if len(grids) else set()
    ent["leader"] = src.index.astype(str).isin(leaders)

    ins = plan.instructors
    assigned = pd.Series(dtype="str")
    if ins is not None and len(ins) and {"uscc", "instructor"} <= set(ins.columns):
        dist = pd.to_numeric(ins["distance_m"], errors="coerce") if "distance_m" in ins else None
        label = ins["instructor"].fillna("").astype(str)
        if not plan.config.publish_instructor_names:  # personal data: the Excel report names them
            label = label.where(label.eq(""), "已选派")
        if dist is not None:
            label = label + dist.map(lambda d: f"（距离{d:,.0f}米）" if np.isfinite(d) else "")
        assigned = pd.Series(label.to_numpy(), index=ins["uscc"].astype(str)).groupby(level=0).first()

    gap_msgs: dict[str, dict[str, str]] = {}
    gaps = plan.gaps
    if gaps is not None and len(gaps) and {"uscc", "rule_id", "message"} <= set(gaps.columns):
        # the profile shows the rule text next to the id: keep only the enterprise's own facts
        message = gaps["message"].astype(str).str.replace(r"（G\d+[：:][^（）]*）\s*$", "", regex=True)
        for u, rule, msg in zip(gaps["uscc"].astype(str), gaps["rule_id"].astype(str), message, strict=True):
            gap_msgs.setdefault(u, {})[rule] = msg

    total = coverage.total()
    units = _to_4326(plan.units)
    branches = plan.branches if plan.branches is not None else pd.DataFrame()
    known = set(ent["unit"]) | (set(_text(units, "unit")) if len(units) else set())
    known.discard("")
    info: dict[str, list[Any]] = {}
    if len(branches) and "branch_id" in branches:
        for bid, status, mem in zip(_text(branches, "branch_id"), _text(branches, "status"),
                                    _count(branches, "members"), strict=True):
            info[bid] = [_BRANCH_STATUS.get(status, status), int(mem)]
    return _Prepared(plan=plan, ent=ent, unit_rates=coverage.by("unit"), total_rates=total,
                     units=units, grids=grids, centres=_to_4326(plan.service_centres),
                     assigned=assigned, gap_msgs=gap_msgs, rows=_groups(ent["unit"]),
                     unit_rows=_groups(_text(units, "unit")) if len(units) else {},
                     grid_rows=_groups(_text(grids, "unit")) if len(grids) else {},
                     branch_rows=(_groups(_text(branches, "unit")) if len(branches) and "unit" in branches
                                  else None),
                     known=frozenset(known), branch_info=info)


# --- folium elements -----------------------------------------------------------------------
class _Library(MacroElement):
    """gridcover's own CSS and JavaScript, once per page (in the header)."""

    _template = Template("""
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
            <script>{{ this.js }}</script>
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "GridcoverLibrary"
        self.css = GRIDCOVER_CSS
        self.js = GRIDCOVER_JS


class _Script(MacroElement):
    """One JavaScript statement in the page's script (after the map exists)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this.code }}
        {% endmacro %}
    """)

    def __init__(self, code: str) -> None:
        super().__init__()
        self._name = "GridcoverScript"
        self.code = code


class _JsLayer(Layer):
    """An overlay whose Leaflet layer is the value of a ``GC.*`` factory call."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.expr }};
        {% endmacro %}
    """)

    def __init__(self, expr: str, *, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GridcoverLayer"
        self.expr = expr


class _ClusterLayer(JSCSSMixin, _JsLayer):
    """A :class:`_JsLayer` that needs Leaflet.markercluster."""

    default_js = folium.plugins.MarkerCluster.default_js
    default_css = folium.plugins.MarkerCluster.default_css


class CoverageMap(folium.Map):
    """A :class:`folium.Map` that saves and displays as gridcover's HTML.

    ``save`` writes :func:`map_html` (assets inlined when ``offline``, stable ids,
    atomically); in a notebook the map shows inline the same way.

    Attributes
    ----------
    offline
        Inline every asset on save/display.
    layers
        The JavaScript variable of each gridcover layer, by key (``townships``,
        ``parks``, ``grids``, ``branches``, ``centres``, ``heat``, ``enterprises``).
    """

    def __init__(self, *args: Any, offline: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offline = offline
        self.layers: dict[str, str] = {}

    def save(self, outfile: str | bytes | Path | BinaryIO, close_file: bool = True, **kwargs: Any) -> None:
        """Write the map's HTML (UTF-8); a path is written atomically."""
        data = map_html(self, offline=self.offline).encode("utf-8")
        if isinstance(outfile, str | bytes | Path):
            with atomic_file(os.fsdecode(outfile)) as tmp:
                tmp.write_bytes(data)
            return
        outfile.write(data)
        if close_file:
            outfile.close()

    def _repr_html_(self, **kwargs: Any) -> str:
        page = html.escape(map_html(self, offline=self.offline))
        return ('<div style="width:100%;"><div style="position:relative;width:100%;height:0;'
                'padding-bottom:60%;"><iframe srcdoc="' + page + '" style="position:absolute;'
                'width:100%;height:100%;left:0;top:0;border:none !important;" allowfullscreen>'
                "</iframe></div></div>")


# --- HTML ----------------------------------------------------------------------------------
_HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_NAMED_ID = re.compile(r"(?<=[A-Za-z]_)[0-9a-f]{32}(?![0-9a-f])")


def _element_ids(root: Element) -> set[str]:
    ids: set[str] = set()
    stack: list[Element] = [root]
    while stack:
        el = stack.pop()
        ids.add(el._id)
        stack.extend(el._children.values())
        if isinstance(el, Figure):
            stack.extend((el.header, el.html, el.script))
    return ids


def _stable_ids(page: str, root: Element) -> str:
    """Replace folium's random element ids by a counter in order of appearance."""
    ids = _element_ids(root) | set(_NAMED_ID.findall(page))
    mapping: dict[str, str] = {}

    def repl(m: re.Match[str]) -> str:
        token = m.group(0)
        if token not in ids:
            return token
        if token not in mapping:
            mapping[token] = f"gc{len(mapping) + 1:04d}"
        return mapping[token]

    return _HEX_ID.sub(repl, page)


def map_html(m: folium.Map, *, offline: bool = True) -> str:
    """The HTML page of a map, deterministic, with every asset inlined when ``offline``.

    Parameters
    ----------
    m
        A folium map, e.g. from :func:`coverage_map` (any folium map works as long as
        it uses only Leaflet, MarkerCluster, jQuery and d3 v3 assets).
    offline
        Replace every CDN ``<script src>``/``<link href>`` by the local copy from the
        installed XStatic packages, so the page needs no network.

    Returns
    -------
    str
        The page; the same map always gives the same text (folium's random element ids
        are replaced by a counter).

    Raises
    ------
    GridcoverError
        When ``offline`` and the map links an asset that has no local copy.

    Examples
    --------
    >>> import folium
    >>> page = map_html(folium.Map(tiles=None, location=[30, 120]))
    >>> "cdn.jsdelivr.net" in page, "L.map(" in page
    (False, True)
    >>> page == map_html(folium.Map(tiles=None, location=[30, 120]))
    True
    """
    # folium's render adds children with fresh random ids (e.g. each layer's addTo call),
    # so rendering the same map twice would differ: render a copy, leave the map as it is
    root = copy.deepcopy(m.get_root())
    page = root.render()
    if offline:
        page = inline_assets(page)
    return _stable_ids(page, root)


# --- geometry --------------------------------------------------------------------------------
def _projector(basemap: str, decimals: int = _ROUND) -> ToMap:
    """WGS-84 → the base map's coordinates (GCJ-02 for AMap), rounded to ``decimals``."""
    def to_map(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        if basemap == "amap":
            x, y = wgs84_to_gcj02(x, y)
        return np.round(x, decimals), np.round(y, decimals)

    return to_map


def _polygonal(geom: Any) -> Any:
    """The polygons of a geometry: overlays and intersections leave GeometryCollections
    with stray lines and points, which would draw as extra layers."""
    if geom is None or geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    polys = [p for part in shapely.get_parts(geom) for p in shapely.get_parts(part)
             if p.geom_type == "Polygon" and not p.is_empty]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _geometries(geoms: gpd.GeoSeries, to_map: ToMap, tolerance: float) -> list[dict[str, Any] | None]:
    """GeoJSON geometry dicts of the polygons, simplified and moved to the base map's coordinates."""
    if not len(geoms):
        return []
    arr = np.array([_polygonal(g) for g in geoms.to_numpy()], dtype=object)
    if tolerance > 0:
        arr = shapely.simplify(arr, tolerance, preserve_topology=True)

    def move(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_map(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    arr = shapely.transform(arr, move)
    out: list[dict[str, Any] | None] = []
    for g in arr:
        out.append(None if g is None or g.is_empty else json.loads(shapely.to_geojson(g)))
    return out


def _fc(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


# --- the layers --------------------------------------------------------------------------------
def _status_counts(ent: pd.DataFrame, key: str) -> pd.DataFrame:
    """Enterprises per ``key`` (sorted) and status (:data:`STATUSES`, in order)."""
    if not len(ent):
        return pd.DataFrame(columns=list(STATUSES))
    return _crosstab(ent[key], ent["status"], list(STATUSES))


def _crosstab(rows: pd.Series, cols: pd.Series | NDArray[Any], columns: list[str]) -> pd.DataFrame:
    """``pd.crosstab(rows, cols)`` reindexed to ``columns`` (zeros where absent), by bincount:
    the rows that occur, sorted; the counts as int64."""
    keys, names = pd.factorize(rows.to_numpy(dtype=object), sort=True)
    col = pd.Index(columns).get_indexer(np.asarray(cols, dtype=object))
    keep = (col >= 0) & (keys >= 0)
    counts = np.bincount(keys[keep] * len(columns) + col[keep], minlength=len(names) * len(columns))
    return pd.DataFrame(counts.reshape(len(names), len(columns)).astype("int64"),
                        index=pd.Index(names, name=rows.name), columns=columns)


def _unit_features(prep: _Prepared, units: gpd.GeoDataFrame, ent: pd.DataFrame, to_map: ToMap,
                   tolerance: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(township features, park features) of the choropleth."""
    config = prep.plan.config
    if not len(units) or "unit" not in units:
        return [], []
    rates = {(str(r["unit_type"]), str(r["unit"])): r for r in prep.unit_rates.to_dict("records")}
    counts = _status_counts(ent, "unit")
    grids_per_unit = {u: len(r) for u, r in prep.grid_rows.items()}
    branches = prep.plan.branches
    branch_units: Mapping[str, int]
    if prep.branch_rows is not None:
        branch_units = {u: len(r) for u, r in prep.branch_rows.items()}
    else:
        branch_units = (_text(branches, "unit").value_counts().to_dict() if branches is not None and len(branches)
                        else {})
    geoms = _geometries(units.geometry, to_map, tolerance)
    town: list[dict[str, Any]] = []
    park: list[dict[str, Any]] = []
    unit_names = _text(units, "unit").tolist()
    unit_types = _text(units, "unit_type").tolist()
    townships = _text(units, "township").tolist()
    for name, utype, township, geom in zip(unit_names, unit_types, townships, geoms, strict=True):
        if geom is None:
            continue
        utype = utype or "township"
        r = rates.get((utype, name), {})
        n = int(r.get("enterprises", 0))
        org_a = float(r.get("org_rate_after", math.nan))
        rows: list[list[Any]] = [["类型", _UNIT_TYPE_LABELS.get(utype, utype)]]
        if utype == "park" and township:
            rows.append(["所在乡镇（街道）", township])
        rows.append(["企业", f"{n:,} 家"])
        if n:
            org_b = float(r["org_rate_before"])
            rows += [
                ["党组织覆盖率（规划前→后）", f"{_pct(org_b)} → {_pct(org_a)}"],
                ["党的工作覆盖率（规划前→后）",
                 f"{_pct(float(r['work_rate_before']))} → {_pct(float(r['work_rate_after']))}"],
                ["规上企业组建率（规划前→后）",
                 f"{_pct(float(r['m3_rate_before']))} → {_pct(float(r['m3_rate_after']))}"],
            ]
            if name in counts.index:
                rows += [[STATUS_LABELS[s], int(counts.loc[name, s])] for s in STATUSES
                         if int(counts.loc[name, s])]
        rows.append(["网格", int(grids_per_unit.get(name, 0))])
        rows.append(["联合党支部", int(branch_units.get(name, 0))])
        colors = [_rate_color(float(r.get(f"{m}_rate_{ph}", math.nan)), config) for m, ph in MEASURES]
        feature = {"type": "Feature", "geometry": geom,
                   "properties": {"t": name, "r": rows, "c": colors[_DEFAULT_MEASURE], "cc": colors}}
        (park if utype == "park" else town).append(feature)
    return town, park


def _label_point(geom: Any) -> Any:
    """Where a unit's label goes: the pole of inaccessibility of its largest part (away
    from the parks cut out of a township)."""
    from shapely.ops import polylabel

    geom = _polygonal(geom)
    if geom is None or geom.is_empty:
        return None
    largest = max(shapely.get_parts(geom), key=lambda g: g.area)
    if largest.area == 0:
        return largest.representative_point()
    return polylabel(largest, tolerance=max(math.sqrt(largest.area) / 200.0, 1e-6))


def _unit_summary(prep: _Prepared, units: gpd.GeoDataFrame, ent: pd.DataFrame,
                  to_map: ToMap) -> list[dict[str, Any]]:
    """Per unit on the map: name, type, label point, bounds, enterprises, covered counts
    and rates of the four measures (:data:`MEASURES`), gap counts per rule — read from
    the plan's coverage record, never recomputed."""
    if not len(units) or "unit" not in units:
        return []
    rates = {(str(r["unit_type"]), str(r["unit"])): r for r in prep.unit_rates.to_dict("records")}
    gaps = ent["gaps"].str.split(";").explode()
    gaps = gaps[gaps.isin(GAP_LAYERS)]
    gap_counts = (_crosstab(ent.loc[gaps.index, "unit"], gaps.to_numpy(), list(GAP_LAYERS)) if len(gaps)
                  else pd.DataFrame())
    out: list[dict[str, Any]] = []
    for name, utype, geom in zip(_text(units, "unit"), _text(units, "unit_type"), units.geometry, strict=True):
        point = _label_point(geom)
        if point is None:
            continue
        utype = utype or "township"
        r = rates.get((utype, name), {})
        x, y = to_map(np.array([point.x]), np.array([point.y]))
        x0, y0, x1, y1 = geom.bounds
        bx, by = to_map(np.array([x0, x1]), np.array([y0, y1]))
        n = int(r.get("enterprises", 0))
        covered = [int(r.get(f"{m}_covered_{ph}", 0)) for m, ph in MEASURES]
        rate = [float(r[f"{m}_rate_{ph}"]) if n else None for m, ph in MEASURES]
        counts = {g: int(gap_counts.loc[name, g]) if name in gap_counts.index and g in gap_counts else 0
                  for g in GAP_LAYERS}
        out.append({"name": name, "type": utype, "at": [float(y[0]), float(x[0])],
                    "bounds": [[float(by[0]), float(bx[0])], [float(by[1]), float(bx[1])]],
                    "n": n, "covered": covered, "rate": rate, "gaps": counts})
    return out


def _gap_points(ent: pd.DataFrame, rule: str, to_map: ToMap) -> list[list[float]]:
    """[lat, lon] of the located enterprises showing gap ``rule``."""
    has = ent["gaps"].str.split(";").map(lambda g: rule in g).to_numpy(dtype=bool)
    pts = ent.loc[has].dropna(subset=["lon", "lat"])
    if not len(pts):
        return []
    x, y = to_map(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    return [[float(b), float(a)] for a, b in zip(x, y, strict=True)]


_GRID_FIELDS: Final = ("所属单位", "入格企业", "职工", "正式党员", "网格长", "党组织覆盖率（规划前→后）",
                        "党的工作覆盖率（规划后）", *(STATUS_LABELS[s] for s in STATUSES))
_BRANCH_FIELDS: Final = ("状态", "所属网格", "单位数", "正式党员", "最大间距", "成员单位")


def _grid_features(prep: _Prepared, grids: gpd.GeoDataFrame, ent: pd.DataFrame, to_map: ToMap,
                   tolerance: float, *, aggregate: bool) -> list[dict[str, Any]]:
    """Grid polygons; the tooltip values ``v`` line up with :data:`_GRID_FIELDS`."""
    if not len(grids) or "grid_id" not in grids:
        return []
    config = prep.plan.config
    names = prep.ent["name"]
    in_grid = ent[ent["grid_id"].ne("")]
    agg = in_grid.groupby("grid_id").agg(org_b=("org_before", "mean"), org_a=("org_after", "mean"),
                                         work_a=("work_after", "mean")).to_dict("index")
    counts = _status_counts(in_grid, "grid_id").to_dict("index")
    geoms = _geometries(grids.geometry, to_map, tolerance)
    leaders = _text(grids, "leader_uscc").tolist()
    leader_names = names.reindex([u for u in leaders if u]).to_dict() if any(leaders) else {}
    out = []
    for gid, unit, n, staff, members, leader, geom in zip(
            _text(grids, "grid_id"), _text(grids, "unit"), _count(grids, "n_enterprises"), _count(grids, "staff"),
            _count(grids, "members"), leaders, geoms, strict=True):
        if geom is None:
            continue
        name = leader_names.get(leader, leader) if leader else ""
        a = agg.get(gid)
        rate = float(a["org_a"]) if a else math.nan
        c = counts.get(gid, {})
        values: list[Any] = [
            unit, int(n), f"{int(staff):,}", int(members),
            str(name) if isinstance(name, str) and name else "待选派（党建工作指导员岗位）",
            f"{_pct(float(a['org_b']))} → {_pct(rate)}" if a else "",
            _pct(float(a["work_a"])) if a else "",
            *(int(c.get(s, 0)) or "" for s in STATUSES),
        ]
        props: dict[str, Any] = {"t": f"网格 {gid}", "v": values}
        if aggregate:
            props["c"] = _rate_color(rate, config)
        out.append({"type": "Feature", "geometry": geom, "properties": props})
    return out


def _leaders(prep: _Prepared, grids: gpd.GeoDataFrame, to_map: ToMap) -> list[list[Any]]:
    if not len(grids) or "leader_uscc" not in grids:
        return []
    ent = prep.ent
    uscc = [u for u in _text(grids, "leader_uscc") if u and u in ent.index]
    if not uscc:
        return []
    pts = ent.loc[uscc, ["lon", "lat"]].dropna()
    x, y = to_map(pts["lon"].to_numpy(), pts["lat"].to_numpy())
    return [[float(b), float(a)] for a, b in zip(x, y, strict=True)]


def _branch_features(prep: _Prepared, branches: pd.DataFrame, to_map: ToMap, *,
                     names: bool = True) -> list[dict[str, Any]]:
    """Spokes from each joint branch's centre to its located members; the tooltip values
    ``v`` line up with :data:`_BRANCH_FIELDS` (member names only when ``names``)."""
    if branches is None or not len(branches) or "uscc" not in branches:
        return []
    ent = prep.ent
    b = branches.reset_index(drop=True)
    members = _text(b, "uscc").str.split(";")
    flat = members.explode()
    flat = flat[flat.notna() & flat.ne("")]
    pos = ent.index.get_indexer(flat.to_numpy())  # the plan's rows of the members named
    lon = ent["lon"].to_numpy()
    lat = ent["lat"].to_numpy()
    ok = pos >= 0
    ok[ok] = ~(np.isnan(lon[pos[ok]]) | np.isnan(lat[pos[ok]]))  # located members only
    owner = flat.index.to_numpy()[ok]
    x, y = to_map(lon[pos[ok]], lat[pos[ok]])
    order = np.argsort(owner, kind="stable")
    owner, x, y = owner[order], x[order], y[order]
    starts = np.searchsorted(owner, np.arange(len(b) + 1))
    known = pos >= 0
    name_of = (dict(zip(flat.to_numpy()[known], ent["name"].to_numpy()[pos[known]], strict=True))
               if names else {})
    status_index = {s: i for i, s in enumerate(_BRANCH_STATUS)}
    dist = pd.to_numeric(b["max_distance_m"], errors="coerce") if "max_distance_m" in b else pd.Series(np.nan, b.index)
    out = []
    for i, (bid, grid, status, mem, d, uscc) in enumerate(zip(
            _text(b, "branch_id"), _text(b, "grid_id"), _text(b, "status"), _count(b, "members"), dist,
            members, strict=True)):
        lo, hi = starts[i], starts[i + 1]
        if hi <= lo:
            continue
        bx, by = x[lo:hi], y[lo:hi]
        hx, hy = round(float(bx.mean()), _ROUND), round(float(by.mean()), _ROUND)
        lines = [[[hx, hy], [float(p), float(q)]] for p, q in zip(bx, by, strict=True)]
        status = status or "new"
        uscc = [u for u in (uscc if isinstance(uscc, list) else []) if u]
        values: list[Any] = [
            _BRANCH_STATUS.get(status, status), grid, len(uscc), int(mem),
            f"{d:,.0f} 米" if np.isfinite(d) else "",
            "、".join(str(name_of.get(u, u)) for u in uscc) if names else "",
        ]
        out.append({"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": lines},
                    "properties": {"t": f"联合党支部 {bid}", "v": values, "k": status_index.get(status, 0)}})
    return out


def _centre_list(centres: gpd.GeoDataFrame, to_map: ToMap, radius: float) -> list[list[Any]]:
    if not len(centres):
        return []
    pts = centres[centres.geometry.geom_type == "Point"]
    x, y = to_map(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
    names = _text(pts, "name").tolist()
    towns = _text(pts, "township").tolist()
    return [[float(b), float(a), n or "党群服务中心", [["乡镇（街道）", t], ["服务半径", f"{radius:,.0f} 米"]]]
            for a, b, n, t in zip(x, y, names, towns, strict=True)]


def _heat_points(ent: pd.DataFrame, to_map: ToMap, *, cell_deg: float = 0.0) -> tuple[list[list[float]], float]:
    """[lat, lon, staff] of the located enterprises uncovered after the plan (status
    ``uncovered``: no party organisation and no named instructor, the legend's 未覆盖),
    summed per square cell of ``cell_deg`` degrees when given (aggregate maps)."""
    gap = ent[ent["status"].eq("uncovered") & ent["staff"].gt(0)].dropna(subset=["lon", "lat"])
    if not len(gap):
        return [], 1.0
    x, y = to_map(gap["lon"].to_numpy(), gap["lat"].to_numpy())
    staff = gap["staff"].to_numpy()
    if cell_deg > 0:
        cells = pd.DataFrame({"i": np.floor(x / cell_deg), "j": np.floor(y / cell_deg), "x": x * staff,
                              "y": y * staff, "s": staff})
        sums = cells.groupby(["i", "j"], sort=True)[["x", "y", "s"]].sum()
        staff = sums["s"].to_numpy()
        x = np.round(sums["x"].to_numpy() / staff, _ROUND)
        y = np.round(sums["y"].to_numpy() / staff, _ROUND)
    top = float(max(1.0, np.quantile(staff, 0.9)))
    return [[float(b), float(a), int(s)] for a, b, s in zip(x, y, staff, strict=True)], top


def _enterprise_table(prep: _Prepared, ent: pd.DataFrame, to_map: ToMap, *, aggregate: bool) -> dict[str, Any]:
    """The compact column table the browser builds markers and profiles from."""
    src = prep.plan.enterprises.loc[ent.index]
    x, y = to_map(ent["lon"].to_numpy(), ent["lat"].to_numpy())
    status_code = {s: i for i, s in enumerate(STATUSES)}
    t: dict[str, Any] = {
        "lat": y.tolist(), "lon": x.tolist(),
        "name": ent["name"].tolist(),
        "s": ent["status"].map(status_code).astype(int).tolist(),
        "z": ent["size_code"].astype(int).tolist(),
        "c": {}, "d": {},
    }
    labels = {
        "unit": ent["unit"],
        "grid": ent["grid_id"],
        "branch": ent["branch_id"],
        "action": ent["action"].map(lambda a: ACTION_LABELS.get(a, a)),
        "gaps": ent["gaps"],
    }
    if not aggregate:
        t["id"] = ent.index.astype(str).tolist()
        industry = _text(src, "industry")
        labels.update({
            "township": _text(src, "township"),
            "village": _text(src, "village"),
            "park": _text(src, "park"),
            "industry": industry.map(lambda s: f"{s} {INDUSTRY_SECTIONS[s]}" if s in INDUSTRY_SECTIONS else s),
            "size": _text(src, "size_class"),
            "org": _text(src, "org_type").map(lambda o: ORG_TYPE_LABELS.get(o, o)),
            "orgname": _text(src, "org_name"),
            "instructor": _instructor_text(src, prep.plan.config),
            "precision": _text(src, "precision").map(lambda p: _PRECISION_LABELS.get(p, p)),
        })
        t["addr"] = _text(src, "address").tolist()
        t["staff"] = ent["staff"].tolist()
        t["members"] = _count(src, "members").tolist()
        t["prob"] = _count(src, "probationary").tolist()
        fixed, _ = _truthy(src, "fixed_premises")
        above, _ = _truthy(src, "above_scale")
        investor, known = _truthy(src, "investor_member")
        bits = (fixed.astype(int) * 1 + above.astype(int) * 2 + investor.astype(int) * 4 + known.astype(int) * 8
                + ent["org_before"].astype(int) * 16 + ent["org_after"].astype(int) * 32
                + ent["work_before"].astype(int) * 64 + ent["work_after"].astype(int) * 128
                + ent["leader"].astype(int) * 256)
        t["f"] = bits.astype(int).tolist()
        # gap messages in the order of each row's gaps column (row index → list)
        if len(prep.gap_msgs):
            gm: dict[str, list[str]] = {}
            uscc = ent.index.astype(str)
            for i, (u, gaps) in enumerate(zip(uscc, ent["gaps"], strict=True)):
                if gaps and u in prep.gap_msgs:
                    msgs = prep.gap_msgs[u]
                    gm[str(i)] = [msgs.get(g, "") for g in gaps.split(";")]
            t["gm"] = gm
        if len(prep.assigned):
            asg = prep.assigned.reindex(ent.index.astype(str))
            t["asg"] = {str(i): a for i, a in enumerate(asg.tolist()) if isinstance(a, str) and a}
    for key, values in labels.items():
        t["c"][key], t["d"][key] = _codes(values)
    return t


def _instructor_text(src: pd.DataFrame, config: Config) -> pd.Series:
    """The ledger's instructor for a popup: the name only with ``publish_instructor_names``."""
    names = _text(src, "instructor")
    return names if config.publish_instructor_names else names.where(names.str.strip().eq(""), "有")


def _branch_info(prep: _Prepared, categories: list[str]) -> list[list[Any]]:
    """Per branch category of the table: [status label, formal members]."""
    return [prep.branch_info.get(c, []) for c in categories]


# --- title and legend --------------------------------------------------------------------------
def _map_date(plan: Plan, date: _dt.date | str | None) -> str:
    if date is not None:
        return date.isoformat() if isinstance(date, _dt.date) else str(date)
    stamp = plan.inputs.get("date") if plan.inputs else None
    if stamp:
        return str(stamp)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.UTC).date().isoformat()
    return _dt.date.today().isoformat()


def _area_name(prep: _Prepared, unit: str | None) -> str:
    if unit is not None:
        return unit
    area = prep.plan.inputs.get("area") if prep.plan.inputs else None
    if area:
        return str(area)
    types = _text(prep.units, "unit_type") if len(prep.units) else pd.Series(dtype="str")
    n_town = int(_text(prep.units, "township").replace("", np.nan).nunique()) if len(prep.units) else 0
    n_park = int(types.eq("park").sum())
    return f"全域（{n_town}个乡镇（街道）、{n_park}个园区）" if len(prep.units) else "全域"


def _title_html(title: str, date: str, rates: pd.Series | None, n: int, unlocated: int) -> str:
    e = html.escape
    parts = [f"<h1>{e(title)} 非公企业党建“两个覆盖”地图</h1>"]
    line = [f"{e(date)}", f"企业 {n:,} 家"]
    if unlocated:
        line.append(f"未定位 {unlocated:,} 家（不在图上）")
    parts.append("<div>" + " · ".join(line) + "</div>")
    if rates is not None and n:
        parts.append(
            "<div>党组织覆盖率 " + e(_pct(float(rates["org_rate_before"]))) + " → <b>"
            + e(_pct(float(rates["org_rate_after"]))) + "</b> · 党的工作覆盖率 "
            + e(_pct(float(rates["work_rate_before"]))) + " → <b>" + e(_pct(float(rates["work_rate_after"])))
            + "</b> · 规上企业组建率 " + e(_pct(float(rates["m3_rate_before"]))) + " → "
            + e(_pct(float(rates["m3_rate_after"]))) + "</div>")
        short, backstop = int(rates.get("instructors_short", 0)), int(rates.get("backstop_after", 0))
        notes = []
        if short:
            notes.append(f"{short:,} 家企业规划选派指导员但名册不足、尚无人选，未计入工作覆盖")
        if backstop:
            notes.append(f"{backstop:,} 家小微或未定位企业仅属地兜底（M5），未计入工作覆盖")
        if notes:
            parts.append("<div class='gc-shortfall'>注意：" + e("；".join(notes)) + "</div>")
    return "".join(parts)


def _legend_html(counts: Mapping[str, int], *, aggregate: bool, radius_m: float,
                 holds: Mapping[str, Any] | None = None, config: Config | None = None) -> str:
    """The legend: only what the map holds (a status with no enterprise, a layer with
    nothing to draw: no entry)."""
    holds = holds or {}
    config = config or Config()
    parts: list[str] = []
    if holds.get("townships") or holds.get("parks"):
        target = config.org_coverage_target
        parts.append(f"<b>覆盖率分级（目标{target:.0%}）</b>")
        labels = rate_class_labels(target, config.org_coverage_full_target)
        for color, label in zip(RATE_CLASS_COLORS, labels, strict=True):
            parts.append(f'<span class="gc-class"><i class="gc-sq" style="background:{color}"></i>'
                         f"{html.escape(label)}</span>")
        if holds.get("no_data"):
            parts.append(f'<span class="gc-class"><i class="gc-sq" style="background:{_NO_DATA_COLOR}"></i>'
                         "无企业</span>")
    parts.append("<b>企业覆盖状态（规划后）</b>")
    for s in STATUSES:
        if counts.get(s, 0):
            parts.append(f'<i style="background:{_STATUS_COLORS[s]}"></i>{html.escape(STATUS_LABELS[s])}'
                         f" {counts.get(s, 0):,}<br>")
    if holds.get("heat"):
        parts.append('<i class="gc-sq" style="background:linear-gradient(90deg,#2c7bb6,#fdae61,#d7191c)">'
                     "</i>热力图：" + html.escape(STATUS_LABELS["uncovered"]) + "企业的职工<br>")
    lines = []
    if holds.get("leaders"):
        lines.append('<i style="border:2.5px solid #111;background:transparent"></i>网格长<br>')
    if holds.get("townships"):
        lines.append('<i class="gc-sq" style="border:2px solid #333;background:transparent"></i>乡镇（街道）边界<br>')
    if holds.get("parks"):
        lines.append('<i class="gc-sq" style="border:2px dashed #4a1486;background:transparent"></i>园区边界<br>')
    if holds.get("grids"):
        lines.append('<i class="gc-sq" style="border:1px dashed #2c3e50;background:transparent"></i>网格边界<br>')
    for k in holds.get("branches", ()):
        label, style = list(_BRANCH_STATUS.values())[k], _BRANCH_STYLES[k]
        lines.append(f'<i class="gc-line" style="border-top-color:{style["color"]}'
                     f'{";border-top-style:dashed" if "dashArray" in style else ""}"></i>'
                     f"联合党支部（{label}）<br>")
    if holds.get("centres"):
        lines.append(f'<i style="background:#1b7837"></i>党群服务中心（服务半径{radius_m:,.0f}米）<br>')
    for rule, n in holds.get("gaps", {}).items():
        lines.append(f'<i style="border:2px solid {_GAP_COLORS[rule]};background:transparent"></i>'
                     f"问题 {rule}：{html.escape(GAP_LAYER_LABELS[rule])} {n:,}<br>")
    if lines:
        parts.append("<b>边界、网格与图层</b>")
        parts.extend(lines)
    if aggregate:
        parts.append("<small>企业较多：网格按覆盖率着色，企业点聚合显示</small>")
    return "".join(parts)


# --- base maps ------------------------------------------------------------------------------------
_AMAP_URL: Final = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                    "&style=8&x={x}&y={y}&z={z}")
_TIANDITU_URL: Final = ("https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                        "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                        "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}")


def _resolve_basemap(basemap: str | None, config: Config, *, offline: bool = False) -> str:
    """The base map: the one asked for; else none offline (no tile request at all); else
    the config's."""
    chosen = ("none" if offline else config.basemap) if basemap is None else basemap
    if chosen not in BASEMAPS:
        msg = f"unknown basemap {chosen!r}; valid: {', '.join(BASEMAPS)}"
        raise ConfigError(msg)
    return chosen


def _tianditu_key(config: Config) -> str:
    key = config.tianditu_key or os.environ.get("GRIDCOVER_TIANDITU_KEY", "")
    if not key:
        msg = ("basemap 'tianditu' needs a key: set tianditu_key in the config [maps] section "
               "or the environment variable GRIDCOVER_TIANDITU_KEY")
        raise ConfigError(msg)
    if not re.fullmatch(r"[A-Za-z0-9]+", key):
        msg = "the Tianditu key must be letters and digits only"
        raise ConfigError(msg)
    return key


def check_tile_url(tile_url: str) -> str:
    """A tile URL template for an intranet tile server (政务外网, a 天地图 deployment), checked.

    Raises
    ------
    ConfigError
        Unless it is an http(s) URL (or a relative path) holding ``{z}``, ``{x}`` and ``{y}``.

    Examples
    --------
    >>> check_tile_url("http://10.1.2.3/tiles/{z}/{x}/{y}.png")
    'http://10.1.2.3/tiles/{z}/{x}/{y}.png'
    """
    if not all(p in tile_url for p in ("{z}", "{x}", "{y}")):
        msg = f"tile_url must contain {{z}}, {{x}} and {{y}}: {tile_url!r}"
        raise ConfigError(msg)
    scheme = tile_url.split(":", 1)[0].lower() if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", tile_url) else ""
    if scheme not in ("", "http", "https") or any(c in tile_url for c in ('"', "'", "<", ">", "\n", "\r")):
        msg = f"tile_url must be an http(s) URL without quotes or angle brackets: {tile_url!r}"
        raise ConfigError(msg)
    return tile_url


def _add_basemap(m: folium.Map, basemap: str, config: Config, tile_url: str | None,
                 attribution: str | None = None) -> None:
    if tile_url is not None:
        check_tile_url(tile_url)
        attr = html.escape(attribution) if attribution else "内网瓦片服务"
        folium.TileLayer(tiles=tile_url, attr=attr, name="内网底图", max_zoom=19, control=False).add_to(m)
        return
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", max_zoom=19, control=False).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(tiles=_AMAP_URL, attr="&copy; 高德地图 AutoNavi", name="高德地图",
                         subdomains="1234", max_zoom=18, control=False).add_to(m)
    elif basemap == "tianditu":
        key = _tianditu_key(config)
        folium.TileLayer(tiles=_TIANDITU_URL.format(layer="vec", key=key), attr="&copy; 天地图",
                         name="天地图", subdomains="01234567", max_zoom=18, control=False).add_to(m)
        folium.TileLayer(tiles=_TIANDITU_URL.format(layer="cva", key=key), attr="&copy; 天地图",
                         name="天地图注记", subdomains="01234567", max_zoom=18, overlay=True,
                         control=False).add_to(m)


# --- the map ----------------------------------------------------------------------------------------
def _subset(prep: _Prepared, unit: str | None) -> tuple[pd.DataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame,
                                                         pd.DataFrame, gpd.GeoDataFrame]:
    plan = prep.plan
    branches = plan.branches if plan.branches is not None else pd.DataFrame()
    if unit is None:
        return prep.ent, prep.units, prep.grids, branches, prep.centres
    none = np.empty(0, dtype=np.intp)
    ent = prep.ent.iloc[prep.rows.get(unit, none)]
    units = prep.units.iloc[prep.unit_rows.get(unit, none)] if len(prep.units) else prep.units
    grids = prep.grids.iloc[prep.grid_rows.get(unit, none)] if len(prep.grids) else prep.grids
    if len(branches) and prep.branch_rows is not None:
        branches = branches.iloc[prep.branch_rows.get(unit, none)]
    elif len(branches) and "grid_id" in branches:
        branches = branches[_text(branches, "grid_id").isin(set(_text(grids, "grid_id")))]
    centres = prep.centres
    if len(centres):
        radius = plan.config.service_catchment_m
        if len(units):
            utm = units.estimate_utm_crs()
            area = units.to_crs(utm).union_all().buffer(radius)
            centres = centres[centres.to_crs(utm).within(area).to_numpy()]
        else:  # no boundary: the centres of the unit's township(s)
            townships = set(_text(plan.enterprises.loc[ent.index], "township")) | {unit}
            centres = centres[_text(centres, "township").isin(townships)]
    return ent, units, grids, branches, centres


def _bounds(units: gpd.GeoDataFrame, ent: pd.DataFrame, grids: gpd.GeoDataFrame,
            to_map: ToMap) -> list[list[float]] | None:
    boxes = []
    for gdf in (units, grids):
        if len(gdf):
            boxes.append(gdf.total_bounds)
    pts = ent.dropna(subset=["lon", "lat"])
    if len(pts):
        boxes.append(np.array([pts["lon"].min(), pts["lat"].min(), pts["lon"].max(), pts["lat"].max()]))
    if not boxes:
        return None
    b = np.vstack(boxes)
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    xs, ys = to_map(np.array([x0, x1]), np.array([y0, y1]))
    return [[float(ys[0]), float(xs[0])], [float(ys[1]), float(xs[1])]]


def _build(prep: _Prepared, *, unit: str | None, basemap: str | None, offline: bool, title: str | None,
           tile_url: str | None, date: _dt.date | str | None,
           unit_links: Mapping[str, str] | None, attribution: str | None = None) -> CoverageMap:
    plan = prep.plan
    config = plan.config
    chosen = _resolve_basemap(basemap, config, offline=offline and tile_url is None)
    if unit is not None:
        known = prep.known
        if unit not in known:
            listed = ", ".join(sorted(known)[:20])
            msg = f"unknown unit {unit!r}; units of this plan: {listed}"
            raise ValueError(msg)
    ent, units, grids, branches, centres = _subset(prep, unit)
    located = ent.dropna(subset=["lon", "lat"])
    aggregate = len(located) > prep.plan.config.map_detail_max
    to_map = _projector(chosen if tile_url is None else "none", _ROUND - 1 if aggregate else _ROUND)
    tolerance = _SIMPLIFY_AGGREGATE_DEG if aggregate else _SIMPLIFY_DEG
    logger.debug("map of %s: %d enterprises (%s)", unit or "all units", len(ent),
                 "aggregate" if aggregate else "detail")

    m = CoverageMap(location=None, tiles=None, offline=offline, control_scale=True, maxZoom=19, minZoom=3)
    _add_basemap(m, chosen, config, tile_url, attribution)
    _Library().add_to(m)
    mv = m.get_name()
    names = dict(_LAYER_NAMES)

    def layer(key: str, expr: str, *, show: bool = True, cluster: bool = False) -> None:
        cls = _ClusterLayer if cluster else _JsLayer
        el = cls(expr, name=names[key], show=show)
        el.add_to(m)
        m.layers[key] = el.get_name()

    town, park = _unit_features(prep, units, ent, to_map, tolerance)
    base_style = {"weight": 2.2, "color": "#333333", "fillOpacity": 0.55}
    layer("townships", f"GC.geo({mv}, {_js(_fc(town))}, {_js({'style': base_style})})")
    park_style = {"weight": 2.5, "color": "#4a1486", "dashArray": "6 4", "fillOpacity": 0.6}
    layer("parks", f"GC.geo({mv}, {_js(_fc(park))}, {_js({'style': park_style})})")
    # outlines only, so the unit under a grid keeps its tooltip; aggregate maps colour the
    # grids by coverage instead and hide them at first on the overview
    grid_style = {"weight": 1.0, "color": "#2c3e50", "dashArray": "4 3", "fill": aggregate, "fillOpacity": 0.45}
    grid_features = _grid_features(prep, grids, ent, to_map, tolerance, aggregate=aggregate)
    leaders = _leaders(prep, grids, to_map)
    layer("grids", f"GC.grids({mv}, {_js(_fc(grid_features))}, "
          f"{_js(leaders)}, "
          f"{_js({'style': grid_style, 'fields': _GRID_FIELDS})})", show=not (aggregate and unit is None))
    heat, top = _heat_points(ent, to_map, cell_deg=_HEAT_CELL_DEG if aggregate else 0.0)
    layer("heat", f"GC.heat({mv}, {_js(heat)}, "
          f"{_js({'radius': 18, 'max': top, 'opacity': 0.75, 'gradient': [list(g) for g in _HEAT_GRADIENT]})})",
          show=False)
    spokes = _branch_features(prep, branches, to_map, names=not aggregate)
    branch_opts = {"style": {"opacity": 0.9}, "styles": list(_BRANCH_STYLES), "fields": _BRANCH_FIELDS}
    layer("branches", f"GC.geo({mv}, {_js(_fc(spokes))}, {_js(branch_opts)})", show=not (aggregate and unit is None))
    centre_list = _centre_list(centres, to_map, config.service_catchment_m)
    layer("centres", f"GC.centres({mv}, {_js(centre_list)}, "
          f"{_js({'radius': config.service_catchment_m})})")
    sites = prep.plan.new_sites
    if sites is not None and len(sites):  # W3: proposed new sites (--centres)
        site_pts = [[float(la), float(lo), f"拟新建服务中心 {int(rk)}",
                     [["新覆盖企业", str(int(ne))], ["新覆盖职工", str(int(ns))], ["服务半径", f"{config.service_catchment_m:,.0f} 米"]]]
                    for lo, la, rk, ne, ns in zip(*to_map(sites["lon"].to_numpy(float), sites["lat"].to_numpy(float)),
                                                  sites["rank"], sites["new_enterprises_covered"],
                                                  sites["new_staff_covered"], strict=True)]
        layer("new_centres", f"GC.centres({mv}, {_js(site_pts)}, {_js({'radius': config.service_catchment_m})})")
    table = _enterprise_table(prep, located, to_map, aggregate=aggregate)
    options: dict[str, Any] = {
        "cluster": aggregate,
        "radii": list(_RADII),
        "colors": [_STATUS_COLORS[s] for s in STATUSES],
        "ink": ["#222" if s in ("attached", "not_gridded") else "#fff" for s in STATUSES],
        "labels": [STATUS_LABELS[s] for s in STATUSES],
        "rules": {r: rule_text(r, config) for r in RULE_IDS},
        "branches": _branch_info(prep, table["d"]["branch"]),
    }
    if unit_links:
        options["unitLinks"] = [unit_links.get(u, "") for u in table["d"]["unit"]]
    layer("enterprises", f"GC.enterprises({mv}, {_js(table)}, {_js(options)})", cluster=aggregate)
    # one layer per gap rule: rings on the enterprises showing it, and its count per unit
    summary = _unit_summary(prep, units, ent, to_map)
    gap_totals: dict[str, int] = {}
    for i, rule in enumerate(GAP_LAYERS):
        key = f"gap_{rule}"
        total = int(ent["gaps"].str.split(";").map(lambda g, r=rule: r in g).sum())
        gap_totals[rule] = total
        names[key] = f"问题 {rule}：{GAP_LAYER_LABELS[rule]}（{total:,}家）"
        badges = [[u["at"][0], u["at"][1], u["gaps"][rule]] for u in summary if u["gaps"][rule]]
        rings = [] if aggregate else _gap_points(ent, rule, to_map)  # at scale: the counts per unit only
        layer(key, f"GC.gaps({mv}, {_js(rings)}, {_js(badges)}, "
              f"{_js({'rule': rule, 'color': _GAP_COLORS[rule], 'slot': i})})", show=False)
    layer("labels", f"GC.labels({mv}, {_js(summary)}, {_js({'measure': _DEFAULT_MEASURE})})")

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    rates: pd.Series | None = prep.total_rates
    if unit is not None:
        row = prep.unit_rates[prep.unit_rates["unit"].eq(unit)]
        rates = row.iloc[0] if len(row) else None
    counts = ent["status"].value_counts()
    title_html = _title_html(title or _area_name(prep, unit), _map_date(plan, date), rates, len(ent),
                             len(ent) - len(located))
    holds = {
        "townships": bool(town), "parks": bool(park), "grids": bool(grid_features), "leaders": bool(leaders),
        "branches": sorted({f["properties"]["k"] for f in spokes}), "centres": bool(centre_list),
        "heat": bool(heat), "no_data": any(f["properties"]["c"] == _NO_DATA_COLOR for f in town + park),
        "gaps": {r: n for r, n in gap_totals.items() if n},
    }
    legend_html = _legend_html({s: int(counts.get(s, 0)) for s in STATUSES}, aggregate=aggregate,
                               radius_m=config.service_catchment_m, holds=holds, config=config)
    targets = [config.org_coverage_target, config.org_coverage_target,
               config.work_coverage_target, config.work_coverage_target]
    ranking = {"measures": list(_MEASURE_LABELS), "targets": targets, "measure": _DEFAULT_MEASURE,
               "title": "单位排名（距目标差距）" if unit is None else "覆盖率"}
    registry = {k: v for k, v in m.layers.items()}
    offline_note = (f"GC.offlineNote({mv}, {_js(_OFFLINE_NOTE)});\n"
                    if chosen == "none" and tile_url is None else "")
    _Script(
        f"GC.title({mv}, {_js(title_html)});\n"
        f"GC.legend({mv}, {_js(legend_html)});\n"
        f"GC.ranking({mv}, {_js(summary)}, [{m.layers['townships']}, {m.layers['parks']}], "
        f"{m.layers['labels']}, {_js(ranking)});\n"
        + offline_note +
        f"GC.search({mv}, {m.layers['enterprises']});\n"
        f"GC.fullscreen({mv});\n"
        f"GC.measure({mv});\n"
        f"GC.stack({mv}, [{', '.join(registry.values())}]);\n"
        f"window.gridcover = {{map: {mv}, layers: {{"
        + ", ".join(f"{k}: {v}" for k, v in registry.items())
        + f"}}, aggregate: {'true' if aggregate else 'false'}, "
        f"offline: {'true' if offline_note else 'false'}, ready: true}};"
    ).add_to(m)
    bounds = _bounds(units, ent, grids, to_map)
    if bounds is not None:
        m.fit_bounds(bounds, padding=(10, 10))
    else:
        m.location, m.options["zoom"] = [35.0, 105.0], 4
    return m


def coverage_map(plan: Plan, *, unit: str | None = None, basemap: Basemap | None = None, offline: bool = True,
                 title: str | None = None, tile_url: str | None = None, attribution: str | None = None,
                 date: _dt.date | str | None = None) -> CoverageMap:
    """The coverage map (覆盖地图) of a plan, or of one unit, as a folium Map.

    Parameters
    ----------
    plan
        A Plan (built by the pipeline or read back from a plan folder).
    unit
        Only this park or township (its enterprises, grids, branches and the service
        centres within reach); None maps the whole area.
    basemap
        ``osm``, ``amap`` (vectors shifted to GCJ-02), ``tianditu`` (needs a key) or
        ``none``; None: ``none`` when ``offline`` (no tile request at all: the units on a
        plain ground, with a note that the map is offline), else ``plan.config.basemap``.
    offline
        Inline every asset when the map is saved or shown (see :func:`map_html`).
    title
        The area named in the title (default: the unit, ``plan.inputs["area"]`` or a
        count of units).
    tile_url
        A tile URL template (``…/{z}/{x}/{y}.png``) of an intranet tile server (政务外网,
        a 天地图 deployment; WGS-84/CGCS2000 tiles); replaces the base map.
    attribution
        The attribution shown for ``tile_url`` tiles (default 内网瓦片服务).
    date
        The date in the title (default ``plan.inputs["date"]``, else
        ``SOURCE_DATE_EPOCH``, else today).

    Returns
    -------
    CoverageMap
        A folium Map: it displays inline in a notebook; ``m.save(path)`` or
        :func:`map_html` gives the HTML.

    Raises
    ------
    ConfigError
        For an unknown base map, a Tianditu base map without a key, or a bad tile URL.
    ValueError
        For an unknown unit or enterprises without coordinates columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"name": ["甲公司"], "lon": [118.1], "lat": [24.5], "unit": ["城关镇"],
    ...                     "unit_type": ["township"], "org_type": ["own"], "action": ["keep"]},
    ...                    index=pd.Index(["91350100M000100Y43"], name="uscc"))
    >>> m = coverage_map(Plan(enterprises=ent), basemap="none", date="2024-06-30")
    >>> sorted(m.layers)[:8]
    ['branches', 'centres', 'enterprises', 'gap_G1', 'gap_G2', 'gap_G7', 'gap_G8', 'gap_G9']
    >>> sorted(m.layers)[8:]
    ['grids', 'heat', 'labels', 'parks', 'townships']
    >>> m.layers["enterprises"].startswith("gridcover_layer_")
    True
    """
    prep = _prepare(plan)
    return _build(prep, unit=unit, basemap=basemap, offline=offline, title=title, tile_url=tile_url,
                  date=date, unit_links=None, attribution=attribution)


def _unit_names(prep: _Prepared) -> list[str]:
    names = set(prep.ent["unit"]) | (set(_text(prep.units, "unit")) if len(prep.units) else set())
    names.discard("")
    return sorted(names)


def write_maps(plan: Plan, out_dir: str | Path, *, offline: bool = True, basemap: Basemap | None = None,
               per_unit: bool = True, tile_url: str | None = None, attribution: str | None = None,
               date: _dt.date | str | None = None, workers: int = 1) -> list[Path]:
    """Write ``map.html`` and, with ``per_unit``, one map per unit in ``maps/<unit>.html``.

    Every file is written atomically (a temporary file renamed over the target).
    Unit file names are made short, safe (:func:`safe_filename`) and unique. To
    re-render the maps inside a plan folder (which ``run.json`` describes file by
    file), use :func:`gridcover.outputs.rewrite_maps` (``gridcover map PLAN_DIR``). At scale
    (above ``Config.map_detail_max``), the overview links each enterprise to its
    unit's map for the full profile.

    Parameters
    ----------
    plan
        A Plan.
    out_dir
        Output folder (created).
    offline, basemap, tile_url, attribution, date
        As in :func:`coverage_map`.
    per_unit
        Also write one map per park and per township.
    workers
        Processes writing the maps in parallel (1: one after the other); the files are
        the same whatever the number.

    Returns
    -------
    list of Path
        ``map.html`` first, then the unit maps sorted by unit name.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from gridcover import Plan
    >>> ent = pd.DataFrame({"name": ["甲公司"], "lon": [118.1], "lat": [24.5], "unit": ["城关镇"],
    ...                     "unit_type": ["township"], "org_type": ["own"], "action": ["keep"]},
    ...                    index=pd.Index(["91350100M000100Y43"], name="uscc"))
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.relative_to(d).as_posix() for p in write_maps(Plan(enterprises=ent), d, basemap="none")]
    ['map.html', 'maps/城关镇.html']
    """
    from ._io import run_tasks

    tasks = map_tasks(plan, out_dir, offline=offline, basemap=basemap, per_unit=per_unit, tile_url=tile_url,
                      attribution=attribution, date=date)
    written = [path for path, _ in run_tasks([t for _, t in tasks], workers, order=_largest_first(tasks))]
    logger.info("wrote %d map(s) to %s", len(written), out_dir)
    return written


@dataclass(frozen=True)
class MapTask:
    """One map file to write, over the plan prepared once: calling it builds the map,
    writes it atomically and returns its path."""

    path: Path
    prep: _Prepared
    unit: str | None
    links: Mapping[str, str] | None
    kwargs: Mapping[str, Any]
    size: int  # enterprises on the map (to start the largest first)

    def __call__(self) -> Path:
        m = _build(self.prep, unit=self.unit, unit_links=self.links, **self.kwargs)
        data = map_html(m, offline=bool(self.kwargs.get("offline", True))).encode("utf-8")
        with atomic_file(self.path) as tmp:
            tmp.write_bytes(data)
        return self.path


def _largest_first(tasks: Sequence[tuple[str, MapTask]]) -> list[int]:
    return sorted(range(len(tasks)), key=lambda i: -tasks[i][1].size)


def map_tasks(plan: Plan, out_dir: str | Path, *, offline: bool = True, basemap: Basemap | None = None,
              per_unit: bool = True, tile_url: str | None = None, attribution: str | None = None,
              date: _dt.date | str | None = None) -> list[tuple[str, MapTask]]:
    """The maps :func:`write_maps` writes, as independent tasks: ``(relative name, task)``,
    ``map.html`` first, then the unit maps sorted by unit name. The plan is prepared once
    (here) and shared; each unit's task touches only its unit's rows."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prep = _prepare(plan)
    files = _unit_filenames(_unit_names(prep)) if per_unit else {}
    links = {u: f"maps/{f}" for u, f in files.items()} or None
    kwargs: dict[str, Any] = {"basemap": basemap, "offline": offline, "title": None, "tile_url": tile_url,
                              "attribution": attribution, "date": date}
    tasks = [("map.html", MapTask(out / "map.html", prep, None, links, kwargs, len(prep.ent)))]
    for unit_name, filename in sorted(files.items()):
        size = len(prep.rows.get(unit_name, ()))
        tasks.append((f"maps/{filename}", MapTask(out / "maps" / filename, prep, unit_name, None, kwargs, size)))
    return tasks
