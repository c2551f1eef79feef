"""Coverage and width of the price range on repeated random 80/20 splits, as a user meets them.

For the served range and a constant-width range: coverage overall and within each third of the
held-out homes by estimated price, mean width in dollars, and median width over the sale price;
on the bundled data and on synthetic sales whose noise is known (growing with the price,
relatively larger for cheap homes, and about half as large in the dear third as below it, where
the range's spreads must move to keep it from narrowing: there beside the former rule, which
raised the dearer band's spread alone). `--csv PATH` adds a file of sales (King County's, say).
Then how smoothly the width moves with the estimate: the
largest step between neighbouring homes of a size sweep, against the median step, for the served
range (quantiles interpolated between band centres) and for one step per band (format 4).

Run: .venv/bin/python -m bench.intervals [--splits 200] [--level 0.9] [--rows 1000] [--csv PATH]
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from app.domain.arrays import FloatArray
from app.domain.calibration import Calibration, calibrate
from app.domain.evaluation import RangeCheck, check_ranges, width_steps
from app.domain.least_squares import fit, out_of_fold
from app.domain.listings import features, read_table, target
from app.domain.rules import LIMITS, TARGET
from bench.harness import SACRAMENTO

Data = tuple[FloatArray, FloatArray]


def synthetic(rows: int, noise: Callable[[FloatArray], FloatArray], seed: int = 0) -> Data:
    """Homes like the bundled ones; price linear in the features plus noise of sd noise(price)."""
    rng = np.random.default_rng(seed)
    beds = rng.integers(1, 6, rows).astype(float)
    baths = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], rows)
    sqft = rng.uniform(600, 4500, rows)
    mean = 40_000 - 20_000 * beds + 8_000 * baths + 170 * sqft
    X = np.column_stack([beds, baths, sqft])
    return X, mean + rng.normal(0.0, 1.0, rows) * noise(mean)


def narrower_dear_third(mean: FloatArray) -> FloatArray:
    """Noise of sd 25 % of the price, 14 % in the dearest third: the dollar spread falls there."""
    return np.where(mean > np.quantile(mean, 2 / 3), 0.14, 0.25) * mean


NARROW_DEAR = "synthetic, noise sd 25 % of the price, 14 % in the dear third"


def data_sets(rows: int, csv: Path | None = None) -> dict[str, Data]:
    frame = read_table(SACRAMENTO)
    sets = {
        "bundled (sacramento.csv)": (features(frame), target(frame)),
        "synthetic, noise sd 25 % of the price": synthetic(rows, lambda m: 0.25 * m),
        "synthetic, noise sd $40k + 5 % of the price": synthetic(
            rows, lambda m: 40_000 + 0.05 * m, seed=1
        ),
        NARROW_DEAR: synthetic(3 * rows, narrower_dear_third, seed=6),
    }
    if csv is not None:
        # The rows the service accepts (a file of real sales has a few it refuses, such as a
        # home of 33 bedrooms), read as the service reads them.
        table = pd.read_csv(csv)
        within = np.ones(len(table), dtype=bool)
        for column, (lowest, highest) in LIMITS.items():
            within &= table[column].between(lowest, highest).to_numpy()
        table = table[within & (table[TARGET] > 0).to_numpy()]
        sets[csv.name] = (features(table), target(table))
    return sets


def _raised_alone(self: Calibration, half: FloatArray) -> FloatArray:
    """The former rule: each dearer band's spread raised to the least its lower neighbour allows."""
    raised = half.copy()
    for k in range(1, len(raised)):
        a, b = self.band_centres[k - 1], self.band_centres[k]
        least = raised[k - 1]
        linear = self.scale_slope > 0 and a >= self.price_floor
        if linear and self.scale_intercept + self.scale_slope * a >= self.scale_min:
            at_b = self.scale_one(b)
            least = least * at_b / (at_b + self.scale_slope * (b - a)) * (1 + 1e-9)
        raised[k] = max(raised[k], least)
    return raised


@contextlib.contextmanager
def former_rule() -> Iterator[None]:
    """Ranges calibrated, inside the block, by the former rule (for comparison only)."""
    served = Calibration._halves
    Calibration._halves = _raised_alone  # type: ignore[method-assign]
    try:
        yield
    finally:
        Calibration._halves = served  # type: ignore[method-assign]


def row(name: str, r: RangeCheck, baseline: RangeCheck | None) -> str:
    thirds = " ".join(f"{c:.3f}" for c in r.coverage_by_third)
    ratios = ""
    if baseline is not None:
        ratios = (
            f"{r.mean_width / baseline.mean_width:>7.2f}x"
            f"{r.median_relative_width / baseline.median_relative_width:>7.2f}x"
        )
    return (
        f"  {name:<16}{r.coverage:>9.3f}   {thirds:<22}{r.mean_width:>12,.0f}"
        f"{r.median_relative_width:>10.3f}{ratios}"
    )


def report(
    splits: int = 200, level: float = 0.90, rows: int = 1000, csv: Path | None = None
) -> str:
    """The benchmark's table, as printed (and as docs/model.md quotes it)."""
    lines = [
        f"{splits} random 80/20 splits, level {level:.0%}",
        f"  {'range':<16}{'coverage':>9}   {'by third (cheap→dear)':<22}{'mean width $':>12}"
        f"{'med w/p':>10}{'mean':>8}{'med':>7}  (ratios: served / constant)",
    ]
    for name, (X, y) in data_sets(rows, csv).items():
        lines.append(f"{name} ({len(y)} sales)")
        constant = check_ranges(X, y, level=level, splits=splits, constant_width=True)
        served = check_ranges(X, y, level=level, splits=splits)
        lines.append(row("served", served, constant))
        if name == NARROW_DEAR:
            with former_rule():
                former = check_ranges(X, y, level=level, splits=splits)
            lines.append(row("former rule", former, constant))
        lines.append(row("constant width", constant, None))
    lines += [
        "",
        f"width steps at level {level:.0%}: sizes 500 to 5,000 sq ft in 10 sq ft steps, every beds "
        "and baths pair seen, a fit on all sales",
        f"  {'range':<24}{'largest step / median':>22}{'(low end above $0)':>20}"
        f"{'narrowing steps':>18}",
    ]
    for name, (X, y) in data_sets(rows, csv).items():
        calibration = calibrate(y, out_of_fold(X, y))
        interpolated = replace(fit(X, y), calibration=calibration)
        banded = replace(interpolated, calibration=replace(calibration, band_centres=()))
        lines.append(f"{name}")
        for label, model in (("served (interpolated)", interpolated), ("a step per band", banded)):
            found = width_steps(model, X, level=level)
            lines.append(
                f"  {label:<24}{found.largest_over_median:>21.2f}x"
                f"{found.largest_unclamped_over_median:>19.2f}x"
                f"{found.narrowing:>11,} of {found.steps:,}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=200)
    parser.add_argument("--level", type=float, default=0.90)
    parser.add_argument("--rows", type=int, default=1000, help="rows of each synthetic set")
    parser.add_argument("--csv", type=Path, help="a CSV of sales to add (beds, baths, sqft, price)")
    args = parser.parse_args()
    print(report(args.splits, args.level, args.rows, args.csv))


if __name__ == "__main__":
    main()
