"""The fit pipeline shared by the offline command and /retrain: a checked table in, a card out."""

from __future__ import annotations

import platform
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from app.domain import listings
from app.domain.arrays import FloatArray
from app.domain.calibration import calibrate
from app.domain.errors import BadInput
from app.domain.least_squares import describe_cv, fit, out_of_fold, regression_metrics
from app.domain.model import ALGORITHM, PriceModel
from app.domain.rules import FEATURES, UNITS
from app.domain.sale_dates import SOLD_AT, SaleDates
from app.domain.streaming import fit_chunks as fit_stream_arrays

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


BESIDE_ROWS = 2_000_000
T = TypeVar("T")


def fit_stream(
    chunks: list[FloatArray], *, folds: int, source: str, dates: SaleDates | None = None
) -> tuple[PriceModel, dict[str, Any]]:
    """`fit_table` for a training set held as (m, 4) arrays: the same model and card.

    The list is emptied as it is used (see `streaming.fit_chunks`). `dates` are the sale dates
    gathered while the chunks were read.

    Solved from sufficient statistics (app.streaming), so 10,000,000 sales fit in well under a
    gigabyte; the coefficients equal the in-memory fit's to 1e-9 relative.
    """
    # Up to BESIDE_ROWS, work that needs only what is at hand runs on a second thread (numpy and
    # hashlib let go of the interpreter for it, so a second core does it: the same operations,
    # the same bits). Larger sets keep the memory of one thing at a time: the metrics' and the
    # calibration's temporaries are each a few arrays of a float a row, and a second thread's
    # arrays come from an allocator arena of their own.
    beside = sum(len(c) for c in chunks) <= BESIDE_ROWS
    with ThreadPoolExecutor(max_workers=1) as pool:
        submit = pool.submit if beside else _at_once
        fingerprint = submit(listings.fingerprint_chunks, list(chunks))
        result = fit_stream_arrays(
            chunks, folds=folds, calibrated=False, side=pool if beside else None
        )
        rows = len(result.y)
        k = min(folds, rows)
        cv = submit(describe_cv, result.y, result.out_of_fold, k, 0)
        model = replace(result.model, calibration=calibrate(result.y, result.out_of_fold))
        cv_metrics, digest = cv.result(), fingerprint.result()
    training = {
        "rows": rows,
        "fingerprint": digest,
        "source": source,
        "window": {"days": None},
        "sold_at": (dates or SaleDates()).describe(),
        "method": "sufficient statistics, read in chunks",
    }
    card = describe(model, result.y, result.out_of_fold, k, None, training, cv=cv_metrics)
    card["algorithm"] = STREAM_ALGORITHM
    return model, card


def _at_once(work: Callable[..., T], *args: Any) -> Future[T]:
    """`work(*args)` done now, as a finished Future (what a fit of many rows does instead)."""
    done: Future[T] = Future()
    done.set_result(work(*args))
    return done


COVERAGE_LEVEL = 0.90


def describe(
    model: PriceModel,
    y: FloatArray,
    predicted: FloatArray,
    folds: int,
    X: FloatArray | None,
    training: dict[str, Any],
    cv: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The model card of a fitted model (the registry adds version, time and checksum).

    `cv`, when given, is `describe_cv(y, predicted, folds, 0)` already computed.
    """
    assert model.calibration is not None
    metrics: dict[str, Any] = {"cv": cv if cv is not None else describe_cv(y, predicted, folds, 0)}
    # How often the 90 % range around a held-out estimate holds the sale price.
    low, high = model.interval(predicted, COVERAGE_LEVEL)
    metrics["cv"]["coverage_90"] = float(np.mean((low <= y) & (y <= high)))
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
