"""Out-of-sample checks of the price range: coverage and width on repeated random splits."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .model import FloatArray, calibrate, fit, out_of_fold


@dataclass(frozen=True)
class RangeCheck:
    coverage: float  # mean over splits of the share of held-out sales inside their range
    coverage_min: float
    coverage_max: float
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

    With `constant_width`, the same conformal method with the scale fixed at 1: a range of the
    same dollar width for every house, the usual baseline.
    """
    coverages: list[float] = []
    widths: list[FloatArray] = []
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
        widths.append((high - low) / y[test])
    return RangeCheck(
        coverage=float(np.mean(coverages)),
        coverage_min=float(np.min(coverages)),
        coverage_max=float(np.max(coverages)),
        median_relative_width=float(np.median(np.concatenate(widths))),
        splits=splits,
    )
