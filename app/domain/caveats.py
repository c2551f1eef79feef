"""What makes an estimate less trustworthy, in words: inputs or prices unlike the data, thin range.

Both kinds of model give these warnings. Each warning is one dict a model keeps in `cache`, so
the rows of a batch that share a caveat share the dict (and the answer writes it once).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.domain.arrays import FloatArray
from app.domain.calibration import Calibration
from app.domain.rules import FEATURES, TARGET
from app.domain.terms import month_name

Cache = dict[tuple[str, Any], dict[str, Any]]
Ranges = dict[str, tuple[float, float]]


def calibration_warning(
    calibration: Calibration, cache: Cache, level: float, band: int
) -> dict[str, Any] | None:
    """A warning when the range at `level` could not be calibrated as it should be."""
    bounds = calibration.bounds(level)
    if not (bounds.short or bounds.pooled[band]):
        return None
    key = (f"calibration {band}", level)
    warning = cache.get(key)
    if warning is None:
        n = calibration.n
        if bounds.short:
            warning = {
                "code": "range_too_few_sales",
                "field": "price_low",
                "message": f"{n} training sales are too few to calibrate a {level:.0%} "
                "range: it spans the largest errors seen, and may hold the sale price less "
                f"often than {level:.0%}",
            }
        else:
            m = calibration.band_sizes[band]
            warning = {
                "code": "range_calibrated_on_all_sales",
                "field": "price_low",
                "message": f"{m} training sales near this estimate are too few to "
                f"calibrate a {level:.0%} range on them alone: the range is calibrated on "
                f"all {n} sales, and may hold the price of homes like this one less often "
                f"than {level:.0%}",
            }
        cache[key] = warning
    return warning


def range_warning(ranges: Ranges, cache: Cache, name: str, value: float) -> dict[str, Any]:
    # Values repeat across a batch (areas, bedroom counts): one dict serves them all.
    key = (name, value)
    warning = cache.get(key)
    if warning is None:
        low, high = ranges[name]
        warning = cache[key] = {
            "code": "outside_training_range",
            "field": name,
            "message": f"{name} {value:g} is outside the range of the training data "
            f"({low:g} to {high:g}): the estimate is an extrapolation",
        }
    return warning


def price_warning(ranges: Ranges, price: float) -> dict[str, Any] | None:
    lowest = ranges.get(TARGET, (-math.inf, math.inf))[0]
    if price <= 0:
        return {
            "code": "non_positive_estimate",
            "field": "price",
            "message": f"the model estimates {price:,.0f} dollars, which is not a price: "
            "the inputs are unlike any sale the model was fitted on",
        }
    if price < lowest:
        return {
            "code": "below_training_prices",
            "field": "price",
            "message": f"the estimate {price:,.0f} is below the lowest sale price in the "
            f"training data ({lowest:,.0f})",
        }
    return None


def of_rows(
    ranges: Ranges,
    calibration: Calibration,
    cache: Cache,
    X: FloatArray,
    price: FloatArray,
    level: float,
) -> dict[int, list[dict[str, Any]]]:
    """Each row's warnings (rows without any are absent), per condition, vectorised, in the
    order one estimate's come in: inputs outside the data, the price, the range."""
    warnings: dict[int, list[dict[str, Any]]] = {}
    for k, name in enumerate(FEATURES):
        lo, hi = ranges.get(name, (-math.inf, math.inf))
        outside = np.flatnonzero((X[:, k] < lo) | (X[:, k] > hi))
        for i, value in zip(outside.tolist(), X[outside, k].tolist(), strict=True):
            warnings.setdefault(i, []).append(range_warning(ranges, cache, name, value))
    lowest = ranges.get(TARGET, (-math.inf, math.inf))[0]
    doubtful = np.flatnonzero(price < max(lowest, np.nextafter(0.0, 1.0)))
    for i, value in zip(doubtful.tolist(), price[doubtful].tolist(), strict=True):
        warning = price_warning(ranges, value)
        if warning is not None:
            warnings.setdefault(i, []).append(warning)
    bounds = calibration.bounds(level)
    if bounds.short or any(bounds.pooled):
        bands = calibration.bands(price) if len(bounds.low) > 1 else np.zeros(len(X), int)
        for band in range(len(bounds.low)):
            band_warning = calibration_warning(calibration, cache, level, band)
            if band_warning is not None:
                for i in np.flatnonzero(bands == band).tolist():
                    warnings.setdefault(i, []).append(band_warning)
    return warnings


def of_one(
    ranges: Ranges,
    calibration: Calibration,
    cache: Cache,
    features: tuple[float, float, float],
    price: float,
    level: float,
) -> list[dict[str, Any]]:
    """The warnings of `of_rows` for one home (beds, baths, sqft), in the same order."""
    found = []
    for name, value in zip(FEATURES, features, strict=True):
        low, high = ranges.get(name, (-math.inf, math.inf))
        if not low <= value <= high:
            found.append(range_warning(ranges, cache, name, value))
    warning = price_warning(ranges, price)
    if warning is not None:
        found.append(warning)
    bounds = calibration.bounds(level)
    band = calibration.band(price) if len(bounds.low) > 1 else 0
    band_warning = calibration_warning(calibration, cache, level, band)
    if band_warning is not None:
        found.append(band_warning)
    return found


def as_of_outside(month: int, edge: int, after: bool) -> dict[str, Any]:
    """A valuation month after the newest month of the price index (`after`) or before its
    oldest (`edge`): the index's level at that edge is used."""
    which = ("after", "newest") if after else ("before", "oldest")
    return {
        "code": f"as_of_{'beyond' if after else 'before'}_index",
        "field": "as_of",
        "message": f"as_of {month_name(month)} is {which[0]} the {which[1]} month of the price "
        f"index ({month_name(edge)}): its level is used",
    }


def far_from_sales(km: float, widened: bool = False) -> dict[str, Any]:
    """A home `km` from the nearest sale of its market; `widened`, its range widened as for the
    homes whose comps weigh least (a model with `comps_range`)."""
    range_words = (
        "its range, widened as for the homes whose comparable sales weigh least, may still hold "
        "its price less often"
        if widened
        else "the range may hold its price less often"
    )
    return {
        "code": "far_from_sales",
        "field": "latitude",
        "message": f"the home is {km:.1f} km from the nearest sale of this market: its location "
        f"is estimated at the market's level, and {range_words}",
    }
