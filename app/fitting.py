"""The fit pipeline shared by the offline command and /retrain: a checked table in, a card out."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

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
from .registry import Registry

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


def fit_and_store(
    registry: Registry, frame: pd.DataFrame, *, folds: int, source: str, activate: bool
) -> tuple[str, dict[str, Any]]:
    """Fit, store a new version and optionally make it active; return its name and card."""
    model, card = fit_table(frame, folds=folds, source=source)
    version = registry.save(model, card)
    if activate:
        registry.activate(version)
    return version, registry.card(version)
