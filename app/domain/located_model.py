"""A located model's estimates: log price as a sum of named terms, answered as dollar parts.

The terms, in the order their dollar parts are taken: the market's typical home at its newest
month (`intercept`), `beds`, `baths`, `sqft`, `area`, `location` (the cells of the
coordinates) and `time` (the month index, to the valuation date). Each part is the change in
price when its term is added to those before it: exp(c_k) - exp(c_(k-1)) for the cumulative log
prices c_k, so the parts add up to the price; the price served is their sum, taken in order.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from app.domain import caveats, comps, comps_pack
from app.domain.arrays import FloatArray
from app.domain.calibration import Calibration
from app.domain.comps_range import UNPLACED, RangeByComps, widened, widened_one
from app.domain.located_warnings import far_from_sales, place_warnings, unknown_area
from app.domain.model import Explanation, Explanations
from app.domain.ratios import spread_about
from app.domain.terms import (
    CELL_SIZES_KM,
    KM_PER_DEGREE_LATITUDE,
    OFFSET,
    KeyOffsets,
    Places,
    Projection,
    month_name,
    unpack_keys,
)

PARTS = ("intercept", "beds", "baths", "sqft", "area", "location", "time")
COMPS_PARTS = (*PARTS, "comps")
EQUITY = "equity"  # the last part of a model with a vertical-equity spread
_FLOAT = struct.Struct("<d")  # one cell's effect, read from the model's bytes


@dataclass(frozen=True)
class Located:
    """Homes' positions among a model's places: area, and cells at each scale (-1: none)."""

    area: npt.NDArray[np.intp]
    cells: tuple[npt.NDArray[np.intp], ...]


@dataclass(frozen=True)
class LocatedModel:
    """Coefficients of the terms, the places they belong to, and the range's calibration."""

    intercept: float  # log price of the typical home at the market's level, newest month
    centre: tuple[float, float, float]  # median beds, baths and log sqft
    size: tuple[float, float, float, float]  # per bed, per bath, per log sqft, per its square
    areas: tuple[str, ...]
    area_effects: tuple[float, ...]
    projection: tuple[float, float] | None  # the market's centre: latitude, longitude
    cells: tuple[bytes, ...]  # each scale's sorted cell keys (int64, packed: `keys_packed`)
    cell_effects: tuple[bytes, ...]  # each scale's effects, float64
    first_month: int  # -1: the model has no time term
    month_effects: tuple[float, ...]  # oldest to newest; the newest is 0
    strengths: dict[str, float]
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    calibration: Calibration | None = None
    # Whether `cells` holds each scale's keys packed (`pack_keys`); an artifact made before
    # keys were packed holds them as plain int64 and reads as False.
    keys_packed: bool = False
    # The sales comps are chosen from (`comps.SALE` records) and how (`comps.Similarity`'s
    # fields); none in a model made before comps, or of a market without coordinates.
    sales: bytes = b""
    similarity: tuple[float, float, int, float] | None = None
    # The vertical-equity spread (centre, factor) of log estimates: none before it was fitted.
    spread: tuple[float, float] | None = None
    # The spread for homes sent without coordinates, fitted on the same sales' estimates
    # without the cells' part and comps (those, left at `spread`, were valued regressively:
    # PRD 1.058 on King County's newest sales); none before it was fitted, or without cells.
    spread_unplaced: tuple[float, float] | None = None
    # The range's factor for homes sent without coordinates (`comps_range.UNPLACED`), whose
    # estimates err more than a placed home's; none before it was fitted, or without cells.
    range_unplaced: float | None = None
    # How much wider the range is by the comps' total weight (`RangeByComps`: edges, factors);
    # none before it was fitted, or without comps.
    comps_range: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    _warnings: dict[tuple[str, Any], dict[str, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    _lookup: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_warnings", "_lookup")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _warnings={}, _lookup={})

    @property
    def names(self) -> tuple[str, ...]:
        """The parts of this model's estimates, in order."""
        found = COMPS_PARTS if self.similarity is not None else PARTS
        return (*found, EQUITY) if self.spread is not None else found

    def valuation(self, month: int) -> int:
        """The month a home is valued at: its `as_of` (year * 12 + month - 1), or the newest
        month where it gives none or the market has no dates."""
        return month if month >= 0 and self.first_month >= 0 else self.last_month

    @property
    def last_month(self) -> int:
        return self.first_month + len(self.month_effects) - 1

    @property
    def newest_month(self) -> str | None:
        return month_name(self.last_month) if self.first_month >= 0 else None

    def keeping(self, levels: Iterable[float]) -> LocatedModel:
        """The model as a worker holds it among thousands: ranges at `levels` only; and, for
        one with comps, its sales and cells left out until a home of its market is first
        valued, then read from the pack of its version (`needs_comps`, `use_comps`)."""
        calibration = None if self.calibration is None else self.calibration.keeping(levels)
        if self.similarity is None:
            return replace(self, calibration=calibration, sales=b"", _warnings={}, _lookup={})
        kept = replace(
            self, calibration=calibration, sales=b"", cells=(), cell_effects=(), _lookup={}
        )
        kept._lookup["awaits_pack"] = len(self.cells)
        return kept

    @property
    def needs_comps(self) -> bool:
        """Whether this model values homes from comps it does not hold yet (`use_comps`)."""
        return self.similarity is not None and "comps" not in self._lookup

    @property
    def holds_sales(self) -> bool:
        """Whether this model can pack its comps itself (a whole one)."""
        return bool(self.sales)

    def answers(self, level: float) -> bool:
        return self.calibration is None or self.calibration.answers(level)

    # What lookups need, made once a process; "areas" last: whoever finds it finds them all.
    def _tables(self) -> dict[str, Any]:
        found = self._lookup
        if "areas" not in found:
            if "awaits_pack" in found:
                raise RuntimeError("a compact located model is valued before its pack is read")
            found["area_values"] = np.asarray(self.area_effects, dtype=np.float64)
            unpack = unpack_keys if self.keys_packed else (lambda c: np.frombuffer(c, "<i8"))
            # Each scale's sorted keys once (`KeyOffsets`: searched by numpy for a batch, by
            # bisect for one home); the effects are views of the model's (or pack's) bytes.
            if self.cells or "comps" not in found:
                found["cells"] = [KeyOffsets.of(unpack(c)) for c in self.cells]
                found["effect_bytes"] = list(self.cell_effects)
            else:  # a compact model's, from its pack
                places = found["comps"].packed.places
                found["cells"] = [KeyOffsets.view(keys) for keys, _ in places]
                found["effect_bytes"] = [effects for _, effects in places]
            found["months"] = np.asarray(self.month_effects, dtype=np.float64)
            found["projection"] = None if self.projection is None else Projection(*self.projection)
            found["areas"] = {name: at for at, name in enumerate(self.areas)}
        return found

    def locate(self, places: Places) -> Located:
        """Where each home is among the model's places: its area's and its cells' positions."""
        tables = self._tables()
        projection = tables["projection"]
        cells = []
        if projection is not None:
            for size, keys in zip(CELL_SIZES_KM, tables["cells"], strict=False):
                cells.append(keys.codes(projection.cells(places.latitude, places.longitude, size)))
        return Located(self._area_codes(places.area), tuple(cells))

    def logs(
        self,
        X: FloatArray,
        places: Places,
        located: Located | None = None,
        weight: FloatArray | None = None,
    ) -> FloatArray:
        """The cumulative log prices, (n, parts): after each term of `names` in turn; each
        home's comps' total weight into `weight` (0 without comps)."""
        out = self.terms(X, places, located, len(self.names))
        index = self.comps()
        at = len(PARTS)
        if index is not None:
            moved, total = self._shift(index, X, places)
            out[:, at] = out[:, at - 1] + moved
            if weight is not None:
                weight[:] = total
            at += 1
        if weight is not None and self.range_unplaced is not None:
            weight[~(np.isfinite(places.latitude) & np.isfinite(places.longitude))] = UNPLACED
        if self.spread is not None:
            out[:, at] = spread_about(out[:, at - 1], self.spread)
            if self.spread_unplaced is not None:
                unplaced = ~(np.isfinite(places.latitude) & np.isfinite(places.longitude))
                if unplaced.any():
                    out[unplaced, at] = spread_about(out[unplaced, at - 1], self.spread_unplaced)
        return out

    def _shift(
        self, index: comps.Index, X: FloatArray, places: Places
    ) -> tuple[FloatArray, FloatArray]:
        """What comps move each home's log estimate by, and their total weight (0 and 0 for a
        home without coordinates)."""
        found, total = np.zeros(len(X)), np.zeros(len(X))
        at = np.flatnonzero(np.isfinite(places.latitude) & np.isfinite(places.longitude))
        if len(at):
            projection = self._tables()["projection"]
            x, y = projection.xy(places.latitude[at], places.longitude[at])
            month = places.month[at]
            # `valuation`, row by row
            dated = (month >= 0) & (self.first_month >= 0)
            valued = np.where(dated, month, self.last_month).astype(np.float64)
            found[at], total[at] = index.shift(x, y, np.log(X[at, 2]), valued)
        return found, total

    def comps(self) -> comps.Index | None:
        """The market's comps (packed from its sales once a process, unless `use_comps` gave
        them); None for a model without."""
        found: comps.Index | None = self._lookup.get("comps")
        if found is None and self.similarity is not None and self.holds_sales:
            self.use_comps(self.pack_comps())
            found = self._lookup["comps"]
        return found

    def pack_comps(self) -> bytes:
        """The sales this version holds, with their residuals, and its cells, as a pack
        (`comps_pack`): of a whole model."""
        assert self.similarity is not None and self.holds_sales
        sales = np.frombuffer(self.sales, dtype=comps.SALE)
        places = self.places_of(sales)
        residual = np.log(sales["price"]) - self.terms(comps.features_of(sales), places)[:, -1]
        tables = self._tables()
        cells = [(k.keys, e) for k, e in zip(tables["cells"], self.cell_effects, strict=True)]
        similarity = comps.Similarity(*self.similarity)
        km_east = tables["projection"].km_east
        return comps_pack.pack(sales, residual, similarity, km_east, self.last_month, cells)

    def use_comps(self, packed: comps_pack.Buffer) -> None:
        """Value homes from this pack of this version's comps (a worker maps a machine's)."""
        assert self.similarity is not None
        found = comps_pack.read(packed, verify=False)
        if len(found.places) != self._lookup.get("awaits_pack", len(found.places)):
            raise ValueError("the pack does not hold this model's cells")
        self._lookup["comps"] = comps.Index(found, comps.Similarity(*self.similarity))
        self._lookup.pop("awaits_pack", None)

    def places_of(self, sales: npt.NDArray[np.void]) -> Places:
        """Where and when the sales were: their areas, coordinates and months of sale."""
        tables = self._tables()
        names = tables.get("area_names")
        if names is None:
            names = tables["area_names"] = np.array([*self.areas, None], dtype=object)  # -1: none
        assert self.projection is not None
        return Places(
            names[comps.area_of(sales)],
            self.projection[0] + sales["north"].astype(np.float64),
            self.projection[1] + sales["east"].astype(np.float64),
            comps.month_of_day(sales["day"]),
        )

    def terms(
        self, X: FloatArray, places: Places, located: Located | None = None, width: int = 7
    ) -> FloatArray:
        """The cumulative log prices after each term of PARTS, in the first 7 of `width`
        columns."""
        tables = self._tables()
        located = located if located is not None else self.locate(places)
        n = len(X)
        out = np.empty((n, width), order="F")  # a column at a time
        w = self.size
        out[:, 0] = self.intercept
        out[:, 1] = out[:, 0] + w[0] * (X[:, 0] - self.centre[0])
        out[:, 2] = out[:, 1] + w[1] * (X[:, 1] - self.centre[1])
        s = np.log(X[:, 2]) - self.centre[2]
        out[:, 3] = out[:, 2] + (w[2] * s + w[3] * (s * s))
        out[:, 4] = out[:, 3] + self._area_effects(located.area)
        location = np.zeros(n)
        for found, given in zip(located.cells, tables["effect_bytes"], strict=True):
            effects = np.frombuffer(given, dtype="<f8")
            location += np.where(found >= 0, effects[np.maximum(found, 0)], 0.0)
        out[:, 5] = out[:, 4] + location
        out[:, 6] = out[:, 5] + self._time_effects(places.month)
        return out

    def _area_codes(self, area: npt.NDArray[np.object_]) -> npt.NDArray[np.intp]:
        """Each home's area as a position in `areas`, -1 for none or one without sales."""
        positions: dict[Any, int] = self._tables()["areas"]
        codes, distinct = pd.factorize(area)  # hashed once; -1 for none
        found = [positions.get(a, -1) for a in distinct.tolist()] + [-1]
        return np.asarray(found, dtype=np.intp)[codes]

    def _area_effects(self, found: npt.NDArray[np.intp]) -> FloatArray:
        values: FloatArray = self._tables()["area_values"]
        if not len(values):
            return np.zeros(len(found))
        effects: FloatArray = np.where(found >= 0, values[np.maximum(found, 0)], 0.0)
        return effects

    def _time_effects(self, month: npt.NDArray[np.int64]) -> FloatArray:
        months = self._tables()["months"]
        if self.first_month < 0:
            return np.zeros(len(month))
        at = np.clip(np.where(month >= 0, month, self.last_month) - self.first_month, 0, None)
        effects: FloatArray = months[np.minimum(at, len(months) - 1)]
        return effects

    def parts(
        self,
        X: FloatArray,
        places: Places,
        located: Located | None = None,
        weight: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Each home's dollar parts (n, parts) and its price, their sum taken in order; each
        home's comps' total weight into `weight`."""
        levels = np.exp(self.logs(X, places, located, weight))
        parts = np.empty_like(levels)
        parts[:, 0] = levels[:, 0]
        parts[:, 1:] = levels[:, 1:] - levels[:, :-1]
        price = parts[:, 0].copy()
        for k in range(1, parts.shape[1]):
            price += parts[:, k]
        return parts, price

    def predict(self, X: FloatArray, places: Places | None = None) -> FloatArray:
        return self.parts(X, places if places is not None else Places.empty(len(X)))[1]

    def interval(
        self, estimate: Any, level: float, weight: FloatArray | None = None
    ) -> tuple[Any, Any]:
        """The range of each estimate; `weight`, each home's comps' total weight, widens it
        where they are few or far (required of a model with `comps_range`)."""
        if self.calibration is None:
            raise ValueError("this model has no range calibration")
        q_low, q_high = self.calibration.quantiles_many(estimate, level)
        scale = self.calibration.scale(estimate)
        by_comps = self.range_by_comps
        if by_comps is None and self.range_unplaced is None:
            return np.maximum(estimate + q_low * scale, 0.0), estimate + q_high * scale
        if weight is None:
            raise ValueError("this model's range needs each home's comps' total weight")
        scale = widened(scale, by_comps, self.range_unplaced, weight)
        return np.maximum(estimate + q_low * scale, 0.0), estimate + q_high * scale

    @property
    def range_by_comps(self) -> RangeByComps | None:
        if self.comps_range is None:
            return None
        found: RangeByComps | None = self._lookup.get("range_by_comps")
        if found is None:
            found = self._lookup["range_by_comps"] = RangeByComps(*self.comps_range)
        return found

    def explain_many(self, X: FloatArray, level: float, places: Places | None) -> Explanations:
        places = places if places is not None else Places.empty(len(X))
        located = self.locate(places)
        weight = np.zeros(len(X))
        parts, price = self.parts(X, places, located, weight)
        low, high = self.interval(price, level, weight)
        assert self.calibration is not None
        warnings = caveats.of_rows(self.ranges, self.calibration, self._warnings, X, price, level)
        for i, found in place_warnings(self, places, located).items():
            warnings.setdefault(i, []).extend(found)
        return Explanations(price, low, high, parts, warnings, self.names)

    def explain(
        self, beds: float, baths: float, sqft: float, level: float, places: Places | None = None
    ) -> Explanation:
        """One home; `places`, its one row."""
        if places is None:
            return self.explain_home(beds, baths, sqft, level)
        return self.explain_home(
            beds,
            baths,
            sqft,
            level,
            places.area[0],
            float(places.latitude[0]),
            float(places.longitude[0]),
            int(places.month[0]),
        )

    def home_terms(
        self,
        beds: float,
        baths: float,
        sqft: float,
        area: str | None,
        latitude: float,
        longitude: float,
        month: int,
    ) -> tuple[list[float], float, float, float, bool]:
        """One home's cumulative log prices after each term of PARTS, in plain floats, as
        `terms` gives its row; with its km east and north (NaN without coordinates), its log
        sqft, and whether its fine cell holds a sale."""
        w, centre = self.size, self.centre
        c0 = self.intercept
        c1 = c0 + w[0] * (beds - centre[0])
        c2 = c1 + w[1] * (baths - centre[1])
        log_sqft = float(np.log(sqft))  # numpy's loop on one element, as on a batch's column
        s = log_sqft - centre[2]
        c3 = c2 + (w[2] * s + w[3] * (s * s))
        tables = self._tables()
        at = tables["areas"].get(area)
        c4 = c3 + (0.0 if at is None else self.area_effects[at])
        location = 0.0
        fine = None
        projection = tables["projection"]
        x = y = math.nan
        if projection is not None and latitude == latitude and longitude == longitude:
            x = (longitude - projection.longitude) * projection.km_east
            y = (latitude - projection.latitude) * KM_PER_DEGREE_LATITUDE
            scales = zip(CELL_SIZES_KM, tables["cells"], tables["effect_bytes"], strict=False)
            for size, keys, effects in scales:
                key = ((math.floor(x / size) + OFFSET) << 21) | (math.floor(y / size) + OFFSET)
                at = keys.position(key)
                fine = None if at < 0 else _FLOAT.unpack_from(effects, 8 * at)[0]
                if fine is not None:
                    location += fine
        c5 = c4 + location
        time = 0.0
        if self.first_month >= 0:
            at = max((month if month >= 0 else self.last_month) - self.first_month, 0)
            time = self.month_effects[min(at, len(self.month_effects) - 1)]
        c6 = c5 + time
        return [c0, c1, c2, c3, c4, c5, c6], x, y, log_sqft, fine is not None

    def explain_home(
        self,
        beds: float,
        baths: float,
        sqft: float,
        level: float,
        area: str | None = None,
        latitude: float = math.nan,
        longitude: float = math.nan,
        month: int = -1,
    ) -> Explanation:
        """One home, in plain floats: the operations of `explain_many` in the same order, so it
        answers as its row of a batch, bit for bit, at a request's cost (logarithm and
        exponentials by numpy on a few numbers, as on a batch's column). `month`: year * 12 +
        month - 1 of the valuation date, -1 for the newest month."""
        logs, x, y, log_sqft, fine = self.home_terms(
            beds, baths, sqft, area, latitude, longitude, month
        )
        tables = self._tables()
        projection = tables["projection"]
        index = self.comps()
        weight = 0.0
        if index is not None:
            moved = 0.0
            if x == x:
                moved, weight = index.shift_one(x, y, log_sqft, float(self.valuation(month)))
            logs.append(logs[6] + moved)
        placed = latitude == latitude and longitude == longitude
        if self.spread is not None:
            spread = self.spread_unplaced if self.spread_unplaced and not placed else self.spread
            logs.append(spread_about(logs[-1], spread))
        levels = np.exp(np.array(logs)).tolist()
        parts = [levels[0], *(levels[k] - levels[k - 1] for k in range(1, len(logs)))]
        price = parts[0]
        for part in parts[1:]:
            price += part
        calibration = self.calibration
        if calibration is None:
            raise ValueError("this model has no range calibration")
        q_low, q_high = calibration.quantiles_one(price, level)
        scale = widened_one(
            calibration.scale_one(price), self.range_by_comps, self.range_unplaced, weight, placed
        )
        features = (beds, baths, sqft)
        warnings = caveats.of_one(self.ranges, calibration, self._warnings, features, price, level)
        if area is not None and area not in tables["areas"]:
            warnings.append(unknown_area(self, area))
        if projection is not None and not fine and latitude == latitude:
            one = Places(np.array([None], object), np.array([latitude]), np.array([longitude]),
                         np.array([-1], np.int64))  # fmt: skip
            widened = self.comps_range is not None
            warnings.extend(
                caveats.far_from_sales(km, widened) for km in far_from_sales(self, one).values()
            )
        if self.first_month >= 0 and month > self.last_month:
            warnings.append(caveats.as_of_outside(month, self.last_month, after=True))
        elif 0 <= month < self.first_month:
            warnings.append(caveats.as_of_outside(month, self.first_month, after=False))
        return Explanation(
            price=price,
            low=max(price + q_low * scale, 0.0),
            high=price + q_high * scale,
            contributions=dict(zip(self.names, parts, strict=True)),
            warnings=warnings,
        )
