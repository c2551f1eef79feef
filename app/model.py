"""Fitting and prediction of the price model: ordinary least squares, no HTTP and no files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, cross_val_predict

FEATURES: tuple[str, str, str] = ("beds", "baths", "sqft")
TARGET = "price"
UNITS = {"beds": "$ per bedroom", "baths": "$ per bathroom", "sqft": "$ per sq ft"}
ALGORITHM = "ordinary least squares (scikit-learn LinearRegression, with intercept)"

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PriceModel:
    """A fitted linear model of price; `estimator` is the scikit-learn object it came from.

    Predictions are computed from the coefficients as ((b + w0·x0) + w1·x1) + w2·x2, in that
    order, for one row and for many, so a single answer and a batch answer agree bit for bit.
    """

    estimator: LinearRegression
    weights: tuple[float, float, float]
    intercept: float

    @classmethod
    def from_estimator(cls, estimator: LinearRegression) -> PriceModel:
        w = [float(v) for v in np.asarray(estimator.coef_, dtype=np.float64)]
        return cls(
            estimator=estimator, weights=(w[0], w[1], w[2]), intercept=float(estimator.intercept_)
        )

    def predict_one(self, beds: float, baths: float, sqft: float) -> float:
        # Plain float arithmetic: a one-row DataFrame or array costs thousands of times more.
        w0, w1, w2 = self.weights
        return self.intercept + w0 * beds + w1 * baths + w2 * sqft

    def predict(self, X: FloatArray) -> FloatArray:
        """Vectorised estimates for an (n, 3) array of beds, baths, sqft."""
        w0, w1, w2 = self.weights
        out: FloatArray = self.intercept + X[:, 0] * w0
        out += X[:, 1] * w1
        out += X[:, 2] * w2
        return out


def fit(X: FloatArray, y: FloatArray) -> PriceModel:
    """Least squares of y on the columns of X with an intercept."""
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise ValueError(f"X must have shape (n, {len(FEATURES)}), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if len(X) < len(FEATURES) + 1:
        raise ValueError(f"need at least {len(FEATURES) + 1} rows to fit, got {len(X)}")
    return PriceModel.from_estimator(LinearRegression().fit(X, y))


def regression_metrics(y: FloatArray, predicted: FloatArray) -> dict[str, float]:
    """R², MAE, RMSE and median absolute percentage error of predictions against truth."""
    err = predicted - y
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(ss_res / len(y))),
        "median_ape": float(np.median(np.abs(err) / y)),
    }


def cross_validated_metrics(
    X: FloatArray, y: FloatArray, folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Metrics of out-of-fold predictions pooled over a shuffled k-fold split."""
    folds = min(folds, len(X))
    kfold = KFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(LinearRegression(), X, y, cv=kfold)
    return {
        **regression_metrics(y, np.asarray(predicted, dtype=np.float64)),
        "method": f"{folds}-fold cross-validation (shuffled, seed {seed}), "
        "metrics of the pooled out-of-fold predictions",
        "folds": folds,
        "seed": seed,
    }
