"""Every docstring example in the package runs (numpydoc ``Examples`` sections)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import gridcover

MODULES = sorted(
    m.name for m in pkgutil.iter_modules(gridcover.__path__, "gridcover.")
    if m.name not in {"gridcover.__main__"}
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_public_api_is_declared():
    for name in gridcover.__all__:
        assert hasattr(gridcover, name), name
