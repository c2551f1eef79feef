"""CORS: off by default; exact origins may call everything, `*` the estimate routes only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings

SITE = "https://homes.example.com"
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def preflight(client: TestClient, path: str, origin: str = SITE) -> dict[str, str]:
    answer = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    return {"status": str(answer.status_code), **{k.lower(): v for k, v in answer.headers.items()}}


def cors_client(settings: Settings, origins: str) -> TestClient:
    return TestClient(create_app(settings.model_copy(update={"cors_origins": origins})))


@pytest.fixture
def listed(settings: Settings, fitted: str) -> Iterator[TestClient]:
    with cors_client(settings, f"{SITE}, http://localhost:3000") as client:
        yield client


@pytest.fixture
def anyone(settings: Settings, fitted: str) -> Iterator[TestClient]:
    with cors_client(settings, "*") as client:
        yield client


def test_by_default_no_origin_is_allowed(client: TestClient) -> None:
    answer = client.post("/predict", json=HOUSE, headers={"Origin": SITE})
    assert "access-control-allow-origin" not in answer.headers
    assert preflight(client, "/predict")["status"] == "405"


def test_a_listed_origin_gets_preflights_and_marked_answers(listed: TestClient) -> None:
    answered = preflight(listed, "/retrain")
    assert answered["status"] == "204"
    assert answered["access-control-allow-origin"] == SITE
    assert "Authorization" in answered["access-control-allow-headers"]
    fast = listed.post("/predict", json=HOUSE, headers={"Origin": SITE})
    assert fast.headers["access-control-allow-origin"] == SITE
    assert "X-Request-ID" in fast.headers["access-control-expose-headers"]


def test_an_origin_not_listed_gets_nothing(listed: TestClient) -> None:
    assert preflight(listed, "/predict", "https://evil.example")["status"] == "403"
    answer = listed.post("/predict", json=HOUSE, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_star_opens_the_estimate_routes_only(anyone: TestClient) -> None:
    assert preflight(anyone, "/predict")["access-control-allow-origin"] == "*"
    assert preflight(anyone, "/predict/batch")["access-control-allow-origin"] == "*"
    assert preflight(anyone, "/retrain")["status"] == "403"
    models = anyone.get("/models", headers={"Origin": SITE})
    assert "access-control-allow-origin" not in models.headers


def test_credentials_are_never_allowed(listed: TestClient, anyone: TestClient) -> None:
    for client in (listed, anyone):
        assert "access-control-allow-credentials" not in preflight(client, "/predict")
