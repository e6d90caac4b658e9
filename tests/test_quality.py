"""Lint and type checks of the package run with the tests (STYLE: ruff and mypy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_lint_is_clean():
    pytest.importorskip("ruff", reason="ruff is in the [dev] extra")
    r = _run("ruff", "check", "gridcover", "tests", "bench", "notebooks")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_is_clean():
    pytest.importorskip("mypy", reason="mypy is in the [dev] extra")
    r = _run("mypy", "gridcover", "--ignore-missing-imports", "--no-error-summary")
    assert r.returncode == 0, r.stdout + r.stderr
