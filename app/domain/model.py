"""Fitting and prediction of the price model: ordinary least squares, no HTTP and no files."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sklearn.linear_model import LinearRegression
from app.domain import caveats
from app.domain.arrays import FloatArray
from app.domain.calibration import Calibration
from app.domain.one_home import QuickEstimate, quick_estimate
from app.domain.rules import FEATURES

ALGORITHM = "ordinary least squares (scikit-learn LinearRegression, with intercept)"

# Bumped whenever the pickled PriceModel changes shape; older artifacts are refused, not guessed at.
ARTIFACT_FORMAT = 6

READABLE_FORMATS = (3, 4, 5, 6)  # 3 has one band of residuals, 4 no band centres, 5 float grids

QUICK_LEVELS = 8  # levels whose one-home estimate a model keeps ready

PARTS = ("intercept", "beds", "baths", "sqft")  # a plain model's contributions, in order


@dataclass(slots=True)
class Explanation:
    """One estimate with its range, its parts and what to be wary of."""

    price: float
    low: float
    high: float
    contributions: dict[str, float]
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PriceModel:
    """A fitted linear model of price; `estimator` is the scikit-learn object it came from.

    Predictions are computed from the coefficients as ((b + w0·x0) + w1·x1) + w2·x2, in that
    order, for one row and for many, so a single answer and a batch answer agree bit for bit,
    and the contributions b, w0·x0, w1·x1, w2·x2 added in that order give the price exactly.
    """

    estimator: LinearRegression | None  # None when fitted from sufficient statistics
    weights: tuple[float, float, float]
    intercept: float
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    calibration: Calibration | None = None
    _warnings: dict[tuple[str, float], dict[str, Any]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # One home's estimate at each level asked for most recently (`one_home`), made on demand.
    _quick: dict[float, QuickEstimate] = field(
        default_factory=dict, compare=False, repr=False, init=False
    )

    # The artifact holds numbers only: no caches, and no scikit-learn object, so that loading
    # a model needs no scikit-learn and the same fit always gives the same bytes.
    def __getstate__(self) -> dict[str, Any]:
        cached = ("_warnings", "_quick", "estimator")
        return {k: v for k, v in self.__dict__.items() if k not in cached}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _warnings={}, _quick={}, estimator=None)

    def keeping(self, levels: Iterable[float]) -> PriceModel:
        """The same model with a compact calibration that answers at `levels` only."""
        if self.calibration is None:
            return self
        return replace(self, estimator=None, calibration=self.calibration.keeping(levels))

    def answers(self, level: float) -> bool:
        """Whether this model can give a range at `level` (a compact one only at its levels)."""
        return self.calibration is None or self.calibration.answers(level)

    @classmethod
    def from_weights(
        cls,
        weights: Any,
        intercept: float,
        *,
        estimator: LinearRegression | None = None,
        ranges: dict[str, tuple[float, float]] | None = None,
    ) -> PriceModel:
        """A model from its three weights (any sequence or array) and intercept, as floats."""
        w0, w1, w2 = (float(v) for v in np.asarray(weights, dtype=np.float64))
        return cls(estimator, (w0, w1, w2), float(intercept), ranges or {})

    @classmethod
    def from_estimator(cls, estimator: LinearRegression) -> PriceModel:
        return cls.from_weights(estimator.coef_, estimator.intercept_, estimator=estimator)

    def predict(self, X: FloatArray) -> FloatArray:
        """Vectorised estimates for an (n, 3) array of beds, baths, sqft."""
        w0, w1, w2 = self.weights
        out: FloatArray = self.intercept + X[:, 0] * w0
        out += X[:, 1] * w1
        out += X[:, 2] * w2
        return out

    def interval(self, estimate: Any, level: float) -> tuple[Any, Any]:
        """Low and high ends of the calibrated range around estimates (never below 0)."""
        if self.calibration is None:
            raise ValueError("this model has no range calibration")
        q_low, q_high = self.calibration.quantiles_many(estimate, level)
        scale = self.calibration.scale(estimate)
        return np.maximum(estimate + q_low * scale, 0.0), estimate + q_high * scale

    def explain(self, beds: float, baths: float, sqft: float, level: float) -> Explanation:
        """One home's estimate, range, parts and warnings (`one_home` when none is due)."""
        quick = self._quick.get(level)
        if quick is None and self.calibration is not None:
            quick = self._quick_at(level)
        if quick is not None:
            found = quick(beds, baths, sqft)
            if found is not None:
                price, low, high, part0, part1, part2 = found
                parts = {"intercept": self.intercept, "beds": part0, "baths": part1}
                parts["sqft"] = part2
                return Explanation(price, low, high, parts, [])
        return self.explain_fully(beds, baths, sqft, level)

    def explain_fully(self, beds: float, baths: float, sqft: float, level: float) -> Explanation:
        """`explain` without its quick path: every warning checked, one call at a time."""
        w0, w1, w2 = self.weights
        parts = {"intercept": self.intercept, "beds": w0 * beds, "baths": w1 * baths}
        parts["sqft"] = w2 * sqft
        price = parts["intercept"] + parts["beds"] + parts["baths"] + parts["sqft"]
        if self.calibration is None:
            raise ValueError("this model has no range calibration")
        # Plain floats, the same operations in the same order as `interval` on arrays.
        bounds = self.calibration.bounds(level)
        band = self.calibration.band(price) if len(bounds.low) > 1 else 0  # for its warnings
        q_low, q_high = self.calibration.quantiles_one(price, level)
        scale = self.calibration.scale_one(price)
        low, high = max(price + q_low * scale, 0.0), price + q_high * scale
        values = {"beds": beds, "baths": baths, "sqft": sqft}
        return Explanation(
            price=price,
            low=low,
            high=high,
            contributions=parts,
            warnings=self.warnings(values, price, level, band),
        )

    def _quick_at(self, level: float) -> QuickEstimate:
        if len(self._quick) >= QUICK_LEVELS:  # levels are any float: keep the latest few
            self._quick.clear()
        quick = self._quick[level] = quick_estimate(self, level)
        return quick

    def warnings(
        self, values: dict[str, float], price: float, level: float, band: int
    ) -> list[dict[str, Any]]:
        """What makes one estimate less trustworthy: inputs or a price outside the data seen,
        or a range calibrated on fewer sales than its level needs."""
        found = []
        for name in FEATURES:
            low, high = self.ranges.get(name, (-math.inf, math.inf))
            if not low <= values[name] <= high:
                found.append(self.range_warning(name, values[name]))
        price_warning = self.price_warning(price)
        if price_warning is not None:
            found.append(price_warning)
        calibration_warning = self.calibration_warning(level, band)
        if calibration_warning is not None:
            found.append(calibration_warning)
        return found

    def calibration_warning(self, level: float, band: int) -> dict[str, Any] | None:
        """A warning when the range at `level` could not be calibrated as it should be."""
        assert self.calibration is not None
        return caveats.calibration_warning(self.calibration, self._warnings, level, band)

    def range_warning(self, name: str, value: float) -> dict[str, Any]:
        return caveats.range_warning(self.ranges, self._warnings, name, value)

    def price_warning(self, price: float) -> dict[str, Any] | None:
        return caveats.price_warning(self.ranges, price)


@dataclass(frozen=True)
class Explanations:
    """Many estimates at once: arrays, and a warnings list per row."""

    price: FloatArray
    low: FloatArray
    high: FloatArray
    contributions: FloatArray  # (n, len(parts)): each row's parts, in dollars
    warnings: dict[int, list[dict[str, Any]]]  # by row; rows without warnings are absent
    parts: tuple[str, ...] = PARTS  # the contributions' names, in order

    @classmethod
    def joined(cls, pieces: list[Explanations]) -> Explanations:
        """The estimates of consecutive runs of rows, as one (the runs' parts the same)."""
        warnings: dict[int, list[dict[str, Any]]] = {}
        start = 0
        for piece in pieces:
            warnings.update((start + i, found) for i, found in piece.warnings.items())
            start += len(piece.price)
        return cls(
            np.concatenate([p.price for p in pieces]),
            np.concatenate([p.low for p in pieces]),
            np.concatenate([p.high for p in pieces]),
            np.concatenate([p.contributions for p in pieces]),
            warnings,
            pieces[0].parts,
        )


def explain_many(model: PriceModel, X: FloatArray, level: float) -> Explanations:
    """Vectorised `PriceModel.explain`: the same numbers, bit for bit, for every row."""
    w = np.array(model.weights)
    parts = np.empty((len(X), 4))
    parts[:, 0] = model.intercept
    parts[:, 1:] = X * w
    price = model.predict(X)
    low, high = model.interval(price, level)
    assert model.calibration is not None
    warnings = caveats.of_rows(model.ranges, model.calibration, model._warnings, X, price, level)
    return Explanations(price, low, high, parts, warnings)
