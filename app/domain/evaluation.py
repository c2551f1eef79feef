"""Out-of-sample checks of the price range: coverage and width on repeated random splits."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.domain.arrays import FloatArray
from app.domain.calibration import calibrate
from app.domain.least_squares import fit, out_of_fold
from app.domain.model import PriceModel


@dataclass(frozen=True)
class RangeCheck:
    coverage: float  # share of all held-out sales, over all splits, inside their range
    coverage_min: float  # of one split
    coverage_max: float
    coverage_by_third: tuple[float, float, float]  # within thirds of each split by estimate
    mean_width: float  # dollars, over all held-out sales
    median_relative_width: float  # median over all held-out sales of (high − low) / sale price
    splits: int


def check_ranges(
    X: FloatArray,
    y: FloatArray,
    *,
    level: float = 0.90,
    splits: int = 100,
    test_fraction: float = 0.2,
    constant_width: bool = False,
) -> RangeCheck:
    """Fit and calibrate on a random 80 % split, measure the range on the other 20 %, repeat.

    Coverage is also counted within thirds of each split's held-out homes by estimated price:
    the bands a user sees (a starter home, a family home, a dear one). With `constant_width`,
    the same conformal method with the scale fixed at 1 and no bands: a range of the same
    dollar width for every house, the usual baseline.
    """
    coverages: list[float] = []
    inside_all: list[np.ndarray] = []
    thirds: list[np.ndarray] = []
    widths: list[FloatArray] = []
    relative: list[FloatArray] = []
    for seed in range(splits):
        order = np.random.default_rng(seed).permutation(len(y))
        cut = round(len(y) * test_fraction)
        test, train = order[:cut], order[cut:]
        calibration = calibrate(
            y[train], out_of_fold(X[train], y[train]), scaled=not constant_width
        )
        model = replace(fit(X[train], y[train]), calibration=calibration)
        estimate = model.predict(X[test])
        low, high = model.interval(estimate, level)
        inside = (y[test] >= low) & (y[test] <= high)
        coverages.append(float(inside.mean()))
        inside_all.append(inside)
        rank = np.argsort(np.argsort(estimate, kind="stable"), kind="stable")
        thirds.append(rank * 3 // len(estimate))
        widths.append(high - low)
        relative.append((high - low) / y[test])
    inside, third = np.concatenate(inside_all), np.concatenate(thirds)
    by_third = tuple(float(inside[third == k].mean()) for k in range(3))
    return RangeCheck(
        coverage=float(inside.mean()),
        coverage_min=float(np.min(coverages)),
        coverage_max=float(np.max(coverages)),
        coverage_by_third=(by_third[0], by_third[1], by_third[2]),
        mean_width=float(np.mean(np.concatenate(widths))),
        median_relative_width=float(np.median(np.concatenate(relative))),
        splits=splits,
    )


@dataclass(frozen=True)
class WidthSteps:
    """How a range's width moves between neighbouring homes along a sweep of sizes."""

    largest_over_median: float  # the largest step in width, as a multiple of the median step
    largest_unclamped_over_median: float  # the same, leaving out steps where a low end is $0
    narrowing: int  # steps where the width falls (beyond rounding) while the estimate rises
    steps: int


def width_steps(
    model: PriceModel,
    X: FloatArray,
    *,
    level: float = 0.90,
    sqft: FloatArray | None = None,
) -> WidthSteps:
    """Sweep the living area (500 to 5,000 sq ft in 10 sq ft steps unless `sqft` is given) for
    every pair of beds and baths in X, and measure the steps in the range's width."""
    sizes = np.arange(500.0, 5000.0 + 10.0, 10.0) if sqft is None else sqft
    steps: list[FloatArray] = []
    unclamped: list[FloatArray] = []
    narrowing = 0
    for beds, baths in sorted(set(map(tuple, X[:, :2].tolist()))):
        homes = np.column_stack([np.full_like(sizes, beds), np.full_like(sizes, baths), sizes])
        estimate = model.predict(homes)
        low, high = model.interval(estimate, level)
        width = high - low
        change = np.diff(width)
        rising = np.diff(estimate) > 0
        # A fall of a few units in the last place (rounding, where the width is flat) is none.
        narrowing += int(np.count_nonzero((change < -1e-9 * width[1:]) & rising))
        steps.append(np.abs(change))
        unclamped.append(np.abs(change)[(low[:-1] > 0) & (low[1:] > 0)])
    every, median = np.concatenate(steps), float(np.median(np.concatenate(steps)))
    return WidthSteps(
        float(every.max() / median),
        float(np.concatenate(unclamped).max() / median),
        narrowing,
        len(every),
    )
