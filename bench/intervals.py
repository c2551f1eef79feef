"""Coverage and width of the price range on repeated random 80/20 splits, as a user meets them.

For the served range and a constant-width range: coverage overall and within each third of the
held-out homes by estimated price, mean width in dollars, and median width over the sale price;
on the bundled data and on synthetic sales whose noise is known (growing with the price, and
relatively larger for cheap homes). Then how smoothly the width moves with the estimate: the
largest step between neighbouring homes of a size sweep, against the median step, for the served
range (quantiles interpolated between band centres) and for one step per band (format 4).

Run: .venv/bin/python -m bench.intervals [--splits 200] [--level 0.9] [--rows 1000]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from app.domain.arrays import FloatArray
from app.domain.calibration import calibrate
from app.domain.evaluation import RangeCheck, check_ranges, width_steps
from app.domain.least_squares import fit, out_of_fold
from app.domain.listings import features, read_table, target
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


def data_sets(rows: int) -> dict[str, Data]:
    frame = read_table(SACRAMENTO)
    return {
        "bundled (sacramento.csv)": (features(frame), target(frame)),
        "synthetic, noise sd 25 % of the price": synthetic(rows, lambda m: 0.25 * m),
        "synthetic, noise sd $40k + 5 % of the price": synthetic(
            rows, lambda m: 40_000 + 0.05 * m, seed=1
        ),
    }


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


def report(splits: int = 200, level: float = 0.90, rows: int = 1000) -> str:
    """The benchmark's table, as printed (and as the README quotes it)."""
    lines = [
        f"{splits} random 80/20 splits, level {level:.0%}",
        f"  {'range':<16}{'coverage':>9}   {'by third (cheap→dear)':<22}{'mean width $':>12}"
        f"{'med w/p':>10}{'mean':>8}{'med':>7}  (ratios: served / constant)",
    ]
    for name, (X, y) in data_sets(rows).items():
        lines.append(f"{name} ({len(y)} sales)")
        constant = check_ranges(X, y, level=level, splits=splits, constant_width=True)
        served = check_ranges(X, y, level=level, splits=splits)
        lines.append(row("served", served, constant))
        lines.append(row("constant width", constant, None))
    lines += [
        "",
        f"width steps at level {level:.0%}: sizes 500 to 5,000 sq ft in 10 sq ft steps, every beds "
        "and baths pair seen, a fit on all sales",
        f"  {'range':<24}{'largest step / median':>22}{'(low end above $0)':>20}"
        f"{'narrowing steps':>18}",
    ]
    for name, (X, y) in data_sets(rows).items():
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
    args = parser.parse_args()
    print(report(args.splits, args.level, args.rows))


if __name__ == "__main__":
    main()
