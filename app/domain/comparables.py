"""The comps of one home as an appraiser's grid: each sale, adjusted to the home in dollars."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.domain import comps
from app.domain.located_model import PARTS, LocatedModel
from app.domain.terms import Projection

# The terms a comp is adjusted for, in order (PARTS without the intercept, which is shared).
CAUSES = PARTS[1:]


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
    projection = Projection(*model.projection)
    valued = model.valuation(month)
    hx, hy = projection.xy(np.array([latitude]), np.array([longitude]))
    x, y = float(hx[0]), float(hy[0])
    distance, found = index.query(hx, hy, np.log(np.array([sqft])), np.array([float(valued)]), n)
    rows = found[0]
    weight = comps.weights(distance[0])
    weight[model_k(model) :] = 0.0
    sales = index.sales[rows]
    places = model.places_of(sales)
    X = comps.features_of(sales)
    subject = model.home_terms(beds, baths, sqft, area, latitude, longitude, valued)[0]
    sx, sy = projection.xy(places.latitude, places.longitude)
    listed = []
    for j in range(len(rows)):
        price = float(sales["price"][j])
        beds_j, baths_j, sqft_j = X[j].tolist()
        terms = model.home_terms(
            beds_j,
            baths_j,
            sqft_j,
            places.area[j],
            float(places.latitude[j]),
            float(places.longitude[j]),
            int(places.month[j]),
        )[0]
        adjustments = {}
        total = price
        before, change = price, 0.0
        for k, cause in enumerate(CAUSES, start=1):
            change += (subject[k] - subject[k - 1]) - (terms[k] - terms[k - 1])
            level = price * math.exp(change)
            adjustments[cause] = level - before
            total += adjustments[cause]
            before = level
        day = int(sales["day"][j])
        listed.append(
            {
                "price": price,
                "sold_at": None if day == comps.NO_DAY else str(np.datetime64(day, "D")),
                "beds": float(X[j, 0]),
                "baths": round(float(X[j, 1]), 4),
                "sqft": round(float(X[j, 2]), 2),
                "area": places.area[j],
                "latitude": round(float(places.latitude[j]), 6),
                "longitude": round(float(places.longitude[j]), 6),
                "distance_km": math.hypot(float(sx[j]) - x, float(sy[j]) - y),
                "weight": float(weight[j]),
                "adjustments": adjustments,
                "adjusted_price": total,
            }
        )
    return listed


def model_k(model: LocatedModel) -> int:
    """How many comps the model values a home from."""
    return 0 if model.similarity is None else int(model.similarity[2])
