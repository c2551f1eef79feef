"""The fit pipeline shared by the offline command and /retrain: a checked table in, a card out."""

from __future__ import annotations

import platform
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from . import listings
from .errors import BadInput
from .listings import SOLD_AT, SaleDates
from .model import (
    ALGORITHM,
    FEATURES,
    UNITS,
    FloatArray,
    PriceModel,
    calibrate,
    describe_cv,
    fit,
    out_of_fold,
    regression_metrics,
)
from .streaming import Moments
from .streaming import fit_chunks as fit_stream_arrays

STREAM_ALGORITHM = (
    "ordinary least squares with intercept, solved from sufficient statistics read in chunks "
    "(equal to scikit-learn LinearRegression to 1e-9)"
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


def select_window(frame: pd.DataFrame, days: int | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Keep the sales of the last `days` days, counted back from the latest `sold_at`.

    Rows without a sale date cannot be placed in the window and are left out. The window ends
    at the newest sale in the data rather than today, so refitting old data gives the same model.
    """
    if days is None:
        return frame, {"days": None}
    if SOLD_AT not in frame.columns:
        raise BadInput(f"a {days}-day training window needs a {SOLD_AT} column (YYYY-MM-DD)")
    sold = pd.to_datetime(frame[SOLD_AT], format="%Y-%m-%d", errors="coerce")
    if sold.isna().all():
        raise BadInput(f"a {days}-day training window needs listings with a {SOLD_AT} date")
    end = sold.max()
    start = end - pd.Timedelta(days=days - 1)
    keep = (sold >= start).to_numpy()
    window = {
        "days": days,
        "start": start.date().isoformat(),
        "end": end.date().isoformat(),
        "rows_in_window": int(keep.sum()),
        "rows_left_out": int((~keep).sum()),
        "rows_without_date": int(sold.isna().sum()),
    }
    return frame[keep].reset_index(drop=True), window


def fit_table(
    frame: pd.DataFrame, *, folds: int, source: str, window_days: int | None = None
) -> tuple[PriceModel, dict[str, Any]]:
    """Fit the model and its range calibration on a checked table; describe it in a card."""
    frame, window = select_window(frame, window_days)
    X, y = listings.features(frame), listings.target(frame)
    model = fit(X, y)
    predicted = out_of_fold(X, y, folds=folds)
    model = replace(model, calibration=calibrate(y, predicted))
    training = {
        "rows": len(frame),
        "fingerprint": listings.fingerprint(frame),
        "source": source,
        "window": window,
        "sold_at": SaleDates.of(frame).describe(),
    }
    return model, describe(model, y, predicted, min(folds, len(X)), X, training)


def fit_stream(
    chunks: list[FloatArray], *, folds: int, source: str, dates: SaleDates | None = None
) -> tuple[PriceModel, dict[str, Any]]:
    """`fit_table` for a training set held as (m, 4) arrays: the same model and card.

    The list is emptied as it is used (see `streaming.fit_chunks`). `dates` are the sale dates
    gathered while the chunks were read.

    Solved from sufficient statistics (app.streaming), so 10,000,000 sales fit in well under a
    gigabyte; the coefficients equal the in-memory fit's to about 1e-10 relative.
    """
    fingerprint = listings.fingerprint_chunks(chunks)
    result = fit_stream_arrays(chunks, folds=folds)  # empties `chunks` as it goes
    rows = len(result.y)
    training = {
        "rows": rows,
        "fingerprint": fingerprint,
        "source": source,
        "window": {"days": None},
        "sold_at": (dates or SaleDates()).describe(),
        "method": "sufficient statistics, read in chunks",
    }
    card = describe(result.model, result.y, result.out_of_fold, min(folds, rows), None, training)
    card["algorithm"] = STREAM_ALGORITHM
    return result.model, card


def describe(
    model: PriceModel,
    y: FloatArray,
    predicted: FloatArray,
    folds: int,
    X: FloatArray | None,
    training: dict[str, Any],
) -> dict[str, Any]:
    """The model card of a fitted model (the registry adds version, time and checksum)."""
    assert model.calibration is not None
    metrics: dict[str, Any] = {"cv": describe_cv(y, predicted, folds, seed=0)}
    if X is not None:
        metrics["in_sample"] = regression_metrics(y, model.predict(X))
    return {
        "algorithm": ALGORITHM,
        "features": list(FEATURES),
        "coefficients": {
            name: {"value": weight, "unit": UNITS[name]}
            for name, weight in zip(FEATURES, model.weights, strict=True)
        },
        "intercept": model.intercept,
        "feature_ranges": {name: {"min": lo, "max": hi} for name, (lo, hi) in model.ranges.items()},
        "metrics": metrics,
        "interval": model.calibration.describe(),
        "training": training,
        "libraries": library_versions(),
    }


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
    X: FloatArray,
    y: FloatArray,
    champion: PriceModel | None,
    tolerance: float,
    seed: int = HOLDOUT_SEED,
) -> Verdict:
    """`judge_chunks` of one table of features and prices."""
    return judge_chunks([np.column_stack([X, y])], champion, tolerance, seed)


def judge_chunks(
    chunks: list[FloatArray],
    champion: PriceModel | None,
    tolerance: float,
    seed: int = HOLDOUT_SEED,
) -> Verdict:
    """The promotion gate: compare a challenger and the champion on the same held-out rows.

    A seeded 20 % of the new training set (rows of beds, baths, sqft, price, in chunks) is held
    out. The challenger is fitted on the other 80 % by least squares, from sufficient statistics
    a chunk at a time, so only the held-out rows are gathered; the champion is the active model
    as it stands. The new version is promoted when the challenger's mean absolute error on the
    held-out rows is at most the champion's times (1 + tolerance).
    """
    if champion is None:
        return Verdict(True, "no model was active")
    n = sum(len(c) for c in chunks)
    if n < MIN_ROWS_TO_COMPARE:
        return Verdict(
            False,
            f"too few listings ({n}) to compare with the active model "
            f"(at least {MIN_ROWS_TO_COMPARE}); send force=true to promote anyway",
        )
    cut = max(1, round(n * HOLDOUT_FRACTION))
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).permutation(n)[:cut]] = True
    kept = Moments(chunks[0][: min(len(chunks[0]), 1000)].mean(axis=0))
    held_rows: list[FloatArray] = []
    start = 0
    for chunk in chunks:
        mask = held[start : start + len(chunk)]
        kept.add(chunk[~mask])
        held_rows.append(chunk[mask])
        start += len(chunk)
    weights, intercept = kept.solve()
    challenger = PriceModel(
        None, (float(weights[0]), float(weights[1]), float(weights[2])), intercept
    )
    rows = np.concatenate(held_rows)
    X, y = rows[:, :3], rows[:, 3]
    challenger_mae = float(np.mean(np.abs(challenger.predict(X) - y)))
    champion_mae = float(np.mean(np.abs(champion.predict(X) - y)))
    limit = champion_mae * (1 + tolerance)
    comparison = (
        f"held-out MAE ${challenger_mae:,.0f} (new) vs ${champion_mae:,.0f} (active) "
        f"on {cut} rows, tolerance {tolerance:.0%}"
    )
    if challenger_mae <= limit:
        return Verdict(True, f"not worse: {comparison}", challenger_mae, champion_mae, cut)
    return Verdict(False, f"worse: {comparison}", challenger_mae, champion_mae, cut)
