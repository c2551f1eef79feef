"""The price range moves continuously with the estimate, and never narrows while it rises."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.arrays import FloatArray
from app.domain.calibration import CACHED_LEVELS, LevelNotKept, calibrate
from app.domain.least_squares import fit, out_of_fold
from app.domain.model import PriceModel


def model_of(seed: int, rows: int, relative: float, flat: float) -> PriceModel:
    """A calibrated model of random sales whose noise is `flat` dollars plus `relative` of price."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(1, 6, rows),
            rng.choice([1.0, 1.5, 2.0, 3.0], rows),
            rng.uniform(500, 5000, rows),
        ]
    ).astype(float)
    mean = 40_000 - 15_000 * X[:, 0] + 9_000 * X[:, 1] + 160 * X[:, 2]
    y = np.maximum(mean + rng.normal(0, 1, rows) * (flat + relative * np.abs(mean)), 5_000)
    return replace(fit(X, y), calibration=calibrate(y, out_of_fold(X, y)))


def ranges(model: PriceModel, estimates: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    low, high = model.interval(estimates, level)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


models = st.builds(
    model_of,
    seed=st.integers(0, 10_000),
    rows=st.integers(60, 600),
    relative=st.floats(0.0, 0.4),
    flat=st.floats(1_000, 80_000),
)
levels = st.floats(0.5, 0.99)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(model=models, level=levels)
def test_the_range_has_no_jump_at_a_band_edge(model: PriceModel, level: float) -> None:
    assert model.calibration is not None and model.calibration.smooth
    for edge in model.calibration.band_edges:
        step = 1e-6 * max(abs(edge), 1.0)
        low, high = ranges(model, np.array([edge - step, edge + step]), level)
        # Across 2·step dollars of estimate, either end moves by a few times that, not by a jump.
        assert abs(high[1] - high[0]) <= 10 * 2 * step
        assert abs(low[1] - low[0]) <= 10 * 2 * step


@settings(max_examples=40, deadline=None, derandomize=True)
@given(model=models, level=levels, seed=st.integers(0, 10_000))
def test_the_range_changes_by_little_when_the_estimate_changes_by_little(
    model: PriceModel, level: float, seed: int
) -> None:
    estimates = np.sort(np.random.default_rng(seed).uniform(-50_000, 1_500_000, 200))
    low, high = ranges(model, estimates, level)
    nudged_low, nudged_high = ranges(model, estimates + 1.0, level)
    # The steepest the range gets, in dollars of either end a dollar of estimate, from $1,000
    # steps: a range of very noisy sales widens fast with the estimate, but a jump of J dollars
    # shows there as J / 1,000 only, and in a one-dollar nudge as J.
    grid = np.arange(-50_000, 1_500_001, 1_000.0)
    steps = [np.abs(np.diff(end)).max() / 1_000 for end in ranges(model, grid, level)]
    most = 5.0 + 2 * max(steps)
    assert np.all(np.abs(nudged_high - high) <= most)
    assert np.all(np.abs(nudged_low - low) <= most)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(model=models, level=levels)
def test_the_range_never_narrows_while_the_estimate_rises(model: PriceModel, level: float) -> None:
    estimates = np.linspace(-100_000, 2_000_000, 20_001)
    assert model.calibration is not None
    q_low, q_high = model.calibration.quantiles_many(estimates, level)
    # The width of the spread about the estimate: a low end below $0 is shown as $0, and past
    # it, on very noisy sales, the high end alone may fall by a few dollars as the estimate rises.
    width = (q_high - q_low) * model.calibration.scale(estimates)
    # Where the width is flat, rounding may move it by a few units in the last place; no more.
    assert np.all(np.diff(width) >= -1e-9 * width[1:])


@settings(max_examples=20, deadline=None, derandomize=True)
@given(model=models, level=levels, seed=st.integers(0, 10_000))
def test_one_estimate_and_many_get_the_same_range_bit_for_bit(
    model: PriceModel, level: float, seed: int
) -> None:
    X = np.random.default_rng(seed).uniform([0, 0, 50], [8, 5, 8000], (50, 3)).round(1)
    estimates = model.predict(X)
    low, high = model.interval(estimates, level)
    for i, (beds, baths, sqft) in enumerate(X.tolist()):
        one = model.explain(beds, baths, sqft, level)
        assert (one.low, one.high) == (float(low[i]), float(high[i]))


def test_a_model_without_band_centres_keeps_a_step_per_band() -> None:
    model = model_of(1, 400, 0.2, 20_000)
    assert model.calibration is not None
    banded = replace(model, calibration=replace(model.calibration, band_centres=()))
    assert banded.calibration is not None and not banded.calibration.smooth
    edge = banded.calibration.band_edges[0]
    low, high = ranges(banded, np.array([edge - 1e-3, edge + 1e-3]), 0.9)
    assert abs((high[1] - low[1]) - (high[0] - low[0])) > 100  # the step the centres remove


def test_a_compact_model_gives_the_whole_models_ranges_at_the_levels_it_kept() -> None:
    whole = model_of(seed=3, rows=400, relative=0.1, flat=20_000)
    compact = whole.keeping([0.9])
    estimates = np.linspace(50_000, 900_000, 200)
    pairs = zip(ranges(compact, estimates, 0.9), ranges(whole, estimates, 0.9), strict=True)
    for compact_end, whole_end in pairs:
        assert np.array_equal(compact_end, whole_end)
    assert compact.explain(3, 2, 1500, 0.9) == whole.explain(3, 2, 1500, 0.9)
    assert compact.answers(0.9) and not compact.answers(0.8) and whole.answers(0.8)


def test_a_compact_model_refuses_a_level_it_did_not_keep() -> None:
    compact = model_of(seed=4, rows=200, relative=0.1, flat=20_000).keeping([0.9])
    with pytest.raises(LevelNotKept):
        compact.explain(3, 2, 1500, 0.8)


def narrow_dear_third(seed: int = 6) -> tuple[FloatArray, FloatArray]:
    """Sales whose dear third's noise is about half the others' (the case `_halves` is for)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [rng.integers(1, 6, 3000), rng.choice([1.0, 2.0, 3.0], 3000), rng.uniform(600, 4500, 3000)]
    )
    mean = 40_000 - 20_000 * X[:, 0] + 8_000 * X[:, 1] + 170 * X[:, 2]
    spread = np.where(mean > np.quantile(mean, 2 / 3), 0.12, 0.25) * mean
    return X, mean + rng.normal(0.0, 1.0, 3000) * spread


def spreads(model: PriceModel, level: float) -> tuple[FloatArray, FloatArray]:
    """Each band's own half-spread at `level`, and the half-spread the range uses."""
    assert model.calibration is not None
    bounds = model.calibration.bounds(level)
    return (bounds.high_array - bounds.low_array) / 2, bounds.half


def test_a_dearer_bands_narrow_spread_moves_it_and_the_band_below_it_by_least_squares() -> None:
    X, y = narrow_dear_third()
    model = replace(fit(X, y), calibration=calibrate(y, out_of_fold(X, y)))
    own, used = spreads(model, 0.9)
    assert own[2] < own[1]  # the case: the dear band's own spread is narrower
    assert used[1] < own[1] and used[2] > own[2]  # the band below gives up some, it gains some
    assert used[0] == own[0]  # a band that needs no change keeps its own
    # Nearer, weighted by the bands' residuals, than raising the dear band alone would be.
    assert model.calibration is not None
    sizes = np.asarray(model.calibration.band_sizes, dtype=float)
    centres, scale = model.calibration.band_centres, model.calibration.scale_one
    ratio = scale(centres[2]) / (
        scale(centres[2]) + model.calibration.scale_slope * (centres[2] - centres[1])
    )
    raised_alone = np.array([own[0], own[1], max(own[2], ratio * own[1])])
    assert np.sum(sizes * (used - own) ** 2) < np.sum(sizes * (raised_alone - own) ** 2)


def test_bands_whose_spreads_already_keep_the_range_from_narrowing_keep_their_own() -> None:
    model = model_of(seed=2, rows=3000, relative=0.2, flat=10_000)
    own, used = spreads(model, 0.9)
    assert np.all(np.diff(own) >= 0)  # the case: no band narrower than the one below
    assert np.array_equal(own, used)


def test_a_calibration_keeps_the_bounds_of_a_few_levels_and_computes_the_others() -> None:
    model = model_of(seed=1, rows=600, relative=0.1, flat=20_000)
    assert model.calibration is not None
    fresh = replace(model.calibration, _bounds={})
    levels = np.linspace(0.5, 0.99, 3 * CACHED_LEVELS).tolist()
    for level in levels:
        a, b = fresh.bounds(level), model.calibration.bounds(level)
        assert (a.low, a.high, a.mid_values, a.half_values) == (
            b.low,
            b.high,
            b.mid_values,
            b.half_values,
        )
    assert len(fresh._bounds) == CACHED_LEVELS
