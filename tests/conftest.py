"""Shared fixtures. Module-specific fixtures live in their own test modules."""

from __future__ import annotations

import pytest

from gridcover import Config, datasets


@pytest.fixture(scope="session")
def config() -> Config:
    return Config()


@pytest.fixture(scope="session")
def sample_paths() -> dict:
    """Paths of the bundled sample county files."""
    return {name: datasets.get_path(name) for name in datasets.available()}
