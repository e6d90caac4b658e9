"""Shared fixtures. Module-specific fixtures live in their own test modules.

The bundled sample county is planned (and located) once per test process here, for every
module that needs the same default plan. Those objects are shared read-only: a test that
changes a table copies it first (``plan.enterprises.copy()``, ``plan.replace(...)``). A test
that changes one in place fails the session at teardown, by a content hash taken before
and after.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from gridcover import Config, Ledger, Plan, datasets


@pytest.fixture(scope="session")
def config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def sample_paths() -> dict:
    """Paths of the bundled sample county files."""
    return {name: datasets.get_path(name) for name in datasets.available()}


def _frame_digest(h: Any, name: str, frame: pd.DataFrame) -> None:
    h.update(name.encode())
    h.update(repr((list(map(str, frame.columns)), [str(t) for t in frame.dtypes], frame.shape,
                   list(map(str, frame.index[:0].names)))).encode())
    if isinstance(frame, gpd.GeoDataFrame):
        frame = pd.DataFrame(frame.to_wkb(hex=True))
    frame = frame.assign(**{str(c): frame[c].map(repr) for c in frame.columns if frame[c].dtype == object})
    h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())


def digest(obj: object) -> str:
    """A content hash of every table (and plain attribute) of a Plan or a Ledger."""
    h = hashlib.sha256()
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, pd.DataFrame):
            _frame_digest(h, f.name, value)
        elif f.name == "coverage" and value is not None:
            _frame_digest(h, "coverage.enterprises", value.enterprises)
            _frame_digest(h, "coverage.funding", value.funding)
        elif isinstance(value, str | int | float | Config | dict) or value is None:
            h.update(f"{f.name}={value!r}".encode())
    return h.hexdigest()


def _shared(obj: object, what: str) -> Iterator:
    before = digest(obj)
    yield obj
    assert digest(obj) == before, f"a test changed the shared {what} in place (copy it first)"


@pytest.fixture(scope="session")
def sample_county_plan() -> Iterator[Plan]:
    """``gc.run(gc.sample_inputs())``: the bundled county planned with the default Config."""
    import gridcover as gc

    yield from _shared(gc.run(gc.sample_inputs()), "sample-county plan")


@pytest.fixture(scope="session")
def sample_county_located() -> Iterator[Ledger]:
    """``gc.locate(gc.sample_inputs())``: the bundled county read, geocoded and classified."""
    import gridcover as gc

    yield from _shared(gc.locate(gc.sample_inputs()), "located sample county")
