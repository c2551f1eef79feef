"""The fit pipeline shared by the offline command and /retrain: a checked table in, a card out."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from . import listings
from .model import (
    ALGORITHM,
    FEATURES,
    UNITS,
    PriceModel,
    cross_validated_metrics,
    fit,
    regression_metrics,
)

_LIBRARIES = ("numpy", "pandas", "scikit-learn", "joblib")


def library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


def fit_table(frame: pd.DataFrame, *, folds: int, source: str) -> tuple[PriceModel, dict[str, Any]]:
    """Fit the model on a checked table and describe it in a model card (without a version yet)."""
    X, y = listings.features(frame), listings.target(frame)
    model = fit(X, y)
    card: dict[str, Any] = {
        "algorithm": ALGORITHM,
        "features": list(FEATURES),
        "coefficients": {
            name: {"value": weight, "unit": UNITS[name]}
            for name, weight in zip(FEATURES, model.weights, strict=True)
        },
        "intercept": model.intercept,
        "feature_ranges": listings.ranges(frame),
        "metrics": {
            "cv": cross_validated_metrics(X, y, folds=folds),
            "in_sample": regression_metrics(y, model.predict(X)),
        },
        "training": {
            "rows": len(frame),
            "fingerprint": listings.fingerprint(frame),
            "source": source,
        },
        "libraries": library_versions(),
    }
    return model, card


HOLDOUT_FRACTION = 0.2
HOLDOUT_SEED = 0
MIN_ROWS_TO_COMPARE = 10


@dataclass(frozen=True)
class Verdict:
    """Whether a new model may replace the active one, and the evidence."""

    promote: bool
    reason: str
    challenger_mae: float | None = None
    champion_mae: float | None = None
    holdout_rows: int = 0


def judge(
    frame: pd.DataFrame, champion: PriceModel | None, tolerance: float, seed: int = HOLDOUT_SEED
) -> Verdict:
    """The promotion gate: compare a challenger and the champion on the same held-out rows.

    A seeded 20 % of the new training set is held out. The challenger is fitted on the other
    80 % by the same method as the new version; the champion is the active model as it stands.
    The new version is promoted when the challenger's mean absolute error on the held-out rows
    is at most the champion's times (1 + tolerance).
    """
    if champion is None:
        return Verdict(True, "no model was active")
    n = len(frame)
    if n < MIN_ROWS_TO_COMPARE:
        return Verdict(
            False,
            f"too few listings ({n}) to compare with the active model "
            f"(at least {MIN_ROWS_TO_COMPARE}); send force=true to promote anyway",
        )
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, round(n * HOLDOUT_FRACTION))
    held, kept = order[:cut], order[cut:]
    X, y = listings.features(frame), listings.target(frame)
    challenger = fit(X[kept], y[kept])
    challenger_mae = float(np.mean(np.abs(challenger.predict(X[held]) - y[held])))
    champion_mae = float(np.mean(np.abs(champion.predict(X[held]) - y[held])))
    limit = champion_mae * (1 + tolerance)
    comparison = (
        f"held-out MAE ${challenger_mae:,.0f} (new) vs ${champion_mae:,.0f} (active) "
        f"on {cut} rows, tolerance {tolerance:.0%}"
    )
    if challenger_mae <= limit:
        return Verdict(True, f"not worse: {comparison}", challenger_mae, champion_mae, cut)
    return Verdict(False, f"worse: {comparison}", challenger_mae, champion_mae, cut)
