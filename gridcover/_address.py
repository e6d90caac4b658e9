"""Chinese address parsing (地址解析) for the offline gazetteer geocoder.

Private helpers shared by :mod:`gridcover.geocode` and :mod:`gridcover.jurisdictions`:

- :func:`normalize` — NFKC (full-width → half-width), whitespace removed.
- :func:`loose_key` — the name with its administrative suffix dropped, so that the
  short forms planners write match the full names: ``青龙`` ≈ ``青龙镇`` ≈ ``青龙 镇``.
- :func:`strip_admin_prefix` — drops the province/city/county prefix of an address
  (``浙江省某市某县…``) so that a county name never matches a township's short form.
- :class:`PlaceIndex` — finds the gazetteer places an address names and picks the
  most specific one consistent with the township it names (or is declared in).

Examples
--------
>>> loose_key("青龙镇"), loose_key("青龙 街道"), loose_key("青龙工业园区")
('青龙', '青龙', '青龙')
>>> strip_admin_prefix("浙江省丽水市安平县青龙镇石桥村8号")
'青龙镇石桥村8号'
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "KIND_PRECISION",
    "KIND_RANK",
    "PLACE_KINDS",
    "Place",
    "PlaceIndex",
    "infer_kind",
    "loose_key",
    "normalize",
    "strip_admin_prefix",
]

#: Kinds of gazetteer places.
PLACE_KINDS: Final = ("village", "community", "road", "park", "township")
#: Specificity of a kind: the most specific match wins.
KIND_RANK: Final = {"village": 4, "community": 4, "road": 3, "park": 2, "township": 1}
#: Geocoding precision (schema.PRECISIONS) of a point taken from a place of this kind.
KIND_PRECISION: Final = {"village": "village", "community": "village", "road": "village",
                         "park": "park", "township": "township"}

# Suffixes, longest first, dropped by loose_key. Township (乡镇街道), village/community
# (村/社区) and park (园区) forms.
_TOWNSHIP_SUFFIXES: Final = ("街道办事处", "办事处", "街道", "镇", "乡")
_VILLAGE_SUFFIXES: Final = ("社区居民委员会", "村民委员会", "社区居委会", "居委会", "村委会", "社区", "村")
_PARK_SUFFIXES: Final = ("高新技术产业开发区", "经济技术开发区", "经济开发区", "工业集中区", "开发区",
                         "工业园区", "产业园区", "科技园区", "工业园", "产业园", "科技园", "园区",
                         "高新区", "新区", "工业区")
_ROAD_SUFFIXES: Final = ("大道", "路", "街", "巷")
_ALL_SUFFIXES: Final = tuple(sorted({*_TOWNSHIP_SUFFIXES, *_VILLAGE_SUFFIXES, *_PARK_SUFFIXES},
                                    key=lambda s: (-len(s), s)))

_SPACE = re.compile(r"\s+")
_PUNCT = str.maketrans("", "", "()[]{}<>·•、,，.。:;\"'“”‘’「」【】-_/\\|")
# One administrative prefix: a name of 2–12 characters and its suffix.
_ADMIN = re.compile(r"(.{2,12}?)(特别行政区|自治区|自治州|自治县|自治旗|地区|省|市|州|盟|县|旗|区)")
# A prefix holding one of these is part of the address proper, not a division name.
_NOT_ADMIN = re.compile(r"[镇乡村街道社园路号巷弄栋楼室组\d]|工业|开发|小区|片区|景区|保税")
# A short form followed by one of these is part of a road or building name.
_ROAD_AFTER: Final = frozenset("路街道巷弄桥大")


def normalize(text: object) -> str:
    """NFKC-normalise (full-width → half-width) and remove all whitespace.

    ``None`` and NaN give ``""``.
    """
    if text is None or (isinstance(text, float) and text != text):
        return ""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text)))


def loose_key(name: object) -> str:
    """The name normalised, punctuation removed, one administrative suffix dropped.

    The suffix is kept when dropping it would leave fewer than two characters
    (``新村`` stays ``新村``).
    """
    s = normalize(name).translate(_PUNCT)
    for suffix in _ALL_SUFFIXES:
        if s.endswith(suffix) and len(s) - len(suffix) >= 2:
            return s[: -len(suffix)]
    return s


def infer_kind(name: str) -> str:
    """Kind of a place from its name's suffix (``village`` when nothing says otherwise)."""
    s = normalize(name)
    if s.endswith(_PARK_SUFFIXES):
        return "park"
    if s.endswith(_TOWNSHIP_SUFFIXES):
        return "township"
    if s.endswith(("社区", "社区居委会", "居委会", "社区居民委员会")):
        return "community"
    if s.endswith(_ROAD_SUFFIXES):
        return "road"
    return "village"


def strip_admin_prefix(address: str, *, keep: Iterable[str] = ()) -> str:
    """Drop leading province/city/county names (省/市/县/区/旗 …) from a normalised address.

    Parameters
    ----------
    address
        A normalised address (see :func:`normalize`).
    keep
        Names never dropped (gazetteer places ending in 区 or 市, for instance).
    """
    keep_set = set(keep)
    s = address
    while True:
        m = _ADMIN.match(s)
        if m is None:
            return s
        token = m.group(0)
        if token in keep_set or _NOT_ADMIN.search(m.group(1)) or len(token) == len(s):
            return s
        if any(s.startswith(k) for k in keep_set if len(k) > len(token)):
            return s
        s = s[len(token):]


def _short_forms(name: str, kind: str) -> tuple[str, ...]:
    """Short forms an address may use for a place: 青龙 for 青龙镇, 石桥 for 石桥村,
    青龙工业园/青龙园区 for 青龙工业园区 (a park's bare core would clash with its township's)."""
    core = loose_key(name)
    if core == name or len(core) < 2:
        return ()
    if kind == "park":
        forms = (core + suffix for suffix in ("园区", "工业园", "工业园区", "产业园", "开发区", "高新区", "园"))
        return tuple(f for f in forms if f != name)
    return (core,)


@dataclass(frozen=True, slots=True)
class Place:
    """One gazetteer place.

    Attributes
    ----------
    name
        The place's name as written (normalised).
    kind
        One of :data:`PLACE_KINDS`.
    township
        Its township's name ("" when unknown or for a township itself).
    lon, lat
        Representative point, WGS-84.
    park
        The park it lies in ("" when none or unknown).
    """

    name: str
    kind: str
    township: str
    lon: float
    lat: float
    park: str = ""


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    full: bool
    places: tuple[int, ...]


class PlaceIndex:
    """Find the places an address names; pick the most specific consistent one.

    A lookup scans the address once for every name length the index holds (dictionary
    look-ups, no regular expressions), so it costs microseconds per address whatever
    the size of the gazetteer.

    Parameters
    ----------
    places
        The gazetteer's places.
    """

    def __init__(self, places: Sequence[Place]) -> None:
        places = list(places)
        # townships named only in the township column: matchable (they tell which of two
        # same-named villages is meant) but without a point of their own
        known = {loose_key(p.name) for p in places if p.kind == "township"}
        for town in sorted({p.township for p in places if p.township}):
            if loose_key(town) not in known:
                known.add(loose_key(town))
                places.append(Place(town, "township", town, math.nan, math.nan))
        self.places: tuple[Place, ...] = tuple(places)
        full: dict[str, list[int]] = {}
        short: dict[str, list[int]] = {}
        for i, p in enumerate(self.places):
            key = normalize(p.name)
            full.setdefault(key, []).append(i)
            for alias in _short_forms(key, p.kind):
                short.setdefault(alias, []).append(i)
        self._full = {k: tuple(v) for k, v in full.items()}
        self._short = {k: tuple(v) for k, v in short.items() if k not in full}
        self._lengths = sorted({len(k) for k in (*self._full, *self._short)}, reverse=True)
        self._keep = frozenset(k for k in self._full if k.endswith(("区", "市", "县", "州", "旗")))
        self._township_key = tuple(loose_key(p.township) if p.kind != "township" else loose_key(p.name)
                                   for p in self.places)
        self._park_key = tuple(loose_key(p.name) if p.kind == "park" else loose_key(p.park)
                               for p in self.places)

    def __len__(self) -> int:
        return len(self.places)

    def _hits(self, s: str) -> list[_Hit]:
        hits: list[_Hit] = []
        n = len(s)
        for i in range(n):
            for length in self._lengths:
                j = i + length
                if j > n:
                    continue
                key = s[i:j]
                found = self._full.get(key)
                if found is not None:
                    hits.append(_Hit(i, j, True, found))
                    continue
                found = self._short.get(key)
                if found is not None and (j == n or s[j] not in _ROAD_AFTER):
                    hits.append(_Hit(i, j, False, found))
        # drop a hit lying inside a longer one (青龙 inside 青龙镇, 石桥 inside 石桥村)
        return [h for h in hits
                if not any(o is not h and o.start <= h.start and h.end <= o.end
                           and (o.end - o.start) > (h.end - h.start) for o in hits)]

    def lookup(self, address: object, *, township_hint: object = "", park_hint: object = "") -> Place | None:
        """The most specific place an address names, or ``None``.

        Parameters
        ----------
        address
            Free-text address (地址), possibly with province/city/county prefixes
            and short forms (``青龙`` for ``青龙镇``).
        township_hint, park_hint
            The township (所属乡镇) and park (所属园区) the row declares, used to
            choose between places of the same name in different townships or parks.

        Returns
        -------
        Place or None
            ``None`` when no place is named, or when the most specific name is shared
            by places in several townships and nothing says which (then a less
            specific place, e.g. the township, is returned if the address names one).
        """
        s = strip_admin_prefix(normalize(address), keep=self._keep)
        if not s:
            return None
        hits = self._hits(s)
        if not hits:
            return None
        # townships and parks the address itself names (a park names its township
        # too), and the declared ones
        named = {self._township_key[i] for h in hits for i in h.places
                 if self.places[i].kind in ("township", "park")}
        parks = {self._park_key[i] for h in hits for i in h.places if self.places[i].kind == "park"}
        for hint, into in ((township_hint, named), (park_hint, parks)):
            if loose_key(hint):
                into.add(loose_key(hint))
        named.discard("")
        # candidate places with their score; higher is better
        scored: list[tuple[tuple[int, int, int, int, int], int]] = []
        for h in hits:
            for i in h.places:
                p = self.places[i]
                tkey, pkey = self._township_key[i], self._park_key[i]
                consistent = 1 if (p.kind in ("township", "park") or tkey in named
                                   or (pkey and pkey in parks)) else 0
                rank = KIND_RANK.get(p.kind, 0)
                if not h.full and not consistent and rank > KIND_RANK["park"]:
                    rank = 0  # a bare short form of a village outside the named township
                score = (rank, consistent, int(h.full), h.end - h.start, h.start)
                scored.append((score, i))
        scored = [t for t in scored if not math.isnan(self.places[t[1]].lon)]
        scored.sort(key=lambda t: t[0], reverse=True)
        while scored:
            best_score, best = scored[0]
            tied = [i for sc, i in scored if sc == best_score]
            distinct = {(self.places[i].lon, self.places[i].lat) for i in tied}
            if len(distinct) == 1:
                return self.places[best]
            # the same name in several places and nothing to choose by: skip it
            scored = [(sc, i) for sc, i in scored if sc != best_score]
        return None
