"""The benchmark suite behind `make bench`: one table, each figure the median of three runs.

    .venv/bin/python -m bench.run [--skip-mlflow] [--skip-fit] [--seconds 10] [--runs 3]

- /predict: requests/s and latency at 16 connections (wrk, one server worker pinned to core 0,
  wrk on core 1), beside a bare FastAPI app, two pure-ASGI references and MLflow's scoring
  server, all parsing the same body;
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
- the page at / in headless Chromium (bench/page.py): asset weight, time to the first estimate
  with an empty and a warm cache, and checking a list of 100,000 and 1,000,000 homes;
- the price range's coverage and width (bench/intervals.py), printed after the table.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd

from bench.common import ROOT, SACRAMENTO, free_port, synthetic_listings

BODY = b'{"beds": 3, "baths": 2, "sqft": 1500}'
MLFLOW_BODY = b'{"dataframe_split": {"columns": ["beds", "baths", "sqft"], "data": [[3, 2, 1500]]}}'
CORES = os.cpu_count() or 1
PIN = shutil.which("taskset") is not None and CORES >= 2


def pinned(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command] if PIN else command


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (Debian package)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0:
        apt = ["sudo", *apt]
    if subprocess.run(apt, env=env, capture_output=True).returncode != 0:
        subprocess.run([*apt[:-4], "update", "-q"], env=env, capture_output=True)
        subprocess.run(apt, env=env, check=True, capture_output=True)
    found = shutil.which("wrk")
    assert found, "wrk could not be installed"
    return found


class Served:
    """A server process started on a free port, pinned to core 0, stopped on exit."""

    def __init__(self, command: list[str], env: dict[str, str], ready_path: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = [c.replace("{port}", str(self.port)) for c in command]
        self.started = time.monotonic()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(
            pinned(0, full),
            cwd=ROOT,
            env={**os.environ, **env, "HOUSE_PRICE_PORT": str(self.port)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.ready_after = self._wait(ready_path)

    def _wait(self, path: str) -> float:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                output = self.log.read().decode(errors="replace")[-3000:]
                raise RuntimeError(f"server exited: {self.process.args!r}\n{output}")
            try:
                if httpx.get(self.url + path, timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.01)
        raise TimeoutError(self.process.args)

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def wrk_run(wrk: str, url: str, body: bytes, seconds: float, lua_dir: Path) -> dict[str, float]:
    script = lua_dir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = [==[{body.decode()}]==]\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    command = pinned(
        1, [wrk, "-t1", "-c16", f"-d{int(seconds)}s", "--latency", "-s", str(script), url]
    )
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert errors is None, f"wrk saw errors from {url}: {out}"

    def latency(label: str) -> float:
        value, unit = re.search(rf"\s{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return {"rps": rps, "p50": latency("50%"), "p99": latency("99%")}


def measure_wrk(
    wrk: str, url: str, body: bytes, args: argparse.Namespace, work: Path
) -> dict[str, float]:
    """A 2-second warm-up, then the median of `args.runs` runs of `args.seconds` each."""
    wrk_run(wrk, url, body, 2, work)
    results = [wrk_run(wrk, url, body, args.seconds, work) for _ in range(args.runs)]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def post_timed(url: str, path: str, body: bytes, content_type: str) -> float:
    """Seconds from sending a prepared body to having read the whole answer."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    connection.connect()
    start = time.perf_counter()
    connection.request("POST", path, body=body, headers={"Content-Type": content_type})
    response = connection.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    assert response.status == 200, response.status
    return elapsed


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


_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_memory_of(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of a command.

    Measured by a fresh intermediate process whose only child is the command, so the peak is
    that command's alone (a process's RUSAGE_CHILDREN is the largest child it ever waited for).
    """
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]) / 1024


def command_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def write_csv(path: Path, rows: int) -> None:
    chunk = 1_000_000
    with open(path, "w") as handle:
        for i, start in enumerate(range(0, rows, chunk)):
            part = synthetic_listings(min(chunk, rows - start), seed=i)
            part.to_csv(handle, index=False, header=i == 0)


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
        env = {
            "HOUSE_PRICE_MODEL_DIR": str(work / "models"),
            "HOUSE_PRICE_DATA_DIR": str(work / "data"),
            "HOUSE_PRICE_API_KEY": "bench-key",
            "HOUSE_PRICE_WORKERS": "1",
            "HOUSE_PRICE_ACCESS_LOG": "false",
            "HOUSE_PRICE_LOG_LEVEL": "warning",
        }
        full_env = {**os.environ, **env}
        subprocess.run(
            [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO)],
            cwd=ROOT,
            env=full_env,
            check=True,
            capture_output=True,
        )
        uvicorn = [sys.executable, "-m", "uvicorn", "--port", "{port}", "--no-access-log"]
        uvicorn += ["--log-level", "warning"]
        servers: dict[str, Callable[[], Served]] = {
            "house-price /predict": lambda: Served(
                [sys.executable, "-m", "app.serve"], env, "/health/ready"
            ),
            "bare FastAPI (pydantic body, constant answer)": lambda: Served(
                [*uvicorn, "bench.bare_app:fastapi_app"], env, "/docs"
            ),
            "pure ASGI + model_validate_json + orjson": lambda: _asgi(
                [*uvicorn, "bench.bare_app:asgi_validated"], env
            ),
            "pure ASGI, no validation": lambda: _asgi([*uvicorn, "bench.bare_app:asgi_raw"], env),
        }
        print("/predict at 16 connections", flush=True)
        single: dict[str, dict[str, float]] = {}
        ready_times: list[float] = []
        for name, launch in servers.items():
            with launch() as s:
                if name.startswith("house-price"):
                    ready_times.append(s.ready_after)
                single[name] = measure_wrk(wrk, s.url + "/predict", BODY, args, work)
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
        floor = single["bare FastAPI (pydantic body, constant answer)"]
        ours = single["house-price /predict"]
        for name, r in single.items():
            note = f"{r['rps'] / floor['rps']:.2f}x FastAPI floor"
            row(name, f"{r['rps']:,.0f} req/s, p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms", note)
        if "MLflow scoring server" in single:
            ratio = ours["rps"] / single["MLflow scoring server"]["rps"]
            row("house-price vs MLflow", f"{ratio:.1f}x requests/s")

        print("batch", flush=True)
        rows_json = synthetic_listings(100_000)[["beds", "baths", "sqft"]]
        json_body = orjson.dumps({"listings": rows_json.to_dict("records")})
        csv_body = synthetic_listings(1_000_000)[["beds", "baths", "sqft"]].to_csv(index=False)
        with Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as s:
            post_timed(s.url, "/predict/batch", json_body, "application/json")
            t_json = statistics.median(
                post_timed(s.url, "/predict/batch", json_body, "application/json")
                for _ in range(args.runs)
            )
            t_csv = statistics.median(
                post_timed(s.url, "/predict/batch", csv_body.encode(), "text/csv")
                for _ in range(args.runs)
            )
        with _asgi([*uvicorn, "bench.batch_reference:app"], env) as s:
            t_ref = statistics.median(
                post_timed(s.url, "/", json_body, "application/json") for _ in range(args.runs)
            )
        row("batch JSON 100,000 rows", f"{100_000 / t_json:,.0f} rows/s", f"({t_json:.3f} s)")
        row("batch CSV 1,000,000 rows", f"{1_000_000 / t_csv:,.0f} rows/s", f"({t_csv:.3f} s)")
        row("reference JSON, no validation", f"{100_000 / t_ref:,.0f} rows/s", f"({t_ref:.3f} s)")

        print("ready", flush=True)
        for _ in range(args.runs - 1):
            with Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as s:
                ready_times.append(s.ready_after)
        row("process start to /health/ready 200", f"{statistics.median(ready_times):.2f} s")

        if not args.skip_fit:
            print("fit", flush=True)
            for size in (int(n) for n in args.fit_rows.split(",")):
                path = work / f"fit-{size}.csv"
                write_csv(path, size)
                start = time.perf_counter()
                pd.read_csv(path)
                read = time.perf_counter() - start
                read_command = command_seconds(
                    [sys.executable, "-c", f"import pandas; pandas.read_csv({str(path)!r})"]
                )
                fit_env = {
                    **full_env,
                    "HOUSE_PRICE_MODEL_DIR": str(work / f"fit-models-{size}"),
                    "HOUSE_PRICE_DATA_DIR": str(work / f"fit-data-{size}"),
                }
                command = [sys.executable, "-m", "app.train", "--data", str(path)]
                wall, peak = peak_memory_of(command, fit_env)
                row(
                    f"fit {size:,} rows (python -m app.train)",
                    f"{wall:.2f} s, peak {peak:,.0f} MB",
                    f"pandas read_csv: {read_command:.2f} s as a command "
                    f"({wall / read_command:.2f}x), {read:.2f} s in a warm process "
                    f"({wall / read:.1f}x)",
                )
                path.unlink()

        print("predict latency during a 1,000,000-row retrain", flush=True)
        from bench.retrain_latency import measure

        idle, upload, fit = measure(env, rows=1_000_000, seconds=args.seconds)
        for name, values in (("no retrain", idle), ("upload", upload), ("fit", fit)):
            row(
                f"/predict during retrain: {name}",
                f"p50 {np.percentile(values, 50):.2f} ms, p99 {np.percentile(values, 99):.2f} ms",
                f"({len(values):,} requests, one connection)",
            )

        if not args.skip_storage:
            print("storage: files and PostgreSQL", flush=True)
            from bench.storage import measure as measure_storage

            storage_args = argparse.Namespace(
                upload_rows=1_000_000,
                fit_rows=args.storage_fit_rows,
                seconds=args.seconds,
                runs=args.runs,
            )
            measure_storage(storage_args, row, wrk, work)
            print("GET /models with 10,000 versions", flush=True)
            from bench.models_page import measure as measure_models

            measure_models(10_000, row, work)
            print("convergence of six workers", flush=True)
            from bench.convergence import measure as measure_convergence

            measure_convergence(20, row, work)
            print("sale-date range of a training set", flush=True)
            from bench.sale_dates import measure as measure_dates

            dates_work = work / "dates"
            dates_work.mkdir()
            measure_dates(row, dates_work)

        if not args.skip_page:
            print("the page at / in headless Chromium", flush=True)
            from bench.page import measure as measure_page

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
        from bench.intervals import report

        print("\nprice ranges (bench/intervals.py)")
        print(report())


class _asgi(Served):
    """A reference app that has no health route: ready when its port accepts a POST."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command = command
        super().__init__(command, env, "/")

    def _wait(self, path: str) -> float:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url + path, content=BODY, timeout=1)
                return time.monotonic() - self.started
            except httpx.TransportError:
                time.sleep(0.02)
        raise TimeoutError(self.command)


if __name__ == "__main__":
    main()
