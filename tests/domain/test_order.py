"""Quantiles and medians of sorted arrays equal numpy's to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from app.domain.order import sorted_median, sorted_quantiles

GRID = np.linspace(0.0, 1.0, 1001)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 10, 99, 100, 1000, 1001, 4096, 200_003])
def test_sorted_quantiles_equal_numpys_bit_for_bit(n: int) -> None:
    rng = np.random.default_rng(n)
    values = np.sort(rng.standard_t(3, n) * rng.uniform(1, 1e5))
    for q in (GRID, np.arange(1, 5) / 5, np.array([0.0, 0.05, 0.5, 0.95, 1.0])):
        assert sorted_quantiles(values, q).tobytes() == np.quantile(values, q).tobytes()


def test_sorted_quantiles_of_repeated_values_equal_numpys() -> None:
    values = np.sort(np.random.default_rng(0).integers(0, 5, 10_000).astype(float))
    assert sorted_quantiles(values, GRID).tobytes() == np.quantile(values, GRID).tobytes()


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 200_000, 200_001])
def test_sorted_median_equals_numpys(n: int) -> None:
    values = np.sort(np.random.default_rng(n).normal(3e5, 1e5, n))
    assert sorted_median(values) == float(np.median(values))
    assert np.float64(sorted_median(values)).tobytes() == np.median(values).tobytes()


def test_the_median_of_nothing_is_nan_as_numpys() -> None:
    with pytest.warns(RuntimeWarning):
        assert np.isnan(sorted_median(np.empty(0)))
