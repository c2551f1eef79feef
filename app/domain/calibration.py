"""The price range: normalised conformal quantiles of out-of-fold residuals."""

from __future__ import annotations

import bisect
import functools
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from app.domain.arrays import FloatArray
from app.domain.order import sorted_median, sorted_quantiles
from app.domain.rules import DEFAULT_LEVEL

QUANTILE_GRID = 1001  # residual quantiles stored at every 0.1 %

BANDS = 3  # the range is calibrated within thirds of the homes by estimated price

MIN_BAND = 20  # residuals a band needs at least (a 90 % range needs 19)

CACHED_LEVELS = 32  # levels whose bounds a full calibration keeps once computed


class LevelNotKept(LookupError):
    """A compact calibration (`Calibration.keeping`) was asked for a level it did not keep."""


@dataclass(frozen=True)
class LevelBounds:
    """The normalised-residual quantiles of a range at one level, for each band of estimates."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    pooled: tuple[bool, ...]  # the band has too few residuals at this level: all residuals used
    short: bool  # even all residuals are too few for this level
    low_array: FloatArray
    high_array: FloatArray
    # At each band's centre: the middle of its quantiles, and half their spread, moved where
    # needed so that the range never narrows while the estimate rises (`Calibration._halves`).
    mid: FloatArray
    half: FloatArray
    mid_values: tuple[float, ...]  # the same as floats, for one estimate at a time
    half_values: tuple[float, ...]


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

    Between the bands' centres (the median estimate of each) the quantiles are interpolated
    linearly in the estimate, and held beyond the first and last centre, so a range moves
    continuously with the estimate instead of jumping at a band's edge. Where a dearer band's
    spread is too narrow for the rising scale to keep the range from narrowing, the spreads of
    it and the bands below it are moved to the nearest that do (`_halves`). Artifacts without
    centres (format 4 and earlier) keep the range of their band.
    """

    scale_intercept: float
    scale_slope: float
    scale_min: float
    price_floor: float
    n: int
    quantiles: Sequence[float]  # of all normalised residuals at probabilities 0, 0.001, … 1
    band_edges: tuple[float, ...] = ()  # band k + 1 starts at estimate band_edges[k]
    band_sizes: tuple[int, ...] = ()
    band_quantiles: tuple[Sequence[float], ...] = ()  # each band's, on the same grid
    band_centres: tuple[float, ...] = ()  # each band's median estimate (format 5 on)
    _bounds: dict[float, LevelBounds] = field(default_factory=dict, compare=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k != "_bounds"}
        # The grids as little-endian doubles (format 6 on): a thousand floats unpickle as one
        # bytes object instead of a thousand pickle records, some five times sooner.
        state["quantiles"] = _packed(self.quantiles)
        state["band_quantiles"] = tuple(_packed(q) for q in self.band_quantiles)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Artifacts of format 3 have no bands: one band, all residuals.
        defaults = {"band_edges": (), "band_sizes": (), "band_quantiles": (), "band_centres": ()}
        state = {**defaults, **state}
        state["quantiles"] = _unpacked(state["quantiles"])
        state["band_quantiles"] = tuple(_unpacked(q) for q in state["band_quantiles"])
        self.__dict__.update(state, _bounds={})

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

    @property
    def smooth(self) -> bool:
        """Whether the quantiles are interpolated between band centres (else: a step per band)."""
        return len(self.band_centres) > 1 and len(self.band_centres) == len(self.band_sizes)

    def quantiles_one(self, estimate: float, level: float) -> tuple[float, float]:
        """The low and high normalised quantiles of the range at `level` around one estimate."""
        bounds = self.bounds(level)
        if self.smooth:
            # Plain floats (a request's hot path), the same operations as np.interp below.
            centres = self.band_centres
            mid = _interp(estimate, centres, bounds.mid_values)
            half = _interp(estimate, centres, bounds.half_values)
            return mid - half, mid + half
        band = self.band(estimate) if len(bounds.low) > 1 else 0
        return bounds.low[band], bounds.high[band]

    def quantiles_many(self, estimates: FloatArray, level: float) -> tuple[Any, Any]:
        """`quantiles_one` for an array of estimates, bit for bit."""
        bounds = self.bounds(level)
        if self.smooth:
            mid = np.interp(estimates, self.band_centres, bounds.mid)
            half = np.interp(estimates, self.band_centres, bounds.half)
            return mid - half, mid + half
        if len(bounds.low) > 1:
            band = self.bands(estimates)
            return bounds.low_array[band], bounds.high_array[band]
        return bounds.low[0], bounds.high[0]

    def bounds(self, level: float) -> LevelBounds:
        """The quantiles of a conformal range at `level`, band by band."""
        cached = self._bounds.get(level)
        if cached is None:
            if not self.quantiles:
                raise LevelNotKept(level)
            cached = self._compute_bounds(level)
            # A level is any float a client sends: keep the first few, compute the rest.
            if len(self._bounds) < CACHED_LEVELS:
                self._bounds[level] = cached
        return cached

    @property
    def compact(self) -> bool:
        """Whether the residual quantiles were dropped, keeping the ranges of some levels."""
        return not self.quantiles

    def answers(self, level: float) -> bool:
        return not self.compact or level in self._bounds

    def keeping(self, levels: Iterable[float]) -> Calibration:
        """A copy without the residual quantiles that gives the ranges of `levels` alone.

        A few hundred bytes instead of some 130 kB: what a worker holds of each of thousands of
        markets. Its ranges at those levels are the full calibration's, bit for bit.
        """
        kept = {level: self.bounds(level) for level in levels}
        compact = replace(self, quantiles=(), band_quantiles=())
        compact._bounds.update(kept)
        return compact

    def _compute_bounds(self, level: float) -> LevelBounds:
        pooled = _conformal(self.quantiles, self.n, level)
        fallback = pooled or _extremes(self.quantiles)
        bands = zip(self.band_quantiles, self.band_sizes, strict=True)
        per_band = [_conformal(q, m, level) for q, m in bands]
        if not per_band:
            per_band = [fallback]
        low = tuple((b or fallback)[0] for b in per_band)
        high = tuple((b or fallback)[1] for b in per_band)
        low_array, high_array = np.array(low), np.array(high)
        mid, half = (high_array + low_array) / 2, self._halves((high_array - low_array) / 2)
        return LevelBounds(
            low=low,
            high=high,
            pooled=tuple(b is None for b in per_band),
            short=pooled is None,
            low_array=low_array,
            high_array=high_array,
            mid=mid,
            half=half,
            mid_values=tuple(mid.tolist()),
            half_values=tuple(half.tolist()),
        )

    def _halves(self, half: FloatArray) -> FloatArray:
        """Half-spreads at the band centres, moved as little as they must be so that the width
        (half-spread × scale, interpolated linearly between centres) never falls anywhere.

        Between two centres a and b the width is h(ŷ)·s(ŷ). Where the scale is flat (below the
        price floor, or at its minimum) h may not fall at all. Where it rises with slope β over
        the whole stretch, the width's slope is least at b, and it is at least 0 there when
        h_b ≥ r·h_a, r = s(b) / (s(b) + β·(b − a)): so a dearer band may have a somewhat
        narrower normalised spread, as long as the rising scale more than makes up for it.

        Where a dearer band's spread is narrower still, raising it alone to r·h_a widens that
        band's range well past its level. Instead the halves are the nearest (in least squares,
        each band weighted by its residuals) that keep every h_b ≥ r·h_a: divided by the
        product R of the ratios up to each band, the constraint is that h/R never falls, and
        the nearest such sequence is the weighted isotonic regression of h/R (pool adjacent
        violators), with weights n·R². The cheaper band gives up a little, the dearer one is
        raised less, and bands that need no change keep their own spread.
        """
        if not self.smooth:
            return half
        ratios = np.ones(len(half))
        for k in range(1, len(half)):
            a, b = self.band_centres[k - 1], self.band_centres[k]
            linear = (
                self.scale_slope > 0
                and a >= self.price_floor
                and self.scale_intercept + self.scale_slope * a >= self.scale_min
            )
            if linear:
                at_b = self.scale_one(b)
                # A hair above the bound, so that rounding never shows as a narrowing.
                ratios[k] = at_b / (at_b + self.scale_slope * (b - a)) * (1 + 1e-9)
        reach = np.cumprod(ratios)
        weights = np.asarray(self.band_sizes, dtype=np.float64) * reach**2
        return _nondecreasing(half / reach, weights) * reach

    def describe(self) -> dict[str, Any]:
        at_default = self.bounds(DEFAULT_LEVEL)
        edges = [None, *self.band_edges, None]
        return {
            "method": "normalised split-conformal on cross-validated (out-of-fold) "
            f"residuals, calibrated within {max(len(self.band_sizes), 1)} band(s) of the "
            "estimate (thirds of the training homes by out-of-fold estimate); range = "
            "estimate + q × scale, scale = a + b × max(estimate, lowest training price), q the "
            + (
                "quantiles interpolated linearly between the bands' centres (median estimates), "
                "their spreads moved as little as needed (isotonic least squares) so that the "
                "range never narrows as the estimate rises"
                if self.smooth
                else "band's quantiles"
            ),
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
                    **({"estimate_centre": self.band_centres[k]} if self.smooth else {}),
                    "n_residuals": size,
                    "bounds_at_default_level": [at_default.low[k], at_default.high[k]],
                    "calibrated_in_band_at_default_level": not at_default.pooled[k],
                    "highest_level_calibrated_in_band": _largest_level(size),
                }
                for k, size in enumerate(self.band_sizes)
            ],
            "residual_quantiles": list(self.quantiles),
        }


def _nondecreasing(values: FloatArray, weights: FloatArray) -> FloatArray:
    """The non-decreasing sequence nearest `values` in weighted least squares: pool adjacent
    violators, each pool at the weighted mean of its values."""
    pools: list[tuple[float, float, int]] = []  # (mean, weight, length)
    for value, weight in zip(values.tolist(), weights.tolist(), strict=True):
        mean, total, length = value, weight, 1
        while pools and pools[-1][0] > mean:
            before, before_weight, before_length = pools.pop()
            mean = (before * before_weight + mean * total) / (before_weight + total)
            total, length = before_weight + total, before_length + length
        pools.append((mean, total, length))
    return np.array([mean for mean, _, length in pools for _ in range(length)])


def _packed(values: Sequence[float]) -> bytes:
    return np.asarray(values, dtype="<f8").tobytes()


def _unpacked(values: bytes | tuple[float, ...]) -> Sequence[float]:
    """A grid as stored: doubles (format 6 on), or a tuple of floats (formats 3 to 5).

    Doubles are read in place (a memoryview) where the machine is little-endian: a range needs
    two of a grid's thousand values, and a worker loading thousands of markets makes no float
    it does not read.
    """
    if not isinstance(values, bytes):
        return values
    if sys.byteorder == "little":
        return memoryview(values).cast("d")
    return tuple(np.frombuffer(values, dtype="<f8").tolist())


def _interp(x: float, xp: Sequence[float], fp: Sequence[float]) -> float:
    """np.interp(x, xp, fp) for one float, bit for bit: held beyond the ends, linear between."""
    if x <= xp[0]:
        return fp[0]
    if x >= xp[-1]:
        return fp[-1]
    j = bisect.bisect_right(xp, x) - 1
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (x - xp[j]) + fp[j]


def _conformal(quantiles: Sequence[float], n: int, level: float) -> tuple[float, float] | None:
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
    # np.interp on the grid, in plain floats (bit for bit): no array of the whole grid is made,
    # which is most of what loading a market's model costs.
    grid = _grid(len(quantiles))
    low = _interp((lower_k - 1) / (n - 1), grid, quantiles)
    high = _interp((upper_k - 1) / (n - 1), grid, quantiles)
    return low, high


@functools.cache
def _grid(points: int) -> tuple[float, ...]:
    """The probabilities of a quantile grid: np.linspace(0, 1, points), as floats."""
    return tuple(np.linspace(0.0, 1.0, points).tolist())


def _extremes(quantiles: Sequence[float]) -> tuple[float, float]:
    return quantiles[0], quantiles[-1]


def _largest_level(n: int) -> float:
    """The highest level (in steps of 0.01) that n residuals can calibrate."""
    levels = [v / 100 for v in range(50, 100)]
    fits = [v for v in levels if _conformal((0.0, 1.0), n, v) is not None]
    return max(fits) if fits else 0.0


def calibrate(
    y: FloatArray,
    out_of_fold: FloatArray,
    scaled: bool = True,
    bands: int = BANDS,
    factor: FloatArray | None = None,
) -> Calibration:
    """A Calibration from true prices and out-of-fold estimates of them.

    `scaled=False` fixes the scale at 1 and uses one band: the same dollar width for every
    house (a baseline). `factor`: each estimate's scale is also multiplied by it (a located
    model's range by its comps, `comps_range`), in the calibration as in the ranges it gives.
    """
    # Written with few temporaries: 10,000,000 sales are 80 MB an array.
    floor = float(y.min())
    residual = y - out_of_fold
    if scaled:
        estimate = np.maximum(out_of_fold, floor)
        a, b = _line_with_rising_slope(estimate, np.abs(residual))
        del estimate
        # A scale never below 1 % of the typical price keeps a flat fit from dividing by ~0.
        scale_min = 0.01 * sorted_median(np.sort(y))  # sorting beats numpy's partition
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
    if factor is not None:
        residual /= factor
    grid = np.linspace(0.0, 1.0, QUANTILE_GRID)
    count = max(1, min(bands, len(y) // MIN_BAND))
    # Sorted once: the edges are read off it, and each band's estimates are a slice of it.
    estimates = np.sort(out_of_fold)
    edges = tuple(sorted_quantiles(estimates, np.arange(1, count) / count).tolist())
    sizes: list[int] = []
    centres: list[float] = []
    band_quantiles: list[tuple[float, ...]] = []
    if count > 1:
        bounds = [-np.inf, *edges, np.inf]
        for k in range(count):
            # Band k holds estimates in [bounds[k], bounds[k + 1]), as `Calibration.bands`.
            inside = (out_of_fold >= bounds[k]) & (out_of_fold < bounds[k + 1])
            # Quantiles depend only on the values: sorted once, a thousand are read off at once.
            part = np.sort(residual[inside])
            sizes.append(len(part))
            first, end = np.searchsorted(estimates, bounds[k : k + 2], side="left").tolist()
            centres.append(sorted_median(estimates[first:end]))
            band_quantiles.append(tuple(sorted_quantiles(part, grid).tolist()))
            del part, inside
    del estimates
    residual.sort()
    pooled = tuple(sorted_quantiles(residual, grid).tolist())
    return replace(
        calibration,
        quantiles=pooled,
        band_edges=edges,
        band_sizes=tuple(sizes),
        band_quantiles=tuple(band_quantiles),
        band_centres=tuple(centres),
    )


def _line_with_rising_slope(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Least squares y ≈ a + b·x with b ≥ 0 (scikit-learn's LinearRegression(positive=True))."""
    mean_x, mean_y = float(x.mean()), float(y.mean())
    dx = x - mean_x
    var = float(dx @ dx)
    slope = max(float(dx @ y) / var, 0.0) if var > 0 else 0.0  # Σdx = 0, so Σdx·(y − ȳ) = Σdx·y
    return mean_y - slope * mean_x, slope
