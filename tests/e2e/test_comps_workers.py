"""A retrain's new comps, on both engines: every worker of a server lists them within a second
of the promotion, and maps the one file of them the machine keeps."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, engine_deployment
from tests.support import API_KEY, located_listings, mapped_packs, uvicorn_workers

pytestmark = pytest.mark.engines("files", "postgres")

AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/csv"}
HOME = {
    "beds": 3,
    "baths": 2,
    "sqft": 1800,
    "area": "north",
    "latitude": 47.52,
    "longitude": -122.25,
    "market": "seattle",
}


def _retrain(url: str, seed: int) -> tuple[dict[str, object], set[float]]:
    sales = located_listings(800, seed=seed)
    answer = httpx.post(
        f"{url}/retrain?market=seattle&wait=true&force=true&mode=replace",
        content=sales.to_csv(index=False).encode(),
        headers=AUTH,
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    job = answer.json()
    assert job["status"] == "succeeded" and job["promoted"], job
    return job, set(sales["price"].astype(float))


def _round(url: str) -> list[httpx.Response]:
    # A new connection each: both workers answer some.
    return [
        httpx.post(f"{url}/predict?comps=3", json=HOME, headers={"Connection": "close"})
        for _ in range(12)
    ]


def test_every_worker_lists_a_retrains_new_comps_within_a_second(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("database_url") if backend == "postgres" else None
    env = {**engine_deployment(backend, tmp_path, url), "HOUSE_PRICE_ACCESS_LOG": "false"}
    env["HOUSE_PRICE_COMPS_DIR"] = str(tmp_path / "comps")
    with Server(env, workers=2, log=tmp_path / "server.log") as server:
        _, first_prices = _retrain(server.url, seed=1)
        deadline = time.monotonic() + 10  # a new market reaches every worker
        answers = _round(server.url)
        while {a.status_code for a in answers} != {200}:
            assert time.monotonic() < deadline, "the new market is not served by every worker"
            answers = _round(server.url)
        for answer in answers:
            assert {c["price"] for c in answer.json()["comps"]} <= first_prices
        job, prices = _retrain(server.url, seed=2)
        promoted = time.monotonic()
        while True:
            sent = time.monotonic() - promoted
            answers = _round(server.url)
            versions = {a.headers["x-model-version"] for a in answers}
            listed = {c["price"] for a in answers for c in a.json()["comps"]}
            if versions == {job["version"]} and listed <= prices:
                break
            assert sent < 1.0, f"old comps served {sent:.2f} s after the promotion"
        # Both workers read the new version's comps from one file of the machine's.
        assert server.process is not None
        mapped = [mapped_packs(pid) for pid in uvicorn_workers(server.process.pid)]
        assert len(mapped) == 2 and mapped[0] & mapped[1], mapped
        (shared,) = mapped[0] & mapped[1]
        assert Path(shared).parent == tmp_path / "comps"
