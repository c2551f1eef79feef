"""The benchmark suite behind `make bench`: one table, each figure the median of three runs.

    .venv/bin/python -m bench.run [--skip-mlflow] [--skip-fit] [--seconds 10] [--runs 3]

- /predict (bench/fast_path.py): requests/s and latency at 16 connections (wrk, one server
  worker pinned to core 0, wrk on core 1), in turn with a bare FastAPI app and two pure-ASGI
  references, all parsing the same body: the default market, one market of `--markets`, the
  JSON access line on, and each `--predict-before` release; then MLflow's scoring server;
- batch: rows/s of one JSON request of 100,000 rows and one CSV request of 1,000,000 rows, from
  sending the prepared body to having received the whole answer, beside a reference route that
  skips all validation;
- fit: wall time and peak memory of `python -m app.train` on synthetic CSVs, beside the time
  pandas alone takes to read the same file;
- ready: from process start to /health/ready = 200;
- /predict p99 with and without a concurrent 1,000,000-row /retrain;
- storage (bench/storage.py): files and PostgreSQL side by side, a 1,000,000-row upload
  acknowledged, a retrain job over 10,000,000 stored rows, /predict; and `GET /models?limit=100`
  with 10,000 stored versions (bench/models_page.py); convergence of six workers after an
  activation, polling files against LISTEN/NOTIFY (bench/convergence.py); reading 2,000,000
  stored sales with and without sale dates (bench/sale_dates.py);
- many markets (bench/markets.py): /predict naming one market of 10,000 beside one market,
  the worker's memory and time to ready, a CSV batch over 100 markets, 1,000 markets retrained
  at once, on files and on PostgreSQL; loading every market's version at start, plain and
  signed (bench/loading.py);
- located markets beside plain ones (bench/located.py): /predict of a located home, a CSV batch
  of 100,000 located homes, a fit of 1,000,000 located sales, 10,000 located markets at start
  (`--before DIR`: the plain figures of the release checked out in DIR too, in turn);
- the page at / in headless Chromium (bench/page.py): asset weight, time to the first estimate
  with an empty and a warm cache, and checking a list of 100,000 and 1,000,000 homes;
- the price range's coverage and width (bench/intervals.py), printed after the table;
- accuracy out of time on King County's sales beside LightGBM's (bench/accuracy.py), when
  ../shared/data/king_county.csv is there.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.accuracy import KING_COUNTY
from bench.accuracy import report as accuracy_report
from bench.batch_fit import measure_batch, measure_fit
from bench.convergence import measure as measure_convergence
from bench.fast_path import DEFAULT, FLOOR
from bench.fast_path import measure as measure_fast_path
from bench.harness import (
    CORES,
    PIN,
    SACRAMENTO,
    Served,
    ensure_wrk,
    fitted_deployment,
    measure_wrk,
)
from bench.intervals import report
from bench.loading import measure as measure_loading
from bench.located import measure_all as measure_located
from bench.markets import measure as measure_markets
from bench.models_page import measure as measure_models
from bench.page import measure as measure_page
from bench.retrain_latency import measure
from bench.sale_dates import measure as measure_dates
from bench.storage import measure as measure_storage

MLFLOW_BODY = b'{"dataframe_split": {"columns": ["beds", "baths", "sqft"], "data": [[3, 2, 1500]]}}'


def mlflow_server(work: Path, venv: Path | None) -> tuple[list[str], dict[str, str]] | None:
    """The command that serves the model with MLflow, from a throw-away venv (None if it fails).

    `venv` reuses a virtual environment that already has mlflow; by default one is made.
    """
    venv = venv or work / "mlflow-venv"
    python = venv / "bin" / "python"
    if (venv / "bin" / "mlflow").exists():
        print(f"MLflow from {venv}", flush=True)
    else:
        print("installing MLflow into a throw-away venv (a few minutes)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "mlflow", "scikit-learn", "pandas"]
        if not (venv / "bin" / "mlflow").exists()
        else ["true"],
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        print(f"MLflow could not be installed: {install.stderr[-500:]}")
        return None
    saved = work / "mlflow-model"
    # The same estimator on the same rows: LinearRegression of price on beds, baths, sqft.
    script = (
        "import sys, pandas, mlflow.sklearn; "
        "from sklearn.linear_model import LinearRegression; "
        "d = pandas.read_csv(sys.argv[1]); "
        "m = LinearRegression().fit(d[['beds', 'baths', 'sqft']], d['price']); "
        "mlflow.sklearn.save_model(m, sys.argv[2])"
    )
    subprocess.run([str(python), "-c", script, str(SACRAMENTO), str(saved)], check=True)
    # `mlflow models serve` starts `uvicorn` by name: the venv's bin must come first on PATH.
    path = {"PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}"}
    return [
        str(venv / "bin" / "mlflow"),
        "models",
        "serve",
        "-m",
        str(saved),
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        "{port}",
        "-w",
        "1",
    ], path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median taken)")
    parser.add_argument("--skip-mlflow", action="store_true", help="leave out MLflow's server")
    parser.add_argument(
        "--mlflow-venv", type=Path, help="a venv with mlflow installed, instead of a fresh one"
    )
    parser.add_argument("--skip-fit", action="store_true", help="leave out the fitting figures")
    parser.add_argument(
        "--skip-intervals", action="store_true", help="leave out the price-range table"
    )
    parser.add_argument("--skip-storage", action="store_true", help="leave out files vs PostgreSQL")
    parser.add_argument("--skip-page", action="store_true", help="leave out the page's figures")
    parser.add_argument(
        "--skip-accuracy", action="store_true", help="leave out King County's out-of-time table"
    )
    parser.add_argument(
        "--skip-markets", action="store_true", help="leave out the many-markets figures"
    )
    parser.add_argument(
        "--skip-located", action="store_true", help="leave out located against plain markets"
    )
    parser.add_argument(
        "--before", type=Path, help="a checkout of the release before, for bench/located.py"
    )
    parser.add_argument(
        "--predict-before",
        type=Path,
        action="append",
        help="a checkout of a release whose /predict is measured in turn (bench/fast_path.py)",
    )
    parser.add_argument(
        "--markets", type=int, default=10_000, help="markets of the many-markets figures"
    )
    parser.add_argument(
        "--storage-fit-rows", type=int, default=10_000_000, help="rows of the storage fit"
    )
    parser.add_argument(
        "--fit-rows", default="1000000,10000000", help="comma-separated sizes of the fit CSVs"
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    table: list[tuple[str, str, str]] = []

    def row(name: str, figure: str, note: str = "") -> None:
        table.append((name, figure, note))
        print(f"  {name}: {figure} {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix="house-price-bench-") as tmp:
        work = Path(tmp)
        env = fitted_deployment(work)
        full_env = {**os.environ, **env}
        print("/predict at 16 connections, in turn with the floor (bench/fast_path.py)", flush=True)
        fast_work = work / "fast-path"
        fast_work.mkdir()
        fast_args = argparse.Namespace(
            before=args.predict_before, markets=args.markets, seconds=args.seconds, runs=args.runs
        )
        single = measure_fast_path(row, fast_work, fast_args)
        with Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as s:
            ready_times = [s.ready_after]
        if not args.skip_mlflow:
            mlflow = mlflow_server(work, args.mlflow_venv)
            if mlflow is not None:
                try:
                    with Served(mlflow[0], mlflow[1], "/ping") as s:
                        single["MLflow scoring server"] = measure_wrk(
                            wrk, s.url + "/invocations", MLFLOW_BODY, args, work
                        )
                except (RuntimeError, TimeoutError, AssertionError) as exc:
                    print(f"MLflow's scoring server could not be measured: {exc}", flush=True)
        if "MLflow scoring server" in single:
            mlflow_rps = single["MLflow scoring server"]
            row(
                "MLflow scoring server",
                f"{mlflow_rps['rps']:,.0f} req/s, p50 {mlflow_rps['p50']:.2f} ms, "
                f"p99 {mlflow_rps['p99']:.2f} ms",
                f"{mlflow_rps['rps'] / single[FLOOR]['rps']:.2f}x the floor's req/s "
                "(measured after it, not in turn)",
            )
            ratio = single[DEFAULT]["rps"] / mlflow_rps["rps"]
            row("house-price vs MLflow", f"{ratio:.1f}x requests/s")

        print("batch", flush=True)
        measure_batch(env, args.runs, row)

        print("ready", flush=True)
        for _ in range(args.runs - 1):
            with Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as s:
                ready_times.append(s.ready_after)
        row("process start to /health/ready 200", f"{statistics.median(ready_times):.2f} s")

        if not args.skip_fit:
            print("fit", flush=True)
            sizes = [int(n) for n in args.fit_rows.split(",")]
            measure_fit(full_env, work, sizes, row, max(args.runs, 5))

        print("predict latency during a 1,000,000-row retrain", flush=True)
        idle, upload, fit = measure(env, rows=1_000_000, seconds=args.seconds)
        for name, values in (("no retrain", idle), ("upload", upload), ("fit", fit)):
            row(
                f"/predict during retrain: {name}",
                f"p50 {np.percentile(values, 50):.2f} ms, p99 {np.percentile(values, 99):.2f} ms",
                f"({len(values):,} requests, one connection)",
            )

        if not args.skip_storage:
            print("storage: files and PostgreSQL", flush=True)
            storage_args = argparse.Namespace(
                upload_rows=1_000_000,
                fit_rows=args.storage_fit_rows,
                seconds=args.seconds,
                runs=args.runs,
            )
            measure_storage(storage_args, row, wrk, work)
            print("GET /models with 10,000 versions", flush=True)
            measure_models(10_000, row, work)
            print("convergence of six workers", flush=True)
            measure_convergence(20, row, work)
            print("sale-date range of a training set", flush=True)
            dates_work = work / "dates"
            dates_work.mkdir()
            measure_dates(row, dates_work)

        if not args.skip_markets:
            print("many markets in one service, files and PostgreSQL", flush=True)
            markets_work = work / "markets"
            markets_work.mkdir()
            markets_args = argparse.Namespace(
                engines="files,postgres",
                markets=args.markets,
                csv_rows=1_000_000,
                burst=1000,
                seconds=args.seconds,
                runs=1,
            )
            measure_markets(row, markets_work, markets_args)
            print("loading every market's version, plain and signed", flush=True)
            loading_work = work / "loading"
            loading_work.mkdir()
            loading_args = argparse.Namespace(
                engines="files,postgres", markets=args.markets, runs=3, against=None
            )
            for engine in loading_args.engines.split(","):
                measure_loading(row, loading_work, engine, loading_args)

        if not args.skip_located:
            print("located markets beside plain ones (bench/located.py)", flush=True)
            located_work = work / "located"
            located_work.mkdir()
            located_args = argparse.Namespace(
                before=args.before,
                seconds=args.seconds,
                runs=1,
                markets=args.markets,
                engines="files,postgres",
            )
            measure_located(row, located_work, located_args)

        if not args.skip_page:
            print("the page at / in headless Chromium", flush=True)
            page_work = work / "page"
            page_work.mkdir()
            measure_page(row, page_work)

    width = max(len(r[0]) for r in table)
    print("\n" + "=" * 100)
    print(f"house-price benchmark: {CORES} cores, server pinned: {PIN}, median of {args.runs}")
    print("=" * 100)
    for name, figure, note in table:
        print(f"{name:<{width}}  {figure}  {note}")
    if not args.skip_intervals:
        print("\nprice ranges (bench/intervals.py)")
        print(report())
    if not args.skip_accuracy and KING_COUNTY.exists():
        print("\naccuracy out of time, as assessors judge it (bench/accuracy.py)")
        print(accuracy_report(KING_COUNTY))


if __name__ == "__main__":
    main()
