"""The fit pipeline of a located market: a checked table with places in, a model and card out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from app.domain import listings
from app.domain.arrays import FloatArray
from app.domain.calibration import Calibration, calibrate
from app.domain.comps import NO_DAY, SALE
from app.domain.comps_range import RangeByComps, range_by_comps, unplaced_factor
from app.domain.fitting import COVERAGE_LEVEL, library_versions, select_window
from app.domain.held_out import HELD_OUT, MAX_JUDGED
from app.domain.least_squares import describe_cv
from app.domain.located import OUTLIER_IQRS, LocatedFit, fit_located
from app.domain.located_model import LocatedModel
from app.domain.place_rules import AREA, LATITUDE, LONGITUDE, places_of
from app.domain.ratios import ratio_study
from app.domain.rules import FEATURES, TARGET
from app.domain.sale_dates import SOLD_AT, SaleDates, sale_dates
from app.domain.terms import CELL_SIZES_KM, Places, month_name

ALGORITHM = (
    "penalised least squares on log price, solved exactly from sparse normal equations: size "
    "(beds, baths, log sqft and its square), area and coordinate cells shrunk toward the "
    "market's level, a monthly price index smoothed as a random walk"
)


def located(frame: pd.DataFrame) -> bool:
    """Whether a table's sales say where they are: an area, or coordinates, on some row."""
    if AREA in frame.columns and frame[AREA].notna().any():
        return True
    return bool(
        LATITUDE in frame.columns
        and LONGITUDE in frame.columns
        and pd.to_numeric(frame[LATITUDE], errors="coerce").notna().any()
    )


@dataclass(frozen=True)
class LocatedSales:
    """A checked table's sales as a located fit takes them, and what its card says of the
    table: the table itself can be let go before the fit."""

    X: FloatArray
    price: FloatArray
    places: Places
    days: npt.NDArray[np.int64]
    rows: int
    fingerprint: str
    window: dict[str, Any]
    sold_at: dict[str, Any] | None


def located_sales(frame: pd.DataFrame, window_days: int | None = None) -> LocatedSales:
    """The sales of a checked table (those of the last `window_days` days) for a located fit."""
    frame, window = select_window(frame, window_days)
    dates = sale_dates(frame)  # read once for places, days and the card
    return LocatedSales(
        listings.features(frame),
        listings.target(frame),
        places_of(frame, SOLD_AT, dates),
        sale_days(frame, dates),
        len(frame),
        listings.fingerprint(frame),
        window,
        SaleDates.of(frame, dates).describe(),
    )


def fit_located_table(
    frame: pd.DataFrame,
    *,
    folds: int,
    source: str,
    window_days: int | None = None,
    trim: bool = True,
) -> tuple[LocatedModel, dict[str, Any]]:
    """Fit a located model and its range on a checked table; describe it in a card."""
    return fit_located_sales(
        located_sales(frame, window_days), folds=folds, source=source, trim=trim
    )


def fit_located_sales(
    sales: LocatedSales, *, folds: int, source: str, trim: bool = True
) -> tuple[LocatedModel, dict[str, Any]]:
    """Fit a located model and its range on a table's sales (`located_sales`); describe it in
    a card."""
    X, price = sales.X, sales.price
    found = fit_located(X, price, sales.places, folds=folds, trim=trim, days=sales.days)
    kept_X, kept_price = X[found.kept], price[found.kept]
    ranges = {
        name: (float(kept_X[:, i].min()), float(kept_X[:, i].max()))
        for i, name in enumerate(FEATURES)
    }
    ranges[TARGET] = (float(kept_price.min()), float(kept_price.max()))
    model = found.model
    calibration, by_comps = range_of(
        kept_price[found.judged], found.out_of_fold, found.weight, model.similarity is not None
    )
    model = LocatedModel(
        **{
            **model.__getstate__(),
            "ranges": ranges,
            "calibration": calibration,
            "comps_range": None if by_comps is None else (by_comps.edges, by_comps.factors),
        }
    )
    unplaced = range_unplaced(model, kept_price[found.judged], found)
    if unplaced is not None:
        model = LocatedModel(**{**model.__getstate__(), "range_unplaced": unplaced})
    training = {
        "rows": sales.rows,
        "fingerprint": sales.fingerprint,
        "source": source,
        "window": sales.window,
        "sold_at": sales.sold_at,
        "outliers": {
            "rows": int((~found.kept).sum()),
            "rule": f"log ratio of a first fit beyond {OUTLIER_IQRS:g} interquartile ranges "
            "outside the quartiles; left out of the fit",
        },
        "judged": {
            "rows": len(found.judged),
            "rule": f"every kept sale, or where a fold holds more than {MAX_JUDGED:,}, "
            f"{MAX_JUDGED:,} of the first fold at random: the sales the range is calibrated on "
            "and the figures out of fold measured on",
        },
    }
    return model, describe_located(
        model,
        kept_price[found.judged],
        (found.out_of_fold, found.weight),
        found.out_of_time,
        min(folds, len(kept_X)),
        training,
    )


def range_of(
    price: FloatArray, out_of_fold: FloatArray, weight: FloatArray, comps: bool
) -> tuple[Calibration, RangeByComps | None]:
    """The range's calibration on sales estimated out of fold and, for a model with comps,
    how much wider it is where their total weight is small (`comps_range`)."""
    first = calibrate(price, out_of_fold)
    if not comps:
        return first, None
    weight = np.maximum(weight, 0.0)  # a sale without coordinates has no comps: W 0
    by_comps = range_by_comps(weight, np.abs(price - out_of_fold) / first.scale(out_of_fold))
    if by_comps is None:
        return first, None
    return calibrate(price, out_of_fold, factor=by_comps.factor(weight)), by_comps


def range_unplaced(model: LocatedModel, price: FloatArray, found: LocatedFit) -> float | None:
    """The factor of the range for homes sent without coordinates (`unplaced_factor`), from
    the sales estimated out of fold as such homes; None for a model without it."""
    if found.unplaced_out_of_fold is None or model.calibration is None:
        return None
    calibration, estimate = model.calibration, found.out_of_fold
    scale = calibration.scale(estimate)
    if model.range_by_comps is not None:
        scale = scale * model.range_by_comps.factor(np.maximum(found.weight, 0.0))
    theirs = found.unplaced_out_of_fold
    return unplaced_factor(
        price, theirs, calibration.scale(theirs), np.abs(price - estimate) / scale
    )


def sale_days(frame: pd.DataFrame, parsed: pd.Series[Any] | None = None) -> npt.NDArray[np.int64]:
    """Each sale's date (`parsed`: `sale_dates.sale_dates`, where the caller has them) as days
    since 1970-01-01, `comps.NO_DAY` where it has none."""
    days = np.full(len(frame), NO_DAY, dtype=np.int64)
    parsed = parsed if parsed is not None else sale_dates(frame)
    if parsed is not None:
        has = parsed.notna().to_numpy()
        found = parsed.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
        days[has] = found[has]
    return days


def coverage(model: LocatedModel, estimates: Any, prices: Any, weight: Any) -> dict[str, Any]:
    """How often the 90 % range holds the price, overall, in each third by price and, for a
    model whose range widens where comps are few or far, in each group by their weight."""
    low, high = model.interval(estimates, COVERAGE_LEVEL, weight)
    held = (low <= prices) & (prices <= high)
    thirds = np.array_split(np.argsort(prices, kind="stable"), 3)
    found = {
        "coverage_90": float(np.mean(held)),
        "coverage_90_by_third": [
            float(np.mean(held[t])) if len(t) else float("nan") for t in thirds
        ],
    }
    by_comps = model.range_by_comps
    if by_comps is not None:
        group = by_comps.group(weight)
        found["coverage_90_by_comps_weight"] = [
            float(np.mean(held[group == g])) if (group == g).any() else None
            for g in range(len(by_comps.factors))
        ]
    return found


def describe_located(
    model: LocatedModel,
    price: Any,
    judged: tuple[Any, Any],
    out_of_time: tuple[Any, Any, Any] | None,
    folds: int,
    training: dict[str, Any],
) -> dict[str, Any]:
    """The card of a located model: its terms, and its accuracy as assessors judge it.
    `judged`: the estimates out of fold and their comps' total weights."""
    assert model.calibration is not None
    out_of_fold, weight = judged
    cv = {
        **describe_cv(price, out_of_fold, folds, 0),
        **coverage(model, out_of_fold, price, weight),
    }
    cv.update(_ratios(out_of_fold, price))
    metrics: dict[str, Any] = {"cv": cv}
    if out_of_time is not None:
        estimates, prices, newest_weight = out_of_time
        metrics["out_of_time"] = {
            "method": f"the newest {HELD_OUT:.0%} of dated sales, estimated by a fit of the "
            "sales before them",
            **ratio_study(estimates, prices).describe(),
            **coverage(model, estimates, prices, newest_weight),
        }
    names = {"beds": "per bedroom", "baths": "per bathroom", "sqft": "log sqft"}
    coefficients = {
        "beds": {"value": model.size[0], "unit": "log price " + names["beds"]},
        "baths": {"value": model.size[1], "unit": "log price " + names["baths"]},
        "sqft": {"value": model.size[2], "unit": "log price per log sq ft"},
    }
    return {
        "algorithm": ALGORITHM,
        "kind": "located",
        "features": list(FEATURES),
        "parts": list(model.names),
        "coefficients": coefficients,
        "intercept": float(np.exp(model.intercept)),
        "terms": _terms(model),
        "feature_ranges": {name: {"min": lo, "max": hi} for name, (lo, hi) in model.ranges.items()},
        "metrics": metrics,
        "interval": model.calibration.describe(),
        "training": training,
        "libraries": library_versions(),
    }


def _ratios(estimates: Any, prices: Any) -> dict[str, float]:
    found = ratio_study(estimates, prices)
    return {
        "median_ratio": found.median_ratio,
        "cod": found.cod,
        "prd": found.prd,
        "prb": found.prb,
    }


def _terms(model: LocatedModel) -> dict[str, Any]:
    """What each term holds, in numbers a person can read."""
    terms: dict[str, Any] = {
        "intercept": "the price of the market's typical home (median beds, baths and sq ft) at "
        "the market's level in its newest month",
        "size": {
            "centre": {
                "beds": model.centre[0],
                "baths": model.centre[1],
                "sqft": float(np.exp(model.centre[2])),
            },
            "log_sqft_squared": model.size[3],
        },
        "area": {"areas": len(model.areas), "penalty": model.strengths.get("area")},
        "location": {
            "cells": {
                f"{size:g} km": {
                    "cells": len(effects) // 8,
                    "penalty": model.strengths.get(f"cell {size:g} km"),
                }
                for size, effects in zip(CELL_SIZES_KM, model.cell_effects, strict=False)
            }
        },
    }
    if model.first_month >= 0:
        terms["time"] = {
            "penalty": model.strengths.get("time"),
            "index": [
                {"month": month_name(model.first_month + k), "level": float(np.exp(e))}
                for k, e in enumerate(model.month_effects)
            ],
        }
    if model.spread is not None:
        terms["equity"] = {
            "centre": float(np.exp(model.spread[0])),
            "factor": model.spread[1],
            "method": "each log estimate's distance from the centre's log, times the factor: "
            "the spread that makes the estimates out of fold neither regressive nor "
            "progressive (their PRB 0), within 0.8 to 1.25",
        }
        if model.range_unplaced is not None:
            terms["range_without_coordinates"] = {
                "factor": model.range_unplaced,
                "method": "the range's scale times this factor for a home sent without "
                "coordinates: the median error over scale of the sales estimated out of fold as "
                "such homes, over that of the errors the range is calibrated on",
            }
        if model.spread_unplaced is not None:
            terms["equity"]["without_coordinates"] = {
                "centre": float(np.exp(model.spread_unplaced[0])),
                "factor": model.spread_unplaced[1],
                "method": "the same, fitted on the same sales' estimates without the cells' "
                "part and comps, as a home sent without coordinates is valued",
            }
    if model.similarity is not None:
        size_km, year_km, k, shrink = model.similarity
        terms["comps"] = {
            "sales": len(model.sales) // SALE.itemsize,
            "bytes_per_sale": SALE.itemsize,
            "k": k,
            "size_km": size_km,
            "year_km": year_km,
            "shrink": shrink,
            "method": "the k sales nearest in km east and north, size_km times log sq ft and "
            "year_km per year between sale and valuation; each weighted 1 / (1 + d²); the "
            "estimate moves by their weighted median residual times W / (W + shrink), W their "
            "total weight; chosen by how well they estimate sales out of fold",
        }
        if model.range_by_comps is not None:
            terms["comps"]["range"] = model.range_by_comps.describe()
    return terms
