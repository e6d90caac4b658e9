"""Errors raised by gridcover.

Bad ledger rows are not exceptions: they become :class:`Reject` records and the
run goes on with the valid rows. Exceptions are for inputs that cannot be used at
all (an unreadable file, a ledger without its required columns, a bad config).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccountingError",
    "BoundaryError",
    "ConfigError",
    "GazetteerError",
    "GridcoverError",
    "LedgerError",
    "OutputError",
    "Reject",
    "ResourceFileError",
]


class GridcoverError(Exception):
    """Base class of every error gridcover raises on purpose."""


class LedgerError(GridcoverError, ValueError):
    """The ledger (台账) cannot be read or lacks a required column."""


class ConfigError(GridcoverError, ValueError):
    """A configuration file or value is invalid."""


class BoundaryError(GridcoverError, ValueError):
    """A jurisdiction boundary file cannot be read or used."""


class OutputError(GridcoverError, OSError):
    """An output file or folder cannot be written (or a written plan folder is damaged)."""


class GazetteerError(GridcoverError, ValueError):
    """The gazetteer (地名表) cannot be read or lacks a required column."""


class ResourceFileError(LedgerError):
    """An instructor roster (指导员名册) or service-centre (党群服务中心) file cannot be
    read or holds a bad row (a :class:`LedgerError`, so code catching that still works)."""


class AccountingError(GridcoverError, RuntimeError):
    """Rows were lost or counted twice: accepted + rejected differs from the data rows.

    Never the user's fault: the command line reports it as an internal error (exit 3).
    """


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected ledger row.

    Attributes
    ----------
    source_row
        The spreadsheet row number a person sees (1-based, header rows counted).
    uscc
        The row's 统一社会信用代码 as written (may be empty or malformed).
    reason
        A plain-language reason naming the bad value (English).
    reason_cn
        The same reason in Chinese (what ``rejects.csv`` shows a planner).
    """

    source_row: int
    uscc: str
    reason: str
    reason_cn: str = ""
