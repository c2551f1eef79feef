"""Coverage and width of the 90 % price range on repeated random 80/20 splits of the bundled data.

Run: .venv/bin/python -m bench.intervals [--splits 200] [--level 0.9]
"""

from __future__ import annotations

import argparse

from app.evaluation import check_ranges
from app.listings import features, read_table, target
from bench.common import SACRAMENTO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--splits", type=int, default=200)
    parser.add_argument("--level", type=float, default=0.90)
    args = parser.parse_args()
    frame = read_table(SACRAMENTO)
    X, y = features(frame), target(frame)
    print(f"{args.splits} random 80/20 splits of {len(y)} sales, level {args.level:.0%}")
    print(f"{'range':<34}{'coverage':>10}{'min':>8}{'max':>8}{'median width / price':>24}")
    for name, constant in (("scaled with the price (served)", False), ("constant width", True)):
        r = check_ranges(X, y, level=args.level, splits=args.splits, constant_width=constant)
        print(
            f"{name:<34}{r.coverage:>10.3f}{r.coverage_min:>8.3f}{r.coverage_max:>8.3f}"
            f"{r.median_relative_width:>24.3f}"
        )


if __name__ == "__main__":
    main()
