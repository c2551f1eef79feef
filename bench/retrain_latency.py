"""p50/p99 of POST /predict with and without a concurrent /retrain of 1,000,000 rows.

Run: .venv/bin/python -m bench.retrain_latency [--rows 1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time

import httpx

from bench.common import SACRAMENTO, percentile, start_server, synthetic_listings

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
KEY = "bench-key"


def sample(url: str, until: threading.Event, seconds: float | None = None) -> list[float]:
    """Latencies (ms) of back-to-back /predict requests on one keep-alive connection."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds if seconds else float("inf")
    with httpx.Client(base_url=url) as client:
        while not until.is_set() and time.monotonic() < deadline:
            start = time.perf_counter()
            response = client.post("/predict", json=HOUSE)
            latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    return latencies


def describe(name: str, latencies: list[float]) -> str:
    return (
        f"{name:<34} {len(latencies):>8,} {percentile(latencies, 50):>8.2f} "
        f"{percentile(latencies, 99):>8.2f} {max(latencies):>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "HOUSE_PRICE_MODEL_DIR": f"{tmp}/models",
            "HOUSE_PRICE_DATA_DIR": f"{tmp}/data",
            "HOUSE_PRICE_API_KEY": KEY,
        }
        os.environ.update(env)
        from app.train import main as train

        train(["--data", str(SACRAMENTO)])
        body = synthetic_listings(args.rows).to_csv(index=False).encode()
        print(f"upload: {args.rows:,} rows, {len(body) / 1e6:.1f} MB of CSV", flush=True)
        process, url = start_server(env)
        try:
            never = threading.Event()
            sample(url, never, 2.0)  # warm-up
            idle = sample(url, never, args.seconds)

            phases: dict[str, list[float]] = {"upload": [], "fit": []}
            done = threading.Event()
            phase = {"name": "upload"}

            def load() -> None:
                with httpx.Client(base_url=url) as client:
                    while not done.is_set():
                        start = time.perf_counter()
                        client.post("/predict", json=HOUSE)
                        phases[phase["name"]].append((time.perf_counter() - start) * 1000)

            loader = threading.Thread(target=load)
            loader.start()
            started = time.monotonic()
            response = httpx.post(
                f"{url}/retrain?mode=replace&force=true",
                content=body,
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "text/csv"},
                timeout=600,
            )
            accepted = time.monotonic()
            phase["name"] = "fit"
            job = response.json()
            while job["status"] not in ("succeeded", "failed"):
                time.sleep(0.05)
                job = httpx.get(f"{url}/jobs/{job['job_id']}").json()
            fitted = time.monotonic()
            done.set()
            loader.join()
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)

    print(
        f"retrain: upload accepted in {accepted - started:.2f} s, "
        f"fit done {fitted - accepted:.2f} s later "
        f"(job {job['status']}, n_train {job.get('n_train')})"
    )
    print(f"{'/predict latency (ms)':<34} {'requests':>8} {'p50':>8} {'p99':>8} {'max':>8}")
    print(describe("no retrain", idle))
    print(describe("during the upload (worker parses)", phases["upload"]))
    print(describe("during the fit (child process)", phases["fit"]))


if __name__ == "__main__":
    main()
