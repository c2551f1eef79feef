"""What a located model warns of a home's place: an area without sales, a home far from every
sale, a valuation date outside the price index."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from app.domain import caveats
from app.domain.terms import CELL_SIZES_KM, OFFSET, Places

if TYPE_CHECKING:
    from app.domain.located_model import Located, LocatedModel

FAR_KM = 3.0  # a home farther than this from every sale is warned about


def place_warnings(
    model: LocatedModel, places: Places, located: Located | None = None
) -> dict[int, list[dict[str, Any]]]:
    """An area with no sales, a home far from every sale, a date outside the index."""
    located = located if located is not None else model.locate(places)
    found: dict[int, list[dict[str, Any]]] = {}
    unknown = np.flatnonzero((located.area < 0) & (places.area != None))  # noqa: E711
    for i in unknown.tolist():
        found.setdefault(i, []).append(unknown_area(model, places.area[i]))
    for i, km in far_from_sales(model, places, located).items():
        found.setdefault(i, []).append(caveats.far_from_sales(km, model.comps_range is not None))
    if model.first_month >= 0:
        month = places.month
        for i in np.flatnonzero(month > model.last_month).tolist():
            warning = caveats.as_of_outside(int(month[i]), model.last_month, after=True)
            found.setdefault(i, []).append(warning)
        for i in np.flatnonzero((month >= 0) & (month < model.first_month)).tolist():
            warning = caveats.as_of_outside(int(month[i]), model.first_month, after=False)
            found.setdefault(i, []).append(warning)
    return found


def unknown_area(model: LocatedModel, area: str) -> dict[str, Any]:
    """The warning of an area without sales, made once an area."""
    key = ("area", area)
    warning = model._warnings.get(key)
    if warning is None:
        warning = model._warnings[key] = {
            "code": "unknown_area",
            "field": "area",
            "message": f"area {area!r} has no sales in this market: the home is estimated "
            "at the market's level",
        }
    return warning


def far_from_sales(
    model: LocatedModel, places: Places, found: Located | None = None
) -> dict[int, float]:
    """Homes farther than FAR_KM from the centre of every fine cell that holds a sale,
    less half the cell's diagonal: their distance from the nearest sale, about."""
    tables = model._tables()
    projection = tables["projection"]
    if projection is None:
        return {}
    size = CELL_SIZES_KM[-1]
    # A home in a fine cell that holds a sale is within the cell's diagonal of it.
    off = (found if found is not None else model.locate(places)).cells[-1]
    located = np.flatnonzero(
        np.isfinite(places.latitude) & np.isfinite(places.longitude) & (off < 0)
    )
    if not len(located):
        return {}
    tree = tables.get("tree")
    if tree is None:
        from scipy.spatial import cKDTree

        keys = tables["cells"][-1].keys
        ix, iy = (keys >> 21) - OFFSET, (keys & ((1 << 21) - 1)) - OFFSET
        centres = np.column_stack([(ix + 0.5) * size, (iy + 0.5) * size])
        tree = tables["tree"] = cKDTree(centres)
    x, y = projection.xy(places.latitude[located], places.longitude[located])
    distance, _ = tree.query(np.column_stack([x, y]))
    km = np.maximum(distance - size * math.sqrt(2) / 2, 0.0)
    far = km > FAR_KM
    return dict(zip(located[far].tolist(), km[far].tolist(), strict=True))
