"""GET /model, GET /models and POST /models/{version}/activate behind the bearer key."""

from __future__ import annotations

import logging
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
from tests.support import API_KEY, make_settings

pytestmark = pytest.mark.engines("files", "postgres")


@pytest.fixture
def second(registry: Registry, sacramento: pd.DataFrame) -> str:
    """A second stored version, fitted on the cheaper half of the data, not active."""
    half = sacramento[sacramento["price"] < sacramento["price"].median()].reset_index(drop=True)
    model, card = fit_table(half, folds=5, source="half")
    return registry.save(model, card)


def test_model_card_describes_the_active_version(client: TestClient, fitted: str) -> None:
    response = client.get("/model")
    assert response.status_code == 200
    card = response.json()
    assert card["version"] == fitted == response.headers["X-Model-Version"]
    assert card["coefficients"]["sqft"] == {
        "value": pytest.approx(158.17, abs=0.01),
        "unit": "$ per sq ft",
    }
    assert card["intercept"] == pytest.approx(58481.75, abs=0.01)
    assert card["feature_ranges"]["beds"] == {"min": 1.0, "max": 8.0}
    assert card["metrics"]["cv"]["r2"] == pytest.approx(0.594, abs=0.0005)
    assert card["training"]["rows"] == 932
    assert len(card["artifact_sha256"]) == 64
    assert "scikit-learn" in card["libraries"]
    assert card["interval"]["default_level"] == 0.9 and card["interval"]["scale"]["b"] > 0
    assert card["created_at"]


def test_models_lists_versions_newest_first_with_the_active_one_marked(
    client: TestClient, fitted: str, second: str, sacramento: pd.DataFrame
) -> None:
    body = client.get("/models").json()
    assert body["active_version"] == fitted
    assert [v["version"] for v in body["versions"]] == [second, fitted]
    assert [v["active"] for v in body["versions"]] == [False, True]
    cheaper_half = int((sacramento["price"] < sacramento["price"].median()).sum())
    assert [v["n_train"] for v in body["versions"]] == [cheaper_half, 932]
    assert "r2" in body["versions"][0]["metrics"]


def test_activate_switches_the_served_version(
    client: TestClient, fitted: str, second: str, auth: dict[str, str]
) -> None:
    response = client.post(f"/models/{second}/activate", headers=auth)
    assert response.status_code == 200
    assert response.json() == {
        "market": "default",
        "active_version": second,
        "previous_version": fitted,
    }
    answer = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert answer.json()["model_version"] == second
    assert answer.headers["X-Model-Version"] == second


def test_models_shows_who_activated_what_and_when(
    client: TestClient, fitted: str, second: str, auth: dict[str, str]
) -> None:
    client.post(f"/models/{second}/activate", headers=auth)
    latest, first = client.get("/models").json()["activations"][:2]
    assert (latest["version"], latest["previous"]) == (second, fitted)
    assert latest["by"].startswith("POST /models/{version}/activate on ")
    assert (first["version"], first["previous"]) == (fitted, None)


def test_activate_without_a_key_is_a_401(client: TestClient, second: str) -> None:
    response = client.post(f"/models/{second}/activate")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_activate_with_a_wrong_key_is_a_401_and_changes_nothing(
    client: TestClient, registry: Registry, fitted: str, second: str
) -> None:
    response = client.post(
        f"/models/{second}/activate", headers={"Authorization": "Bearer not-the-key"}
    )
    assert response.status_code == 401
    assert "not-the-key" not in response.text
    assert registry.active_version() == fitted


def test_with_no_key_configured_activation_is_refused_with_how_to_set_one(
    tmp_path: Path, model_dir: Path, fitted: str, second: str
) -> None:
    settings = make_settings(model_dir, tmp_path, api_key=None)
    with TestClient(create_app(settings)) as open_client:
        response = open_client.post(
            f"/models/{second}/activate", headers={"Authorization": "Bearer anything"}
        )
    assert response.status_code == 403
    assert "HOUSE_PRICE_API_KEY" in response.json()["detail"]


def test_activating_an_unknown_version_is_a_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/models/v20000101-000000-abcdef/activate", headers=auth)
    assert response.status_code == 404


def test_activating_a_damaged_version_is_a_409_and_changes_nothing(
    client: TestClient,
    settings: Settings,
    storage: Storage,
    registry: Registry,
    fitted: str,
    second: str,
    auth: dict[str, str],
) -> None:
    damage_artifact(storage, settings, second)
    response = client.post(f"/models/{second}/activate", headers=auth)
    assert response.status_code == 409
    assert "checksum mismatch" in response.json()["detail"]
    assert registry.active_version() == fitted


def test_the_key_never_appears_in_logs(
    client: TestClient, second: str, auth: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.post(f"/models/{second}/activate", headers=auth)
        client.post(f"/models/{second}/activate", headers={"Authorization": "Bearer wrong"})
    assert caplog.records, "expected the activation to be logged"
    assert API_KEY not in caplog.text


def test_models_come_a_page_at_a_time_with_a_token_for_the_next(
    client: TestClient, fitted: str, second: str, registry: Registry, sacramento: pd.DataFrame
) -> None:
    third = registry.save(*fit_table(sacramento.head(300), folds=5, source="third"))
    first_page = client.get("/models?limit=2").json()
    assert [v["version"] for v in first_page["versions"]] == [third, second]
    assert first_page["active_version"] == fitted
    token = first_page["next_page_token"]
    assert isinstance(token, str) and second not in token  # opaque
    last_page = client.get("/models", params={"limit": 2, "page_token": token}).json()
    assert [v["version"] for v in last_page["versions"]] == [fitted]
    assert last_page["versions"][0]["active"] is True
    assert last_page["next_page_token"] is None


@pytest.mark.parametrize("token", ["nonsense", "eyJiZWZvcmUiOiIuLi8uLiJ9", ""])
def test_a_page_token_the_service_did_not_give_is_a_422_naming_it(
    client: TestClient, token: str
) -> None:
    response = client.get("/models", params={"page_token": token})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "page_token"]


@pytest.mark.parametrize("limit", [0, 1001, -5])
def test_a_limit_outside_1_to_1000_is_a_422(client: TestClient, limit: int) -> None:
    response = client.get(f"/models?limit={limit}")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "limit"]


def test_a_version_can_be_marked_kept_and_unmarked_with_the_key(
    client: TestClient, second: str, auth: dict[str, str]
) -> None:
    assert client.post(f"/models/{second}/keep").status_code == 401
    kept = client.post(f"/models/{second}/keep", headers=auth)
    assert kept.json() == {"version": second, "kept": True}
    listed = {v["version"]: v["kept"] for v in client.get("/models").json()["versions"]}
    assert listed[second] is True
    assert client.delete(f"/models/{second}/keep", headers=auth).json()["kept"] is False
    assert client.post("/models/v20000101-000000-abcdef/keep", headers=auth).status_code == 404
