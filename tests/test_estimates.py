"""Honest estimates: a calibrated range, an exact explanation, and warnings exactly when due."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from app import listings
from app.evaluation import check_ranges
from app.fitting import fit_table
from app.model import PriceModel, calibrate, explain_many


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
        assert e.price == model.predict_one(beds, baths, sqft)
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
    for i, price in enumerate(found.price.tolist()):
        if price <= 0:
            assert "non_positive_estimate" in [w["code"] for w in found.warnings[i]]


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
