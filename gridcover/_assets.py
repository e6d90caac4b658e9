"""Offline map assets: inline every JS/CSS file a folium map needs, from XStatic packages.

A folium map links Leaflet, jQuery, Bootstrap, Font Awesome, awesome-markers,
MarkerCluster and d3 (branca's legend, hard-wired) from CDNs; with no network the page
stays blank (``L is not defined``). :func:`inline_assets` post-processes the rendered
HTML: every ``<script src=http…>`` / ``<link href=http…>`` is replaced in place by the
local copy shipped by an installed XStatic package (xstatic-leaflet,
xstatic-leaflet-markercluster, xstatic-jquery, xstatic-d3) or dropped when the map does
not need it (Bootstrap, Font Awesome, glyphicons, awesome-markers CSS); a link with no
local copy is an error rather than a map that silently needs the network. Nothing is
copied into the repository: the files are read from the installed packages.

Leaflet's CSS images become data URIs and so do the default marker icon URLs.
"""

from __future__ import annotations

import base64
import functools
import importlib
import logging
import re
from importlib import resources
from pathlib import Path
from typing import Final

from .errors import GridcoverError

__all__ = ["GRIDCOVER_CSS", "GRIDCOVER_JS", "asset_text", "inline_assets", "remote_asset_urls"]

logger = logging.getLogger(__name__)

#: Local copies: key -> (XStatic module, file inside its BASE_DIR).
_XSTATIC: Final = {
    "leaflet_js": ("xstatic.pkg.leaflet", "leaflet.js"),
    "leaflet_css": ("xstatic.pkg.leaflet", "leaflet.css"),
    "jquery_js": ("xstatic.pkg.jquery", "jquery.min.js"),
    "markercluster_js": ("xstatic.pkg.leaflet_markercluster", "leaflet.markercluster.js"),
    "markercluster_css": ("xstatic.pkg.leaflet_markercluster", "MarkerCluster.css"),
    "markercluster_default_css": ("xstatic.pkg.leaflet_markercluster", "MarkerCluster.Default.css"),
    "d3_js": ("xstatic.pkg.d3", "d3.js"),
}

#: Which local copy (or None: not needed) replaces a CDN file, by its file name.
#: The file name is matched case-insensitively against the last path segment of the URL.
_BY_FILENAME: Final = (
    (re.compile(r"^leaflet(-src)?\.js$"), "leaflet_js"),
    (re.compile(r"^leaflet\.css$"), "leaflet_css"),
    (re.compile(r"^jquery(-3\.[\d.]+)?(\.min)?\.js$"), "jquery_js"),
    (re.compile(r"^leaflet\.markercluster(-src)?\.js$"), "markercluster_js"),
    (re.compile(r"^markercluster\.css$"), "markercluster_css"),
    (re.compile(r"^markercluster\.default\.css$"), "markercluster_default_css"),
    (re.compile(r"^d3(\.v3)?(\.min)?\.js$"), "d3_js"),
    # not needed by gridcover maps: styling frameworks and awesome-markers
    (re.compile(r"^bootstrap(\.bundle)?(\.min)?\.(js|css)$"), None),
    (re.compile(r"^bootstrap-glyphicons(\.min)?\.css$"), None),
    (re.compile(r"^all(\.min)?\.css$"), None),  # Font Awesome
    (re.compile(r"^leaflet\.awesome[-.](markers|rotate)(\.min)?\.(js|css)$"), None),
)

#: JavaScript that, when present in a map, needs an asset we drop (no package ships it).
_NEEDS_DROPPED: Final = (("L.AwesomeMarkers", "awesome-markers (use circle markers or DivIcons)"),)

_SCRIPT_SRC = re.compile(
    r"""<script\b[^>]*?\bsrc\s*=\s*["'](?P<url>(?:https?:)?//[^"']+)["'][^>]*>\s*</script\s*>""",
    re.IGNORECASE)
_LINK_HREF = re.compile(
    r"""<link\b[^>]*?\bhref\s*=\s*["'](?P<url>(?:https?:)?//[^"']+)["'][^>]*?/?>""",
    re.IGNORECASE)
_REMOTE_ANY = re.compile(
    r"""<(?:script\b[^>]*?\bsrc|link\b[^>]*?\bhref)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
_SOURCE_MAP = re.compile(r"^\s*//[#@] sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"""url\(\s*["']?(images/[\w.-]+\.png)["']?\s*\)""")

_ICON_DEFAULT_JS: Final = """
if (window.L && L.Icon && L.Icon.Default) {{
  L.Icon.Default.imagePath = "";
  L.Icon.Default.mergeOptions({{iconUrl: "{icon}", iconRetinaUrl: "{icon2x}", shadowUrl: "{shadow}"}});
}}
"""


def _base_dir(module: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        dist = module.replace("xstatic.pkg.", "xstatic-").replace("_", "-")
        msg = f"offline maps need the package {dist}: pip install {dist}"
        raise ImportError(msg) from None
    return Path(mod.BASE_DIR)


@functools.cache
def _data_uri(module: str, relpath: str) -> str:
    data = (_base_dir(module) / relpath).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@functools.cache
def asset_text(key: str) -> str:
    """The text of one local asset, ready to inline (source-map comments removed,
    Leaflet's CSS images as data URIs).

    Parameters
    ----------
    key
        One of ``leaflet_js, leaflet_css, jquery_js, markercluster_js,
        markercluster_css, markercluster_default_css, d3_js``.

    Returns
    -------
    str
        The file's text.

    Examples
    --------
    >>> "L.version" in asset_text("leaflet_js") or "1.9.3" in asset_text("leaflet_js")
    True
    """
    if key not in _XSTATIC:
        msg = f"unknown asset {key!r}; known: {', '.join(sorted(_XSTATIC))}"
        raise ValueError(msg)
    module, name = _XSTATIC[key]
    text = (_base_dir(module) / name).read_text(encoding="utf-8")
    text = _SOURCE_MAP.sub("", text)
    if key == "leaflet_css":
        text = _CSS_URL.sub(lambda m: f'url("{_data_uri(module, m.group(1))}")', text)
    if key == "leaflet_js":
        text += _ICON_DEFAULT_JS.format(
            icon=_data_uri(module, "images/marker-icon.png"),
            icon2x=_data_uri(module, "images/marker-icon-2x.png"),
            shadow=_data_uri(module, "images/marker-shadow.png"))
    # an inline <script>/<style> ends at the first "</script" or "</style": keep them out
    return text.replace("</script", "<\\/script").replace("</style", "<\\/style")


def _local_key(url: str) -> str | None:
    """The local asset replacing ``url``, None when the map does not need it.

    Raises
    ------
    GridcoverError
        When no local copy exists for the URL.
    """
    filename = url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()
    for pattern, key in _BY_FILENAME:
        if pattern.match(filename):
            if key == "d3_js" and re.search(r"d3[@/]v?[4-9]", url):
                break  # only d3 v3 (branca's legend) has a local copy
            return key
    msg = (f"the map links {url}, which has no local copy for an offline map; "
           "use only Leaflet, MarkerCluster, jQuery and d3 v3 assets, or offline=False")
    raise GridcoverError(msg)


def remote_asset_urls(html: str) -> list[str]:
    """Every JS/CSS URL a page would fetch from the network (``<script src>``,
    ``<link href>``), in document order."""
    return [m.group("url") for m in _SCRIPT_SRC.finditer(html)] + [
        m.group("url") for m in _LINK_HREF.finditer(html)]


def inline_assets(html: str) -> str:
    """Replace every remote ``<script src>`` / ``<link href>`` by its local copy.

    Each tag is replaced in place (the load order stays), each asset is inlined once;
    links the map does not need (Bootstrap, Font Awesome, awesome-markers CSS) are
    removed.

    Parameters
    ----------
    html
        A rendered folium page.

    Returns
    -------
    str
        The page with no remote JS or CSS left.

    Raises
    ------
    GridcoverError
        When a linked file has no local copy, when the page uses a dropped library
        (awesome-markers), or when a remote link survives.

    Examples
    --------
    >>> page = '<head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"></script></head>'
    >>> out = inline_assets(page)
    >>> remote_asset_urls(out), out.startswith("<head><script>")
    ([], True)
    """
    for needle, what in _NEEDS_DROPPED:
        if needle in html:
            msg = f"the map uses {what}, which has no local copy for an offline map"
            raise GridcoverError(msg)
    seen: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        key = _local_key(match.group("url"))
        if key is None or key in seen:
            return ""
        seen.add(key)
        logger.debug("inlining %s for %s", key, match.group("url"))
        text = asset_text(key)
        if key.endswith("_css"):
            return f"<style>{text}</style>"
        return f"<script>{text}</script>"

    out = _SCRIPT_SRC.sub(replace, html)
    out = _LINK_HREF.sub(replace, out)
    left = _REMOTE_ANY.search(out)
    if left is not None:
        msg = f"a remote asset is left in the offline map: {out[left.start():left.start() + 120]!r}"
        raise GridcoverError(msg)
    return out


# --- gridcover's own map code ----------------------------------------------------------
# Small self-contained controls instead of folium plugins that load from CDNs: a search
# box over enterprise names, a fullscreen toggle (Fullscreen API), a click-to-measure
# distance tool and a canvas heat layer. Every value that comes from the data goes
# through GC.esc before it reaches innerHTML; names in lists are set with textContent.
# The code lives in the package data files ``gridcover/assets/gridcover.{css,js}``.


def _package_asset(name: str) -> str:
    """The text of one of gridcover's own asset files (package data)."""
    return resources.files("gridcover").joinpath("assets", name).read_text(encoding="utf-8")


#: CSS of gridcover's map elements (``assets/gridcover.css``).
GRIDCOVER_CSS: Final = _package_asset("gridcover.css")

#: JavaScript of gridcover's map elements, namespace ``GC`` (``assets/gridcover.js``).
GRIDCOVER_JS: Final = _package_asset("gridcover.js")
