"""Three replicas that share nothing but a PostgreSQL database: they converge on a new version
within a second (NOTIFY), and two retrains sent at once are both kept and fitted one after the
other."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import httpx
import psycopg

from app.config import Settings
from app.storage import open_storage
from tests.e2e.server import Server, converged_after, train
from tests.support import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}


def csv_rows(tag: int, n: int) -> bytes:
    lines = [f"{2 + i % 3},2,{900 + 7 * i + tag},{150_000 + 1_000 * i + tag}" for i in range(n)]
    return ("beds,baths,sqft,price\n" + "\n".join(lines) + "\n").encode()


def test_three_replicas_converge_and_serialise_concurrent_retrains(
    database_url: str, tmp_path: Path
) -> None:
    env = {
        "HOUSE_PRICE_DATABASE_URL": database_url,
        "HOUSE_PRICE_API_KEY": API_KEY,
        "HOUSE_PRICE_ACCESS_LOG": "false",
    }
    train(env)
    replicas = []
    for i in range(3):  # each with folders of its own that nothing is written to
        own = {
            "HOUSE_PRICE_MODEL_DIR": str(tmp_path / f"r{i}" / "models"),
            "HOUSE_PRICE_DATA_DIR": str(tmp_path / f"r{i}" / "data"),
        }
        replicas.append(Server({**env, **own}, workers=2, log=tmp_path / f"r{i}.log").start())
    urls = [r.url for r in replicas]
    try:
        retrain = httpx.post(
            f"{urls[0]}/retrain?wait=true&force=true",
            content=csv_rows(0, 40),
            headers={**AUTH, "Content-Type": "text/csv"},
            timeout=120,
        )
        answered = time.monotonic()
        job = retrain.json()
        assert job["status"] == "succeeded", job
        times = [converged_after(urls, job["version"], answered)]
        versions = [job["version"], job["active_version"]]
        listed = httpx.get(f"{urls[1]}/models").json()["versions"]
        older = [v["version"] for v in listed if v["version"] != job["version"]]
        for target in older * 4:  # rollbacks and forwards through replica 1
            start = time.monotonic()
            httpx.post(f"{urls[0]}/models/{target}/activate", headers=AUTH).raise_for_status()
            times.append(converged_after(urls, target, start))
            target_back = versions[0]
            start = time.monotonic()
            httpx.post(f"{urls[0]}/models/{target_back}/activate", headers=AUTH)
            times.append(converged_after(urls, target_back, start))
        print(
            f"\nconvergence of 3 replicas x 2 workers over {len(times)} changes: "
            f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
        )
        assert max(times) < 1.0
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'house-price'"
            ).fetchone()
        # Six workers, each a pool of 4 and a listening connection: 30, within the 40 allowed.
        assert row is not None and row[0] <= 6 * (4 + 1)

        answers: dict[int, httpx.Response] = {}

        def send(i: int) -> None:
            answers[i] = httpx.post(
                f"{urls[i]}/retrain?wait=true",
                content=csv_rows(i, 30),
                headers={**AUTH, "Content-Type": "text/csv"},
                timeout=180,
            )

        threads = [threading.Thread(target=send, args=(i,)) for i in (1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(200)
        jobs = [answers[i].json() for i in (1, 2)]
        assert all(j["status"] == "succeeded" for j in jobs), jobs
        first, second = sorted(jobs, key=lambda j: j["started_at"])
        assert first["finished_at"] <= second["started_at"], "the fits overlapped"
        storage = open_storage(Settings(_env_file=None, database_url=database_url))
        try:
            snapshot = storage.store.snapshot()
            assert snapshot is not None
            digests = [b.split("-")[1] for b in snapshot.batches]
            # The bundled sales, the first retrain's and these two: each stored once.
            assert len(digests) == len(set(digests)) == 4
            assert len(storage.store.read(snapshot)) == 932 + 40 + 30 + 30
        finally:
            storage.close()
    finally:
        for replica in replicas:
            replica.stop()
