"""Ordinary least squares and its cross-validation: the fit and its metrics."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from app.domain.errors import TooFewRows

if TYPE_CHECKING:
    from sklearn.linear_model import LinearRegression
from app.domain.arrays import FloatArray
from app.domain.model import PriceModel
from app.domain.order import sorted_median
from app.domain.rules import FEATURES, TARGET


def least_squares(rows: int) -> LinearRegression:
    """scikit-learn's LinearRegression, cutting off singular values as `numpy.linalg.lstsq` does.

    Since scikit-learn 1.9 its default `tol=1e-6` is the solver's relative cutoff below which
    singular values count as zero: a design whose condition number is above a million loses a
    direction and gets wrong coefficients. Machine precision times the row count, numpy's
    cutoff, drops only directions that are zero to rounding.
    """
    from sklearn.linear_model import LinearRegression  # imported when fitting, not serving

    return LinearRegression(tol=float(np.finfo(np.float64).eps) * max(rows, len(FEATURES) + 1))


def fit(X: FloatArray, y: FloatArray) -> PriceModel:
    """Least squares of y on the columns of X with an intercept."""
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise ValueError(f"X must have shape (n, {len(FEATURES)}), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if len(X) < len(FEATURES) + 1:
        raise TooFewRows(len(FEATURES) + 1, len(X))
    model = PriceModel.from_estimator(least_squares(len(X)).fit(X, y))
    ranges = {name: (float(X[:, i].min()), float(X[:, i].max())) for i, name in enumerate(FEATURES)}
    ranges[TARGET] = (float(y.min()), float(y.max()))
    return replace(model, ranges=ranges)


def regression_metrics(y: FloatArray, predicted: FloatArray) -> dict[str, float]:
    """R², MAE, RMSE, median absolute percentage error, and the shares within 10 % and 20 %."""
    err = predicted - y
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(ss_res / len(y))),
        "median_ape": sorted_median(np.sort(np.abs(err) / y)),  # sorting beats partitioning
        "within_10": float(np.mean(np.abs(err) <= 0.10 * y)),
        "within_20": float(np.mean(np.abs(err) <= 0.20 * y)),
    }


def out_of_fold(X: FloatArray, y: FloatArray, folds: int = 5, seed: int = 0) -> FloatArray:
    """Estimates of each row by a model fitted without its fold (shuffled k-fold)."""
    from sklearn.model_selection import KFold, cross_val_predict

    kfold = KFold(n_splits=min(folds, len(X)), shuffle=True, random_state=seed)
    estimates = cross_val_predict(least_squares(len(X)), X, y, cv=kfold)
    return np.asarray(estimates, dtype=np.float64)


def describe_cv(y: FloatArray, predicted: FloatArray, folds: int, seed: int) -> dict[str, Any]:
    return {
        **regression_metrics(y, predicted),
        "method": f"{folds}-fold cross-validation (shuffled, seed {seed}), "
        "metrics of the pooled out-of-fold predictions",
        "folds": folds,
        "seed": seed,
    }
