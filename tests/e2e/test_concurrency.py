"""Two workers under continuous prediction load while ten retrains run back to back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.e2e.server import Server, fitted_dirs
from tests.support import API_KEY

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class Predictor(threading.Thread):
    """Posts predictions until stopped; records (time sent, status, version) of each."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, stop
        self.results: list[tuple[float, int, str]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                # A fresh connection each time, so that both workers answer.
                response = httpx.post(
                    f"{self.url}/predict", json=HOUSE, headers={"Connection": "close"}, timeout=10
                )
            except httpx.HTTPError as exc:
                self.errors.append(repr(exc))
                continue
            version = response.headers.get("x-model-version", "")
            self.results.append((sent, response.status_code, version))


def test_predictions_never_fail_during_retrains_and_converge_within_a_second(
    tmp_path: Path,
) -> None:
    env = fitted_dirs(tmp_path)
    stop = threading.Event()
    with Server(env, workers=2) as server:
        predictors = [Predictor(server.url, stop) for _ in range(4)]
        for p in predictors:
            p.start()
        versions = []
        for i in range(10):
            rows = [
                {
                    "beds": 2 + (i + j) % 4,
                    "baths": 2,
                    "sqft": 900 + 37 * j + i,
                    "price": 1.5e5 + 900 * j,
                }
                for j in range(30)
            ]
            job = httpx.post(
                f"{server.url}/retrain?wait=true",
                json={"listings": rows, "force": True},
                headers=AUTH,
                timeout=120,
            ).json()
            assert job["status"] == "succeeded", job
            versions.append(job["active_version"])
        finished = time.monotonic()
        time.sleep(2.0)
        stop.set()
        for p in predictors:
            p.join(30)
    results = [r for p in predictors for r in p.results]
    errors = [e for p in predictors for e in p.errors]
    final = versions[-1]
    assert len(set(versions)) == 10, "every forced retrain activates a new version"
    assert not errors, errors[:5]
    assert len(results) > 200
    assert all(status == 200 for _, status, _ in results), {s for _, s, _ in results}
    late = [v for sent, _, v in results if sent >= finished + 1.0]
    assert late, "no predictions were sent after the last retrain"
    assert set(late) == {final}
    served = {v for _, _, v in results}
    assert len(served) >= 5, "the workers switched versions as the retrains landed"
    print(
        f"\n{len(results)} predictions during 10 retrains, 0 failed; {len(served)} versions served"
    )
