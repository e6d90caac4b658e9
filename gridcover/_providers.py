"""Online geocoding providers (在线地理编码服务): a protocol and a registry.

A provider answers one address with a point **in the coordinate system it declares**
(:attr:`Provider.crs`) and a precision by **its own mapping** of the answer's match
level; :class:`gridcover.geocode.OnlineGeocoder` converts the point to WGS-84 by that
declaration, and adds the cache, the rate limit and the retries. Nothing here sleeps,
caches or retries.

=============  ==========================================  ==================  =======================
name           service                                     answers in          key (environment)
=============  ==========================================  ==================  =======================
``amap``       高德 Web 服务 地理编码 ``/v3/geocode/geo``      GCJ-02              ``GRIDCOVER_AMAP_KEY``
``tianditu``   天地图 地理编码 ``/geocoder``                  CGCS2000 ≈ WGS-84   ``GRIDCOVER_TIANDITU_KEY``
``baidu``      百度 地理编码 v3 ``/geocoding/v3/``             BD-09 (bd09ll)      ``GRIDCOVER_BAIDU_KEY``
``nominatim``  OpenStreetMap Nominatim, through geopy      WGS-84              none
=============  ==========================================  ==================  =======================

CGCS2000 and WGS-84 differ by centimetres, far below an address's precision, so
Tianditu's answers are taken as WGS-84. Keys come from the config
(``geocoder_api_key``) or the environment variable above (``GRIDCOVER_GEOCODER_KEY``
as a fallback for any provider); they are sent to the provider only, never logged
and never written to an output (``run.json`` records the config without them).

Precision of an answer: ``village`` (a village, road, building or point of interest
— placed as such), ``township`` (a township, a park-wide or a fuzzy answer — it only
tells the township) or ``None`` (a county, city or coarser, or an unknown level: not
a location).

Examples
--------
>>> p = make_provider("amap", key="k", fetch=lambda url, params: {
...     "status": "1", "count": "1", "geocodes": [{"location": "118.51,26.51", "level": "村庄"}]})
>>> p.name, p.crs, p.lookup("福建省青岚县城关街道高寮村")
('amap', 'gcj02', Answer(lon=118.51, lat=26.51, precision='village', level='村庄'))
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from .errors import ConfigError, GridcoverError

__all__ = ["PROVIDERS", "AMap", "Answer", "Baidu", "GeopyProvider", "Nominatim", "Provider", "ProviderRefused",
           "ProviderUnavailable", "Tianditu", "make_provider", "provider_key"]

logger = logging.getLogger(__name__)

CrsCode = Literal["wgs84", "gcj02", "bd09"]
Precision = Literal["village", "township"]
#: ``fetch(url, params) -> parsed JSON`` (injected in tests; HTTP GET otherwise).
Fetch = Callable[[str, Mapping[str, str]], Any]


class Answer(NamedTuple):
    """One provider answer, in the provider's coordinate system."""

    lon: float
    lat: float
    precision: Precision | None
    level: str


class ProviderRefused(GridcoverError):
    """The provider refuses every further request (bad key, quota exhausted): stop asking."""


class ProviderUnavailable(GridcoverError):
    """This request failed (network, server busy); it may succeed when retried."""


@runtime_checkable
class Provider(Protocol):
    """What :class:`gridcover.geocode.OnlineGeocoder` needs of a provider."""

    #: Name in the registry and in the cache key.
    name: str
    #: Coordinate system of its answers (wgs84, gcj02, bd09).
    crs: CrsCode

    def lookup(self, query: str) -> Answer | None:
        """The answer for one address, ``None`` when the provider finds nothing.

        Raises
        ------
        ProviderRefused
            Every further request would be refused too.
        ProviderUnavailable
            This one failed; retrying may help.
        """
        ...


def _http_json(url: str, params: Mapping[str, str], *, timeout: float = 10.0) -> Any:
    """HTTP GET ``url?params`` and parse the JSON body (the key never reaches a log)."""
    from . import __version__

    request = urllib.request.Request(f"{url}?{urllib.parse.urlencode(params)}",
                                     headers={"User-Agent": f"gridcover/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - fixed https URLs
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            msg = f"{urllib.parse.urlsplit(url).netloc} refused the request (HTTP {exc.code})"
            raise ProviderRefused(msg) from None
        msg = f"{urllib.parse.urlsplit(url).netloc} answered HTTP {exc.code}"
        raise ProviderUnavailable(msg) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = f"{urllib.parse.urlsplit(url).netloc} unreachable: {reason}"
        raise ProviderUnavailable(msg) from None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        msg = f"{urllib.parse.urlsplit(url).netloc} answered something that is not JSON"
        raise ProviderUnavailable(msg) from None


def _floats(lon: Any, lat: Any) -> tuple[float, float] | None:
    try:
        return float(lon), float(lat)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------
# AMap 高德
# ---------------------------------------------------------------------------------------
# Match levels (``level``) of the geocoding API, as documented (2023-12 list).
_AMAP_NONE = frozenset({"国家", "省", "市", "区县", "未知"})
_AMAP_TOWNSHIP = frozenset({"乡镇", "开发区", "热点商圈"})
_AMAP_VILLAGE = frozenset({"村庄", "道路", "道路交叉路口", "兴趣点", "门牌号", "单元号", "楼层", "房间",
                           "公交地铁站点", "公交站台、地铁站", "门址", "小巷", "住宅区"})
# infocodes that refuse every further request: key invalid/unauthorised, quotas.
_AMAP_REFUSED = frozenset({"10001", "10002", "10003", "10005", "10006", "10007", "10008", "10009", "10010",
                           "10011", "10012", "10013", "10044", "10045"})


@dataclass(frozen=True)
class AMap:
    """高德 Web 服务 地理编码 (``https://restapi.amap.com/v3/geocode/geo``), GCJ-02.

    Parameters
    ----------
    key
        Web 服务 key.
    city
        Optional ``city`` filter (name, citycode or adcode).
    fetch
        Transport (HTTP GET by default).
    """

    key: str = field(repr=False)
    city: str = ""
    fetch: Fetch | None = None
    name: str = "amap"
    crs: CrsCode = "gcj02"
    url: str = "https://restapi.amap.com/v3/geocode/geo"

    @staticmethod
    def precision(geocode: Mapping[str, Any]) -> Precision | None:
        """Precision of one ``geocodes`` item by its ``level``."""
        level = geocode.get("level")
        level = level if isinstance(level, str) else ""
        if level in _AMAP_VILLAGE:
            return "village"
        if level in _AMAP_TOWNSHIP:
            return "township"
        return None

    def parse(self, payload: Any) -> Answer | None:
        """The first geocode of a response body, or ``None``."""
        if not isinstance(payload, dict):
            raise ProviderUnavailable("AMap answered an unexpected body")
        if str(payload.get("status")) != "1":
            code, info = str(payload.get("infocode", "")), str(payload.get("info", ""))
            if code in _AMAP_REFUSED:
                raise ProviderRefused(f"AMap refused: {info} ({code})")
            raise ProviderUnavailable(f"AMap failed: {info} ({code})")
        items = payload.get("geocodes") or []
        if not items or not isinstance(items[0], dict):
            return None
        first = items[0]
        parts = str(first.get("location", "")).split(",")
        point = _floats(*parts) if len(parts) == 2 else None
        if point is None:
            return None
        level = first.get("level")
        return Answer(point[0], point[1], self.precision(first), level if isinstance(level, str) else "")

    def lookup(self, query: str) -> Answer | None:
        params = {"address": query, "key": self.key, "output": "JSON"}
        if self.city:
            params["city"] = self.city
        return self.parse((self.fetch or _http_json)(self.url, params))


# ---------------------------------------------------------------------------------------
# Tianditu 天地图
# ---------------------------------------------------------------------------------------
_TIANDITU_NONE = frozenset({"国家", "省", "省份", "市", "城市", "区县", "县", "行政区", "行政区划"})
_TIANDITU_TOWNSHIP = frozenset({"乡镇", "街道", "乡镇街道"})
#: A Tianditu answer whose ``score`` (0–100, where given) is below this only tells the township.
TIANDITU_MIN_SCORE = 60.0


@dataclass(frozen=True)
class Tianditu:
    """天地图 地理编码 (``https://api.tianditu.gov.cn/geocoder?ds={"keyWord": …}``), CGCS2000.

    Parameters
    ----------
    key
        Server-side ``tk``.
    fetch
        Transport (HTTP GET by default).
    """

    key: str = field(repr=False)
    fetch: Fetch | None = None
    name: str = "tianditu"
    crs: CrsCode = "wgs84"  # CGCS2000: within centimetres of WGS-84
    url: str = "https://api.tianditu.gov.cn/geocoder"

    @staticmethod
    def precision(location: Mapping[str, Any]) -> Precision | None:
        """Precision of a ``location`` by its ``level`` and ``score``."""
        level = location.get("level")
        level = level if isinstance(level, str) else ""
        if level in _TIANDITU_NONE:
            return None
        if level in _TIANDITU_TOWNSHIP:
            return "township"
        score = _floats(location.get("score"), 0)
        if score is not None and score[0] < TIANDITU_MIN_SCORE:
            return "township"
        return "village"

    def parse(self, payload: Any) -> Answer | None:
        if not isinstance(payload, dict):
            raise ProviderUnavailable("Tianditu answered an unexpected body")
        status = str(payload.get("status", ""))
        if status == "101":  # no result
            return None
        if status != "0":
            msg = str(payload.get("msg", ""))
            if "权限" in msg or "key" in msg.casefold() or "tk" in msg.casefold():
                raise ProviderRefused(f"Tianditu refused: {msg}")
            raise ProviderUnavailable(f"Tianditu failed: {msg} ({status})")
        location = payload.get("location")
        if not isinstance(location, dict):
            return None
        point = _floats(location.get("lon"), location.get("lat"))
        if point is None:
            return None
        level = location.get("level")
        return Answer(point[0], point[1], self.precision(location), level if isinstance(level, str) else "")

    def lookup(self, query: str) -> Answer | None:
        params = {"ds": json.dumps({"keyWord": query}, ensure_ascii=False), "tk": self.key}
        return self.parse((self.fetch or _http_json)(self.url, params))


# ---------------------------------------------------------------------------------------
# Baidu 百度
# ---------------------------------------------------------------------------------------
_BAIDU_NONE = frozenset({"UNKNOWN", "国家", "省", "省份", "城市", "区县"})
_BAIDU_TOWNSHIP = frozenset({"乡镇", "商圈", "工业园区"})
#: Baidu ``confidence`` at or above which an imprecise (``precise`` 0) answer is still
#: placed (confidence 50: error under about 1 km); below it the answer only tells the township.
BAIDU_MIN_CONFIDENCE = 50
# status codes that refuse every further request (key, permission, quota)
_BAIDU_RETRY = frozenset({1, 401, 402})


@dataclass(frozen=True)
class Baidu:
    """百度 地理编码 v3 (``https://api.map.baidu.com/geocoding/v3/``), BD-09 (``bd09ll``).

    Parameters
    ----------
    key
        The ``ak``.
    fetch
        Transport (HTTP GET by default).
    """

    key: str = field(repr=False)
    fetch: Fetch | None = None
    name: str = "baidu"
    crs: CrsCode = "bd09"
    url: str = "https://api.map.baidu.com/geocoding/v3/"

    @staticmethod
    def precision(result: Mapping[str, Any]) -> Precision | None:
        """Precision of a ``result`` by its ``level``, ``precise`` and ``confidence``."""
        level = result.get("level")
        level = level if isinstance(level, str) else "UNKNOWN"
        if level in _BAIDU_NONE:
            return None
        if level in _BAIDU_TOWNSHIP:
            return "township"
        precise = _floats(result.get("precise"), 0)
        confidence = _floats(result.get("confidence"), 0)
        if precise is None and confidence is None:  # the level alone (geopy's older Baidu answers)
            return "village"
        if (precise is not None and precise[0] == 1) or (confidence is not None
                                                         and confidence[0] >= BAIDU_MIN_CONFIDENCE):
            return "village"
        return "township"  # a fuzzy point (error over about 1 km): it tells the township only

    def parse(self, payload: Any) -> Answer | None:
        if not isinstance(payload, dict):
            raise ProviderUnavailable("Baidu answered an unexpected body")
        try:
            status = int(payload.get("status", -1))
        except (TypeError, ValueError):
            status = -1
        if status != 0:
            message = str(payload.get("msg") or payload.get("message") or "")
            if "无相关结果" in message:
                return None
            if status in _BAIDU_RETRY or status < 0:
                raise ProviderUnavailable(f"Baidu failed: {message} ({status})")
            if status == 2:  # a request the service cannot read: this address only
                return None
            raise ProviderRefused(f"Baidu refused: {message} ({status})")
        result = payload.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("location"), dict):
            return None
        point = _floats(result["location"].get("lng"), result["location"].get("lat"))
        if point is None:
            return None
        level = result.get("level")
        return Answer(point[0], point[1], self.precision(result), level if isinstance(level, str) else "")

    def lookup(self, query: str) -> Answer | None:
        params = {"address": query, "output": "json", "ak": self.key}
        return self.parse((self.fetch or _http_json)(self.url, params))


# ---------------------------------------------------------------------------------------
# geopy: Nominatim, and any geopy-like object
# ---------------------------------------------------------------------------------------
_OSM_NONE = frozenset({"continent", "country", "state", "province", "region", "state_district", "county",
                       "city", "district", "municipality"})
_OSM_TOWNSHIP = frozenset({"town", "township", "suburb", "city_district", "borough", "subdistrict"})
_OSM_VILLAGE = frozenset({"village", "hamlet", "isolated_dwelling", "neighbourhood", "quarter", "city_block",
                          "road", "building", "house", "amenity", "shop", "office", "industrial", "residential",
                          "commercial", "square", "farm", "allotments", "plot", "croft", "landuse", "place",
                          "craft", "man_made", "tourism", "leisure", "highway"})
_FATAL_GEOPY = frozenset({"GeocoderAuthenticationFailure", "GeocoderInsufficientPrivileges",
                          "GeocoderQuotaExceeded", "ConfigurationError"})


def osm_precision(raw: Any) -> Precision | None:
    """Precision of a Nominatim answer: ``addresstype``, else ``class``/``type``, else ``place_rank``.

    >>> osm_precision({"addresstype": "village"}), osm_precision({"addresstype": "city"})
    ('village', None)
    >>> osm_precision({"place_rank": 16})
    'township'
    """
    if not isinstance(raw, dict):
        return "village"
    for key in ("addresstype", "type", "class", "category"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            if value in _OSM_NONE:
                return None
            if value in _OSM_TOWNSHIP:
                return "township"
            if value in _OSM_VILLAGE:
                return "village"
    rank = raw.get("place_rank")
    if rank is None:
        return _level_precision(raw)
    try:
        r = int(rank)
    except (TypeError, ValueError):
        return "village"
    if r < 13:
        return None
    return "township" if r < 19 else "village"


def _level_precision(raw: Mapping[str, Any]) -> Precision | None:
    """A geopy Baidu-style ``level`` (the raw result of geopy's Baidu classes)."""
    if "level" in raw:
        return Baidu.precision(raw)
    return "village"


@dataclass(frozen=True)
class GeopyProvider:
    """A geopy geocoder (or any object with ``geocode(query, **kw)``) as a provider.

    Parameters
    ----------
    geocoder
        The geopy geocoder.
    crs
        The coordinate system its answers are in: the caller declares it.
    name
        Registry and cache name.
    query_kwargs
        Extra keyword arguments of every ``geocode`` call.
    precision
        The precision mapping of its raw answers (Nominatim's by default, which also
        reads a Baidu-style ``level``).
    """

    geocoder: Any
    crs: CrsCode = "wgs84"
    name: str = "geopy"
    query_kwargs: Mapping[str, Any] | None = None
    precision: Callable[[Any], Precision | None] = osm_precision

    def lookup(self, query: str) -> Answer | None:
        try:
            location = self.geocoder.geocode(query, **dict(self.query_kwargs or {}))
        except Exception as exc:  # noqa: BLE001 - geopy's errors, or a fake's
            if type(exc).__name__ in _FATAL_GEOPY:
                raise ProviderRefused(f"{self.name} refused: {exc}") from None
            raise ProviderUnavailable(f"{self.name} failed: {exc}") from None
        if location is None:
            return None
        point = _floats(getattr(location, "longitude", None), getattr(location, "latitude", None))
        if point is None:
            return None
        raw = getattr(location, "raw", None)
        level = ""
        if isinstance(raw, dict):
            level = str(raw.get("addresstype") or raw.get("level") or raw.get("type") or "")
        return Answer(point[0], point[1], self.precision(raw), level)


def Nominatim(user_agent: str, *, geocoder: Any = None, country_codes: str = "cn",  # noqa: N802 - a factory
              timeout: float = 10.0) -> GeopyProvider:
    """OpenStreetMap Nominatim through geopy (WGS-84), limited to ``country_codes``.

    Raises
    ------
    ImportError
        geopy is not installed (``pip install gridcover[geocode]``).
    """
    if geocoder is None:
        try:
            from geopy.geocoders import Nominatim as GeopyNominatim
        except ImportError:
            msg = "online geocoding through Nominatim needs geopy: pip install gridcover[geocode]"
            raise ImportError(msg) from None
        geocoder = GeopyNominatim(user_agent=user_agent, timeout=timeout)
    return GeopyProvider(geocoder, crs="wgs84", name="nominatim", query_kwargs={"country_codes": country_codes})


# ---------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Spec:
    build: Callable[..., Any]
    crs: CrsCode
    env: str | None  # the provider's own key variable; None: needs no key


#: The registry: name → how to build it, its answers' coordinate system, its key variable.
PROVIDERS: Mapping[str, _Spec] = {
    "amap": _Spec(AMap, "gcj02", "GRIDCOVER_AMAP_KEY"),
    "tianditu": _Spec(Tianditu, "wgs84", "GRIDCOVER_TIANDITU_KEY"),
    "baidu": _Spec(Baidu, "bd09", "GRIDCOVER_BAIDU_KEY"),
    "baiduv3": _Spec(Baidu, "bd09", "GRIDCOVER_BAIDU_KEY"),
    "nominatim": _Spec(Nominatim, "wgs84", None),
}


def provider_key(name: str, key: str | None = None) -> str | None:
    """The key of a provider: given, else ``GRIDCOVER_<NAME>_KEY``, else ``GRIDCOVER_GEOCODER_KEY``."""
    spec = PROVIDERS.get(name)
    if key:
        return key
    if spec is None or spec.env is None:
        return None
    return os.environ.get(spec.env) or os.environ.get("GRIDCOVER_GEOCODER_KEY") or None


def make_provider(name: str, *, key: str | None = None, fetch: Fetch | None = None, **options: Any) -> Any:
    """Build a registered provider.

    Parameters
    ----------
    name
        One of :data:`PROVIDERS` (amap, tianditu, baidu, nominatim).
    key
        Its key; from the environment when omitted (see :func:`provider_key`).
    fetch
        Transport of the HTTP providers (tests pass recorded answers).
    options
        Provider options: ``city`` (AMap), ``user_agent``/``geocoder`` (Nominatim).

    Raises
    ------
    ConfigError
        Unknown name, or a provider that needs a key has none.
    """
    spec = PROVIDERS.get(name)
    if spec is None:
        msg = f"unknown online geocoder {name!r}; valid: {', '.join(PROVIDERS)}"
        raise ConfigError(msg)
    if spec.env is None:
        from . import __version__

        return spec.build(options.pop("user_agent", f"gridcover/{__version__}"), **options)
    resolved = provider_key(name, key)
    if not resolved:
        msg = (f"the {name} geocoder needs an API key: set geocoder_api_key in the config, "
               f"or {spec.env} (or GRIDCOVER_GEOCODER_KEY) in the environment")
        raise ConfigError(msg)
    provider = spec.build(resolved, fetch=fetch, **options)
    if name == "baiduv3":
        provider = Baidu(resolved, fetch=fetch, name="baiduv3")
    return provider
