"""What gathering the sale-date range of a training set costs when the stored sales are read.

Each engine stores 2,000,000 sales twice, once without and once with a `sold_at` column, and
reads them back as a retrain job does (`store.chunks` with a `SaleDates`); the figure is the
fastest of three reads.

Run: .venv/bin/python -m bench.sale_dates [--rows 2000000]  (also part of `make bench`)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from app.config import Settings
from app.domain.sale_dates import SaleDates
from app.storage import open_storage
from bench.harness import Row, print_table, synthetic_listings
from bench.storage import engine_env


def write(work: Path, rows: int) -> dict[str, Path]:
    table = synthetic_listings(rows)
    undated = work / "undated.csv"
    table.to_csv(undated, index=False)
    days = np.random.default_rng(1).integers(0, 700, rows)
    table["sold_at"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime(
        "%Y-%m-%d"
    )
    dated = work / "dated.csv"
    table.to_csv(dated, index=False)
    return {"without sold_at": undated, "with sold_at": dated}


def measure(row: Row, work: Path, rows: int = 2_000_000) -> None:
    files = write(work, rows)
    for engine in ("files", "postgres"):
        with engine_env(engine, work) as env:
            saved = dict(os.environ)
            os.environ.update(env)
            try:
                storage = open_storage(Settings(_env_file=None))
            finally:
                os.environ.clear()
                os.environ.update(saved)
            storage.ensure()
            try:
                for label, path in files.items():
                    storage.store.add_file(path, rows, "replace")
                    snapshot = storage.store.snapshot()
                    assert snapshot is not None
                    times = []
                    for _ in range(3):
                        dates = SaleDates()
                        start = time.perf_counter()
                        read = sum(len(c) for c in storage.store.chunks(snapshot, dates=dates))
                        times.append(time.perf_counter() - start)
                    assert read == rows
                    row(
                        f"{engine}: read {rows:,} stored sales {label}",
                        f"{min(times):.2f} s",
                        f"(range {dates.first} to {dates.last})" if dates.rows else "",
                    )
            finally:
                storage.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    print_table(lambda row, work: measure(row, work, args.rows), "house-price-dates-")
