"""Fitting and prediction of the price model: ordinary least squares, no HTTP and no files."""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .errors import TooFewRows

if TYPE_CHECKING:
    from sklearn.linear_model import LinearRegression

FEATURES: tuple[str, str, str] = ("beds", "baths", "sqft")
TARGET = "price"
UNITS = {"beds": "$ per bedroom", "baths": "$ per bathroom", "sqft": "$ per sq ft"}
ALGORITHM = "ordinary least squares (scikit-learn LinearRegression, with intercept)"
DEFAULT_LEVEL = 0.90
# Bumped whenever the pickled PriceModel changes shape; older artifacts are refused, not guessed at.
ARTIFACT_FORMAT = 4
READABLE_FORMATS = (3, 4)  # format 3 has one band of residuals
QUANTILE_GRID = 1001  # residual quantiles stored at every 0.1 %

FloatArray = npt.NDArray[np.float64]


BANDS = 3  # the range is calibrated within thirds of the homes by estimated price
MIN_BAND = 20  # residuals a band needs at least (a 90 % range needs 19)


@dataclass(frozen=True)
class LevelBounds:
    """The normalised-residual quantiles of a range at one level, for each band of estimates."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    pooled: tuple[bool, ...]  # the band has too few residuals at this level: all residuals used
    short: bool  # even all residuals are too few for this level
    low_array: FloatArray
    high_array: FloatArray


@dataclass(frozen=True)
class Calibration:
    """What a price range needs: how the error scales with the price, and its distribution.

    Normalised split-conformal on cross-validated (out-of-fold) residuals, calibrated within
    bands of the estimate ("Mondrian" conformal). Each residual is divided by a scale that
    grows with the estimate, s(ŷ) = a + b·max(ŷ, lowest training price), where a and b (b ≥ 0)
    come from a least-squares fit of |residual| on the estimate. The training homes are split
    into thirds by their out-of-fold estimate; within each third, a range at level L is
    ŷ + q·s(ŷ) for the conformal α/2 and 1 − α/2 quantiles q of that third's normalised
    residuals, α = 1 − L. So the range holds about L of the sales within each band of price,
    not only overall, and a $900k house gets a wider range in dollars than a $90k condo. A band
    with too few residuals for a level takes the quantiles of all residuals instead, and says so.
    """

    scale_intercept: float
    scale_slope: float
    scale_min: float
    price_floor: float
    n: int
    quantiles: tuple[float, ...]  # of all normalised residuals at probabilities 0, 0.001, … 1
    band_edges: tuple[float, ...] = ()  # band k + 1 starts at estimate band_edges[k]
    band_sizes: tuple[int, ...] = ()
    band_quantiles: tuple[tuple[float, ...], ...] = ()  # each band's, on the same grid
    _bounds: dict[float, LevelBounds] = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_bounds"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Artifacts of format 3 have no bands: one band, all residuals.
        defaults = {"band_edges": (), "band_sizes": (), "band_quantiles": ()}
        self.__dict__.update({**defaults, **state}, _bounds={})

    def scale(self, estimate: Any) -> Any:
        return np.maximum(
            self.scale_intercept + self.scale_slope * np.maximum(estimate, self.price_floor),
            self.scale_min,
        )

    def scale_one(self, estimate: float) -> float:
        scaled = self.scale_intercept + self.scale_slope * max(estimate, self.price_floor)
        return max(scaled, self.scale_min)

    def band(self, estimate: float) -> int:
        return bisect.bisect_right(self.band_edges, estimate)

    def bands(self, estimates: FloatArray) -> npt.NDArray[np.intp]:
        return np.searchsorted(self.band_edges, estimates, side="right")

    def bounds(self, level: float) -> LevelBounds:
        """The quantiles of a conformal range at `level`, band by band."""
        cached = self._bounds.get(level)
        if cached is None:
            cached = self._bounds[level] = self._compute_bounds(level)
        return cached

    def _compute_bounds(self, level: float) -> LevelBounds:
        pooled = _conformal(self.quantiles, self.n, level)
        fallback = pooled or _extremes(self.quantiles)
        bands = zip(self.band_quantiles, self.band_sizes, strict=True)
        per_band = [_conformal(q, m, level) for q, m in bands]
        if not per_band:
            per_band = [fallback]
        low = tuple((b or fallback)[0] for b in per_band)
        high = tuple((b or fallback)[1] for b in per_band)
        return LevelBounds(
            low=low,
            high=high,
            pooled=tuple(b is None for b in per_band),
            short=pooled is None,
            low_array=np.array(low),
            high_array=np.array(high),
        )

    def describe(self) -> dict[str, Any]:
        at_default = self.bounds(DEFAULT_LEVEL)
        edges = [None, *self.band_edges, None]
        return {
            "method": "normalised split-conformal on 5-fold out-of-fold residuals, calibrated "
            f"within {max(len(self.band_sizes), 1)} band(s) of the estimate (thirds of the "
            "training homes by out-of-fold estimate); range = estimate + q × scale, "
            "scale = a + b × max(estimate, lowest training price), q the band's quantiles",
            "scale": {
                "a": self.scale_intercept,
                "b": self.scale_slope,
                "minimum": self.scale_min,
                "price_floor": self.price_floor,
            },
            "n_residuals": self.n,
            "default_level": DEFAULT_LEVEL,
            "bounds_at_default_level": list(
                _conformal(self.quantiles, self.n, DEFAULT_LEVEL) or _extremes(self.quantiles)
            ),
            "bands": [
                {
                    "estimate_from": edges[k],
                    "estimate_to": edges[k + 1],
                    "n_residuals": size,
                    "bounds_at_default_level": [at_default.low[k], at_default.high[k]],
                    "calibrated_in_band_at_default_level": not at_default.pooled[k],
                    "highest_level_calibrated_in_band": _largest_level(size),
                }
                for k, size in enumerate(self.band_sizes)
            ],
            "residual_quantiles": list(self.quantiles),
        }


def _conformal(quantiles: tuple[float, ...], n: int, level: float) -> tuple[float, float] | None:
    """Split-conformal quantiles at `level` from n residuals on a grid; None if n is too few.

    Split conformal takes the k-th smallest residual with k = ⌈(n+1)(1 − α/2)⌉ (and
    ⌊(n+1)·α/2⌋ below); it exists only when 1 ≤ that k ≤ n. On the grid, order statistic k
    sits at (k − 1)/(n − 1).
    """
    alpha = 1.0 - level
    upper_k = math.ceil((n + 1) * (1 - alpha / 2) - 1e-9)
    lower_k = math.floor((n + 1) * (alpha / 2) + 1e-9)
    if n < 2 or upper_k > n or lower_k < 1:
        return None
    grid = np.linspace(0.0, 1.0, len(quantiles))
    q = np.interp([(lower_k - 1) / (n - 1), (upper_k - 1) / (n - 1)], grid, quantiles)
    return float(q[0]), float(q[1])


def _extremes(quantiles: tuple[float, ...]) -> tuple[float, float]:
    return quantiles[0], quantiles[-1]


def _largest_level(n: int) -> float:
    """The highest level (in steps of 0.01) that n residuals can calibrate."""
    levels = [v / 100 for v in range(50, 100)]
    fits = [v for v in levels if _conformal((0.0, 1.0), n, v) is not None]
    return max(fits) if fits else 0.0


def calibrate(
    y: FloatArray, out_of_fold: FloatArray, scaled: bool = True, bands: int = BANDS
) -> Calibration:
    """A Calibration from true prices and out-of-fold estimates of them.

    `scaled=False` fixes the scale at 1 and uses one band: the same dollar width for every
    house (a baseline).
    """
    # Written with few temporaries: 10,000,000 sales are 80 MB an array.
    floor = float(y.min())
    residual = y - out_of_fold
    if scaled:
        estimate = np.maximum(out_of_fold, floor)
        a, b = _line_with_rising_slope(estimate, np.abs(residual))
        del estimate
        # A scale never below 1 % of the typical price keeps a flat fit from dividing by ~0.
        scale_min = 0.01 * float(np.median(y))
    else:
        a, b, scale_min, bands = 1.0, 0.0, 1.0, 1
    calibration = Calibration(
        scale_intercept=a,
        scale_slope=b,
        scale_min=scale_min,
        price_floor=floor,
        n=len(y),
        quantiles=(),
    )
    residual /= calibration.scale(out_of_fold)
    grid = np.linspace(0.0, 1.0, QUANTILE_GRID)
    count = max(1, min(bands, len(y) // MIN_BAND))
    edges = tuple(float(e) for e in np.quantile(out_of_fold, np.arange(1, count) / count))
    sizes: list[int] = []
    band_quantiles: list[tuple[float, ...]] = []
    if count > 1:
        bounds = [-np.inf, *edges, np.inf]
        for k in range(count):
            # Band k holds estimates in [bounds[k], bounds[k + 1]), as `Calibration.bands`.
            part = residual[(out_of_fold >= bounds[k]) & (out_of_fold < bounds[k + 1])]
            sizes.append(len(part))
            band_quantiles.append(tuple(float(v) for v in np.quantile(part, grid)))
            del part
    residual.sort()
    pooled = tuple(float(v) for v in np.quantile(residual, grid))
    return replace(
        calibration,
        quantiles=pooled,
        band_edges=edges,
        band_sizes=tuple(sizes),
        band_quantiles=tuple(band_quantiles),
    )


def _line_with_rising_slope(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Least squares y ≈ a + b·x with b ≥ 0 (scikit-learn's LinearRegression(positive=True))."""
    mean_x, mean_y = float(x.mean()), float(y.mean())
    dx = x - mean_x
    var = float(dx @ dx)
    slope = max(float(dx @ y) / var, 0.0) if var > 0 else 0.0  # Σdx = 0, so Σdx·(y − ȳ) = Σdx·y
    return mean_y - slope * mean_x, slope


@dataclass(frozen=True)
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

    # The artifact holds numbers only: no caches, and no scikit-learn object, so that loading
    # a model needs no scikit-learn and the same fit always gives the same bytes.
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_warnings", "estimator")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _warnings={}, estimator=None)

    @classmethod
    def from_estimator(cls, estimator: LinearRegression) -> PriceModel:
        w = [float(v) for v in np.asarray(estimator.coef_, dtype=np.float64)]
        return cls(
            estimator=estimator, weights=(w[0], w[1], w[2]), intercept=float(estimator.intercept_)
        )

    def predict_one(self, beds: float, baths: float, sqft: float) -> float:
        # Plain float arithmetic: a one-row DataFrame or array costs thousands of times more.
        w0, w1, w2 = self.weights
        return self.intercept + w0 * beds + w1 * baths + w2 * sqft

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
        bounds = self.calibration.bounds(level)
        q_low: Any = bounds.low[0]
        q_high: Any = bounds.high[0]
        if len(bounds.low) > 1:
            band = self.calibration.bands(estimate)
            q_low, q_high = bounds.low_array[band], bounds.high_array[band]
        scale = self.calibration.scale(estimate)
        return np.maximum(estimate + q_low * scale, 0.0), estimate + q_high * scale

    def explain(self, beds: float, baths: float, sqft: float, level: float) -> Explanation:
        w0, w1, w2 = self.weights
        parts = {"intercept": self.intercept, "beds": w0 * beds, "baths": w1 * baths}
        parts["sqft"] = w2 * sqft
        price = parts["intercept"] + parts["beds"] + parts["baths"] + parts["sqft"]
        if self.calibration is None:
            raise ValueError("this model has no range calibration")
        # Plain floats, the same operations in the same order as `interval` on arrays.
        bounds = self.calibration.bounds(level)
        band = self.calibration.band(price) if len(bounds.low) > 1 else 0
        q_low, q_high = bounds.low[band], bounds.high[band]
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
        bounds = self.calibration.bounds(level)
        if not (bounds.short or bounds.pooled[band]):
            return None
        key = (f"calibration {band}", level)
        warning = self._warnings.get(key)
        if warning is None:
            n = self.calibration.n
            if bounds.short:
                warning = {
                    "code": "range_too_few_sales",
                    "field": "price_low",
                    "message": f"{n} training sales are too few to calibrate a {level:.0%} "
                    "range: it spans the largest errors seen, and may hold the sale price less "
                    f"often than {level:.0%}",
                }
            else:
                m = self.calibration.band_sizes[band]
                warning = {
                    "code": "range_calibrated_on_all_sales",
                    "field": "price_low",
                    "message": f"{m} training sales near this estimate are too few to "
                    f"calibrate a {level:.0%} range on them alone: the range is calibrated on "
                    f"all {n} sales, and may hold the price of homes like this one less often "
                    f"than {level:.0%}",
                }
            self._warnings[key] = warning
        return warning

    def range_warning(self, name: str, value: float) -> dict[str, Any]:
        # Values repeat across a batch (areas, bedroom counts): one dict serves them all.
        key = (name, value)
        warning = self._warnings.get(key)
        if warning is None:
            low, high = self.ranges[name]
            warning = self._warnings[key] = {
                "code": "outside_training_range",
                "field": name,
                "message": f"{name} {value:g} is outside the range of the training data "
                f"({low:g} to {high:g}): the estimate is an extrapolation",
            }
        return warning

    def price_warning(self, price: float) -> dict[str, Any] | None:
        lowest = self.ranges.get(TARGET, (-math.inf, math.inf))[0]
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


@dataclass(frozen=True)
class Explanations:
    """Many estimates at once: arrays, and a warnings list per row."""

    price: FloatArray
    low: FloatArray
    high: FloatArray
    contributions: FloatArray  # (n, 4): intercept, beds, baths, sqft
    warnings: dict[int, list[dict[str, Any]]]  # by row; rows without warnings are absent


def explain_many(model: PriceModel, X: FloatArray, level: float) -> Explanations:
    """Vectorised `PriceModel.explain`: the same numbers, bit for bit, for every row."""
    w = np.array(model.weights)
    parts = np.empty((len(X), 4))
    parts[:, 0] = model.intercept
    parts[:, 1:] = X * w
    price = model.predict(X)
    low, high = model.interval(price, level)
    # Per condition, vectorised; a row's warnings come in the order `PriceModel.warnings` gives.
    warnings: dict[int, list[dict[str, Any]]] = {}
    for k, name in enumerate(FEATURES):
        lo, hi = model.ranges.get(name, (-math.inf, math.inf))
        outside = np.flatnonzero((X[:, k] < lo) | (X[:, k] > hi))
        for i, value in zip(outside.tolist(), X[outside, k].tolist(), strict=True):
            warnings.setdefault(i, []).append(model.range_warning(name, value))
    lowest = model.ranges.get(TARGET, (-math.inf, math.inf))[0]
    doubtful = np.flatnonzero(price < max(lowest, np.nextafter(0.0, 1.0)))
    for i, value in zip(doubtful.tolist(), price[doubtful].tolist(), strict=True):
        warning = model.price_warning(value)
        if warning is not None:
            warnings.setdefault(i, []).append(warning)
    assert model.calibration is not None
    bounds = model.calibration.bounds(level)
    if bounds.short or any(bounds.pooled):
        bands = model.calibration.bands(price) if len(bounds.low) > 1 else np.zeros(len(X), int)
        for band in range(len(bounds.low)):
            band_warning = model.calibration_warning(level, band)
            if band_warning is not None:
                for i in np.flatnonzero(bands == band).tolist():
                    warnings.setdefault(i, []).append(band_warning)
    return Explanations(price, low, high, parts, warnings)


def least_squares(rows: int) -> LinearRegression:
    """scikit-learn's LinearRegression, cutting off singular values as `numpy.linalg.lstsq` does.

    Since scikit-learn 1.9 its default `tol=1e-6` is the solver's relative cutoff below which
    singular values count as zero: a design whose condition number is above a million loses a
    direction and gets wrong coefficients. Machine precision times the row count, numpy's
    cutoff, drops only directions that are zero to rounding.
    """
    from sklearn.linear_model import LinearRegression  # imported when fitting, not serving

    return LinearRegression(tol=float(np.finfo(np.float64).eps) * max(rows, len(FEATURES) + 1))


def fit(X: FloatArray, y: FloatArray) -> PriceModel:
    """Least squares of y on the columns of X with an intercept."""
    if X.ndim != 2 or X.shape[1] != len(FEATURES):
        raise ValueError(f"X must have shape (n, {len(FEATURES)}), got {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if len(X) < len(FEATURES) + 1:
        raise TooFewRows(len(FEATURES) + 1, len(X))
    model = PriceModel.from_estimator(least_squares(len(X)).fit(X, y))
    ranges = {name: (float(X[:, i].min()), float(X[:, i].max())) for i, name in enumerate(FEATURES)}
    ranges[TARGET] = (float(y.min()), float(y.max()))
    return replace(model, ranges=ranges)


def regression_metrics(y: FloatArray, predicted: FloatArray) -> dict[str, float]:
    """R², MAE, RMSE and median absolute percentage error of predictions against truth."""
    err = predicted - y
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    return {
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(ss_res / len(y))),
        "median_ape": float(np.median(np.abs(err) / y)),
    }


def out_of_fold(X: FloatArray, y: FloatArray, folds: int = 5, seed: int = 0) -> FloatArray:
    """Estimates of each row by a model fitted without its fold (shuffled k-fold)."""
    from sklearn.model_selection import KFold, cross_val_predict

    kfold = KFold(n_splits=min(folds, len(X)), shuffle=True, random_state=seed)
    estimates = cross_val_predict(least_squares(len(X)), X, y, cv=kfold)
    return np.asarray(estimates, dtype=np.float64)


def cross_validated_metrics(
    X: FloatArray, y: FloatArray, folds: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Metrics of out-of-fold predictions pooled over a shuffled k-fold split."""
    return describe_cv(y, out_of_fold(X, y, folds, seed), min(folds, len(X)), seed)


def describe_cv(y: FloatArray, predicted: FloatArray, folds: int, seed: int) -> dict[str, Any]:
    return {
        **regression_metrics(y, predicted),
        "method": f"{folds}-fold cross-validation (shuffled, seed {seed}), "
        "metrics of the pooled out-of-fold predictions",
        "folds": folds,
        "seed": seed,
    }
