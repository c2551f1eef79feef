"""Batch estimates and the fit command, each beside what it is measured against, in one run.

- JSON batch: one request of 100,000 rows, from sending the prepared body to the last byte of
  the answer, beside an app that skips all validation (bench/batch_reference.py: orjson and
  numpy only), both servers up and asked in turn; CSV batch: one request of 1,000,000 rows.
- fit: wall time and peak memory of `python -m app.train` on synthetic CSVs, beside pandas
  reading the same file as a command (in turn with the fit); then the fit's work in a warm
  process (the command's `main`, imports done) beside pandas reading the file in that process;
  medians of five or more runs.

Run: .venv/bin/python -m bench.batch_fit [--runs 3] [--fit-rows 1000000] [--skip-fit]
(also part of `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pandas as pd

from bench.harness import (
    UVICORN,
    Served,
    ServedAsgi,
    command_seconds,
    fitted_deployment,
    peak_memory_of,
    post_timed,
    synthetic_listings,
    write_csv,
)

Row = Callable[..., None]


def measure_batch(env: dict[str, str], runs: int, row: Row) -> None:
    rows_json = synthetic_listings(100_000)[["beds", "baths", "sqft"]]
    json_body = orjson.dumps({"listings": rows_json.to_dict("records")})
    csv_body = synthetic_listings(1_000_000)[["beds", "baths", "sqft"]].to_csv(index=False)
    # Both servers up at once and asked in turn: a slow moment of the machine falls on both,
    # not on one of them (the ratio is what holds on a shared machine).
    with (
        Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as s,
        ServedAsgi([*UVICORN, "bench.batch_reference:app"], env) as ref,
    ):
        post_timed(s.url, "/predict/batch", json_body, "application/json")
        post_timed(ref.url, "/", json_body, "application/json")
        ours, theirs = [], []
        for _ in range(max(runs, 5)):
            ours.append(post_timed(s.url, "/predict/batch", json_body, "application/json"))
            theirs.append(post_timed(ref.url, "/", json_body, "application/json"))
        t_json, t_ref = statistics.median(ours), statistics.median(theirs)
        t_csv = statistics.median(
            post_timed(s.url, "/predict/batch", csv_body.encode(), "text/csv") for _ in range(runs)
        )
    row(
        "batch JSON 100,000 rows",
        f"{100_000 / t_json:,.0f} rows/s",
        f"({t_json:.3f} s; {t_ref / t_json:.2f}x the reference)",
    )
    row("batch CSV 1,000,000 rows", f"{1_000_000 / t_csv:,.0f} rows/s", f"({t_csv:.3f} s)")
    row("reference JSON, no validation", f"{100_000 / t_ref:,.0f} rows/s", f"({t_ref:.3f} s)")


def measure_fit(
    full_env: dict[str, str], work: Path, sizes: list[int], row: Row, runs: int = 5
) -> None:
    """Each size: the fit and pandas' read as commands, in turn, `runs` times; then both in this
    process (imports done, a warm-up fit first), in turn; the medians."""
    for size in sizes:
        path = work / f"fit-{size}.csv"
        write_csv(path, size)
        walls, peaks, read_commands = [], [], []
        for run in range(runs):
            fit_env = {
                **full_env,
                "HOUSE_PRICE_MODEL_DIR": str(work / f"fit-models-{size}-{run}"),
                "HOUSE_PRICE_DATA_DIR": str(work / f"fit-data-{size}-{run}"),
            }
            command = [sys.executable, "-m", "app.train", "--data", str(path)]
            wall, peak = peak_memory_of(command, fit_env)
            walls.append(wall)
            peaks.append(peak)
            read_commands.append(
                command_seconds(
                    [sys.executable, "-c", f"import pandas; pandas.read_csv({str(path)!r})"]
                )
            )
        fits, reads = [], []
        for run in range(-1, runs):  # run -1 warms up
            fits.append(_fit_in_process(path, work / f"warm-{size}-{run}"))
            start = time.perf_counter()
            pd.read_csv(path)
            reads.append(time.perf_counter() - start)
        wall, read_command = statistics.median(walls), statistics.median(read_commands)
        warm, read = statistics.median(fits[1:]), statistics.median(reads[1:])
        row(
            f"fit {size:,} rows (python -m app.train)",
            f"{wall:.2f} s, peak {max(peaks):,.0f} MB",
            f"pandas read_csv as a command: {read_command:.2f} s ({wall / read_command:.2f}x); "
            f"medians of {runs}, in turn",
        )
        row(
            f"fit {size:,} rows in a warm process",
            f"{warm:.2f} s",
            f"(the command's work without its start) pandas read_csv in the same process: "
            f"{read:.2f} s ({warm / read:.2f}x); medians of {runs}, in turn",
        )
        path.unlink()


def _fit_in_process(path: Path, folder: Path) -> float:
    """Seconds of `python -m app.train --data PATH` run in this process, into fresh folders."""
    from app.cli.train import main as train

    argv = ["--data", str(path), "--model-dir", str(folder / "models")]
    argv += ["--data-dir", str(folder / "data")]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = train(argv)
    seconds = time.perf_counter() - start
    assert code == 0, code
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fit-rows", default="1000000")
    parser.add_argument("--skip-fit", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    table: list[tuple[str, str, str]] = []

    def row(name: str, figure: str, note: str = "") -> None:
        table.append((name, figure, note))

    with tempfile.TemporaryDirectory(prefix="house-price-bench-") as tmp:
        work = Path(tmp)
        env = fitted_deployment(work)
        full_env = {**os.environ, **env}
        if not args.skip_batch:
            measure_batch(env, args.runs, row)
        if not args.skip_fit:
            sizes = [int(n) for n in args.fit_rows.split(",")]
            measure_fit(full_env, work, sizes, row, max(args.runs, 5))
    width = max(len(r[0]) for r in table)
    for name, figure, note in table:
        print(f"{name:<{width}}  {figure}  {note}")


if __name__ == "__main__":
    main()
