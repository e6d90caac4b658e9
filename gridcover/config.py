"""One configuration object: the rule thresholds of RULES.md and the algorithm parameters.

Every number a planner may want to change is a field of :class:`Config`. Its defaults
equal ``RULES.md``; the rule id a field encodes is named in its docstring. A TOML file
may give the fields flat or grouped in the sections named below (``[rules]``,
``[partition]``, ``[resources]``, ``[funding]``, ``[geocode]``, ``[ingest]``, ``[maps]``, ``[outputs]``); an unknown
key or a value of the wrong type is refused with a message naming the key.

Examples
--------
>>> from gridcover import Config
>>> Config().grid_max_size
15
>>> Config.from_dict({"partition": {"grid_max_size": 12}}).grid_max_size
12
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

__all__ = ["LEVERS", "Config", "config_template", "load_config", "load_config_text", "parse_levers"]

#: The ways to organise beyond the base rules (RULES.md L1–L5), in order.
LEVERS: tuple[str, ...] = ("L1", "L2", "L3", "L4", "L5")

Basemap = Literal["osm", "amap", "tianditu", "none"]
OnlineGeocoder = Literal["amap", "tianditu", "baidu", "baiduv3", "nominatim"]


def _f(default: Any, section: str, doc: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"section": section, "doc": doc, "secret": secret})


@dataclass(frozen=True)
class Config:
    """Rule thresholds and algorithm parameters (defaults equal RULES.md).

    Build one with keyword arguments, :meth:`from_dict`, or :func:`load_config`
    from a TOML file; change one with :meth:`replace`.
    """

    # --- eligibility and size (E1, S1) --------------------------------------------
    eligible_min_staff: int = _f(6, "rules", "E1: staff at or above this (with fixed premises) are grid-eligible.")
    survey_min_staff: int = _f(10, "rules", "E1: the national coverage survey scope (三有), for reporting.")
    size_class_bounds: tuple[int, int, int] = _f((6, 50, 100), "rules", "S1: size classes <a, a–b-1, b–c-1, ≥c staff.")
    # --- organisation setting (O1–O10) --------------------------------------------
    branch_min_members: int = _f(3, "rules", "O1: formal members needed to form an own branch (单独建).")
    branch_committee_members: int = _f(7, "rules", "O2: formal members at which a branch elects a committee.")
    general_branch_members: int = _f(50, "rules", "O3/G6: members above which a general branch (党总支) is due.")
    primary_committee_members: int = _f(100, "rules", "O4/G6: members at which a primary committee (基层党委) is due.")
    large_thresholds_count_probationary: bool = _f(True, "rules", "O3/O4/G1: the 50/100 thresholds count formal plus probationary members.")
    joint_max_units: int = _f(5, "rules", "O6/G5: a joint branch covers at most this many units.")
    joint_min_members: int = _f(3, "rules", "O6: formal members a joint branch needs in total.")
    joint_max_distance_m: float = _f(3000.0, "rules", "O7: greatest pairwise distance between a joint branch's units, metres.")
    joint_prefer_same_industry: bool = _f(True, "rules", "O7: prefer units of the same GB/T 4754 section.")
    replan_existing_joint: bool = _f(False, "rules", "O6/O7: re-plan existing joint organisations even when they obey the rules.")
    grid_min_size: int = _f(5, "partition", "O10: fewest grid-eligible enterprises in a grid (where the unit has as many).")
    grid_max_size: int = _f(15, "partition", "O10: most grid-eligible enterprises in a grid.")
    grid_min_members: int = _f(3, "partition", "O9: formal members each grid should hold so a branch can form in it.")
    grid_target_size: float | None = _f(None, "partition", "O10: preferred grid size within the bounds; None (unset) means their middle.")
    grid_reshape_max_grids: int = _f(4, "partition", "Contiguity: a grid still in pieces is re-drawn exactly together with up to this many grids in all, itself included (2–5; 0: not re-drawn, the branch repair only).")
    grid_reshape_max_enterprises: int = _f(5000, "partition", "Contiguity: the exact re-drawing runs on plans of up to this many enterprises (it costs seconds per grid in pieces; a city keeps the branch repair only).")
    seed: int = _f(0, "partition", "Seed of every randomised step; results are deterministic for a seed.")
    # --- gaps (G1–G9) ---------------------------------------------------------------
    gap_member_min_staff: int = _f(50, "rules", "G1: staff at or above this should have a party member.")
    gap_org_min_staff: int = _f(100, "rules", "G2: staff at or above this should have a party organisation.")
    service_catchment_m: float = _f(2000.0, "rules", "G9/W3: catchment distance of a party-mass service centre, metres.")
    # --- coverage metrics (M1–M4) ---------------------------------------------------
    org_coverage_counts_attached: bool = _f(True, "rules", "M1: count attached (挂靠建) enterprises as organisationally covered.")
    org_coverage_target: float = _f(0.9, "rules", "M4: first organisational coverage target.")
    org_coverage_full_target: float = _f(1.0, "rules", "M4: final organisational coverage target.")
    work_coverage_target: float = _f(1.0, "rules", "M4: work coverage target.")
    targets_lever_max_enterprises: int = _f(1_000_000, "rules", "M4: a safety far above a city: the cumulative lever columns and members_needed of targets.csv (and members_needed.csv) are evaluated for plans of up to this many enterprises (100,000 take some tens of seconds); above it they are left blank and the plan says so.")
    org_targets_by_year: tuple[str, ...] = _f(("2020:0.9", "2021:1.0"), "rules", "M4: organisational coverage targets by year, each \"YEAR:FRACTION\" (seed 003: 2020 ≥ 90%, 2021 全覆盖).")
    # --- levers (L1–L5) -------------------------------------------------------------
    levers: tuple[str, ...] = _f((), "rules", "L1–L5: ways to organise beyond the base rules that the plan uses (e.g. [\"L1\", \"L3\"]); empty: the base rules.")
    # --- resources (W1–W3) ----------------------------------------------------------
    instructor_capacity: int = _f(3, "resources", "W1: enterprises one instructor covers.")
    instructors_cross_units: bool = _f(False, "resources", "W2: allow an instructor to serve another unit.")
    publish_instructor_names: bool = _f(False, "resources", "Show instructor names (personal data) in maps and GIS files; by default only the Excel report names them.")
    new_sites_k: int = _f(3, "resources", "W3: new service-centre sites to propose.")
    new_centres: str = _f("", "resources", "W3: service-centre sites the plan proposes: \"\" none, \"full\" the fewest sites so every gridded enterprise lies in a catchment (set cover), or a number K (the best K, MCLP).")
    diff_move_threshold_m: float = _f(200.0, "resources", "Quarterly diff: a point that moved farther than this is a move, metres.")
    # --- funding (the 15311 policy) -------------------------------------------------
    fund_committee: float = _f(10000.0, "funding", "Yuan a year per primary committee.")
    fund_general_branch: float = _f(5000.0, "funding", "Yuan a year per general branch.")
    fund_branch: float = _f(3000.0, "funding", "Yuan a year per branch.")
    fund_secretary_monthly: float = _f(100.0, "funding", "Yuan a month per secretary.")
    fund_member_yearly: float = _f(100.0, "funding", "Yuan a year per formal member.")
    # --- identifiers and geocoding --------------------------------------------------
    uscc_checksum_reject: bool = _f(True, "rules", "A failed USCC check character rejects the row (False: warn and keep).")
    fix_swapped_coordinates: bool = _f(True, "geocode", "Swap lon/lat back when only the swapped pair lies in China (else reject).")
    online_geocoder: OnlineGeocoder | None = _f(None, "geocode", "Opt-in online geocoder: amap (高德, GCJ-02), tianditu (天地图, CGCS2000), baidu (BD-09) or nominatim (OSM, WGS-84); None keeps everything offline.")
    geocoder_api_key: str | None = _f(None, "geocode", "API key of the online geocoder (else GRIDCOVER_AMAP_KEY, GRIDCOVER_TIANDITU_KEY, GRIDCOVER_BAIDU_KEY, or GRIDCOVER_GEOCODER_KEY); never written to outputs.", secret=True)
    geocode_cache: str = _f("~/.cache/gridcover/geocode.sqlite", "geocode", "On-disk cache of online geocoding results.")
    geocode_min_delay_s: float = _f(1.0, "geocode", "Least seconds between two online geocoding requests.")
    geocode_max_retries: int = _f(2, "geocode", "Retries of a failed online geocoding request (with back-off).")
    geocode_context: str = _f("", "geocode", "Prefix put before addresses sent online, e.g. the province, city and county.")
    # --- ingest limits (hostile or damaged input files) ------------------------------
    count_max: int = _f(10_000_000, "ingest", "A staff or member count above this is rejected as implausible (the row, not the ledger).")
    csv_max_cell_lines: int = _f(50, "ingest", "A quoted CSV cell may span at most this many lines; a quote still open after them is unbalanced and only its own line is rejected.")
    xlsx_max_unpacked_mb: float = _f(1536.0, "ingest", "Largest total unpacked size of an XLSX workbook, MiB (a full 1,048,576-row sheet fits); checked on the zip directory before reading.")
    xlsx_max_ratio: float = _f(200.0, "ingest", "Largest unpacked/packed size ratio of one XLSX part over 1 MiB (zip-bomb guard).")
    # --- maps -----------------------------------------------------------------------
    basemap: Basemap = _f("osm", "maps", "Base map: osm, amap (GCJ-02), tianditu (needs a key) or none.")
    tianditu_key: str | None = _f(None, "maps", "Tianditu key (or GRIDCOVER_TIANDITU_KEY); never written to outputs.", secret=True)
    map_detail_max: int = _f(20000, "maps", "Above this many located enterprises a map shows aggregates (per grid, per unit) with clustering.")

    parquet_min_enterprises: int = _f(500_000, "outputs", "From this many enterprises (a province) a plan also writes enterprises.parquet and grids.parquet (GeoParquet) besides the CSV and GeoJSON, and plan.xlsx holds its summary sheets only (汇总, 指导员, 经费测算, 达标路径, 发展党员).")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                value = tuple(value)
                object.__setattr__(self, f.name, value)
            if _hints()[f.name] is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                object.__setattr__(self, f.name, value)
            if not _type_ok(value, _hints()[f.name]):
                msg = f"config key {f.name!r}: {value!r} is not of type {_type_name(_hints()[f.name])}"
                raise ConfigError(msg)
        self._check_ranges()

    def _check_ranges(self) -> None:
        problems = []
        for name in ("eligible_min_staff", "branch_min_members", "joint_max_units", "joint_min_members",
                     "grid_min_size", "grid_max_size", "instructor_capacity"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.grid_target_size is not None and not (
                self.grid_min_size <= self.grid_target_size <= self.grid_max_size):
            problems.append(f"grid_target_size ({self.grid_target_size}) lies outside "
                            f"{self.grid_min_size}–{self.grid_max_size}")
        if self.grid_min_size > self.grid_max_size:
            problems.append(f"grid_min_size ({self.grid_min_size}) exceeds grid_max_size ({self.grid_max_size})")
        for name in ("count_max", "csv_max_cell_lines", "parquet_min_enterprises"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.grid_reshape_max_grids not in (0, 2, 3, 4, 5) or self.grid_reshape_max_enterprises < 0:
            problems.append("grid_reshape_max_grids must be 0 or 2–5, grid_reshape_max_enterprises not negative")
        if self.count_max >= 2**62:
            problems.append("count_max must be below 2**62")
        if self.xlsx_max_unpacked_mb <= 0 or self.xlsx_max_ratio <= 1:
            problems.append("xlsx_max_unpacked_mb must be positive and xlsx_max_ratio above 1")
        if self.joint_max_distance_m <= 0 or self.service_catchment_m <= 0:
            problems.append("distances must be positive")
        if list(self.size_class_bounds) != sorted(self.size_class_bounds):
            problems.append("size_class_bounds must increase")
        for name in ("org_coverage_target", "org_coverage_full_target", "work_coverage_target"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be a fraction between 0 and 1")
        bad = [v for v in self.levers if v not in LEVERS]
        if bad:
            problems.append(f"levers: unknown {', '.join(map(str, bad))} (valid: {', '.join(LEVERS)})")
        elif len(set(self.levers)) != len(self.levers) or list(self.levers) != sorted(self.levers):
            object.__setattr__(self, "levers", tuple(sorted(set(self.levers))))
        for item in self.org_targets_by_year:
            year, _, rate = str(item).partition(":")
            try:
                ok = year.strip().isdigit() and 0 < float(rate) <= 1
            except ValueError:
                ok = False
            if not ok:
                problems.append(f"org_targets_by_year: {item!r} is not \"YEAR:FRACTION\" (e.g. \"2020:0.9\")")
        if self.new_centres not in ("", "full") and not (self.new_centres.isdigit() and int(self.new_centres) > 0):
            problems.append(f"new_centres: {self.new_centres!r} is not \"\", \"full\" or a positive number")
        if problems:
            raise ConfigError("invalid config: " + "; ".join(problems))

    def org_targets(self) -> list[tuple[int, float]]:
        """M4: ``(year, fraction)`` of each organisational coverage target, by year."""
        out = []
        for item in self.org_targets_by_year:
            year, _, rate = str(item).partition(":")
            out.append((int(year), float(rate)))
        return sorted(out)

    # ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        """Build a Config from a (possibly sectioned) mapping, refusing unknown keys."""
        flat: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        sections = sorted({f.metadata["section"] for f in fields.values()})
        for key, value in data.items():
            if isinstance(value, dict) and key in sections:
                for sub, subvalue in value.items():
                    if sub not in fields or fields[sub].metadata["section"] != key:
                        valid = ", ".join(n for n, f in fields.items() if f.metadata["section"] == key)
                        msg = f"unknown config key [{key}] {sub!r}; valid keys in [{key}]: {valid}"
                        raise ConfigError(msg)
                    flat[sub] = subvalue
            elif key in fields:
                flat[key] = value
            else:
                msg = (f"unknown config key {key!r}; valid sections: {', '.join(sections)}; "
                       f"valid keys: {', '.join(fields)}")
                raise ConfigError(msg)
        return cls(**flat)

    def to_dict(self, *, secrets: bool = False) -> dict[str, Any]:
        """The config as a sectioned mapping (the TOML layout).

        Keys (``geocoder_api_key``, ``tianditu_key``) are given as ``None`` unless
        ``secrets`` is true, so that what is recorded (``run.json``) never holds them.
        """
        out: dict[str, dict[str, Any]] = {}
        for f in dataclasses.fields(self):
            value = None if f.metadata.get("secret") and not secrets else getattr(self, f.name)
            out.setdefault(f.metadata["section"], {})[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated like a new Config)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            msg = f"unknown config key(s): {', '.join(unknown)}"
            raise ConfigError(msg)
        return dataclasses.replace(self, **changes)

    @staticmethod
    def describe() -> list[tuple[str, str, Any, str]]:
        """(section, key, default, description) of every field, for docs and ``--help``."""
        return [(f.metadata["section"], f.name, f.default, f.metadata["doc"]) for f in dataclasses.fields(Config)]


def config_template(config: Config | None = None) -> str:
    """A TOML file of every config key, its value and what it means (``gridcover config``).

    Keys whose value is unset (None) are written commented out. The text loads back
    to the same config.

    Examples
    --------
    >>> text = config_template()
    >>> "joint_max_units = 5" in text and load_config_text(text) == Config()
    True
    """
    config = config or Config()
    lines = ["# gridcover configuration: every rule threshold and parameter (defaults per the rules).",
             "# Load it with: gridcover plan ... --config this.toml", ""]
    for section in dict.fromkeys(f.metadata["section"] for f in dataclasses.fields(Config)):
        lines.append(f"[{section}]")
        for f in dataclasses.fields(Config):
            if f.metadata["section"] != section:
                continue
            lines.append(f"# {f.metadata['doc']}")
            value = getattr(config, f.name)
            lines.append(f"# {f.name} =" if value is None else f"{f.name} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def parse_levers(text: str) -> tuple[str, ...]:
    """``--levers`` text: ``all`` or comma-separated ids (``L1,L3``); case and spaces ignored.

    Raises
    ------
    ConfigError
        On an unknown lever id.
    """
    words = [w.strip().upper() for w in str(text).replace("，", ",").split(",") if w.strip()]
    if [w.lower() for w in words] == ["ALL".lower()]:
        return LEVERS
    bad = [w for w in words if w not in LEVERS]
    if bad:
        msg = f"unknown lever(s) {', '.join(bad)}: use all or some of {', '.join(LEVERS)} (e.g. L1,L3)"
        raise ConfigError(msg)
    return tuple(sorted(set(words)))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


def load_config_text(text: str) -> Config:
    """A :class:`Config` from TOML text (see :func:`load_config`)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"config is not valid TOML: {exc}"
        raise ConfigError(msg) from None
    return Config.from_dict(data)


def load_config(path: str | Path | None) -> Config:
    """Load a :class:`Config` from a TOML file; ``None`` gives the defaults.

    Raises
    ------
    ConfigError
        When the file cannot be read, is not TOML, or holds an unknown key or a
        value of the wrong type.
    """
    if path is None:
        return Config()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        msg = f"cannot read config file {p}: {exc.strerror or exc}"
        raise ConfigError(msg) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"config file {p} is not valid TOML: {exc}"
        raise ConfigError(msg) from None
    return Config.from_dict(data)


# --- type checking of fields -----------------------------------------------------------
_HINTS: dict[str, Any] = {}


def _hints() -> dict[str, Any]:
    if not _HINTS:
        _HINTS.update(typing.get_type_hints(Config))
    return _HINTS


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if origin is Literal:
        return value in typing.get_args(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return isinstance(value, tuple) and all(_type_ok(v, args[0]) for v in value)
        return (isinstance(value, tuple) and len(value) == len(args)
                and all(_type_ok(v, a) for v, a in zip(value, args, strict=True)))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if origin is tuple and Ellipsis in typing.get_args(hint):
        return "a list of " + _type_name(typing.get_args(hint)[0])
    if origin is tuple:
        return "a list of " + ", ".join(_type_name(a) for a in typing.get_args(hint))
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))
