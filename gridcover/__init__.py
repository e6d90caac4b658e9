"""gridcover: geospatial planning of party-building coverage (两个覆盖) in non-public enterprises.

A notebook user needs only ``import gridcover as gc``:

>>> import gridcover as gc
>>> plan = gc.run(gc.sample_inputs())           # doctest: +SKIP
>>> gc.coverage_table(plan)                      # doctest: +SKIP
>>> gc.coverage_map(plan)                        # doctest: +SKIP

The stages, each a pure function over plain data (see DESIGN's pipeline):
:func:`read_ledger` → :func:`geocode` (with :func:`load_jurisdictions` and
:func:`read_gazetteer`) → :func:`classify` → :func:`find_gaps` → :func:`partition` →
:func:`assign_instructors` → :func:`coverage_table` / :func:`coverage_map` /
:func:`write_plan`. :func:`run` chains them from files; :func:`locate` stops after
geocoding (what ``gridcover validate`` does).
"""

from __future__ import annotations

from . import datasets
from .classify import classify
from .config import Config, config_template, load_config
from .coverage import coverage_by, coverage_flags, coverage_table, targets
from .diff import LedgerDiff, diff_ledgers, write_diff
from .errors import BoundaryError, ConfigError, GridcoverError, LedgerError, Reject
from .funding import funding
from .gaps import RULE_TEXT, find_gaps, gap_column, rule_text
from .geocode import Gazetteer, geocode, make_online_geocoder, read_gazetteer
from .jurisdictions import Jurisdictions, load_jurisdictions, read_boundaries
from .ledger import Ledger, read_ledger
from .maps import coverage_map, map_html, write_maps
from .outputs import read_plan, write_plan
from .partition import UnitPartition, joint_status, partition, partition_unit
from .pipeline import Inputs, locate, run, sample_inputs
from .plan import Plan
from .report import coverage_png, write_excel, write_geopackage, write_shapefiles
from .resources import (
    assign_instructors,
    catchment,
    instructors_needed,
    read_roster,
    read_service_centres,
    site_new_centres,
    site_new_centres_exact,
)

__version__ = "0.1.0"

__all__ = [
    "RULE_TEXT",
    "BoundaryError",
    "Config",
    "ConfigError",
    "Gazetteer",
    "GridcoverError",
    "Inputs",
    "Jurisdictions",
    "Ledger",
    "LedgerDiff",
    "LedgerError",
    "Plan",
    "Reject",
    "UnitPartition",
    "assign_instructors",
    "catchment",
    "classify",
    "config_template",
    "coverage_by",
    "coverage_flags",
    "coverage_map",
    "coverage_png",
    "coverage_table",
    "datasets",
    "diff_ledgers",
    "find_gaps",
    "funding",
    "gap_column",
    "geocode",
    "instructors_needed",
    "joint_status",
    "load_config",
    "load_jurisdictions",
    "locate",
    "make_online_geocoder",
    "map_html",
    "partition",
    "partition_unit",
    "read_boundaries",
    "read_gazetteer",
    "read_ledger",
    "read_plan",
    "read_roster",
    "read_service_centres",
    "rule_text",
    "run",
    "sample_inputs",
    "site_new_centres",
    "site_new_centres_exact",
    "targets",
    "write_diff",
    "write_excel",
    "write_geopackage",
    "write_maps",
    "write_plan",
    "write_shapefiles",
]
