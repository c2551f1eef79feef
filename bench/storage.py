"""Files and PostgreSQL side by side: acknowledging a large upload, a large fit, /predict.

For each engine, in one run:
- a 1,000,000-row CSV sent to `POST /retrain` until its `202` (the rows durable: fsync'd, or
  committed), the median of three different uploads;
- a retrain job over 10,000,000 stored rows (`python -m app.jobs`, as `/retrain` runs it: the
  rows read back from storage, the gate, the fit), its wall time and peak memory;
- `/predict` throughput at 16 connections with wrk (the model is in memory either way).

Run: .venv/bin/python -m bench.storage [--upload-rows 1000000] [--fit-rows 10000000]
(also part of `make bench`). PostgreSQL is HOUSE_PRICE_BENCH_DATABASE_URL, by default the
server the tests use; each run works in a schema of its own and drops it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.harness import (
    BODY,
    ROOT,
    Row,
    Served,
    ensure_wrk,
    measure_wrk,
    peak_memory_of,
    print_table,
    synthetic_listings,
    write_csv,
)

DATABASE = os.environ.get(
    "HOUSE_PRICE_BENCH_DATABASE_URL",
    os.environ.get(
        "HOUSE_PRICE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    ),
)
KEY = "bench-key-5e0c1d7a"


@contextmanager
def engine_env(engine: str, work: Path) -> Iterator[dict[str, str]]:
    """Settings for one engine: fresh folders, or a fresh schema."""
    base = {
        "HOUSE_PRICE_API_KEY": KEY,
        "HOUSE_PRICE_ACCESS_LOG": "false",
        "HOUSE_PRICE_LOG_LEVEL": "warning",
        "HOUSE_PRICE_WORKERS": "1",
        "HOUSE_PRICE_MAX_BODY_BYTES": str(256 * 1024 * 1024),
    }
    tag = uuid.uuid4().hex[:8]
    if engine == "files":
        yield {
            **base,
            "HOUSE_PRICE_MODEL_DIR": str(work / f"models-{tag}"),
            "HOUSE_PRICE_DATA_DIR": str(work / f"data-{tag}"),
        }
        return
    schema = f"hp_bench_{tag}"
    with psycopg.connect(DATABASE, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield {
            **base,
            "HOUSE_PRICE_DATABASE_URL": make_conninfo(DATABASE, options=f"-csearch_path={schema}"),
            "HOUSE_PRICE_MODEL_DIR": "/nonexistent/models",
            "HOUSE_PRICE_DATA_DIR": "/nonexistent/data",
        }
    finally:
        with psycopg.connect(DATABASE, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def csv_body(rows: int, seed: int) -> bytes:
    return synthetic_listings(rows, seed=seed).to_csv(index=False).encode()


def wait_for_jobs(url: str) -> None:
    """Until the server has no queued or running job: each upload is timed on a quiet server."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        jobs = [httpx.get(f"{url}/jobs/{j}").json()["status"] for j in JOBS]
        if all(s in ("succeeded", "failed") for s in jobs):
            return
        time.sleep(0.1)
    raise TimeoutError("jobs did not finish")


JOBS: list[str] = []


def upload_seconds(url: str, body: bytes) -> float:
    wait_for_jobs(url)
    start = time.perf_counter()
    response = httpx.post(
        f"{url}/retrain",
        content=body,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/csv"},
        timeout=600,
    )
    elapsed = time.perf_counter() - start
    assert response.status_code == 202, response.text[:500]
    JOBS.append(response.json()["job_id"])
    return elapsed


def fit_job(env: dict[str, str], path: Path, rows: int) -> tuple[float, float]:
    """Store `path` as the training set, queue a job, and time `python -m app.jobs` running it."""
    full = {**os.environ, **env}
    setup = (
        "import sys\nfrom pathlib import Path\nfrom app.config import Settings\n"
        "from app.storage import open_storage\n"
        "s = open_storage(Settings()); s.ensure()\n"
        f"s.store.add_file(Path({str(path)!r}), {rows}, 'replace')\n"
        "s.jobs.create(mode='replace', force=False); s.close()\n"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", setup], cwd=ROOT, env=full, check=True)
    return peak_memory_of([sys.executable, "-m", "app.service.jobs"], full)


def measure(args: argparse.Namespace, row: Row, wrk: str | None, work: Path) -> None:
    bodies = [csv_body(args.upload_rows, seed=100 + i) for i in range(3)]
    big = work / "storage-fit.csv"
    if args.fit_rows:
        write_csv(big, args.fit_rows)
    fits: dict[str, float] = {}
    for engine in ("files", "postgres"):
        with engine_env(engine, work) as env:
            train = [
                sys.executable,
                "-m",
                "app.train",
                "--data",
                str(ROOT / "data/sacramento.csv"),
                "--plain",
            ]
            import subprocess

            subprocess.run(
                train, cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True
            )
            with Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as server:
                JOBS.clear()
                seconds = [upload_seconds(server.url, body) for body in bodies]
                row(
                    f"{engine}: {args.upload_rows:,}-row CSV upload acknowledged",
                    f"{statistics.median(seconds):.2f} s",
                    f"(median of 3; {min(seconds):.2f} to {max(seconds):.2f} s)",
                )
                if wrk is not None:
                    wait_for_jobs(server.url)  # /predict alone is measured
                    result = measure_wrk(wrk, server.url + "/predict", BODY, args, work)
                    row(
                        f"{engine}: /predict",
                        f"{result['rps']:,.0f} req/s, p50 {result['p50']:.2f} ms, "
                        f"p99 {result['p99']:.2f} ms",
                        "",
                    )
        if args.fit_rows:
            with engine_env(engine, work) as env:
                wall, peak = fit_job(env, big, args.fit_rows)
                fits[engine] = wall
                ratio = f"({wall / fits['files']:.2f}x files)" if engine != "files" else ""
                row(
                    f"{engine}: retrain job over {args.fit_rows:,} stored rows",
                    f"{wall:.2f} s, peak {peak:,.0f} MB",
                    ratio,
                )
    big.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upload-rows", type=int, default=1_000_000)
    parser.add_argument("--fit-rows", type=int, default=10_000_000, help="0 leaves the fit out")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="wrk runs per figure (median)")
    parser.add_argument("--skip-wrk", action="store_true", help="leave out /predict")
    args = parser.parse_args()
    wrk = None if args.skip_wrk else ensure_wrk()
    print_table(lambda row, work: measure(args, row, wrk, work), "house-price-bench-")


if __name__ == "__main__":
    main()
