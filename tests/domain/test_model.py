"""The model: an exact least-squares fit whose predictions agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.domain import listings
from app.domain.errors import TooFewRows
from app.domain.fitting import fit_table
from app.domain.least_squares import describe_cv, fit, out_of_fold


def design(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    return listings.features(frame), listings.target(frame)


def test_coefficients_equal_numpy_lstsq_to_1e_6_relative(sacramento: pd.DataFrame) -> None:
    X, y = design(sacramento)
    model = fit(X, y)
    expected = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    actual = np.array([*model.weights, model.intercept])
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_coefficients_match_the_published_reference_figures(sacramento: pd.DataFrame) -> None:
    model = fit(*design(sacramento))
    assert model.weights == pytest.approx((-27035.28, 5342.59, 158.17), abs=0.01)
    assert model.intercept == pytest.approx(58481.75, abs=0.01)


def test_cross_validated_metrics_match_the_published_reference_figures(
    sacramento: pd.DataFrame,
) -> None:
    X, y = design(sacramento)
    metrics = describe_cv(y, out_of_fold(X, y, folds=5, seed=0), folds=5, seed=0)
    assert metrics["r2"] == pytest.approx(0.594, abs=0.0005)
    assert metrics["mae"] == pytest.approx(60658, abs=1)
    assert metrics["median_ape"] == pytest.approx(0.223, abs=0.0005)
    assert metrics["rmse"] > metrics["mae"]


def test_cross_validated_metrics_are_deterministic(sacramento: pd.DataFrame) -> None:
    X, y = design(sacramento)
    assert np.array_equal(out_of_fold(X, y), out_of_fold(X, y))


def test_single_prediction_equals_the_fitted_estimator(sacramento: pd.DataFrame) -> None:
    X, _ = design(sacramento)
    model, _ = fit_table(sacramento, folds=5, source="test")  # explain needs the calibration
    assert model.estimator is not None
    single = np.array([model.explain(b, a, s, 0.9).price for b, a, s in X.tolist()])
    np.testing.assert_allclose(single, model.estimator.predict(X), rtol=1e-12, atol=0)


def test_batch_prediction_equals_the_fitted_estimator(sacramento: pd.DataFrame) -> None:
    X, y = design(sacramento)
    model = fit(X, y)
    assert model.estimator is not None
    expected = np.asarray(model.estimator.predict(X), dtype=np.float64)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-12, atol=0)


def test_single_and_batch_predictions_agree_bit_for_bit(sacramento: pd.DataFrame) -> None:
    X, _ = design(sacramento)
    model, _ = fit_table(sacramento, folds=5, source="test")
    single = [model.explain(b, a, s, 0.9).price for b, a, s in X.tolist()]
    assert model.predict(X).tolist() == single


def test_fit_refuses_fewer_rows_than_parameters() -> None:
    with pytest.raises(TooFewRows, match="at least 4 listings"):
        fit(np.ones((3, 3)), np.ones(3))


def test_fit_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="rows but y has"):
        fit(np.ones((5, 3)), np.ones(4))
