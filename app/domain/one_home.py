"""One home's estimate by a plain model at one level, every constant bound once: the common case
of `PriceModel.explain` (no warning due), bit for bit, at a twelfth of its cost.

`PriceModel.explain` reads its weights, calibration and ranges through a dozen calls and
attribute lookups per home; an answer of `/predict` is little else. `quick_estimate(model,
level)` reads them once and returns a function of (beds, baths, sqft) that does the same
floating-point operations in the same order (`Calibration.quantiles_one`, `scale_one` and
`_interp`), and gives up (None) whenever one of the model's warnings would be due, so that
`explain` writes every warning in one place. Its range (`quick_range`) serves a located model's
quick path too (`located_one`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.domain.rules import FEATURES, TARGET

if TYPE_CHECKING:
    from app.domain.calibration import Calibration
    from app.domain.model import PriceModel

# price, low, high, and the parts beds, baths, sqft (the intercept is the model's)
Quick = tuple[float, float, float, float, float, float]
QuickEstimate = Callable[[float, float, float], "Quick | None"]
# an estimate's low and high quantiles of the range, and its scale
QuickRange = Callable[[float], tuple[float, float, float]]

_SMALLEST = math.nextafter(0.0, 1.0)


def quick_range(calibration: Calibration, level: float) -> QuickRange | None:
    """`Calibration.quantiles_one` and `scale_one` of one estimate at `level`, every constant
    bound once: the range's low and high quantiles and its scale, by the same operations. None
    where the range at `level` is warned of (a band calibrated on all sales, or too few)."""
    bounds = calibration.bounds(level)
    if bounds.short or any(bounds.pooled):
        return None
    centres = calibration.band_centres
    smooth = calibration.smooth
    mids, halves = bounds.mid_values, bounds.half_values
    first, last = (centres[0], centres[-1]) if smooth else (0.0, 0.0)
    edges, lows, highs = calibration.band_edges, bounds.low, bounds.high
    banded = len(lows) > 1
    a, slope = calibration.scale_intercept, calibration.scale_slope
    floor, least = calibration.price_floor, calibration.scale_min
    right = bisect.bisect_right

    def range_of(price: float) -> tuple[float, float, float]:
        if smooth:  # `interp_one` of both quantiles at once
            if price <= first:
                mid, half = mids[0], halves[0]
            elif price >= last:
                mid, half = mids[-1], halves[-1]
            else:
                j = right(centres, price) - 1
                c, d = centres[j], centres[j + 1]
                mid = (mids[j + 1] - mids[j]) / (d - c) * (price - c) + mids[j]
                half = (halves[j + 1] - halves[j]) / (d - c) * (price - c) + halves[j]
            q_low, q_high = mid - half, mid + half
        else:
            band = right(edges, price) if banded else 0
            q_low, q_high = lows[band], highs[band]
        # max(x, y) is x unless y > x: the same operands give the same float, signed zeros too.
        scale = a + slope * (floor if floor > price else price)
        return q_low, q_high, least if least > scale else scale

    return range_of


def quick_estimate(model: PriceModel, level: float) -> QuickEstimate:
    """The estimate of one home by `model` at `level`, or None where `explain` must answer."""
    calibration = model.calibration
    assert calibration is not None
    w0, w1, w2 = model.weights
    intercept = model.intercept
    inf = math.inf
    (lo0, hi0), (lo1, hi1), (lo2, hi2) = (model.ranges.get(n, (-inf, inf)) for n in FEATURES)
    # A price at or below 0, or below the lowest sale, is warned of.
    lowest = max(model.ranges.get(TARGET, (-inf, inf))[0], _SMALLEST)
    # Any band whose range is calibrated on all sales, or too few sales: `explain` says so.
    range_of = quick_range(calibration, level)

    def estimate(beds: float, baths: float, sqft: float) -> Quick | None:
        if range_of is None or not (
            lo0 <= beds <= hi0 and lo1 <= baths <= hi1 and lo2 <= sqft <= hi2
        ):
            return None
        part0, part1, part2 = w0 * beds, w1 * baths, w2 * sqft
        price = intercept + part0 + part1 + part2
        if not price >= lowest:
            return None
        q_low, q_high, scale = range_of(price)
        low = price + q_low * scale
        return price, 0.0 if low < 0.0 else low, price + q_high * scale, part0, part1, part2

    return estimate
