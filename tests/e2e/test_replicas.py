"""Two replicas (separate uvicorn processes, two workers each) sharing one model and data dir."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from app.storage.files.store import FileStore as Store
from tests.e2e.server import Server, fitted_dirs
from tests.support import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def sales(tag: str, n: int) -> str:
    rows = [f"{tag}-{i},{2 + i % 4},{1 + i % 3},{800 + 23 * i},{95000 + 410 * i}" for i in range(n)]
    return "listing_id,beds,baths,sqft,price\n" + "\n".join(rows) + "\n"


def versions_served(url: str, count: int = 40) -> set[str]:
    return {
        httpx.post(f"{url}/predict", json=HOUSE, headers={"Connection": "close"}).headers[
            "x-model-version"
        ]
        for _ in range(count)
    }


def test_replicas_agree_and_fit_one_at_a_time(tmp_path: Path) -> None:
    shared = fitted_dirs(tmp_path)
    data_dir = Path(shared["HOUSE_PRICE_DATA_DIR"])
    metrics = [tmp_path / "metrics-a", tmp_path / "metrics-b"]
    for folder in metrics:
        folder.mkdir()
    with (
        Server({**shared, "PROMETHEUS_MULTIPROC_DIR": str(metrics[0])}, workers=2) as a,
        Server({**shared, "PROMETHEUS_MULTIPROC_DIR": str(metrics[1])}, workers=2) as b,
    ):
        # A retrain through one replica is served by all four workers within one second.
        job = httpx.post(
            f"{a.url}/retrain?wait=true&force=true",
            content=sales("one", 40),
            headers={**AUTH, "Content-Type": "text/csv"},
            timeout=120,
        ).json()
        assert job["status"] == "succeeded" and job["promoted"]
        time.sleep(1.0)
        assert versions_served(a.url) == {job["version"]}
        assert versions_served(b.url) == {job["version"]}
        for folder in metrics:
            assert len({p.name for p in folder.glob("counter_*.db")}) >= 2, (
                "a worker never answered"
            )

        # Two retrains at once through different replicas: both fitted, one after the other.
        results: dict[str, Any] = {}

        def send(server: Server, tag: str) -> None:
            results[tag] = httpx.post(
                f"{server.url}/retrain?wait=true&force=true",
                content=sales(tag, 50),
                headers={**AUTH, "Content-Type": "text/csv"},
                timeout=120,
            ).json()

        threads = [
            threading.Thread(target=send, args=(a, "left")),
            threading.Thread(target=send, args=(b, "right")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(150)
        left, right = results["left"], results["right"]
        assert left["status"] == right["status"] == "succeeded"
        spans = sorted(
            (datetime.fromisoformat(j["started_at"]), datetime.fromisoformat(j["finished_at"]))
            for j in (left, right)
        )
        assert spans[0][1] <= spans[1][0], f"the two fits overlapped: {spans}"
        time.sleep(1.0)
        final = {left["active_version"], right["active_version"]}
        served = versions_served(a.url) | versions_served(b.url)
        assert len(served) == 1 and served <= final

    store = Store(data_dir)
    snapshot = store.snapshot()
    assert snapshot is not None
    ids = store.read(snapshot)["listing_id"].dropna()
    assert ids.is_unique
    for tag, n in (("one", 40), ("left", 50), ("right", 50)):
        assert ids.str.startswith(f"{tag}-").sum() == n
