"""One home's estimate by a located model at one level, its constants bound once: the common
case of `LocatedModel.explain_home` (no warning due), bit for bit, at a third of its cost.

`explain_home` reaches its coefficients, cells, comps, calibration and ranges through some
forty calls and lookups per home, and writes its warnings as it goes; a located answer of
`/predict` is little else. `QuickHome.of(model, level)` reads them once, the terms and the
comps' shift into the compiled `_knn.located` (`home_terms` and the start of `explain_home`,
the same floating-point operations in the same order); calling it takes the logarithm and the
exponentials by numpy as they do, the rest as they do (the range by `one_home.quick_range`,
then `widened_one`), and gives up (None) whenever a warning would be due (a size or price
unlike the sales, a thin range, an area without sales, a home whose fine cell holds no sale, an
`as_of` outside the index), so that `explain_home` writes every warning in one place. Built
without a C compiler, there is no quick path: `explain_home` answers every home.
"""

from __future__ import annotations

import bisect
import math
from typing import Any

import numpy as np

from app.domain import comps
from app.domain.located_model import PARTS, LocatedModel
from app.domain.model import Explanation
from app.domain.one_home import QuickRange, quick_range
from app.domain.rules import FEATURES, TARGET
from app.domain.terms import CELL_SIZES_KM, KM_PER_DEGREE_LATITUDE, OFFSET

QUICK_LEVELS = 8  # levels whose quick paths a model keeps (a level is any float a client sends)
TERMS = len(PARTS)  # the cumulative log prices of the terms

_SMALLEST = math.nextafter(0.0, 1.0)


class QuickTerms:
    """`LocatedModel.home_terms` of one model, compiled, with what a caller needs beside it."""

    __slots__ = ("area_effects", "areas", "compiled", "first_month", "last_month", "projection")
    compiled: Any  # `_knn.located`'s capsule
    areas: dict[str, int]
    area_effects: tuple[float, ...]
    projection: tuple[float, float, float] | None  # centre longitude, km east a degree, latitude
    first_month: int
    last_month: int

    @classmethod
    def of(cls, model: LocatedModel) -> QuickTerms | None:
        """The terms of `model`; None while it awaits the comps it values homes from, or where
        the search is not compiled."""
        if comps._knn is None:
            return None
        index = model.comps()  # a whole model packs its own; a compact one awaits its pack
        if (index is None) != (model.similarity is None):
            return None
        quick = cls()
        tables = model._tables()
        quick.areas, quick.area_effects = tables["areas"], model.area_effects
        projection = tables["projection"]
        centre = (
            None
            if projection is None
            else (projection.longitude, projection.km_east, projection.latitude)
        )
        quick.projection = centre
        quick.first_month, quick.last_month = model.first_month, model.last_month
        scales = zip(CELL_SIZES_KM, tables["cells"], tables["effect_bytes"], strict=False)
        searched = None
        if index is not None:
            packed, similarity = index.packed, index.similarity
            searched = (
                packed.records,
                packed.split,
                packed.dim,
                packed.shape,
                min(similarity.k, len(index)),
                similarity.shrink,
                similarity.size_km,
                similarity.year_km,
            )
        quick.compiled = comps._knn.located(
            model.intercept,
            model.size,
            model.centre,
            None if centre is None else (*centre, KM_PER_DEGREE_LATITUDE, OFFSET),
            tuple((size, keys.base, keys.offsets, effects) for size, keys, effects in scales),
            (model.first_month, model.last_month, tuple(model.month_effects)),
            searched,
            model.spread,
            model.spread_unplaced,
        )
        return quick

    def area_effect(self, area: str | None) -> float:
        """The term of the home's area: 0.0 for none, or one without sales."""
        at = None if area is None else self.areas.get(area)
        return 0.0 if at is None else self.area_effects[at]

    def terms(
        self,
        beds: float,
        baths: float,
        sqft: float,
        area: str | None,
        latitude: float,
        longitude: float,
        month: int,
    ) -> tuple[list[float], float, float, float]:
        """What `home_terms` gives but the last, by the same operations: the cumulative log
        prices, km east and north, and log sqft."""
        log_sqft = float(np.log(sqft))  # numpy's loop on one element, as `home_terms`
        out = np.empty(TERMS)
        effect = self.area_effect(area)
        comps._knn.located_logs(  # type: ignore[union-attr]
            self.compiled, beds, baths, log_sqft, effect, latitude, longitude, month, out
        )
        x = y = math.nan
        projection = self.projection
        if projection is not None and latitude == latitude and longitude == longitude:
            x = (longitude - projection[0]) * projection[1]
            y = (latitude - projection[2]) * KM_PER_DEGREE_LATITUDE
        return out.tolist(), x, y, log_sqft


class QuickHome:
    """`explain_home` of one model at one level, its constants read once."""

    __slots__ = ("by_comps", "lowest", "names", "range_of", "ranges", "terms", "unplaced", "width")
    terms: QuickTerms
    names: tuple[str, ...]
    width: int  # the cumulative log prices: the terms', then the comps' and the spread's
    range_of: QuickRange  # the range at the level, before `widened_one`
    by_comps: tuple[tuple[float, ...], tuple[float, ...]] | None  # `RangeByComps`
    unplaced: float | None
    # what no warning is due within: beds, baths, sqft; and the lowest price
    ranges: tuple[tuple[float, float], ...]
    lowest: float

    @classmethod
    def of(cls, model: LocatedModel, level: float) -> QuickHome | None:
        """The quick path of `model` at `level`; None where it has none (no calibration, a
        range at this level that is warned of, comps it does not hold yet, no compiled
        search)."""
        calibration = model.calibration
        if calibration is None or not calibration.answers(level):
            return None
        range_of = quick_range(calibration, level)
        terms = quick_terms(model)
        if range_of is None or terms is None:
            return None
        quick = cls()
        quick.terms = terms
        quick.names = model.names
        quick.width = len(quick.names)
        quick.range_of = range_of
        quick.by_comps = model.comps_range
        quick.unplaced = model.range_unplaced
        inf = math.inf
        quick.ranges = tuple(model.ranges.get(name, (-inf, inf)) for name in FEATURES)
        quick.lowest = max(model.ranges.get(TARGET, (-inf, inf))[0], _SMALLEST)
        return quick

    def __call__(
        self,
        beds: float,
        baths: float,
        sqft: float,
        area: str | None,
        latitude: float,
        longitude: float,
        month: int,
    ) -> Explanation | None:
        """The home's explanation, or None where `explain_home` must answer."""
        (lo0, hi0), (lo1, hi1), (lo2, hi2) = self.ranges
        if not (lo0 <= beds <= hi0 and lo1 <= baths <= hi1 and lo2 <= sqft <= hi2):
            return None
        terms = self.terms
        first = terms.first_month
        if first >= 0 and (month > terms.last_month or 0 <= month < first):
            return None  # an `as_of` outside the index: warned of
        if area is not None and area not in terms.areas:
            return None  # an area without sales: warned of
        placed = latitude == latitude and longitude == longitude
        if not placed and (latitude == latitude or longitude == longitude):
            return None
        # `home_terms` and `explain_home` to the exponentials, compiled
        log_sqft = float(np.log(sqft))  # numpy's loop on one element, as `home_terms`
        logs = np.empty(self.width)
        effect = terms.area_effect(area)
        weight = comps._knn.located_logs(  # type: ignore[union-attr]
            terms.compiled, beds, baths, log_sqft, effect, latitude, longitude, month, logs
        )
        if weight is None:
            return None  # no sale in the home's fine cell: it may be far from every sale
        levels = np.exp(logs, out=logs).tolist()  # numpy's loop, as on a batch's column
        parts = [levels[0]]
        price = levels[0]
        for k in range(1, len(levels)):
            part = levels[k] - levels[k - 1]
            parts.append(part)
            price += part
        if not price >= self.lowest:
            return None  # a price at or below 0, or below the lowest sale: warned of
        q_low, q_high, scale = self.range_of(price)
        # `widened_one` (with `RangeByComps.factor_one`)
        unplaced = self.unplaced
        if unplaced is not None and not placed:
            scale = scale * unplaced
        elif self.by_comps is not None:
            edges, factors = self.by_comps
            scale = scale * factors[bisect.bisect_right(edges, weight)]
        low = max(price + q_low * scale, 0.0)
        return Explanation(
            price, low, price + q_high * scale, dict(zip(self.names, parts, strict=True)), []
        )


def quick_terms(model: LocatedModel) -> QuickTerms | None:
    """The model's `QuickTerms`, made once and kept with it, and made again should its comps
    change."""
    found: tuple[object, QuickTerms | None] | None = model._lookup.get("quick_terms")
    if found is None or found[0] is not model._lookup.get("comps"):
        terms = QuickTerms.of(model)  # which may read the comps
        found = model._lookup["quick_terms"] = (model._lookup.get("comps"), terms)
    return found[1]


def quick_home(model: LocatedModel, level: float) -> QuickHome | None:
    """The model's quick path at `level`, made once and kept with it (among `QUICK_LEVELS`),
    and made again should its comps change."""
    kept: dict[float, tuple[object, QuickHome | None]] = model._lookup.setdefault("quick", {})
    found = kept.get(level)
    if found is None or found[0] is not model._lookup.get("comps"):
        if len(kept) >= QUICK_LEVELS:
            kept.clear()
        quick = QuickHome.of(model, level)  # which may read the comps
        found = kept[level] = (model._lookup.get("comps"), quick)
    return found[1]


def explain_home(
    model: LocatedModel,
    beds: float,
    baths: float,
    sqft: float,
    level: float,
    area: str | None = None,
    latitude: float = math.nan,
    longitude: float = math.nan,
    month: int = -1,
) -> Explanation:
    """`model.explain_home`, by the quick path where it answers."""
    quick = quick_home(model, level)
    if quick is not None:
        found = quick(beds, baths, sqft, area, latitude, longitude, month)
        if found is not None:
            return found
    return model.explain_home(beds, baths, sqft, level, area, latitude, longitude, month)
