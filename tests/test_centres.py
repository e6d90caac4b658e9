"""Service centres to full coverage: set cover against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from gridcover.resources import set_cover


def _brute(a: np.ndarray) -> int:
    rows = a.any(axis=1)
    for k in range(0, a.shape[1] + 1):
        for cols in itertools.combinations(range(a.shape[1]), k):
            if (a[:, list(cols)].any(axis=1) >= rows).all():
                return k
    raise AssertionError


@pytest.mark.parametrize("seed", range(15))
def test_set_cover_exact_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((int(rng.integers(5, 14)), int(rng.integers(3, 10)))) < 0.3
    chosen, bound, optimal = set_cover(sp.csr_array(a))
    assert optimal and len(chosen) == _brute(a) and bound <= len(chosen)
    assert (a[:, chosen].any(axis=1) >= a.any(axis=1)).all()


@pytest.mark.parametrize("seed", range(8))
def test_set_cover_greedy_covers_within_its_bound(seed):
    rng = np.random.default_rng(100 + seed)
    a = rng.random((12, 8)) < 0.35
    chosen, bound, optimal = set_cover(sp.csr_array(a), exact=False)
    assert not optimal
    assert (a[:, chosen].any(axis=1) >= a.any(axis=1)).all()
    d = int(a.sum(axis=0).max())
    harmonic = sum(1 / i for i in range(1, d + 1))
    assert bound <= _brute(a) <= len(chosen) <= harmonic * _brute(a) + 1e-9
