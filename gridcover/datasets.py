"""The bundled synthetic sample county (clearly synthetic; fictional names).

>>> from gridcover import datasets
>>> datasets.get_path("ledger").name
'ledger.xlsx'
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["available", "data_dir", "get_path"]

_FILES = {
    "ledger": "ledger.xlsx",
    "townships": "townships.geojson",
    "parks": "parks.geojson",
    "gazetteer": "gazetteer.csv",
    "service_centres": "service_centres.csv",
    "instructors": "instructors.csv",
}


def data_dir() -> Path:
    """Folder of the sample county: the package's ``_data`` when installed from a wheel,
    else the repository's ``data/``."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "data"):
        if (candidate / _FILES["ledger"]).exists():
            return candidate
    return here.parent / "data"


def available() -> list[str]:
    """Names accepted by :func:`get_path`."""
    return sorted(_FILES)


def get_path(name: str) -> Path:
    """Path of one bundled sample file: ``ledger``, ``townships``, ``parks``,
    ``gazetteer``, ``service_centres`` or ``instructors``."""
    if name not in _FILES:
        msg = f"unknown sample dataset {name!r}; available: {', '.join(available())}"
        raise ValueError(msg)
    return data_dir() / _FILES[name]
