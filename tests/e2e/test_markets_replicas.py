"""Markets across replicas, on both engines: a retirement reaches every worker within a second,
and fits of different markets run at the same time while each market's stay one at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, engine_deployment, train
from tests.support import API_KEY, synthetic_listings

pytestmark = pytest.mark.engines("files", "postgres")

AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "text/csv"}
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


@pytest.fixture
def deployment(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    url = request.getfixturevalue("database_url") if backend == "postgres" else None
    env = engine_deployment(backend, tmp_path, url)
    env["HOUSE_PRICE_ACCESS_LOG"] = "false"
    for market in ("ames", "elk-grove", "roseville"):
        train(env, "--market", market)
    return env


def test_a_retired_market_stops_on_every_worker_of_every_replica_within_a_second(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    replicas = [Server(deployment, workers=2, log=tmp_path / f"r{i}.log").start() for i in range(2)]
    try:
        urls = [r.url for r in replicas]
        for url in urls:
            assert httpx.post(f"{url}/predict", json={**HOUSE, "market": "ames"}).status_code == 200
        roseville = httpx.post(f"{urls[0]}/predict", json={**HOUSE, "market": "roseville"})
        retired = httpx.delete(f"{urls[0]}/markets/ames", headers=AUTH)
        assert retired.status_code == 200
        start = time.monotonic()
        # Many requests per replica (each of its two workers answers some), until a whole round
        # is refused; what counts is when the last request that was still served was sent, not
        # when a round on a slow machine ends.
        last_served = 0.0
        while time.monotonic() - start < 10:
            codes: set[int] = set()
            for url in urls:
                for _ in range(10):
                    sent = time.monotonic() - start
                    answer = httpx.post(f"{url}/predict", json={**HOUSE, "market": "ames"})
                    code = answer.status_code
                    codes.add(code)
                    last_served = sent if code == 200 else last_served
            if codes == {404}:
                break
        assert codes == {404}, f"ames still served after 10 s: {codes}"
        assert last_served < 1.0, f"ames served to a request sent {last_served:.2f} s after"
        for url in urls:  # the other markets did not move
            again = httpx.post(f"{url}/predict", json={**HOUSE, "market": "roseville"})
            assert again.content == roseville.content
    finally:
        for replica in replicas:
            replica.stop()


def test_fits_of_two_markets_run_side_by_side_on_two_replicas(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    replicas = [Server(deployment, log=tmp_path / f"r{i}.log").start() for i in range(2)]
    sales = synthetic_listings(600_000, seed=5).to_csv(index=False).encode()
    jobs: dict[str, dict[str, object]] = {}

    def retrain(url: str, market: str) -> None:
        answer = httpx.post(
            f"{url}/retrain?market={market}&wait=true", content=sales, headers=AUTH, timeout=300
        )
        jobs[market] = answer.json()

    try:
        threads = [
            threading.Thread(target=retrain, args=(replicas[0].url, "elk-grove")),
            threading.Thread(target=retrain, args=(replicas[1].url, "roseville")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
    finally:
        for replica in replicas:
            replica.stop()
    elk, rose = jobs["elk-grove"], jobs["roseville"]
    assert elk["status"] == rose["status"] == "succeeded", jobs
    # The two fits overlapped in time: neither waited for the other's market.
    assert str(elk["started_at"]) < str(rose["finished_at"])
    assert str(rose["started_at"]) < str(elk["finished_at"])
