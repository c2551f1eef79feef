"""Out-of-sample checks of the price range: coverage and width on repeated random splits."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.domain.arrays import FloatArray
from app.domain.calibration import calibrate
from app.domain.least_squares import fit, out_of_fold


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
