"""gridcover: geospatial planning of party-building coverage (两个覆盖) in non-public enterprises.

A notebook user needs only ``import gridcover as gc``::

    import gridcover as gc
    plan = gc.run(gc.datasets.get_path("ledger"), townships=gc.datasets.get_path("townships"))
"""

from __future__ import annotations

from . import datasets
from .classify import classify
from .config import Config, load_config
from .errors import BoundaryError, ConfigError, GridcoverError, LedgerError, Reject
from .jurisdictions import Jurisdictions
from .ledger import Ledger, read_ledger
from .plan import Plan

__version__ = "0.1.0"

__all__ = [
    "BoundaryError",
    "Config",
    "ConfigError",
    "GridcoverError",
    "Jurisdictions",
    "Ledger",
    "LedgerError",
    "Plan",
    "Reject",
    "classify",
    "datasets",
    "load_config",
    "read_ledger",
]
