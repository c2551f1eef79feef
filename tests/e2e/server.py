"""A real uvicorn server in a child process, started the way `make run` starts it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx

from tests.support import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m app.serve`, or `command` (its `{port}` and `{workers}` filled in)."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 1,
        log: Path | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        template = command or [sys.executable, "-m", "app.serve"]
        self.command = [a.format(port=self.port, workers=workers) for a in template]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **env,
            "HOUSE_PRICE_HOST": "127.0.0.1",
            "HOUSE_PRICE_PORT": str(self.port),
            "HOUSE_PRICE_WORKERS": str(workers),
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0, ready: bool = True) -> Server:
        """Start, and wait for /health/ready to say 200 (or, with `ready=False`, to answer)."""
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                status = httpx.get(f"{self.url}/health/ready", timeout=1).status_code
                if status == 200 or not ready:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the server, its workers and any fit it started: a crash at this instant."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def fitted_dirs(tmp_path: Path) -> dict[str, str]:
    """Model and data directories holding a fit of the bundled data, as server settings."""
    from app.cli.train import main as train
    from tests.support import API_KEY, SACRAMENTO

    model_dir, data_dir = tmp_path / "models", tmp_path / "data"
    # The page does not yet take a home's place: the bundled sales are fitted as a plain market.
    args = ["--data", str(SACRAMENTO), "--plain", "--model-dir", str(model_dir)]
    args += ["--data-dir", str(data_dir)]
    assert train(args) == 0
    return {
        "HOUSE_PRICE_MODEL_DIR": str(model_dir),
        "HOUSE_PRICE_DATA_DIR": str(data_dir),
        "HOUSE_PRICE_API_KEY": API_KEY,
    }


def train(env: dict[str, str], *options: str) -> str:
    """`python -m app.train` on the bundled sales with these settings; what it printed."""
    from tests.support import SACRAMENTO

    trained = subprocess.run(
        [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), "--plain", *options],
        cwd=ROOT,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert trained.returncode == 0, trained.stderr
    return trained.stdout


def version_of(url: str) -> str:
    response = httpx.post(
        f"{url}/predict",
        json={"beds": 3, "baths": 2, "sqft": 1500},
        headers={"Connection": "close"},
    )
    return response.headers["x-model-version"]


def converged_after(urls: list[str], version: str, start: float, limit: float = 10.0) -> float:
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
            if version_of(url) == version:
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


def engine_deployment(backend: str, tmp_path: Path, database_url: str | None) -> dict[str, str]:
    """Settings of a fitted deployment on `backend`: folders, or the database at `database_url`."""
    from tests.support import API_KEY

    if backend == "files":
        return fitted_dirs(tmp_path)
    assert database_url is not None
    env = {
        "HOUSE_PRICE_DATABASE_URL": database_url,
        "HOUSE_PRICE_API_KEY": API_KEY,
        "HOUSE_PRICE_MODEL_DIR": str(tmp_path / "unused-models"),
        "HOUSE_PRICE_DATA_DIR": str(tmp_path / "unused-data"),
    }
    train(env)
    return env
