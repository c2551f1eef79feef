"""The service under a real uvicorn, with several workers sharing one model directory."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pandas as pd

from app.domain.fitting import fit_table
from app.storage.files.registry import FileRegistry as Registry
from tests.e2e.server import Server
from tests.support import API_KEY

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def env(model_dir: Path, metrics_dir: Path) -> dict[str, str]:
    metrics_dir.mkdir(exist_ok=True)
    return {
        "HOUSE_PRICE_MODEL_DIR": str(model_dir),
        "HOUSE_PRICE_DATA_DIR": str(model_dir.parent / "data"),
        "HOUSE_PRICE_API_KEY": API_KEY,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }


def fresh_connection_predict(url: str) -> httpx.Response:
    # A new connection each time, so that the kernel spreads requests over the workers.
    return httpx.post(f"{url}/predict", json=HOUSE, headers={"Connection": "close"}, timeout=5)


def test_serves_estimates_over_http(model_dir: Path, fitted: str, tmp_path: Path) -> None:
    with Server(env(model_dir, tmp_path / "metrics")) as server:
        response = httpx.post(f"{server.url}/predict", json=HOUSE)
        docs = httpx.get(f"{server.url}/docs")
    assert response.status_code == 200
    assert response.headers["x-model-version"] == fitted
    assert response.json()["price"] > 0
    assert docs.status_code == 200


def test_every_worker_serves_a_new_active_version_within_one_second(
    model_dir: Path, registry: Registry, fitted: str, sacramento: pd.DataFrame, tmp_path: Path
) -> None:
    second = registry.save(*fit_table(sacramento.head(500), folds=5, source="head"))
    metrics_dir = tmp_path / "metrics"
    with Server(env(model_dir, metrics_dir), workers=2) as server:
        for _ in range(40):
            assert fresh_connection_predict(server.url).headers["x-model-version"] == fitted
        # Activated from outside the server, as the fitting command or another replica would.
        registry.activate(second)
        switched = time.monotonic()
        time.sleep(1.0)
        late = [fresh_connection_predict(server.url) for _ in range(60)]
        elapsed = time.monotonic() - switched
    assert elapsed < 10
    assert {r.headers["x-model-version"] for r in late} == {second}
    assert {r.json()["model_version"] for r in late} == {second}
    pids = {p.name.split("_")[-1] for p in metrics_dir.glob("counter_*.db")}
    assert len(pids) >= 2, "requests reached only one worker"


def test_metrics_add_up_across_workers(model_dir: Path, fitted: str, tmp_path: Path) -> None:
    pattern = (
        r'house_price_http_requests_total\{method="POST",route="/predict",status="200"\} ([0-9.]+)'
    )
    metrics_dir = tmp_path / "metrics"
    with Server(env(model_dir, metrics_dir), workers=2) as server:
        for _ in range(50):
            assert fresh_connection_predict(server.url).status_code == 200
        time.sleep(0.5)  # each worker writes its counts every poll interval (0.2 s)
        text = httpx.get(f"{server.url}/metrics").text
    match = re.search(pattern, text)
    assert match, text
    assert float(match.group(1)) == 50
    assert len(set(metrics_dir.glob("counter_*.db"))) >= 2


def test_activation_through_the_api_reaches_the_other_worker(
    model_dir: Path, registry: Registry, fitted: str, sacramento: pd.DataFrame, tmp_path: Path
) -> None:
    second = registry.save(*fit_table(sacramento.tail(500), folds=5, source="tail"))
    with Server(env(model_dir, tmp_path / "metrics"), workers=2) as server:
        response = httpx.post(
            f"{server.url}/models/{second}/activate",
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        assert response.status_code == 200
        time.sleep(1.0)
        versions = {fresh_connection_predict(server.url).json()["model_version"] for _ in range(40)}
    assert versions == {second}
