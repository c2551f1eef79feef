"""The fit pipeline's promotion gate: a worse model never replaces a better one by accident."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.domain import listings
from app.domain.errors import BadInput
from app.domain.fitting import fit_table, select_window
from app.domain.gate import HOLDOUT_FRACTION, HOLDOUT_SEED, judge
from app.domain.least_squares import fit


def xy(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return listings.features(frame), listings.target(frame)


def champion_of(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    return fit(listings.features(frame), listings.target(frame))


def test_with_no_active_model_the_new_one_is_promoted(sacramento: pd.DataFrame) -> None:
    verdict = judge(*xy(sacramento), None, tolerance=0.05)
    assert verdict.promote and verdict.reason == "no model was active"


def test_a_model_fitted_on_the_same_data_passes(sacramento: pd.DataFrame) -> None:
    verdict = judge(*xy(sacramento), champion_of(sacramento), tolerance=0.05)
    assert verdict.promote
    assert verdict.holdout_rows == round(len(sacramento) * 0.2)
    assert verdict.challenger_mae is not None and verdict.champion_mae is not None
    assert verdict.challenger_mae <= verdict.champion_mae * 1.05


def test_a_challenger_beats_a_champion_fitted_on_noise(sacramento: pd.DataFrame) -> None:
    scrambled = sacramento.assign(
        price=np.random.default_rng(1).permutation(sacramento["price"].to_numpy())
    )
    verdict = judge(*xy(sacramento), champion_of(scrambled), tolerance=0.0)
    assert verdict.promote
    assert verdict.reason.startswith("not worse:")


def exact_prices_with_bad_rows_in_the_training_part(frame: pd.DataFrame) -> pd.DataFrame:
    """Prices that the features explain exactly, except a few typos among the rows the gate
    fits the challenger on (the held-out rows are the documented seeded 20 %)."""
    X = listings.features(frame)
    prices = 50_000 + X @ np.array([10_000.0, 20_000.0, 100.0])
    order = np.random.default_rng(HOLDOUT_SEED).permutation(len(frame))
    training_part = order[round(len(frame) * HOLDOUT_FRACTION) :]
    prices[training_part[:5]] *= 20
    return frame.assign(price=prices)


def test_a_challenger_distorted_by_bad_rows_is_held_back_with_both_errors_in_the_reason(
    sacramento: pd.DataFrame,
) -> None:
    new = exact_prices_with_bad_rows_in_the_training_part(sacramento)
    exact = new.assign(price=50_000 + listings.features(new) @ np.array([1e4, 2e4, 100.0]))
    verdict = judge(*xy(new), champion_of(exact), tolerance=0.05)
    assert not verdict.promote
    assert verdict.challenger_mae is not None and verdict.champion_mae is not None
    assert verdict.champion_mae < 1e-3 < verdict.challenger_mae
    assert verdict.reason.startswith("worse: held-out MAE $")
    assert "(new) vs $0 (active) on 186 rows, tolerance 5%" in verdict.reason


def test_the_tolerance_lets_a_slightly_worse_challenger_through(sacramento: pd.DataFrame) -> None:
    champion = champion_of(sacramento)
    strict = judge(*xy(sacramento), champion, tolerance=0.0)
    assert strict.challenger_mae is not None and strict.champion_mae is not None
    ratio = strict.challenger_mae / strict.champion_mae
    assert judge(*xy(sacramento), champion, tolerance=max(ratio - 1, 0) + 1e-9).promote


def test_too_few_rows_to_compare_are_not_promoted_without_force(
    sacramento: pd.DataFrame,
) -> None:
    verdict = judge(*xy(sacramento.head(6)), champion_of(sacramento), tolerance=0.05)
    assert not verdict.promote
    assert "force" in verdict.reason


def dated(frame: pd.DataFrame) -> pd.DataFrame:
    """The bundled sales spread over a year, newest last, with a few undated."""
    days = pd.date_range("2025-01-01", periods=len(frame), freq="9h").strftime("%Y-%m-%d")
    out = frame.assign(sold_at=list(days))
    out.loc[:4, "sold_at"] = None
    return out


def test_a_window_keeps_the_sales_of_the_last_n_days_before_the_newest(
    sacramento: pd.DataFrame,
) -> None:
    frame = dated(sacramento)
    kept, window = select_window(frame, 30)
    newest = pd.to_datetime(frame["sold_at"]).max()
    sold = pd.to_datetime(kept["sold_at"])
    assert sold.min() == newest - pd.Timedelta(days=29) and sold.max() == newest
    assert window["end"] == newest.date().isoformat()
    assert (
        window["rows_in_window"] == len(kept) == int((sold >= newest - pd.Timedelta(days=29)).sum())
    )
    assert window["rows_without_date"] == 5
    assert window["rows_left_out"] == len(frame) - len(kept)


def test_no_window_keeps_every_row(sacramento: pd.DataFrame) -> None:
    kept, window = select_window(sacramento, None)
    assert len(kept) == len(sacramento) and window == {"days": None}


def test_a_window_without_sale_dates_is_refused(sacramento: pd.DataFrame) -> None:
    with pytest.raises(BadInput, match="needs a sold_at column"):
        select_window(sacramento, 180)


def test_the_card_records_the_window(sacramento: pd.DataFrame) -> None:
    _, card = fit_table(dated(sacramento), folds=5, source="t", window_days=90)
    assert card["training"]["window"]["days"] == 90
    assert card["training"]["rows"] == card["training"]["window"]["rows_in_window"]
