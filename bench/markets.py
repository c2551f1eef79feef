"""Many markets in one service, on files and on PostgreSQL (part of `make bench`).

    .venv/bin/python -m bench.markets [--engines files,postgres] [--parts many,csv,burst]
                                      [--markets 10000] [--seconds 10] [--runs 1]

- /predict at 16 connections (wrk) naming one market of 10,000 beside a one-market deployment,
  the worker's resident memory in each, and the time from start to ready;
- one CSV batch of 1,000,000 rows spread over 100 markets beside the same rows in one market;
- 1,000 markets of 1,000 sales each sent to /retrain at once (one replica, two workers): the time
  until every job has finished, and /predict p99 in the default market meanwhile beside idle.

The markets are stored through the storage interface (what a fit stores), from 50 distinct fits
of synthetic sales; each market has its own version, loaded and checked like any other.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from bench.harness import (
    SACRAMENTO,
    Row,
    Served,
    add_markets,
    ensure_wrk,
    measure_wrk,
    post_timed,
    print_table,
    synthetic_listings,
    wrk_run,
)

DATABASE = os.environ.get(
    "HOUSE_PRICE_BENCH_DATABASE_URL", "host=127.0.0.1 user=postgres dbname=test"
)
KEY = "bench-key-5e0c1d7a"


def deployment(work: Path, engine: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **(extra or {}),
        "HOUSE_PRICE_MODEL_DIR": str(work / "models"),
        "HOUSE_PRICE_COMPS_DIR": str(work / "comps"),
        "HOUSE_PRICE_DATA_DIR": str(work / "data"),
        "HOUSE_PRICE_API_KEY": KEY,
        "HOUSE_PRICE_ACCESS_LOG": "false",
        "HOUSE_PRICE_LOG_LEVEL": "warning",
        "HOUSE_PRICE_WORKERS": "1",
    }
    if engine == "postgres":
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(DATABASE, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        env["HOUSE_PRICE_DATABASE_URL"] = f"{DATABASE} options=-csearch_path={schema}"
    subprocess.run(
        [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), "--plain"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env


def worker_rss_mb(served: Served) -> float:
    """Resident memory of the serving process (one worker: uvicorn serves in-process)."""
    for line in Path(f"/proc/{served.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def serve(env: dict[str, str], workers: int = 1) -> Served:
    return Served(
        [sys.executable, "-m", "app.serve"],
        {**env, "HOUSE_PRICE_WORKERS": str(workers)},
        "/health/ready",
    )


def body(market: str) -> bytes:
    return b'{"beds": 3, "baths": 2, "sqft": 1500, "market": "%s"}' % market.encode()


def measure_many(row: Row, work: Path, engine: str, args: argparse.Namespace) -> None:
    wrk = ensure_wrk()
    one = deployment(work / f"{engine}-one", engine)
    many = deployment(work / f"{engine}-many", engine)
    seconds = add_markets(many, args.markets)
    row(f"{engine}: {args.markets:,} markets stored", f"{seconds:.0f} s", "(set-up)")
    results = {}
    middle = f"m{args.markets // 2:05d}"
    for name, env, market in (("1 market", one, "default"), ("many", many, middle)):
        with serve(env) as served:
            ready = served.ready_after
            figures = measure_wrk(wrk, served.url + "/predict", body(market), args, work)
            results[name] = (figures, worker_rss_mb(served), ready)
    (base, base_rss, base_ready), (big, big_rss, big_ready) = results["1 market"], results["many"]
    label = f"{engine}: /predict, {args.markets:,} markets"
    row(
        label,
        f"{big['rps']:,.0f} req/s, p99 {big['p99']:.2f} ms",
        f"({big['rps'] / base['rps']:.2f}x the req/s of one market, p99 "
        f"{big['p99'] / base['p99']:.2f}x: {base['rps']:,.0f} req/s, p99 {base['p99']:.2f} ms)",
    )
    row(
        f"{engine}: worker RSS, {args.markets:,} markets",
        f"{big_rss:.0f} MB",
        f"({big_rss - base_rss:+.0f} MB over one market's {base_rss:.0f} MB)",
    )
    row(
        f"{engine}: ready after start, {args.markets:,} markets",
        f"{big_ready:.2f} s",
        f"(one market: {base_ready:.2f} s)",
    )


def measure_routed_csv(row: Row, work: Path, engine: str, rows: int) -> None:
    """Rows/s of a CSV batch spread over 100 markets, beside the same rows naming one market
    (the same columns in and out), and beside a CSV that names no market at all."""
    env = deployment(work / f"{engine}-csv", engine)
    add_markets(env, 100)
    frame = synthetic_listings(rows, seed=7)[["beds", "baths", "sqft"]]
    plain = frame.to_csv(index=False).encode()
    frame["market"] = "m00042"
    one = frame.to_csv(index=False).encode()
    frame["market"] = [f"m{i % 100:05d}" for i in range(rows)]
    spread = frame.to_csv(index=False).encode()
    with serve(env) as served:
        timings: dict[str, list[float]] = {"plain": [], "one": [], "spread": []}
        for payload in (plain, one, spread):
            post_timed(served.url, "/predict/batch", payload, "text/csv")  # warm-up
        for _ in range(3):  # interleaved, so that a slow moment of the machine hits all three
            for name, payload in (("plain", plain), ("one", one), ("spread", spread)):
                timings[name].append(post_timed(served.url, "/predict/batch", payload, "text/csv"))
    rate = {name: rows / min(times) for name, times in timings.items()}
    row(
        f"{engine}: CSV batch, {rows:,} rows over 100 markets",
        f"{rate['spread']:,.0f} rows/s",
        f"({rate['spread'] / rate['one']:.2f}x the same rows in one market, "
        f"{rate['one']:,.0f} rows/s; {rate['spread'] / rate['plain']:.2f}x a CSV naming no "
        f"market, {rate['plain']:,.0f} rows/s)",
    )


def measure_retrain_burst(row: Row, work: Path, engine: str, args: argparse.Namespace) -> None:
    wrk = ensure_wrk()
    env = deployment(work / f"{engine}-burst", engine)
    uploads = [
        synthetic_listings(1000, seed=100 + i).to_csv(index=False).encode()
        for i in range(args.burst)
    ]
    with serve(env, workers=2) as served:
        idle = wrk_run(wrk, served.url + "/predict", body("default"), args.seconds, work)
        client = httpx.Client(
            base_url=served.url,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/csv"},
            timeout=60,
        )
        start = time.perf_counter()
        jobs = []
        for i, upload in enumerate(uploads):
            answer = client.post(f"/retrain?market=burst-{i:04d}", content=upload)
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json()["job_id"])
        queued = time.perf_counter() - start
        busy: list[dict[str, float]] = []
        loaded = threading.Thread(
            target=lambda: busy.append(
                wrk_run(wrk, served.url + "/predict", body("default"), args.seconds, work)
            )
        )
        loaded.start()
        pending = list(jobs)
        failed = 0
        deadline = time.perf_counter() + 1800
        while pending and time.perf_counter() < deadline:
            still = []
            for job_id in pending:
                status = client.get(f"/jobs/{job_id}").json()["status"]
                if status == "failed":
                    failed += 1
                elif status != "succeeded":
                    still.append(job_id)
            pending = still
            if pending:
                time.sleep(0.5)
        elapsed = time.perf_counter() - start
        loaded.join()
        client.close()
    row(
        f"{engine}: {args.burst:,} markets of 1,000 sales via /retrain",
        f"{elapsed:.1f} s",
        f"(queued in {queued:.1f} s; {failed} failed, {len(pending)} unfinished; two workers)",
    )
    row(
        f"{engine}: /predict p99 meanwhile",
        f"{busy[0]['p99']:.2f} ms",
        f"({busy[0]['p99'] / idle['p99']:.2f}x idle {idle['p99']:.2f} ms)",
    )


def measure(row: Row, work: Path, args: argparse.Namespace) -> None:
    parts = getattr(args, "parts", "many,csv,burst").split(",")
    for engine in args.engines.split(","):
        if "many" in parts:
            measure_many(row, work, engine, args)
        if "csv" in parts:
            measure_routed_csv(row, work, engine, args.csv_rows)
        if "burst" in parts:
            measure_retrain_burst(row, work, engine, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engines", default="files,postgres")
    parser.add_argument("--parts", default="many,csv,burst", help="which figures to measure")
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--csv-rows", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print_table(lambda row, work: measure(row, work, args), "house-price-markets-")


if __name__ == "__main__":
    main()
