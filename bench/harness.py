"""The benchmarks' harness: synthetic sales, servers to measure, wrk, timing and memory helpers.

Every benchmark module imports from here; `bench.run` imports the benchmarks, never the reverse.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
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


BODY = b'{"beds": 3, "baths": 2, "sqft": 1500}'


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
    """A server process started on a free port, pinned to core 0 (unless `free`: on every
    core), stopped on exit."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        ready_path: str,
        cwd: Path = ROOT,
        free: bool = False,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = [c.replace("{port}", str(self.port)) for c in command]
        self.started = time.monotonic()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self.process = subprocess.Popen(
            full if free else pinned(0, full),
            cwd=cwd,
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

    requests = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": latency("50%"), "p99": latency("99%"), "requests": requests}


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a process (all its threads) has used (Linux), else NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


class ServedAsgi(Served):
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


# A reference app under uvicorn, on the port a `Served` fills in, quiet.
UVICORN = [sys.executable, "-m", "uvicorn", "--port", "{port}", "--no-access-log"]
UVICORN += ["--log-level", "warning"]


def fitted_deployment(work: Path) -> dict[str, str]:
    """Settings of a one-worker server on folders under `work`, the bundled sales fitted."""
    env = {
        "HOUSE_PRICE_MODEL_DIR": str(work / "models"),
        "HOUSE_PRICE_DATA_DIR": str(work / "data"),
        "HOUSE_PRICE_API_KEY": "bench-key-5e0c1d7a",
        "HOUSE_PRICE_WORKERS": "1",
        "HOUSE_PRICE_ACCESS_LOG": "false",
        "HOUSE_PRICE_LOG_LEVEL": "warning",
    }
    subprocess.run(
        [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), "--plain"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env


_FILL = """
import os
import sys
if sys.argv[3] == "fast":  # durability is not what is measured: no fsync
    os.fsync = lambda fd: None
from app.config import Settings
from app.domain.fitting import fit_table
from app.storage import open_storage
from bench.harness import synthetic_listings
count, first = int(sys.argv[1]), int(sys.argv[2])
storage = open_storage(Settings())
fits = [fit_table(synthetic_listings(300, seed=s), folds=3, source="bench") for s in range(50)]
for i in range(first, first + count):
    registry = storage.market(f"m{i:05d}").registry
    registry.activate(registry.save(*fits[i % 50]))
storage.close()
"""


def add_markets(env: dict[str, str], count: int, durable: bool = True) -> float:
    """Store `count` markets `m00000`… (two processes side by side); seconds taken.

    Each is a fit of 300 synthetic sales (one of 50), saved and activated through the storage.
    `durable=False` skips fsync, for a set-up whose durability is not what is measured.
    """
    start = time.perf_counter()
    half = count // 2
    parts = [(half, 0), (count - half, half)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _FILL, str(n), str(first), "durable" if durable else "fast"],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        for n, first in parts
    ]
    for process in processes:
        assert process.wait() == 0
    return time.perf_counter() - start
