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
    "RESOLUTIONS",
    "ROAD_WORDS",
    "Resolution",
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
# County-level forms (区/县/市/旗): 五华 for 五华区, as for townships. A 区 after one of
# _NOT_DISTRICT is a compound or scenic area (小区, 景区), not a district.
_COUNTY_SUFFIXES: Final = ("自治县", "自治旗", "区", "县", "市", "旗")
_NOT_DISTRICT: Final = frozenset("小景片校厂营")
_ALL_SUFFIXES: Final = tuple(sorted({*_TOWNSHIP_SUFFIXES, *_VILLAGE_SUFFIXES, *_PARK_SUFFIXES, *_COUNTY_SUFFIXES},
                                    key=lambda s: (-len(s), s)))
#: Words that make the place name before them part of a road's name (东村路 is a road,
#: not the village 东村).
ROAD_WORDS: Final = ("大道", "路", "街", "道", "巷")

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

    Township (镇/乡/街道), village (村/社区), park (园区 …) and county-level (区/县/市/旗)
    suffixes are dropped: ``五华区`` → ``五华``. The suffix is kept when dropping it would leave fewer than two characters
    (``新村`` stays ``新村``).
    """
    s = normalize(name).translate(_PUNCT)
    for suffix in _ALL_SUFFIXES:
        if s.endswith(suffix) and len(s) - len(suffix) >= 2:
            if suffix == "区" and s[-2] in _NOT_DISTRICT:
                continue
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


#: Rules that decide a disagreement (the ``resolution`` column of ``conflicts.csv``).
RESOLUTIONS: Final = {
    "point": "the given coordinates decide",
    "declared": "the declared unit decides (the only consistent source)",
    "address": "the address's township and village, the village column and the gazetteer outvote it",
    "township": "a self-contradictory address drops to the township level its sources agree on",
}


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where one ledger row is, by the evidence of its address and columns.

    Attributes
    ----------
    place
        The most specific place consistent with ``township`` (``None`` when none has a point).
    township
        The township the evidence decides ("" when it cannot).
    conflicts
        ``(field, written, placed, resolution)`` for every source outvoted: ``field`` is
        ``township`` (the declared 乡镇（街道）), ``address_township`` (the township the
        address names), ``village`` (a village the address or the 村（社区） column names
        outside ``township``); ``resolution`` one of :data:`RESOLUTIONS`.
    """

    place: Place | None
    township: str
    conflicts: tuple[tuple[str, str, str, str], ...] = ()


# Votes of each source for a township (see PlaceIndex.resolve).
_VOTE_TOWNSHIP = 1.0      # the address names the township
_VOTE_VILLAGE = 1.0       # the address names a village/community of it (full name)
_VOTE_SHORT = 0.5         # ... by a short form (石桥 for 石桥村)
_VOTE_ROAD = 0.5          # the address names a road of it (road names repeat across townships)
_VOTE_PARK = 0.5          # the address names a park lying in it
_VOTE_COLUMN = 1.0        # the 村（社区） column names a village of it
_VOTE_DECLARED = 1.0      # the 乡镇（街道） column


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
        # township key → its name (the place with a point first)
        names: dict[str, str] = {}
        for i, p in sorted(enumerate(self.places), key=lambda t: math.isnan(t[1].lon)):
            if p.kind == "township":
                names.setdefault(self._township_key[i], p.name)
        self._town_name = names
        self._kinds = tuple(p.kind for p in self.places)
        self._town_place = {self._township_key[i]: p for i, p in enumerate(self.places)
                            if p.kind == "township" and not math.isnan(p.lon)}

    def __len__(self) -> int:
        return len(self.places)

    def township_name(self, name: object) -> str:
        """The index's township a written name means (``青龙`` → ``青龙镇``), or ``""``."""
        return self._town_name.get(loose_key(name), "")

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
                    if s.startswith(ROAD_WORDS, j):  # 东村路: a road, not the village 东村
                        found = tuple(k for k in found if self.places[k].kind not in ("village", "community"))
                    if found:
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
        """The most specific place an address names, or ``None`` (see :meth:`resolve`).

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
        return self.resolve(address, township=township_hint, park=park_hint).place

    def resolve(self, address: object, *, township: object = "", park: object = "",
                village: object = "") -> Resolution:
        """Decide a row's township by the evidence of its sources, then its place.

        Each source votes for townships: the township the address names (1), a village
        or community it names (1; 0.5 for a short form), a road or park it names (0.5),
        a village the 村（社区） column names (1) and the declared 乡镇（街道） (1). A name
        shared by several townships (新村) votes for each of them, so the other sources
        choose. The township with most votes wins; on a tie the declared township wins;
        a tie without it goes to the township the address names, at township level (a
        self-contradictory address). The place is then the most specific one inside the
        winner.

        Parameters
        ----------
        address
            Free-text address (地址).
        township, park, village
            The 乡镇（街道）, 所属园区 and 村（社区） columns as written.
        """
        s = strip_admin_prefix(normalize(address), keep=self._keep)
        hits = self._hits(s) if s else []
        col = normalize(village)
        kinds = self._kinds
        col_places = [i for h in (self._hits(col) if col else []) for i in h.places
                      if kinds[i] in ("village", "community")]
        parks = {self._park_key[i] for h in hits for i in h.places if kinds[i] == "park"}
        if loose_key(park):
            parks.add(loose_key(park))
        parks.discard("")
        declared = loose_key(township) if loose_key(township) in self._town_name else ""
        votes, addr_towns = self._votes(hits, col_places, parks, declared)
        town, rule = self._winner(votes, declared, addr_towns)
        place = self._place(hits, col_places, town, parks, bool(votes))
        town_name = self._town_name.get(town, "")
        return Resolution(place, town_name,
                          self._conflicts(town, town_name, rule, place, township, declared, addr_towns,
                                          hits, col, col_places))

    def _votes(self, hits: list[_Hit], col_places: list[int], parks: set[str],
               declared: str) -> tuple[dict[str, dict[str, float]], list[str]]:
        """Township key → source → vote, and the townships the address names (in order)."""
        votes: dict[str, dict[str, float]] = {}

        def vote(key: str, source: str, weight: float) -> None:
            if key:
                per = votes.setdefault(key, {})
                per[source] = max(per.get(source, 0.0), weight)

        addr_towns: list[str] = []
        for h in hits:
            for i in h.places:
                key, kind = self._township_key[i], self._kinds[i]
                if kind == "township":
                    vote(key, "township", _VOTE_TOWNSHIP)
                    if key not in addr_towns:
                        addr_towns.append(key)
                elif kind == "park":
                    vote(key, "park", _VOTE_PARK)
                elif kind == "road":  # a road of a park the row names: the park agrees
                    vote(key, "road", _VOTE_ROAD + (_VOTE_PARK if self._park_key[i] in parks else 0.0))
                else:
                    vote(key, "village", _VOTE_VILLAGE if h.full else _VOTE_SHORT)
        for i in col_places:
            vote(self._township_key[i], "column", _VOTE_COLUMN)
        vote(declared, "declared", _VOTE_DECLARED)
        return votes, addr_towns

    def _place(self, hits: list[_Hit], col_places: list[int], town: str, parks: set[str],
               voted: bool) -> Place | None:
        """The most specific place consistent with the township: the address's, else the
        village column's, else a park the address names, else the township itself."""
        kinds, tkey, pkey = self._kinds, self._township_key, self._park_key

        def consistent(i: int) -> bool:
            return bool(town and tkey[i] == town) or bool(pkey[i] and pkey[i] in parks)

        named = [(h, i) for h in hits for i in h.places]
        place = self._best([(h, i) for h, i in named if KIND_RANK[kinds[i]] >= KIND_RANK["road"] and consistent(i)])
        if place is None and col_places:
            column = _Hit(0, 0, True, ())
            place = self._best([(column, i) for i in col_places if consistent(i)])
        if place is None and not town:  # a road the address names, its township left undecided
            place = self._best([(h, i) for h, i in named if kinds[i] == "road"])
        if place is None:
            place = self._best([(h, i) for h, i in named if kinds[i] == "park"
                                and (not town or tkey[i] == town or not tkey[i])])
        if place is None and town:
            place = self._best([(h, i) for h, i in named if kinds[i] == "township" and tkey[i] == town])
            if place is None:
                place = self._town_place.get(town)
        if place is None and not voted:
            place = self._best([(h, i) for h, i in named if kinds[i] == "park"])
        return place

    def _winner(self, votes: dict[str, dict[str, float]], declared: str,
                addr_towns: list[str]) -> tuple[str, str]:
        """The township the votes decide and the rule that decided ("" when none)."""
        if not votes:
            return "", ""
        total = {k: sum(v.values()) for k, v in votes.items()}
        top = max(total.values())
        tied = sorted(k for k, v in total.items() if v == top)
        if len(tied) == 1:
            return tied[0], ("declared" if tied[0] == declared else "address")
        if declared in tied:
            return declared, "declared"
        named = [k for k in addr_towns if k in tied]
        if len(named) == 1:
            return named[0], "township"
        return "", ""

    def _best(self, candidates: list[tuple[_Hit, int]]) -> Place | None:
        """The most specific candidate; ``None`` when the best are distinct same-ranked places."""
        scored = [((KIND_RANK[self.places[i].kind], int(h.full), h.end - h.start, h.start), i)
                  for h, i in candidates if not math.isnan(self.places[i].lon)]
        scored.sort(key=lambda t: t[0], reverse=True)
        while scored:
            best_score, best = scored[0]
            tied = [i for sc, i in scored if sc == best_score]
            if len({(self.places[i].lon, self.places[i].lat) for i in tied}) == 1:
                return self.places[best]
            # the same name in several places and nothing to choose by: skip it
            scored = [(sc, i) for sc, i in scored if sc != best_score]
        return None

    def _conflicts(self, town: str, town_name: str, rule: str, place: Place | None, written_town: object,
                   declared: str, addr_towns: list[str], hits: list[_Hit], col: str,
                   col_places: list[int]) -> tuple[tuple[str, str, str, str], ...]:
        if not town:
            return ()
        out: list[tuple[str, str, str, str]] = []
        level = "township" if place is None or place.kind == "township" else rule
        if declared and declared != town:
            out.append(("township", str(written_town).strip(), town_name, level if rule != "declared" else rule))
        for key in addr_towns:
            if key != town:
                out.append(("address_township", self._town_name.get(key, key), town_name, rule))
        named = {self.places[i].name for h in hits if h.full for i in h.places
                 if self.places[i].kind in ("village", "community")}
        inside = {self.places[i].name for h in hits if h.full for i in h.places
                  if self.places[i].kind in ("village", "community") and self._township_key[i] == town}
        for name in sorted(named - inside):
            out.append(("village", name, town_name, level))
        if col_places and not any(self._township_key[i] == town for i in col_places):
            out.append(("village", col, town_name, level))
        return tuple(out)
