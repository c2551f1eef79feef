"""Honest estimates: a calibrated range, an exact explanation, and warnings exactly when due."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from app.domain import listings
from app.domain.calibration import calibrate
from app.domain.evaluation import check_ranges
from app.domain.fitting import fit_table
from app.domain.model import PriceModel, explain_many


@pytest.fixture(scope="module")
def model(sacramento: pd.DataFrame) -> PriceModel:
    fitted, _ = fit_table(sacramento, folds=5, source="test")
    return fitted


def test_contributions_add_up_exactly_to_the_price(
    model: PriceModel, sacramento: pd.DataFrame
) -> None:
    for beds, baths, sqft in listings.features(sacramento).tolist():
        e = model.explain(beds, baths, sqft, 0.9)
        c = e.contributions
        assert c["intercept"] + c["beds"] + c["baths"] + c["sqft"] == e.price
        assert e.price == model.predict(np.array([[beds, baths, sqft]]))[0]
        assert c["sqft"] == model.weights[2] * sqft


def test_batch_explanations_equal_single_ones_bit_for_bit(
    model: PriceModel, sacramento: pd.DataFrame
) -> None:
    X = listings.features(sacramento)
    many = explain_many(model, X, 0.8)
    for i, (beds, baths, sqft) in enumerate(X.tolist()):
        one = model.explain(beds, baths, sqft, 0.8)
        assert (many.price[i], many.low[i], many.high[i]) == (one.price, one.low, one.high)
        assert many.contributions[i].tolist() == list(one.contributions.values())
        assert many.warnings.get(i, []) == one.warnings


def test_the_range_holds_the_estimate_and_widens_with_the_level(model: PriceModel) -> None:
    narrow = model.explain(3, 2, 1500, 0.5)
    wide = model.explain(3, 2, 1500, 0.99)
    assert wide.low < narrow.low < narrow.price < narrow.high < wide.high


def test_the_range_grows_with_the_price(model: PriceModel) -> None:
    cheap = model.explain(2, 1, 900, 0.9)
    dear = model.explain(4, 3, 4000, 0.9)
    assert dear.price > 3 * cheap.price
    assert dear.high - dear.low > 1.5 * (cheap.high - cheap.low)


def test_the_low_end_is_never_below_zero(model: PriceModel) -> None:
    assert model.explain(8, 0, 500, 0.99).low == 0.0


def test_inputs_inside_the_training_data_give_no_warnings(model: PriceModel) -> None:
    assert model.explain(3, 2, 1500, 0.9).warnings == []


def test_an_input_outside_the_training_data_is_named_with_value_and_range(
    model: PriceModel,
) -> None:
    [warning] = model.explain(3, 2, 12000, 0.9).warnings
    assert warning["code"] == "outside_training_range" and warning["field"] == "sqft"
    assert "sqft 12000" in warning["message"] and "484 to 4878" in warning["message"]


def test_zero_bedrooms_is_outside_the_training_data(model: PriceModel) -> None:
    fields = [w["field"] for w in model.explain(0, 1, 600, 0.9).warnings]
    assert "beds" in fields


def test_an_estimate_below_the_lowest_training_price_is_flagged(model: PriceModel) -> None:
    e = model.explain(6, 1, 700, 0.9)
    assert 0 < e.price < 30_000
    assert [w["code"] for w in e.warnings] == ["below_training_prices"]


def test_a_non_positive_estimate_is_never_given_without_a_warning(model: PriceModel) -> None:
    e = model.explain(8, 1, 500, 0.9)
    assert e.price <= 0
    assert [w["code"] for w in e.warnings] == ["non_positive_estimate"]


def test_no_estimate_at_or_below_zero_goes_unflagged_over_the_whole_input_space(
    model: PriceModel,
) -> None:
    beds, baths, sqft = np.meshgrid(np.arange(0, 21), np.arange(0, 21, 0.5), [1, 300, 600, 1000])
    X = np.c_[beds.ravel(), baths.ravel(), sqft.ravel()].astype(float)
    found = explain_many(model, X, 0.9)
    non_positive = found.price <= 0
    assert non_positive.any()  # the grid does reach estimates at or below zero
    flagged = np.array(
        [
            "non_positive_estimate" in [w["code"] for w in found.warnings.get(i, [])]
            for i in range(len(X))
        ]
    )
    assert flagged[non_positive].all()
    assert not flagged[~non_positive].any()


def test_the_90_percent_range_covers_88_to_92_percent_of_held_out_sales(
    sacramento: pd.DataFrame,
) -> None:
    X, y = listings.features(sacramento), listings.target(sacramento)
    result = check_ranges(X, y, level=0.9, splits=60)
    assert 0.88 <= result.coverage <= 0.92


def test_the_scaled_range_is_narrower_than_a_constant_width_one(sacramento: pd.DataFrame) -> None:
    X, y = listings.features(sacramento), listings.target(sacramento)
    scaled = check_ranges(X, y, level=0.9, splits=30)
    constant = check_ranges(X, y, level=0.9, splits=30, constant_width=True)
    assert 0.88 <= constant.coverage <= 0.92
    assert scaled.median_relative_width < 0.97 * constant.median_relative_width


def test_the_80_percent_range_covers_about_80_percent(sacramento: pd.DataFrame) -> None:
    X, y = listings.features(sacramento), listings.target(sacramento)
    assert 0.77 <= check_ranges(X, y, level=0.8, splits=30).coverage <= 0.83


def test_a_constant_calibration_gives_the_same_width_everywhere(model: PriceModel) -> None:
    y = np.array([100.0, 200.0, 300.0, 400.0, 500.0])
    flat = replace(
        model, calibration=calibrate(y, y + np.array([5, -5, 10, -10, 0.0]), scaled=False)
    )
    low_a, high_a = flat.interval(np.array([1e5]), 0.9)
    low_b, high_b = flat.interval(np.array([9e5]), 0.9)
    assert (high_a - low_a)[0] == pytest.approx((high_b - low_b)[0])


def test_the_card_stores_what_the_range_needs(sacramento: pd.DataFrame) -> None:
    _, card = fit_table(sacramento, folds=5, source="test")
    interval = card["interval"]
    assert interval["n_residuals"] == 932 and len(interval["residual_quantiles"]) == 1001
    assert interval["scale"]["b"] > 0
    low, high = interval["bounds_at_default_level"]
    assert low < 0 < high
    assert "within 3 band(s)" in interval["method"]
    bands = interval["bands"]
    assert [b["n_residuals"] for b in bands] == [311, 310, 311]
    assert bands[0]["estimate_from"] is None and bands[2]["estimate_to"] is None
    assert bands[0]["estimate_to"] == bands[1]["estimate_from"]
    for band in bands:
        band_low, band_high = band["bounds_at_default_level"]
        assert band_low < 0 < band_high and band["calibrated_in_band_at_default_level"]
        assert band["highest_level_calibrated_in_band"] == 0.99


def heteroscedastic(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Exchangeable synthetic sales whose noise grows with the price (sd 25 % of it)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [rng.integers(1, 6, rows), rng.choice([1.0, 2.0, 3.0], rows), rng.uniform(600, 4500, rows)]
    ).astype(float)
    mean = 40_000 - 20_000 * X[:, 0] + 8_000 * X[:, 1] + 170 * X[:, 2]
    return X, mean * (1 + 0.25 * rng.normal(size=rows))


@pytest.mark.parametrize("level", [0.8, 0.9])
def test_the_range_holds_at_least_its_level_overall_and_within_each_third(level: float) -> None:
    # The conformal guarantee is on average over splits: 100 splits of 150 held-out homes give
    # 15,000 per estimate overall and 5,000 per third, so the Monte Carlo error is under 0.01.
    X, y = heteroscedastic(750, seed=11)
    result = check_ranges(X, y, level=level, splits=100)
    assert result.coverage >= level - 0.005
    assert min(result.coverage_by_third) >= level - 0.015, result.coverage_by_third


def test_a_constant_width_range_misses_the_dearest_third_where_the_banded_one_does_not() -> None:
    X, y = heteroscedastic(750, seed=12)
    constant = check_ranges(X, y, level=0.9, splits=40, constant_width=True)
    banded = check_ranges(X, y, level=0.9, splits=40)
    assert constant.coverage_by_third[2] < 0.85
    assert banded.coverage_by_third[2] >= 0.88


def test_the_range_is_calibrated_within_thirds_of_the_training_estimates(
    model: PriceModel,
) -> None:
    calibration = model.calibration
    assert calibration is not None
    assert len(calibration.band_edges) == 2 and sum(calibration.band_sizes) == calibration.n
    assert max(calibration.band_sizes) - min(calibration.band_sizes) <= 1
    cheap, middle, dear = calibration.band_edges[0] - 1, sum(calibration.band_edges) / 2, 1e7
    assert [calibration.band(v) for v in (cheap, middle, dear)] == [0, 1, 2]
    bounds = calibration.bounds(0.9)
    assert len(set(bounds.low)) == 3 and not any(bounds.pooled)


def small_sample_model(rows: int) -> PriceModel:
    X, y = heteroscedastic(rows, seed=5)
    from app.domain.least_squares import fit, out_of_fold

    return replace(fit(X, y), calibration=calibrate(y, out_of_fold(X, y)))


def test_a_band_too_small_for_the_level_falls_back_to_all_sales_and_says_so() -> None:
    model = small_sample_model(300)  # bands of 100: enough for 90 %, not for 99 % (199 needed)
    assert model.calibration is not None
    assert model.explain(3, 2, 1500, 0.9).warnings == []
    at_99 = model.explain(3, 2, 1500, 0.99)
    [warning] = at_99.warnings
    assert warning["code"] == "range_calibrated_on_all_sales"
    assert "100 training sales near this estimate" in warning["message"]
    pooled = model.calibration.bounds(0.99)
    assert pooled.pooled == (True, True, True) and not pooled.short
    assert len(set(pooled.high)) == 1  # every band takes the quantiles of all 300 residuals


def test_too_few_sales_for_the_level_at_all_is_said_in_every_answer() -> None:
    model = small_sample_model(60)
    X = np.array([[3, 2, 1500.0], [2, 1, 800.0]])
    found = explain_many(model, X, 0.99)
    for i, (beds, baths, sqft) in enumerate(X.tolist()):
        codes = [w["code"] for w in found.warnings[i]]
        assert codes[-1] == "range_too_few_sales"
        assert found.warnings[i] == model.explain(beds, baths, sqft, 0.99).warnings


def test_a_model_of_the_earlier_artifact_format_still_gives_its_pooled_range(
    model: PriceModel,
) -> None:
    calibration = model.calibration
    assert calibration is not None
    state = calibration.__getstate__()
    for name in ("band_edges", "band_sizes", "band_quantiles", "band_centres"):
        del state[name]  # format 3 had no bands
    old = object.__new__(type(calibration))
    old.__setstate__(state)
    earlier = replace(model, calibration=old)
    e = earlier.explain(3, 2, 1500, 0.9)
    pooled = calibration.bounds(0.9)
    assert e.warnings == [] and e.low < e.price < e.high
    assert old.bounds(0.9).low == (old.describe()["bounds_at_default_level"][0],)
    assert pooled.low != old.bounds(0.9).low


def test_the_bundled_data_meets_the_range_targets(sacramento: pd.DataFrame) -> None:
    X, y = listings.features(sacramento), listings.target(sacramento)
    served = check_ranges(X, y, level=0.9, splits=60)
    constant = check_ranges(X, y, level=0.9, splits=60, constant_width=True)
    assert 0.88 <= served.coverage <= 0.92
    assert min(served.coverage_by_third) >= 0.86, served.coverage_by_third
    assert served.mean_width <= 1.10 * constant.mean_width
    assert served.median_relative_width <= 1.05 * constant.median_relative_width
