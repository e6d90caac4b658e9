"""Errors raised by gridcover.

Bad ledger rows are not exceptions: they become :class:`Reject` records and the
run goes on with the valid rows. Exceptions are for inputs that cannot be used at
all (an unreadable file, a ledger without its required columns, a bad config).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BoundaryError",
    "ConfigError",
    "GridcoverError",
    "LedgerError",
    "OutputError",
    "Reject",
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
        A plain-language reason naming the bad value.
    """

    source_row: int
    uscc: str
    reason: str
