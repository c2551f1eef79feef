"""Crash safety: SIGKILL the server at random moments, restart it, and check nothing was lost."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from app.jobs import TERMINAL
from app.storage.files import FileJobs as Jobs
from app.storage.files import FileRegistry as Registry
from app.storage.files import FileStore as Store
from tests.conftest import API_KEY
from tests.e2e.server import Server, fitted_dirs

TRIALS = 21
AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/csv"}


def upload(tag: str, rows: int, rng: random.Random) -> str:
    lines = ["listing_id,beds,baths,sqft,price"]
    for j in range(rows):
        sqft = rng.randint(600, 4000)
        price = 40_000 + 150 * sqft + rng.randint(-30_000, 30_000)
        lines.append(
            f"{tag}-{j},{rng.randint(1, 6)},{rng.choice([1, 1.5, 2, 2.5, 3])},{sqft},{price}"
        )
    return "\n".join(lines) + "\n"


class Client(threading.Thread):
    """Sends retrains one after another and records which uploads were acknowledged."""

    def __init__(self, url: str, trial: int, big: bool, seed: int) -> None:
        super().__init__(daemon=True)
        self.url, self.trial, self.big = url, trial, big
        self.rng = random.Random(seed)
        self.acked: set[str] = set()
        self.sent: set[str] = set()

    def run(self) -> None:
        for k in range(50):
            tag = f"t{self.trial}-u{k}"
            rows = 60_000 if self.big and k == 0 else self.rng.randint(5, 40)
            body = upload(tag, rows, self.rng)
            self.sent.add(tag)
            wait = "true" if self.rng.random() < 0.5 else "false"
            try:
                response = httpx.post(
                    f"{self.url}/retrain?wait={wait}", content=body, headers=AUTH, timeout=30
                )
            except httpx.HTTPError:
                return  # the server died under this request: not acknowledged
            if response.status_code in (200, 202):
                self.acked.add(tag)


def running_job(jobs: Jobs) -> bool:
    return any(j["status"] == "running" for j in jobs.pending())


def settle(jobs: Jobs, seconds: float = 90) -> list[dict[str, Any]]:
    """Wait until no job is queued or running; return all jobs."""
    deadline = time.monotonic() + seconds
    while jobs.has_pending():
        assert time.monotonic() < deadline, f"jobs left pending: {jobs.pending()}"
        time.sleep(0.1)
    return [json.loads(p.read_text()) for p in jobs.root.glob("*.json")]


def test_sigkill_at_random_moments_loses_nothing_and_corrupts_nothing(tmp_path: Path) -> None:
    env = fitted_dirs(tmp_path)
    model_dir, data_dir = Path(env["HOUSE_PRICE_MODEL_DIR"]), Path(env["HOUSE_PRICE_DATA_DIR"])
    registry, store, jobs = Registry(model_dir), Store(data_dir), Jobs(data_dir)
    rng = random.Random(20261126)
    acked: set[str] = set()
    sent: set[str] = set()
    kinds = {"during a fit": 0, "during a large upload": 0, "at a random moment": 0}
    fitting_at_kill = 0
    log = tmp_path / "server.log"
    server = Server(env, log=log).start()
    for trial in range(TRIALS):
        kind = list(kinds)[trial % 3]
        client = Client(server.url, trial, big=kind == "during a large upload", seed=trial)
        client.start()
        if kind == "during a fit":
            deadline = time.monotonic() + 30
            while not running_job(jobs) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.2))
        elif kind == "during a large upload":
            time.sleep(rng.uniform(0.05, 0.6))
        else:
            time.sleep(rng.uniform(0.0, 3.0))
        fitting_at_kill += running_job(jobs)
        server.kill()
        kinds[kind] += 1
        client.join(30)
        acked |= client.acked
        sent |= client.sent

        server = Server(env, log=log).start()  # ready means the active version loaded and verified
        all_jobs = settle(jobs)
        active = registry.active_version()
        assert active is not None
        registry.load(active)
        for version in registry.versions():
            registry.load(version)  # no half-written version is ever visible
        for job in all_jobs:
            assert job["status"] in TERMINAL
            if job["status"] == "failed":
                assert job["reason"]
        snapshot = store.snapshot()
        assert snapshot is not None
        frame = store.read(snapshot)  # every stored file reads and checks
        tags = frame["listing_id"].dropna().str.rsplit("-", n=1).str[0]
        rows_per_upload = tags.value_counts()
        missing = acked - set(rows_per_upload.index)
        assert not missing, f"trial {trial}: acknowledged uploads missing: {sorted(missing)}"
        assert frame["listing_id"].dropna().is_unique, f"trial {trial}: a listing stored twice"
        ready = httpx.get(f"{server.url}/health/ready").json()
        assert ready["status"] == "ready"

    # The next fit includes every stored listing, those of interrupted jobs too.
    last = httpx.post(
        f"{server.url}/retrain?wait=true", content=upload("last", 10, rng), headers=AUTH, timeout=60
    ).json()
    server.stop()
    snapshot = store.snapshot()
    assert snapshot is not None
    assert last["status"] == "succeeded" and last["n_train"] == len(store.read(snapshot))
    assert sum(kinds.values()) == TRIALS >= 20
    assert fitting_at_kill >= 5, "too few kills landed during a fit"
    finished = settle(jobs)
    resumed = sum(j["attempts"] > 1 for j in finished)
    print(
        f"\ncrash trials: {kinds}; a fit was running at {fitting_at_kill} kills; "
        f"{resumed} interrupted jobs resumed; uploads sent {len(sent)}, acknowledged {len(acked)}"
    )
