"""Estimates by the served model, counted in the metrics: one home, or many at once."""

from __future__ import annotations

from app.domain.arrays import FloatArray
from app.domain.model import Explanation, Explanations, explain_many
from app.observability import metrics
from app.storage import LoadedModel


def estimate_one(
    loaded: LoadedModel, beds: float, baths: float, sqft: float, level: float
) -> Explanation:
    explained = loaded.model.explain(beds, baths, sqft, level)
    metrics.TALLY.estimate(loaded.version)
    return explained


def estimate_many(loaded: LoadedModel, X: FloatArray, level: float) -> Explanations:
    """Every row of an (n, 3) array of beds, baths, sqft, bit for bit as `estimate_one`."""
    explained = explain_many(loaded.model, X, level)
    metrics.TALLY.estimate(loaded.version, len(X))
    return explained
