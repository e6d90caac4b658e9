"""Geocoding (地理编码) of ledger enterprises and their jurisdiction join.

Every accepted enterprise gets a WGS-84 point (or none) and a ``precision``:

``exact``
    The ledger gave coordinates (GCJ-02 and BD-09 converted to WGS-84 by iteration,
    see :mod:`gridcover.coords`).
``village``
    The address names a village, community or road of the gazetteer (村/社区/路), or
    an online geocoder found it at that level.
``township`` / ``park``
    Only a township/street (乡镇街道) or a park (园区) is known: its representative
    point (inside the unit, outside parks for a township).
``unlocated``
    Nothing found. The row stays in every table but is never placed in a grid.

An address-only row's township is decided by evidence
(:meth:`gridcover._address.PlaceIndex.resolve`): the township and the village the
address names, the 村（社区） column, the gazetteer and the declared 乡镇（街道） each vote,
so that a stale declared township is outvoted by an address and a village column that
agree (and the declared one decides against a self-contradictory address); a place
name before a road word (东村路) is a road, not the village 东村. Then
:meth:`Jurisdictions.assign <gridcover.jurisdictions.Jurisdictions.assign>` joins the
points to the polygons (a park wins over its township); a point outside every polygon
rejects the row. Every disagreement is a row of ``Ledger.conflicts`` with both values
and the rule that decided: ``point`` (given coordinates win over a declaration),
``declared``, ``address`` or ``township`` (see :data:`gridcover._address.RESOLUTIONS`).

Online geocoding is opt-in: pass ``geocoder=`` (an :class:`OnlineGeocoder`, a provider
of :mod:`gridcover._providers`, or a geopy-like object with ``geocode(query)``);
:func:`make_online_geocoder` builds one from the config and the provider registry
(AMap, Tianditu, Baidu, Nominatim), with an on-disk SQLite cache, rate limiting and
retries.

Examples
--------
>>> import pandas as pd
>>> from gridcover.geocode import Gazetteer
>>> gaz = Gazetteer.from_frame(pd.DataFrame({
...     "name": ["青龙镇", "石桥村"], "township": ["", "青龙镇"],
...     "lon": [118.05, 118.07], "lat": [30.05, 30.06]}))
>>> place = gaz.lookup("某某省某某市安平县青龙石桥村3组")
>>> place.name, place.kind, place.township
('石桥村', 'village', '青龙镇')
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ._address import (
    KIND_PRECISION,
    PLACE_KINDS,
    Place,
    PlaceIndex,
    Resolution,
    infer_kind,
    loose_key,
    normalize,
)
from ._normalize import parse_crs
from ._providers import PROVIDERS, Answer, GeopyProvider, Provider, ProviderRefused, make_provider
from ._tables import alias_lookup, header_table, read_table
from .config import Config
from .coords import in_china, to_wgs84
from .errors import ConfigError, GazetteerError
from .jurisdictions import Jurisdictions, clean_name, clean_names
from .ledger import Ledger
from .schema import CRS_CODES, LOCATION_COLUMNS, REJECT_COLUMNS

__all__ = [
    "CONFLICT_COLUMNS",
    "Gazetteer",
    "GazetteerError",
    "OnlineGeocoder",
    "geocode",
    "make_online_geocoder",
    "read_gazetteer",
]

logger = logging.getLogger(__name__)

#: Columns of ``Ledger.conflicts``.
CONFLICT_COLUMNS = ("uscc", "source_row", "field", "declared", "spatial", "resolution")
_WARNING_COLUMNS = ("source_row", "uscc", "message")
#: Reason of a reject whose point lies outside every polygon (``{lon}``, ``{lat}``).
OUTSIDE_REASON = "point ({lon:.6f}, {lat:.6f}) lies outside every township and park boundary"
#: The same reason in Chinese (``reason_cn`` of ``rejects.csv``).
OUTSIDE_REASON_CN = "点（{lon:.6f}, {lat:.6f}）不在任何乡镇（街道）或园区边界内"

CrsCode = Literal["wgs84", "gcj02", "bd09"]


# ---------------------------------------------------------------------------------------
# gazetteer
# ---------------------------------------------------------------------------------------
_GAZ_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "名称", "地名", "村(社区)", "村社区", "村", "place"),
    "township": ("township", "乡镇", "所属乡镇", "乡镇(街道)", "乡镇街道", "街道", "town"),
    "lon": ("lon", "lng", "longitude", "经度", "x"),
    "lat": ("lat", "latitude", "纬度", "y"),
    "kind": ("kind", "type", "类型", "类别", "种类"),
    "crs": ("crs", "坐标系"),
}
_KIND_ALIASES: dict[str, str] = {
    "village": "village", "村": "village", "行政村": "village", "自然村": "village",
    "community": "community", "社区": "community", "居委会": "community",
    "road": "road", "路": "road", "道路": "road", "街": "road",
    "park": "park", "园区": "park", "开发区": "park",
    "township": "township", "乡镇": "township", "镇": "township", "乡": "township", "街道": "township",
}


@dataclass(frozen=True)
class Gazetteer:
    """Places (村/社区/路/园区/乡镇) with a representative WGS-84 point.

    Build one with :func:`read_gazetteer` or :meth:`from_frame`; look addresses up
    with :meth:`lookup` (microseconds each, whatever the gazetteer's size).

    Attributes
    ----------
    places
        ``name, township, lon, lat, kind`` (kind one of village, community, road,
        park, township), WGS-84.
    source
        The file read, as given ("" for a frame).
    """

    places: pd.DataFrame
    source: str = ""
    _index: PlaceIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", PlaceIndex(_places(self.places)))

    def __len__(self) -> int:
        return len(self.places)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, source: str = "") -> Gazetteer:
        """Validate a table (``name, township, lon, lat``, optional ``kind``, ``crs``).

        Chinese headers (名称, 乡镇, 经度, 纬度, 类型) are accepted. Rows without a name
        or with coordinates that are missing or outside China are dropped with a warning;
        a ``crs`` column (wgs84/gcj02/bd09) converts points to WGS-84.

        Raises
        ------
        GazetteerError
            A required column is missing or a kind is unknown.
        """
        label = source or "gazetteer"
        columns = _match_headers(frame, label)
        n = len(frame)
        names = [clean_name(v) for v in frame[columns["name"]].tolist()]
        towns = ([clean_name(v) for v in frame[columns["township"]].tolist()]
                 if "township" in columns else [""] * n)
        lon = pd.to_numeric(frame[columns["lon"]], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame[columns["lat"]], errors="coerce").to_numpy(dtype=float)
        if "kind" in columns:
            raw = [clean_name(v) for v in frame[columns["kind"]].tolist()]
            kinds = []
            for row, (k, nm) in enumerate(zip(raw, names, strict=True)):
                if not k:
                    kinds.append(infer_kind(nm))
                    continue
                kind = _KIND_ALIASES.get(k.casefold())
                if kind is None:
                    msg = (f"{label}: row {row + 2}: unknown kind {k!r}; "
                           f"expected one of {', '.join(PLACE_KINDS)}")
                    raise GazetteerError(msg)
                kinds.append(kind)
        else:
            kinds = [infer_kind(nm) for nm in names]
        if "crs" in columns:
            written = [str(c).strip() for c in frame[columns["crs"]].tolist()]
            found = [parse_crs(c) for c in written]
            codes = np.array(["wgs84" if f is None else f for f in found], dtype=object)
            bad = sorted({c for c, f in zip(written, found, strict=True) if f == "unknown"})
            if bad:
                msg = f"{label}: unknown crs {', '.join(map(repr, bad))}; expected wgs84, gcj02 or bd09"
                raise GazetteerError(msg)
            lon, lat = to_wgs84(lon, lat, codes)
        ok = np.isfinite(lon) & np.isfinite(lat) & in_china(lon, lat) & np.array([bool(x) for x in names], dtype=bool)
        if not ok.all():
            rows = ", ".join(str(i + 2) for i in np.flatnonzero(~ok)[:5])
            warnings.warn(f"{label}: {int((~ok).sum())} row(s) without a name or valid coordinates in "
                          f"China skipped (row {rows})", UserWarning, stacklevel=2)
        for i, (kind, nm) in enumerate(zip(kinds, names, strict=True)):
            if kind == "township" and not towns[i]:
                towns[i] = nm
        places = pd.DataFrame({
            "name": pd.Series(names, dtype="str")[ok].to_numpy(),
            "township": pd.Series(towns, dtype="str")[ok].to_numpy(),
            "lon": lon[ok], "lat": lat[ok],
            "kind": pd.Series(kinds, dtype="str")[ok].to_numpy(),
        })
        places = places.astype({"name": "str", "township": "str", "kind": "str"})
        return cls(places=places.reset_index(drop=True), source=source)

    def lookup(self, address: object, *, township_hint: object = "", park_hint: object = "") -> Place | None:
        """The most specific place an address names (see :class:`gridcover._address.PlaceIndex`)."""
        return self._index.lookup(address, township_hint=township_hint, park_hint=park_hint)


def _places(frame: pd.DataFrame) -> list[Place]:
    return [Place(str(n), str(k), str(t), float(x), float(y))
            for n, k, t, x, y in zip(frame["name"], frame["kind"], frame["township"], frame["lon"],
                                     frame["lat"], strict=True)]


def _match_headers(frame: pd.DataFrame, label: str) -> dict[str, str]:
    folded = {normalize(c).casefold(): c for c in frame.columns}
    out: dict[str, str] = {}
    for canon, aliases in _GAZ_HEADERS.items():
        for alias in aliases:
            if normalize(alias).casefold() in folded:
                out[canon] = folded[normalize(alias).casefold()]
                break
    missing = [c for c in ("name", "lon", "lat") if c not in out]
    if missing:
        msg = (f"{label}: missing column(s) {', '.join(missing)}; found "
               f"{', '.join(map(str, frame.columns)) or '(none)'} (need name, township, lon, lat)")
        raise GazetteerError(msg)
    return out


def read_gazetteer(path: str | Path) -> Gazetteer:
    """Read a gazetteer CSV (UTF-8, UTF-8 with BOM or GBK) or XLSX.

    Parameters
    ----------
    path
        CSV or XLSX with ``name, township, lon, lat`` and optionally ``kind``
        (village/community/park/road/township; inferred from the name's suffix when
        absent) and ``crs``. Coordinates are WGS-84 unless ``crs`` says otherwise. The
        header is the row among the first 10 naming the most columns (title rows above
        it are skipped).

    Raises
    ------
    GazetteerError
        The file cannot be read (missing, not a regular file, undecodable, a line with
        an unbalanced quote) or lacks a required column.
    """
    p = Path(path)
    table, _ = read_table(p, "gazetteer", GazetteerError)
    found = header_table(table, alias_lookup(_GAZ_HEADERS, _gaz_key), scan_rows=10, required="name")
    if found is None:
        cells = table.cells
        frame = (pd.DataFrame(cells.iloc[1:].to_numpy(), columns=cells.iloc[0].tolist()) if len(cells)
                 else pd.DataFrame())
        return Gazetteer.from_frame(frame, source=str(p))  # names the missing columns
    body, _rows, header_row = found
    broken = [b.line for b in table.broken if b.line > header_row]
    if broken:
        msg = (f"cannot read gazetteer {p}: line(s) {', '.join(map(str, broken[:10]))} have an unbalanced "
               "quote (\") and cannot be split into cells")
        raise GazetteerError(msg)
    return Gazetteer.from_frame(body, source=str(p))


def _gaz_key(text: str) -> str:
    return normalize(text).casefold()


# ---------------------------------------------------------------------------------------
# online geocoding
# ---------------------------------------------------------------------------------------
class OnlineGeocoder:
    """An online geocoding provider behind a persistent cache, a rate limit and retries.

    What an answer means (its coordinate system, its precision) is the provider's
    business (:mod:`gridcover._providers`); this wrapper only caches, waits and retries,
    and converts answers to WGS-84 by the coordinate system the provider declares.

    Parameters
    ----------
    provider
        A provider of :mod:`gridcover._providers` (``name``, ``crs``, ``lookup``), or a
        geopy geocoder / any object with ``geocode(query)`` returning ``None`` or an
        object with ``longitude``, ``latitude`` and ``raw``.
    crs
        Coordinate system of a geopy-like object's answers (``wgs84`` when omitted);
        a provider declares its own, and a different ``crs`` here is refused.
    cache_path
        SQLite file of the cache (created with its folder); ``None`` keeps it in memory.
        Keyed by provider name and normalised address; misses are cached too.
    min_delay_s
        Least seconds between two requests.
    max_retries
        Retries of a failed request (with doubling back-off) before giving up on it.
    backoff_s
        Wait before the first retry (doubled for each further one).
    name
        Provider name in the cache (the provider's own, or a geopy-like object's class name).
    context
        Text put before every address that does not already hold it, e.g. the
        province, city and county (``浙江省丽水市安平县``), so that a provider searching
        the whole country looks in the right county. Part of the cache key.
    query_kwargs
        Extra keyword arguments of a geopy-like object's ``geocode`` (e.g. Nominatim's
        ``viewbox``/``bounded`` or ``country_codes="cn"``).
    sleep, clock
        Injected for tests.
    """

    def __init__(self, provider: Any, *, crs: CrsCode | None = None, cache_path: str | Path | None = None,
                 min_delay_s: float = 1.0, max_retries: int = 2, backoff_s: float = 2.0,
                 name: str | None = None, context: str = "", query_kwargs: dict[str, Any] | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if crs is not None and crs not in CRS_CODES:
            msg = f"crs must be one of {', '.join(CRS_CODES)}, got {crs!r}"
            raise ValueError(msg)
        if isinstance(provider, Provider):
            if crs is not None and crs != provider.crs:
                msg = f"the {provider.name} provider answers in {provider.crs}, not {crs}"
                raise ValueError(msg)
        elif callable(getattr(provider, "geocode", None)):
            provider = GeopyProvider(provider, crs=crs or "wgs84", name=name or type(provider).__name__,
                                     query_kwargs=dict(query_kwargs or {}))
        else:
            msg = f"geocoder must be a provider or have a geocode(query) method, got {type(provider).__name__}"
            raise TypeError(msg)
        self.provider: Provider = provider
        self.crs: CrsCode = provider.crs
        self.name = name or provider.name
        self.min_delay_s = float(min_delay_s)
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.context = _query_text(context)
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self._disabled = False
        self.requests = 0
        if cache_path is None:
            self._db = sqlite3.connect(":memory:")
        else:
            p = Path(os.path.expanduser(str(cache_path)))
            p.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(p)
        self._db.execute("CREATE TABLE IF NOT EXISTS geocode (provider TEXT NOT NULL, key TEXT NOT NULL, "
                         "lon REAL, lat REAL, precision TEXT, PRIMARY KEY (provider, key))")
        self._db.commit()

    def close(self) -> None:
        """Close the cache."""
        self._db.close()

    def __enter__(self) -> OnlineGeocoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self) -> None:
        if self._last is not None:
            gap = self.min_delay_s - (self._clock() - self._last)
            if gap > 0:
                self._sleep(gap)
        self._last = self._clock()

    def _request(self, query: str) -> Answer | None:
        delay = self.backoff_s
        for attempt in range(self.max_retries + 1):
            self._wait()
            self.requests += 1
            try:
                return self.provider.lookup(query)
            except ProviderRefused as exc:
                logger.error("online geocoder %s refused: %s; online geocoding stopped", self.name, exc)
                self._disabled = True
                raise _Skip from None
            except Exception as exc:  # noqa: BLE001 - a provider's failure, retried
                if attempt == self.max_retries:
                    logger.warning("online geocoding of %r failed after %d attempts: %s", query, attempt + 1, exc)
                    raise _Skip from None
                self._sleep(delay)
                delay *= 2
        raise _Skip  # pragma: no cover - the loop returns or raises

    def lookup(self, address: object) -> tuple[float, float, str] | None:
        """WGS-84 ``(lon, lat, precision)`` of an address, or ``None``.

        Cached results are returned without a request. Answers the provider maps to no
        precision (a county or city centre, an unknown level) count as not found.
        """
        query = _query_text(address)
        if not query:
            return None
        if self.context and normalize(self.context) not in normalize(query):
            query = self.context + query
        key = normalize(query)
        row = self._db.execute("SELECT lon, lat, precision FROM geocode WHERE provider = ? AND key = ?",
                               (self.name, key)).fetchone()
        if row is not None:
            return None if row[0] is None else (float(row[0]), float(row[1]), str(row[2]))
        if self._disabled:
            return None
        try:
            answer = self._request(query)
        except _Skip:
            return None
        result = self._convert(answer)
        self._db.execute("INSERT OR REPLACE INTO geocode VALUES (?, ?, ?, ?, ?)",
                         (self.name, key, *(result if result else (None, None, None))))
        self._db.commit()
        return result

    def _convert(self, answer: Answer | None) -> tuple[float, float, str] | None:
        if answer is None or answer.precision is None:
            return None
        lon, lat = to_wgs84(answer.lon, answer.lat, self.crs)  # the provider's declared system
        x, y = float(lon[0]), float(lat[0])
        if not (np.isfinite(x) and np.isfinite(y) and bool(in_china(x, y))):
            return None
        return x, y, answer.precision


_CJK_SPACE = re.compile(r"(?<=[\u3000-\u9fff\uf900-\ufaff])\s+|\s+(?=[\u3000-\u9fff\uf900-\ufaff])")


def _query_text(address: object) -> str:
    """The address sent to a provider: NFKC, no spaces next to Chinese characters."""
    return _CJK_SPACE.sub("", clean_name(address))


class _Skip(Exception):
    """No result for this query (failed or refused)."""


def make_online_geocoder(config: Config, *, cache_path: str | Path | None = None) -> OnlineGeocoder:
    """Build the opt-in online geocoder named by ``config.online_geocoder`` from the registry.

    Parameters
    ----------
    config
        ``online_geocoder`` (amap, tianditu, baidu, nominatim; see
        :data:`gridcover._providers.PROVIDERS`), ``geocoder_api_key`` (else the
        provider's ``GRIDCOVER_<NAME>_KEY`` or ``GRIDCOVER_GEOCODER_KEY`` environment
        variable), ``geocode_cache``, ``geocode_min_delay_s``, ``geocode_max_retries``
        and ``geocode_context``.
    cache_path
        Overrides ``config.geocode_cache``.

    Raises
    ------
    ImportError
        Nominatim without geopy (``pip install gridcover[geocode]``).
    ConfigError
        No geocoder is configured, or its key is missing.
    """
    if config.online_geocoder is None:
        msg = "config.online_geocoder is not set (" + ", ".join(PROVIDERS) + ")"
        raise ConfigError(msg)
    provider = make_provider(config.online_geocoder, key=config.geocoder_api_key)
    return OnlineGeocoder(provider, cache_path=cache_path or config.geocode_cache,
                          min_delay_s=config.geocode_min_delay_s, max_retries=config.geocode_max_retries,
                          name=config.online_geocoder, context=config.geocode_context)


def _as_online(geocoder: Any, config: Config) -> OnlineGeocoder | None:
    if geocoder is None or isinstance(geocoder, OnlineGeocoder):
        return geocoder
    if not isinstance(geocoder, Provider) and not callable(getattr(geocoder, "geocode", None)):
        msg = f"geocoder must be a provider or have a geocode(query) method, got {type(geocoder).__name__}"
        raise TypeError(msg)
    return OnlineGeocoder(geocoder, crs=None if isinstance(geocoder, Provider) else _declared_crs(geocoder),
                          cache_path=config.geocode_cache, min_delay_s=config.geocode_min_delay_s)


def _declared_crs(geocoder: Any) -> CrsCode:
    """The coordinate system a geopy-like object declares (a ``crs`` attribute), geopy's
    Baidu classes answering in BD-09, else WGS-84."""
    declared = getattr(geocoder, "crs", None)
    if declared in CRS_CODES:
        return declared  # type: ignore[no-any-return]
    try:
        from geopy.geocoders import Baidu as GeopyBaidu
    except ImportError:  # pragma: no cover - geopy is what made the object
        return "wgs84"
    return "bd09" if isinstance(geocoder, GeopyBaidu) else "wgs84"  # BaiduV3 subclasses Baidu


# ---------------------------------------------------------------------------------------
# geocode
# ---------------------------------------------------------------------------------------
def _text(frame: pd.DataFrame, column: str, then: Callable[[str], str] | None = None,
          rows: np.ndarray | None = None) -> list[str]:
    """:func:`clean_name` of a column (``then`` of it), one Python call per value that needs
    one; with ``rows`` (a mask), only there and ``""`` elsewhere."""
    if column not in frame.columns or (rows is not None and not rows.any()):
        return [then("") if then is not None else ""] * len(frame)
    if rows is None or rows.all():
        return clean_names(frame[column], then=then)
    out = np.full(len(frame), "", dtype=object)
    out[np.flatnonzero(rows)] = clean_names(frame[column][rows], then=then)
    return out.tolist()  # type: ignore[no-any-return]


def _crs_code(written: str) -> str:
    return written.lower() or "wgs84"


def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _place_index(gazetteer: Gazetteer | None, jurisdictions: Jurisdictions | None) -> PlaceIndex | None:
    """Gazetteer places, with townships and parks taken from the boundaries when given."""
    places = list(gazetteer._index.places) if gazetteer is not None else []
    if jurisdictions is not None:
        seen: set[tuple[str, str]] = set()
        out = []
        # the park each place lies in tells apart same-named roads of two parks
        _, in_park = jurisdictions.locate([p.lon for p in places], [p.lat for p in places])
        places = [Place(p.name, p.kind, p.township, p.lon, p.lat, pk if p.kind != "park" else "")
                  for p, pk in zip(places, in_park, strict=True)]
        for p in places:
            if p.kind in ("township", "park"):
                match = (jurisdictions.match_township(p.name) if p.kind == "township"
                         else jurisdictions.match_park(p.name))
                point = jurisdictions.representative_point(p.kind, match) if match else None
                if point is not None:
                    # the unit's point, inside it (a township's outside its parks)
                    p = Place(p.name, p.kind, match if p.kind == "township" else p.township, *point, p.park)
                    seen.add((p.kind, match))
            out.append(p)
        for kind, names in (("township", jurisdictions.township_names), ("park", jurisdictions.park_names)):
            for name in names:
                point = jurisdictions.representative_point(kind, name)
                if (kind, name) not in seen and point is not None:
                    out.append(Place(name, kind, name if kind == "township" else "", *point))
        places = out
    return PlaceIndex(places) if places else None


def geocode(ledger: Ledger, jurisdictions: Jurisdictions | None = None, *,
            gazetteer: Gazetteer | None = None, config: Config | None = None,
            geocoder: Any = None) -> Ledger:
    """Locate every enterprise and assign its township, park and unit.

    Parameters
    ----------
    ledger
        From :func:`~gridcover.ledger.read_ledger` (columns per
        :data:`~gridcover.schema.LEDGER_COLUMNS`).
    jurisdictions
        Township and park polygons. With them, township and park come from
        point-in-polygon and a point outside every polygon rejects its row; without
        them, from the declared columns (and the gazetteer).
    gazetteer
        Places for address-only rows (offline).
    config
        Online geocoder settings (cache, delay); defaults otherwise.
    geocoder
        Opt-in online geocoder for rows the gazetteer cannot place, or places only at
        a township or park (a village-level online point inside that same unit then
        replaces the unit's point): an :class:`OnlineGeocoder` or a geopy-like object
        (wrapped with the config's cache). ``None`` (default) stays offline.

    Returns
    -------
    Ledger
        A new ledger whose enterprises gain ``lon, lat, precision, township, park,
        unit, unit_type`` after the ledger columns; rows whose point lies outside
        every boundary move to ``rejects``; ``conflicts`` lists declared
        townships/parks that disagree with the point (``uscc, source_row, field,
        declared, spatial, resolution``); ``warnings`` notes approximate points moved
        into their unit.

    Examples
    --------
    >>> import gridcover as gc
    >>> from gridcover.geocode import geocode, read_gazetteer
    >>> from gridcover.jurisdictions import load_jurisdictions
    >>> ledger = gc.read_ledger(gc.datasets.get_path("ledger"))
    >>> juris = load_jurisdictions(gc.datasets.get_path("townships"), gc.datasets.get_path("parks"))
    >>> located = geocode(ledger, juris, gazetteer=read_gazetteer(gc.datasets.get_path("gazetteer")))
    >>> len(located.enterprises) + len(located.rejects) == located.n_rows
    True
    >>> sorted(located.enterprises["unit_type"].unique())
    ['park', 'township']
    """
    config = config or Config()
    online = _as_online(geocoder, config)
    try:
        return _geocode(ledger, jurisdictions, gazetteer, online)
    finally:
        if online is not None and online is not geocoder:
            online.close()  # the wrapper made here for a bare provider


def _geocode(ledger: Ledger, jurisdictions: Jurisdictions | None, gazetteer: Gazetteer | None,
             online: OnlineGeocoder | None) -> Ledger:
    ent = ledger.enterprises.drop(columns=[c for c in LOCATION_COLUMNS if c in ledger.enterprises.columns])
    n = len(ent)
    usccs = _LazyCodes(ent.index)
    rows = (pd.to_numeric(ent["source_row"], errors="coerce").fillna(0).astype("int64").to_numpy()
            if "source_row" in ent.columns else np.zeros(n, dtype="int64"))
    lon_src, lat_src = _floats(ent, "lon_src"), _floats(ent, "lat_src")
    has_xy = np.isfinite(lon_src) & np.isfinite(lat_src)
    # the address and village only place rows without coordinates
    address = _text(ent, "address", rows=~has_xy)
    village = _text(ent, "village", rows=~has_xy)
    decl_town = _text(ent, "township_declared")
    decl_park = _text(ent, "park_declared")
    crs = np.array(_text(ent, "crs", then=_crs_code), dtype=object)

    # 1. given coordinates → WGS-84 (exact)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if has_xy.any():
        lon[has_xy], lat[has_xy] = to_wgs84(lon_src[has_xy], lat_src[has_xy], crs[has_xy])
    precision = np.where(has_xy, "exact", "unlocated").astype(object)
    place_town = [""] * n  # township the gazetteer gives (fallback when no boundaries)
    place_park = [""] * n

    # 2. offline gazetteer (and boundary names): the address, the 村（社区） column and the
    #    declared township vote for the township; the place is the most specific one in it
    conflicts: list[tuple[str, int, str, str, str, str]] = []
    target_town = list(decl_town)  # the township the join holds approximate points to
    index = _place_index(gazetteer, jurisdictions)
    if index is not None:
        memo: dict[tuple[str, str, str, str], Resolution] = {}
        for i in np.flatnonzero(~has_xy):
            key = (address[i], decl_town[i], decl_park[i], village[i])
            if key not in memo:
                memo[key] = index.resolve(address[i], township=decl_town[i], park=decl_park[i], village=village[i])
            res = memo[key]
            conflicts.extend((usccs[i], int(rows[i]), *c) for c in res.conflicts)
            written = index.township_name(decl_town[i]) if decl_town[i] else ""
            if res.township and written and written != res.township:
                target_town[i] = res.township  # the evidence outvoted it (a conflict says so)
            place = res.place
            if place is not None:
                lon[i], lat[i] = place.lon, place.lat
                precision[i] = KIND_PRECISION[place.kind]
                place_town[i] = res.township or place.township
                place_park[i] = place.name if place.kind == "park" else ""
            elif res.township:
                place_town[i] = res.township
    source = np.where(has_xy, "given", np.where(precision != "unlocated", "gazetteer", "")).astype(object)

    # 3. online (opt-in) for what the gazetteer could not place, or placed only at a
    #    township or park: a finer online point inside that same unit replaces it
    if online is not None:
        _online(online, jurisdictions, address, lon, lat, precision, source)

    notes: list[tuple[int, str, str]] = []
    rejected = np.zeros(n, dtype=bool)
    if jurisdictions is not None:
        joined = jurisdictions.assign(lon, lat, precision, declared_township=target_town, declared_park=decl_park,
                                      fallback_township=place_town, online=source == "online")
        lon, lat, precision, rejected = joined.lon, joined.lat, joined.precision, joined.rejected
        town, park = joined.township, joined.park
        conflicts.extend((usccs[i], int(rows[i]), f, d, sp, r) for i, f, d, sp, r in joined.conflicts)
        notes.extend((int(rows[i]), usccs[i], why) for i, why in joined.notes)
    else:
        town, park = _declared(gazetteer, precision, target_town, decl_park, place_town, place_park)

    located = precision != "unlocated"
    town_text = pd.Series(town, index=ent.index, dtype="str")
    park_text = pd.Series(park, index=ent.index, dtype="str")
    in_park = park_text.ne("").to_numpy(dtype=bool)
    unit = park_text.where(in_park, town_text) if in_park.any() else town_text
    if not located.all():
        unit = unit.where(located, "")
    unit_type = np.where(~located | unit.eq("").to_numpy(dtype=bool), "", np.where(in_park, "park", "township"))

    out = ent.copy()
    out["lon"] = lon
    out["lat"] = lat
    out["precision"] = pd.Series(precision, index=out.index, dtype="str")
    out["township"] = town_text
    out["park"] = park_text
    out["unit"] = unit
    out["unit_type"] = pd.Series(unit_type.astype(object), index=out.index, dtype="str")

    rejects = ledger.rejects
    if rejected.any():
        new = pd.DataFrame({
            "source_row": rows[rejected].astype("int64"),
            "uscc": pd.Series([usccs[i] for i in np.flatnonzero(rejected)], dtype="str").to_numpy(),
            "reason": [OUTSIDE_REASON.format(lon=lon[i], lat=lat[i]) for i in np.flatnonzero(rejected)],
            "reason_cn": [OUTSIDE_REASON_CN.format(lon=lon[i], lat=lat[i]) for i in np.flatnonzero(rejected)],
        })
        rejects = (pd.concat([rejects.reindex(columns=list(REJECT_COLUMNS), fill_value=""), new], ignore_index=True)
                   if len(rejects) else new)
        rejects = rejects.sort_values("source_row", kind="stable").reset_index(drop=True)
        out = out[~rejected]
        logger.info("%d row(s) rejected: point outside every township and park", int(rejected.sum()))
    counts = pd.Series(out["precision"]).value_counts().to_dict()
    logger.info("geocoded %d enterprise(s): %s", len(out), ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return replace(ledger, enterprises=out, rejects=rejects,
                   conflicts=_frame(conflicts, CONFLICT_COLUMNS, int_col="source_row"),
                   warnings=_merge_warnings(ledger.warnings, notes))


def _online(online: OnlineGeocoder, jurisdictions: Jurisdictions | None, address: list[str],
            lon: np.ndarray, lat: np.ndarray, precision: np.ndarray, source: np.ndarray) -> None:
    """Online look-ups; fills the arrays it is given (private to one geocode call)."""
    todo = [i for i in np.flatnonzero(np.isin(precision, ("unlocated", "township", "park"))).tolist()
            if address[i]]
    logger.info("online geocoding of %d address(es) through %s", len(todo), online.name)
    finer: dict[int, tuple[float, float]] = {}
    for i in todo:
        found = online.lookup(address[i])
        if found is None:
            continue
        if precision[i] == "unlocated":
            lon[i], lat[i], precision[i] = found
            source[i] = "online"
        elif found[2] == "village":
            finer[i] = (found[0], found[1])
    if not finer:
        return
    idx = list(finer)
    if jurisdictions is not None:
        t_old, p_old = jurisdictions.locate(lon[idx], lat[idx])
        t_new, p_new = jurisdictions.locate([finer[i][0] for i in idx], [finer[i][1] for i in idx])
        same = [(p_new[k] == p_old[k]) if precision[i] == "park" else (t_new[k] == t_old[k])
                for k, i in enumerate(idx)]
        idx = [i for i, ok in zip(idx, same, strict=True) if ok]
    for i in idx:
        lon[i], lat[i] = finer[i]
        precision[i] = "village"
        source[i] = "online"


def _declared(gazetteer: Gazetteer | None, precision: np.ndarray, decl_town: list[str],
              decl_park: list[str], place_town: list[str], place_park: list[str]) -> tuple[list[str], list[str]]:
    """Township and park without boundaries: declared, else the gazetteer's."""
    canon: dict[str, str] = {}
    if gazetteer is not None:
        places = gazetteer.places
        names = [*places.loc[places["kind"] == "township", "name"], *places["township"]]
        for name in names:
            if name:
                canon.setdefault(loose_key(name), str(name))
    park = [d or p for d, p in zip(decl_park, place_park, strict=True)]
    if not canon:
        return [d or p for d, p in zip(decl_town, place_town, strict=True)], park
    known: dict[str, str] = {}

    def canonical(name: str) -> str:
        found = known.get(name)
        if found is None:
            found = known[name] = canon.get(loose_key(name), name)
        return found

    return [canonical(d) if d else canonical(p) for d, p in zip(decl_town, place_town, strict=True)], park


class _LazyCodes:
    """``str`` of each code of an index, made only for the positions asked for."""

    def __init__(self, index: pd.Index) -> None:
        self._index = index

    def __getitem__(self, i: int | np.integer) -> str:
        return str(self._index[int(i)])


def _frame(rows: list[tuple[Any, ...]], columns: tuple[str, ...], *, int_col: str) -> pd.DataFrame:
    data = {c: pd.Series([r[k] for r in rows], dtype="int64" if c == int_col else "str")
            for k, c in enumerate(columns)}
    out = pd.DataFrame(data)
    return out.sort_values([int_col, "field"] if "field" in columns else [int_col], kind="stable").reset_index(drop=True)


def _merge_warnings(existing: pd.DataFrame, notes: list[tuple[int, str, str]]) -> pd.DataFrame:
    if not notes:
        return existing
    new = _frame(notes, _WARNING_COLUMNS, int_col="source_row")
    if existing is None or len(existing) == 0:
        return new
    return pd.concat([existing, new], ignore_index=True)
