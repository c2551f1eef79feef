"""The comps of one home as an appraiser's grid: each sale, adjusted to the home in dollars."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

from app.domain import comps, located_one
from app.domain.located_model import PARTS, LocatedModel

# The terms a comp is adjusted for, in order (PARTS without the intercept, which is shared).
CAUSES = PARTS[1:]
_EPOCH = date(1970, 1, 1)
_EPOCH_DAY = _EPOCH.toordinal()  # a sale's day counts from it


def comparables(
    model: LocatedModel,
    beds: float,
    baths: float,
    sqft: float,
    area: str | None,
    latitude: float,
    longitude: float,
    month: int,
    n: int,
) -> list[dict[str, Any]]:
    """The home's `n` most similar sales, most similar first, each adjusted to the home by the
    model's terms: what the sale says the home is worth. Each adjustment is the change in the
    comp's price when the home's term replaces the comp's, taken in the order of PARTS, so that
    the sale price and its adjustments add up to the adjusted price. `weight`: the comp's
    weight in the estimate (0 for one beyond the k the estimate takes). Empty for a home
    without coordinates or a model without comps."""
    index = model.comps()
    if index is None or n <= 0 or not (math.isfinite(latitude) and math.isfinite(longitude)):
        return []
    assert model.projection is not None
    centre_lat, centre_lon = model.projection
    valued = model.valuation(month)
    quick = located_one.quick_terms(model)
    home_terms = quick.terms if quick is not None else _terms_by(model)  # the same floats
    subject, x, y, log_sqft = home_terms(beds, baths, sqft, area, latitude, longitude, valued)
    steps = [subject[c] - subject[c - 1] for c in range(1, len(CAUSES) + 1)]
    distance, rows = index.nearest_one(x, y, log_sqft, float(valued), n)
    k = model_k(model)
    listed = []
    # In plain floats: a request lists up to 20 comps, each a few dozen operations.
    for j, (north, east, price, sqft_j, baths_j, day, area_beds) in enumerate(
        index.packed.listed(rows)
    ):
        beds_j = float(area_beds >> 24)
        at = area_beds & comps.NO_AREA
        area_j = None if at == comps.NO_AREA else model.areas[at]
        lat_j, lon_j = centre_lat + north, centre_lon + east
        if day == comps.NO_DAY:
            sold_at, month_j = None, -1
        else:
            sold = _EPOCH.fromordinal(_EPOCH_DAY + day)
            sold_at, month_j = sold.isoformat(), sold.year * 12 + sold.month - 1
        terms, ex, ny, _ = home_terms(beds_j, baths_j, sqft_j, area_j, lat_j, lon_j, month_j)
        adjustments = {}
        total = price
        before, change = price, 0.0
        for c, cause in enumerate(CAUSES, start=1):
            change += steps[c - 1] - (terms[c] - terms[c - 1])
            level = price * math.exp(change)
            adjustments[cause] = level - before
            total += adjustments[cause]
            before = level
        d = distance[j]
        listed.append(
            {
                "price": price,
                "sold_at": sold_at,
                "beds": beds_j,
                "baths": round(baths_j, 4),
                "sqft": round(sqft_j, 2),
                "area": area_j,
                "latitude": round(lat_j, 6),
                "longitude": round(lon_j, 6),
                "distance_km": math.hypot(ex - x, ny - y),
                "weight": 1.0 / (1.0 + d * d) if j < k else 0.0,
                "adjustments": adjustments,
                "adjusted_price": total,
            }
        )
    return listed


def _terms_by(model: LocatedModel) -> Callable[..., tuple[list[float], float, float, float]]:
    """`home_terms` of the model but its last answer (where the quick terms are not compiled)."""

    def terms(*home: Any) -> tuple[list[float], float, float, float]:
        logs, x, y, log_sqft, _ = model.home_terms(*home)
        return logs, x, y, log_sqft

    return terms


def model_k(model: LocatedModel) -> int:
    """How many comps the model values a home from."""
    return 0 if model.similarity is None else int(model.similarity[2])
