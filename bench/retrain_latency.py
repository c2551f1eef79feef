"""p50/p99 of POST /predict with and without a concurrent /retrain of 1,000,000 rows.

Run: .venv/bin/python -m bench.retrain_latency [--rows 1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import httpx

from bench.harness import ROOT, SACRAMENTO, percentile, start_server, synthetic_listings

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def sample(url: str, seconds: float) -> list[float]:
    """Latencies (ms) of back-to-back /predict requests on one keep-alive connection."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            response = client.post("/predict", json=HOUSE)
            latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
    return latencies


def measure(
    env: dict[str, str], rows: int, seconds: float
) -> tuple[list[float], list[float], list[float]]:
    """/predict latencies (ms): idle, while the upload is parsed and stored, while it is fitted.

    `env` names the model and data directories and the API key; a model must be active there.
    """
    body = synthetic_listings(rows).to_csv(index=False).encode()
    process, url = start_server({**env, "HOUSE_PRICE_WORKERS": "1"})
    try:
        sample(url, 2.0)  # warm-up
        idle = sample(url, seconds)
        phases: dict[str, list[float]] = {"upload": [], "fit": []}
        phase = "upload"
        done = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=url) as client:
                while not done.is_set():
                    start = time.perf_counter()
                    client.post("/predict", json=HOUSE)
                    phases[phase].append((time.perf_counter() - start) * 1000)

        loader = threading.Thread(target=load)
        loader.start()
        response = httpx.post(
            f"{url}/retrain?mode=replace&force=true",
            content=body,
            headers={
                "Authorization": f"Bearer {env['HOUSE_PRICE_API_KEY']}",
                "Content-Type": "text/csv",
            },
            timeout=600,
        )
        phase = "fit"
        job = response.json()
        while job["status"] not in ("succeeded", "failed"):
            time.sleep(0.05)
            job = httpx.get(f"{url}/jobs/{job['job_id']}").json()
        done.set()
        loader.join()
        assert job["status"] == "succeeded", job
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    return idle, phases["upload"], phases["fit"]


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
            "HOUSE_PRICE_API_KEY": "bench-key-5e0c1d7a",
            "HOUSE_PRICE_ACCESS_LOG": "false",
        }
        subprocess.run(
            [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), "--plain"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        idle, upload, fit = measure(env, args.rows, args.seconds)
    print(f"{'/predict latency (ms)':<34} {'requests':>8} {'p50':>8} {'p99':>8} {'max':>8}")
    print(describe("no retrain", idle))
    print(describe(f"during the upload of {args.rows:,} rows", upload))
    print(describe("during the fit (child process)", fit))


if __name__ == "__main__":
    main()
