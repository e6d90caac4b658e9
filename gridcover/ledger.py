"""Ledger (台账) ingest and validation.

Reads a ledger file (CSV in UTF-8 / UTF-8 with BOM / GBK / GB18030, XLSX, GeoJSON or
GeoPackage points), matches Chinese or canonical headers, normalises values and
validates every row. Each data row ends in exactly one of ``Ledger.enterprises`` or
``Ledger.rejects``: accepted + rejected = data rows, always.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .schema import REJECT_COLUMNS

__all__ = ["Ledger", "read_ledger"]


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in REJECT_COLUMNS})


@dataclass(frozen=True)
class Ledger:
    """An ingested ledger: accepted enterprises and rejected rows.

    Attributes
    ----------
    enterprises
        Accepted rows, indexed by ``uscc``, columns per :mod:`gridcover.schema`
        (later stages return new Ledgers with more columns).
    rejects
        ``source_row, uscc, reason``, one line per rejected data row.
    n_rows
        Data rows read (fully empty rows are not data rows).
    source
        The file read, as given.
    sha256
        Hash of the file's bytes (for ``run.json``).
    conflicts
        Rows whose declared township/park disagrees with their point
        (``uscc, source_row, declared, spatial, resolution``); filled by geocoding.
    warnings
        Recoverable fixes applied to accepted rows (``source_row, uscc, message``).
    """

    enterprises: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=_empty_rejects)
    n_rows: int = 0
    source: str = ""
    sha256: str = ""
    conflicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: pd.DataFrame = field(default_factory=pd.DataFrame)


def read_ledger(path, *, sheet=None, config=None) -> Ledger:  # pragma: no cover - filled by the ingest work
    raise NotImplementedError
