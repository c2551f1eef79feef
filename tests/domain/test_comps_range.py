"""The range by comps: wider where the comps' total weight is small, calibrated out of fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.domain.comps_range import RangeByComps, never_rising, range_by_comps
from app.domain.located_fitting import fit_located_table
from app.domain.located_model import LocatedModel
from tests.support import located_listings


def errors(weight: np.ndarray, seed: int = 0) -> np.ndarray:
    """Absolute normalised errors that shrink as the comps weigh more."""
    rng = np.random.default_rng(seed)
    return np.abs(rng.normal(size=len(weight))) * 3.0 / (1.0 + weight)


def test_the_range_is_wider_where_comps_weigh_less() -> None:
    weight = np.random.default_rng(1).uniform(0, 10, 5000)
    found = range_by_comps(weight, errors(weight))
    assert found is not None
    assert found.factors[0] > 1.5 * found.factors[-1]
    assert found.factor_one(0.0) == max(found.factors)


def test_the_factors_never_rise_with_the_weight() -> None:
    weight = np.random.default_rng(2).uniform(0, 10, 5000)
    noise = np.abs(np.random.default_rng(3).normal(size=5000))  # errors unrelated to weight
    found = range_by_comps(weight, noise)
    assert found is not None
    assert all(a >= b for a, b in zip(found.factors, found.factors[1:], strict=False))
    assert all(0.9 < f < 1.1 for f in found.factors)


def test_pooling_keeps_a_falling_sequence_and_pools_a_rise() -> None:
    assert never_rising([3.0, 2.0, 1.0], [1, 1, 1]) == (3.0, 2.0, 1.0)
    assert never_rising([1.0, 3.0, 0.5], [1, 1, 2]) == (2.0, 2.0, 0.5)


def test_one_home_takes_the_factor_of_its_row_of_a_batch() -> None:
    ranges = RangeByComps((1.0, 2.0, 3.0), (1.4, 1.2, 1.0, 0.9))
    weight = np.array([0.0, 1.0, 1.5, 2.0, 2.9, 3.0, 50.0])
    assert ranges.factor(weight).tolist() == [ranges.factor_one(w) for w in weight.tolist()]
    assert ranges.factor_one(1.0) == 1.2  # an edge belongs to the group above it


def test_too_few_sales_with_comps_give_no_factors() -> None:
    weight = np.zeros(1000)
    weight[:100] = 5.0
    assert range_by_comps(weight, np.ones(1000)) is None


@pytest.fixture(scope="module")
def fitted() -> tuple[LocatedModel, dict[str, Any]]:
    return fit_located_table(located_listings(3000), folds=5, source="test")


def test_a_located_fit_keeps_its_factors_and_says_how_often_each_group_is_held(
    fitted: tuple[LocatedModel, dict[str, Any]],
) -> None:
    model, card = fitted
    ranges = model.range_by_comps
    assert ranges is not None and len(ranges.factors) == len(ranges.edges) + 1
    cv = card["metrics"]["cv"]
    held = cv["coverage_90_by_comps_weight"]
    assert len(held) == len(ranges.factors)
    assert all(0.85 <= h <= 0.95 for h in held), held
    described = card["terms"]["comps"]["range"]
    assert described["factors"] == list(ranges.factors)


def test_a_home_without_comps_gets_the_widest_range(
    fitted: tuple[LocatedModel, dict[str, Any]],
) -> None:
    model = fitted[0]
    estimate = np.array([500_000.0, 500_000.0])
    low, high = model.interval(estimate, 0.9, np.array([0.0, 1e9]))
    ranges = model.range_by_comps
    assert ranges is not None
    assert (high[0] - estimate[0]) / (high[1] - estimate[1]) == pytest.approx(
        ranges.factors[0] / ranges.factors[-1]
    )
    assert high[0] - low[0] >= high[1] - low[1]


def test_a_range_by_comps_needs_the_weights(fitted: tuple[LocatedModel, dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="total weight"):
        fitted[0].interval(np.array([500_000.0]), 0.9)


def test_a_model_stored_before_the_range_by_comps_answers_as_it_did(
    fitted: tuple[LocatedModel, dict[str, Any]],
) -> None:
    state = fitted[0].__getstate__()
    del state["comps_range"]  # an artifact written before the field
    del state["range_unplaced"]  # and so before this later one
    older = LocatedModel.__new__(LocatedModel)
    older.__setstate__(state)
    assert older.range_by_comps is None
    estimate = np.array([400_000.0])
    low, high = older.interval(estimate, 0.9)
    assert older.calibration is not None
    q_low, q_high = older.calibration.quantiles_many(estimate, 0.9)
    scale = older.calibration.scale(estimate)
    assert low.tolist() == np.maximum(estimate + q_low * scale, 0.0).tolist()
    assert high.tolist() == (estimate + q_high * scale).tolist()
    one = older.explain_home(3, 2, 1800, 0.9, "north", 47.52, -122.25)
    assert one.high > one.price > one.low
