"""Crash safety, on both storage engines: SIGKILL the server at random moments, restart it, and
check that nothing acknowledged was lost, nothing was stored twice, nothing is half-written, and
the audit trail holds exactly the changes that were made."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.storage import JobStore, Storage, open_storage
from app.storage.naming import TERMINAL
from tests.e2e.server import Server, engine_deployment, train
from tests.support import API_KEY

TRIALS = 21
AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/csv"}
AMES = {"beds": 3, "baths": 2, "sqft": 1500, "market": "ames"}

pytestmark = pytest.mark.engines("files", "postgres")


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
        self.digests: dict[str, tuple[str, int]] = {}  # tag: (start of SHA-256, rows)

    def run(self) -> None:
        for k in range(50):
            tag = f"t{self.trial}-u{k}"
            rows = 60_000 if self.big and k == 0 else self.rng.randint(5, 40)
            body = upload(tag, rows, self.rng)
            self.sent.add(tag)
            self.digests[tag] = (hashlib.sha256(body.encode()).hexdigest()[:16], rows)
            wait = "true" if self.rng.random() < 0.5 else "false"
            try:
                response = httpx.post(
                    f"{self.url}/retrain?wait={wait}", content=body, headers=AUTH, timeout=30
                )
            except httpx.HTTPError:
                return  # the server died under this request: not acknowledged
            if response.status_code in (200, 202):
                self.acked.add(tag)


def running_job(jobs: JobStore) -> bool:
    return any(j["status"] == "running" for j in jobs.pending())


def settle(jobs: JobStore, seconds: float = 90) -> list[dict[str, Any]]:
    """Wait until no job is queued or running; return all jobs."""
    deadline = time.monotonic() + seconds
    while jobs.has_pending():
        assert time.monotonic() < deadline, f"jobs left pending: {jobs.pending()}"
        time.sleep(0.1)
    return jobs.all()


def check_trail(storage: Storage, acked: set[str]) -> None:
    """Each acknowledged change has its entry, and each entry's change is in the storage."""
    entries = storage.audit.all()
    by_action: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if entry["market"] == "default":
            by_action.setdefault(entry["action"], []).append(entry)
    uploads = {f"{s}/{b}" for s, b in storage.store.uploads()}
    uploaded = [e["target"] for e in by_action.get("upload", [])]
    assert len(uploaded) == len(set(uploaded)) and set(uploaded) <= uploads, "an upload's entry"
    assert {u.split("-")[-1].removesuffix(".csv") for u in uploaded} >= acked
    jobs = {j["job_id"]: j for j in storage.jobs.all()}
    queued = [e["target"] for e in by_action.get("job.queued", [])]
    assert sorted(queued) == sorted(jobs), "each job queued once, and only jobs that exist"
    for job_id, job in jobs.items():
        started = [e for e in by_action.get("job.started", []) if e["target"] == job_id]
        ended = [e for e in by_action.get("job.ended", []) if e["target"] == job_id]
        assert len(started) == job["attempts"], (job, started)
        assert [e["outcome"] for e in ended] == [job["status"]], (job, ended)
    saved = [e["version"] for e in by_action.get("version.saved", [])]
    assert sorted(saved) == sorted(storage.registry.versions()), "each version saved once"
    moves = [e for e in entries if e["action"] in ("promotion", "activation", "rollback")]
    moves = [e for e in moves if e["market"] == "default"]
    assert moves and moves[-1]["version"] == storage.registry.active_version()
    history = storage.registry.activations(limit=len(moves) + 1)
    assert [m["version"] for m in reversed(moves)] == [h["version"] for h in history]


@pytest.fixture
def deployment(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """A fitted deployment on the engine under test, as server settings."""
    url = request.getfixturevalue("database_url") if backend == "postgres" else None
    return engine_deployment(backend, tmp_path, url)


@pytest.fixture
def deployed(deployment: dict[str, str]) -> Iterator[Storage]:
    """The deployment's storage, as the test reads it; closed even when the test fails."""
    storage = open_storage(
        Settings(
            _env_file=None,
            model_dir=Path(deployment["HOUSE_PRICE_MODEL_DIR"]),
            data_dir=Path(deployment["HOUSE_PRICE_DATA_DIR"]),
            database_url=deployment.get("HOUSE_PRICE_DATABASE_URL"),
        )
    )
    yield storage
    storage.close()


def test_sigkill_at_random_moments_loses_nothing_and_corrupts_nothing(
    backend: str, deployment: dict[str, str], deployed: Storage, tmp_path: Path
) -> None:
    env, storage = deployment, deployed
    registry, store, jobs = storage.registry, storage.store, storage.jobs
    digests: dict[str, tuple[str, int]] = {}
    rng = random.Random(20261126)
    acked: set[str] = set()
    sent: set[str] = set()
    kinds = {"during a fit": 0, "during a large upload": 0, "at a random moment": 0}
    fitting_at_kill = 0
    log = tmp_path / "server.log"
    # A second market, serving while the default one's fits are killed: never touched.
    train(env, "--market", "ames")
    server = Server(env, log=log).start()
    ames = httpx.post(f"{server.url}/predict", json=AMES).content
    try:
        for trial in range(TRIALS):
            kind = list(kinds)[trial % 3]
            client = Client(server.url, trial, big=kind == "during a large upload", seed=trial)
            client.start()
            if kind == "during a fit":
                # A random moment of a fit: wait for one to run, let it go on for a random while,
                # and if it has ended meanwhile, wait for the next (the client keeps retraining).
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    while not running_job(jobs) and time.monotonic() < deadline:
                        time.sleep(0.01)
                    time.sleep(rng.uniform(0, 0.1))
                    if running_job(jobs):
                        break
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
            digests |= client.digests

            server = Server(
                env, log=log
            ).start()  # ready means the active version loaded and verified
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
            frame = store.read(snapshot)  # every stored upload reads and checks
            stored = [b.split("-")[1].removesuffix(".csv") for b in snapshot.batches]
            assert len(stored) == len(set(stored)), f"trial {trial}: an upload stored twice"
            missing = {t for t in acked if digests[t][0] not in stored}
            assert not missing, f"trial {trial}: acknowledged uploads missing: {sorted(missing)}"
            ours = {d: rows for d, rows in digests.values()}
            # Every row of every stored upload, once: the bundled sales and the uploads sent.
            assert len(frame) == 932 + sum(ours[d] for d in stored if d in ours)
            if backend == "files":  # files keep other columns: each listing is there once
                assert frame["listing_id"].dropna().is_unique, f"trial {trial}: a listing twice"
            check_trail(storage, {digests[t][0] for t in acked})
            ready = httpx.get(f"{server.url}/health/ready").json()
            assert ready["status"] == "ready"
            assert httpx.post(f"{server.url}/predict", json=AMES).content == ames

        # The next fit includes every stored listing, those of interrupted jobs too.
        last = httpx.post(
            f"{server.url}/retrain?wait=true",
            content=upload("last", 10, rng),
            headers=AUTH,
            timeout=60,
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
            f"{resumed} interrupted jobs resumed; uploads sent {len(sent)}, "
            f"acknowledged {len(acked)} ({backend})"
        )
    finally:
        server.stop()  # whatever happened above: no server left running
