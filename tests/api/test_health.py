"""Liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings
from app.domain.fitting import fit_table
from app.storage import Storage
from app.storage.files.registry import FileRegistry as Registry
from tests.damage import damage_artifact
from tests.support import make_settings

pytestmark = pytest.mark.engines("files", "postgres")


def test_live_answers_while_the_process_runs(client: TestClient) -> None:
    assert client.get("/health/live").json() == {"status": "alive"}


def test_ready_names_the_served_version_and_the_storage(
    client: TestClient, fitted: str, storage: Storage
) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "ready",
        "model_version": fitted,
        "markets": 1,
        "reason": None,
        "storage": body["storage"],
        "refused": {},
    }
    assert body["storage"] == storage.describe() != ""


def test_not_ready_without_a_model_says_why(tmp_path: Path, model_dir: Path) -> None:
    with TestClient(create_app(make_settings(model_dir, tmp_path))) as empty:
        response = empty.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert "python -m app.train" in response.json()["reason"]


def test_a_damaged_active_version_is_refused_and_readiness_says_why(
    settings: Settings, storage: Storage, registry: Registry, sacramento: pd.DataFrame
) -> None:
    version = registry.save(*fit_table(sacramento, folds=5, source="t"))
    registry.activate(version)
    damage_artifact(storage, settings, version)
    with TestClient(create_app(settings)) as damaged:
        response = damaged.get("/health/ready")
        predict = damaged.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert response.status_code == 503
    assert "checksum mismatch" in response.json()["reason"]
    assert predict.status_code == 503


def test_metrics_count_requests_and_estimates(client: TestClient, fitted: str) -> None:
    def value(text: str, pattern: str) -> float:
        match = re.search(pattern + r" ([0-9.e+]+)", text)
        return float(match.group(1)) if match else 0.0

    requests = r'house_price_http_requests_total\{method="POST",route="/predict",status="200"\}'
    estimates = rf'house_price_estimates_total\{{model_version="{fitted}"\}}'
    before = client.get("/metrics").text
    for _ in range(3):
        client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    client.post("/predict/batch", json={"listings": [{"beds": 3, "baths": 2, "sqft": 1500}] * 4})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    assert value(after.text, requests) - value(before, requests) == 3
    assert value(after.text, estimates) - value(before, estimates) == 7
    assert f'house_price_active_model_info{{model_version="{fitted}"}} 1.0' in after.text
    assert "house_price_http_request_duration_seconds_bucket" in after.text


def test_latency_histogram_buckets_match_the_requests(client: TestClient) -> None:
    def counts() -> tuple[float, float]:
        text = client.get("/metrics").text
        series = 'house_price_http_request_duration_seconds_{}{{{}method="POST",route="/predict"}}'
        count = re.search(re.escape(series.format("count", "")) + " ([0-9.]+)", text)
        inf = re.search(re.escape(series.format("bucket", 'le="+Inf",')) + " ([0-9.]+)", text)
        return (float(count.group(1)) if count else 0.0, float(inf.group(1)) if inf else 0.0)

    before = counts()
    for _ in range(5):
        client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    after = counts()
    assert after[0] - before[0] == after[1] - before[1] == 5
