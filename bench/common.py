"""Helpers shared by the benchmarks: synthetic data, a served model in a temporary directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
SACRAMENTO = ROOT / "data" / "sacramento.csv"


def synthetic_listings(rows: int, seed: int = 0) -> pd.DataFrame:
    """Listings like the bundled ones: price linear in the features plus noise."""
    rng = np.random.default_rng(seed)
    beds = rng.integers(1, 7, rows)
    baths = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 3.5], rows)
    sqft = rng.integers(500, 5000, rows).astype(float)
    price = 58_000 - 27_000 * beds + 5_300 * baths + 158 * sqft + rng.normal(0, 60_000, rows)
    price = np.maximum(price, 20_000).round(0)
    return pd.DataFrame({"beds": beds, "baths": baths, "sqft": sqft, "price": price})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "HOUSE_PRICE_PORT": str(port),
        "HOUSE_PRICE_WORKERS": str(workers),
        "HOUSE_PRICE_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.serve"], cwd=ROOT, env=full_env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise TimeoutError("the server did not become ready")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


Row = Callable[[str, str, str], None]


def print_table(measure: Callable[[Row, Path], None], prefix: str) -> None:
    """Run `measure` in a temporary folder, printing each row as it comes, then the table."""
    table: list[tuple[str, str, str]] = []

    def row(name: str, figure: str, note: str = "") -> None:
        table.append((name, figure, note))
        print(f"  {name}: {figure} {note}", flush=True)

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        measure(row, Path(tmp))
    width = max(len(r[0]) for r in table)
    print()
    for name, figure, note in table:
        print(f"{name:<{width}}  {figure}  {note}")
