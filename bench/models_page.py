"""`GET /models?limit=100` with 10,000 stored versions, on each storage engine.

Each engine gets 10,000 versions saved as the service saves them, then a real server answers
100 requests for the first page and 100 for a page deep in the list (reached by its token);
the figures are the median and 95th percentile from sending a request to reading its answer.

Run: .venv/bin/python -m bench.models_page [--versions 10000]  (also part of `make bench`)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.harness import ROOT, Row, Served, print_table
from bench.storage import engine_env

SAVE = (
    "import sys\nfrom app.config import Settings\nfrom app.fitting import fit_table\n"
    "from app.listings import read_table\nfrom app.storage import open_storage\n"
    "s = open_storage(Settings()); s.ensure()\n"
    "model, card = fit_table(read_table(sys.argv[1]), folds=5, source='bench')\n"
    "names = [s.registry.save(model, dict(card)) for _ in range(int(sys.argv[2]))]\n"
    "s.registry.activate(names[-1]); s.close()\n"
)


def timed(client: httpx.Client, url: str, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text[:300]
    return seconds


def measure(versions: int, row: Row, work: Path) -> None:
    for engine in ("files", "postgres"):
        with engine_env(engine, work) as env:
            full = {**os.environ, **env}
            start = time.perf_counter()
            csv = str(ROOT / "data" / "sacramento.csv")
            subprocess.run([sys.executable, "-c", SAVE, csv, str(versions)], env=full, check=True)
            saved = time.perf_counter() - start
            with (
                Served([sys.executable, "-m", "app.serve"], env, "/health/ready") as server,
                httpx.Client(base_url=server.url, timeout=30) as client,
            ):
                first = timed(client, "/models?limit=100", 100)
                token = ""
                for _ in range(versions // 200):  # halfway down the list
                    query: dict[str, str | int] = {"limit": 100}
                    if token:
                        query["page_token"] = token
                    token = client.get("/models", params=query).json()["next_page_token"]
                deep = timed(client, f"/models?limit=100&page_token={token}", 100)
            for name, values in (("first page", first), ("page halfway down", deep)):
                row(
                    f"{engine}: GET /models?limit=100, {versions:,} versions, {name}",
                    f"median {statistics.median(values) * 1000:.1f} ms, "
                    f"p95 {sorted(values)[94] * 1000:.1f} ms",
                    f"({versions:,} versions saved in {saved:.0f} s)",
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=10_000)
    args = parser.parse_args()
    print_table(lambda row, work: measure(args.versions, row, work), "house-price-bench-")


if __name__ == "__main__":
    main()
