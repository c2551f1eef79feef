"""The ratio statistics, checked by hand on small cases and against their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from app.domain.ratios import equity_spread, ratio_study


def test_perfect_estimates_have_no_error_no_dispersion_and_no_bias() -> None:
    prices = np.array([100_000.0, 200_000, 400_000, 800_000])
    study = ratio_study(prices, prices)
    assert (study.median_ape, study.cod, study.prb) == (0.0, 0.0, 0.0)
    assert study.within_10 == study.within_20 == study.median_ratio == study.prd == 1.0


def test_cod_and_prd_by_hand() -> None:
    prices = np.array([100.0, 100, 200, 400])
    estimates = np.array([90.0, 110, 200, 360])  # ratios 0.9, 1.1, 1.0, 0.9; median 0.95
    study = ratio_study(estimates, prices)
    assert study.median_ratio == pytest.approx(0.95)
    assert study.cod == pytest.approx(100 * (0.05 + 0.15 + 0.05 + 0.05) / 4 / 0.95)
    assert study.prd == pytest.approx(0.975 / (760 / 800))
    assert study.median_ape == pytest.approx(0.1) and study.within_10 == 1.0


def test_cheap_homes_valued_high_is_regressive_prd_above_one_and_prb_below_zero() -> None:
    prices = np.geomspace(50_000, 2_000_000, 200)
    estimates = prices * (1.2 - 0.05 * np.log2(prices / 50_000))  # 20 % high at the bottom
    study = ratio_study(estimates, prices)
    assert study.prd > 1.03 and study.prb < -0.03


def test_prb_is_the_change_in_ratio_when_value_doubles() -> None:
    prices = np.geomspace(100_000, 1_600_000, 5)  # each double the one before
    ratios = np.array([0.90, 0.95, 1.00, 1.05, 1.10])
    study = ratio_study(ratios * prices, prices)
    # The regression is on value (half price, half estimate over the median ratio), so the
    # slope is near, not exactly, 0.05 a doubling of price.
    assert study.prb == pytest.approx(0.05, rel=0.1)


def test_a_study_of_fewer_than_two_sales_or_a_price_of_zero_is_refused() -> None:
    with pytest.raises(ValueError, match="two or more"):
        ratio_study(np.array([1.0]), np.array([1.0]))
    with pytest.raises(ValueError, match="prices above 0"):
        ratio_study(np.array([1.0, 2.0]), np.array([1.0, 0.0]))


def test_the_equity_spread_makes_regressive_estimates_unbiased() -> None:
    rng = np.random.default_rng(5)
    value = np.exp(rng.normal(12.5, 0.5, 4000))
    prices = value * np.exp(rng.normal(0, 0.1, 4000))
    regressive = np.exp(12.5 + 0.9 * (np.log(value) - 12.5))
    assert ratio_study(regressive, prices).prb < -0.05
    centre, factor = equity_spread(np.log(regressive), prices)
    spread = np.exp(centre + factor * (np.log(regressive) - centre))
    assert abs(ratio_study(spread, prices).prb) < 1e-6
    assert factor > 1
