"""Convergence: from an activation to the last of six workers answering with the new version.

Three replicas of two workers each (`python -m app.serve`), for files (the replicas share the
folders; workers poll the pointer every 0.2 s) and for PostgreSQL (they share the database;
workers are notified), 20 activations each, alternating between two versions through replica 1.
A replica counts as converged at the first of 12 answers in a row (each on a new connection, so
the kernel spreads them over its workers) that come from the new version.

With `--market NAME`, the versions are fitted in that market (beside the default one) and the
activations are of that market's versions: a market other than the default converges the same
way, the notification or the journal naming it.

Run: .venv/bin/python -m bench.convergence [--activations 20] [--market NAME]
(also part of `make bench`, for the default market)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from bench.harness import ROOT, Row, Served, print_table
from bench.storage import KEY, engine_env

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def version_of(url: str, market: str | None = None) -> str:
    house = HOUSE if market is None else {**HOUSE, "market": market}
    response = httpx.post(f"{url}/predict", json=house, headers={"Connection": "close"})
    return response.headers["x-model-version"]


def converged_after(
    urls: list[str], version: str, start: float, limit: float = 10.0, market: str | None = None
) -> float:
    """Seconds from `start` until every replica answers with `version` for good.

    Each replica is asked by a thread of its own, one request after another; a replica's time
    is when the first of 12 answers in a row from `version` was asked for (the rest only
    confirm it), so the figure is not the time the asking itself takes.
    """
    since: dict[str, float] = {}

    def watch(url: str) -> None:
        streak = 0
        while streak < 12:
            asked = time.monotonic()
            if version_of(url, market) == version:
                if streak == 0:
                    since[url] = asked
                streak += 1
            else:
                streak = 0
            if time.monotonic() - start > limit:
                return

    threads = [threading.Thread(target=watch, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(since) < len(urls) or time.monotonic() - start > limit + 1:
        raise TimeoutError(f"no convergence within {limit} s")
    return max(since.values()) - start


def measure(activations: int, row: Row, work: Path, market: str | None = None) -> None:
    for engine in ("files", "postgres"):
        with engine_env(engine, work) as env:
            env = {**env, "HOUSE_PRICE_WORKERS": "2"}
            full = {**os.environ, **env}
            train = [
                sys.executable,
                "-m",
                "app.train",
                "--data",
                str(ROOT / "data/sacramento.csv"),
                "--plain",
            ]
            subprocess.run(train, cwd=ROOT, env=full, check=True, capture_output=True)
            if market is not None:
                train += ["--market", market]
            for _ in range(2):  # two versions to switch between
                subprocess.run(train, cwd=ROOT, env=full, check=True, capture_output=True)
            servers = [Served([sys.executable, "-m", "app.serve"], env, "/health/ready")]
            servers += [Served([sys.executable, "-m", "app.serve"], env, "/health/ready")]
            servers += [Served([sys.executable, "-m", "app.serve"], env, "/health/ready")]
            try:
                urls = [s.url for s in servers]
                query = "" if market is None else f"?market={market}"
                listed = httpx.get(f"{urls[0]}/models{query}").json()["versions"]
                versions = [v["version"] for v in listed][:2]
                times = []
                for i in range(activations):
                    target = versions[i % 2]
                    start = time.monotonic()
                    httpx.post(
                        f"{urls[0]}/models/{target}/activate",
                        headers={"Authorization": f"Bearer {KEY}"},
                    ).raise_for_status()
                    times.append(converged_after(urls, target, start, market=market))
            finally:
                for server in servers:
                    server.__exit__()
            how = "polling every 0.2 s" if engine == "files" else "LISTEN/NOTIFY"
            which = "" if market is None else f", market {market}"
            row(
                f"{engine}: activation to all 6 workers ({how}{which})",
                f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms",
                f"({activations} activations, 3 replicas x 2 workers)",
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activations", type=int, default=20)
    parser.add_argument("--market", help="activate versions of this market (not the default)")
    args = parser.parse_args()
    print_table(
        lambda row, work: measure(args.activations, row, work, args.market), "house-price-bench-"
    )


if __name__ == "__main__":
    main()
