"""Named keys over HTTP: each key's scopes, and a keys file changed under a running app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.factory import create_app
from app.config import Settings
from app.storage import Storage
from tests.support import SACRAMENTO

CI = "ci-0123456789abcdef"  # retrain only
ALICE = "alice-0123456789abcdef"  # retrain and admin
CSV = {"Content-Type": "text/csv"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(settings: Settings, fitted: str) -> Iterator[TestClient]:
    named = settings.model_copy(update={"api_keys": SecretStr(f"ci:{CI}:retrain,alice:{ALICE}")})
    with TestClient(create_app(named)) as client:
        yield client


def test_a_retrain_key_sends_sales_and_fits(keyed: TestClient) -> None:
    answer = keyed.post(
        "/retrain?wait=true", content=SACRAMENTO.read_bytes(), headers={**CSV, **bearer(CI)}
    )
    assert answer.status_code == 200 and answer.json()["status"] == "succeeded"


def test_a_retrain_key_may_not_activate_and_is_told_which_scope_it_needs(
    keyed: TestClient, storage: Storage, fitted: str
) -> None:
    answer = keyed.post(f"/models/{fitted}/activate", headers=bearer(CI))
    assert answer.status_code == 403
    assert "'ci'" in answer.json()["detail"] and "'admin'" in answer.json()["detail"]
    assert keyed.post(f"/models/{fitted}/activate", headers=bearer(ALICE)).status_code == 200


def test_a_retrain_key_may_not_force_past_the_gate_and_nothing_is_stored(
    keyed: TestClient, storage: Storage
) -> None:
    before = storage.store.uploads()
    answer = keyed.post(
        "/retrain?force=true", content=SACRAMENTO.read_bytes(), headers={**CSV, **bearer(CI)}
    )
    assert answer.status_code == 403 and "promotion gate" in answer.json()["detail"]
    json_forced = keyed.post(
        "/retrain",
        json={"listings": [{"beds": 3, "baths": 2, "sqft": 1500, "price": 250000}], "force": True},
        headers=bearer(CI),
    )
    assert json_forced.status_code == 403
    assert storage.store.uploads() == before


def test_an_admin_key_may_retire_a_market_and_a_retrain_key_may_not(keyed: TestClient) -> None:
    assert keyed.delete("/markets/nowhere", headers=bearer(CI)).status_code == 403
    assert keyed.delete("/markets/nowhere", headers=bearer(ALICE)).status_code == 404


def test_the_single_key_setting_still_works(client: TestClient, auth: dict[str, str]) -> None:
    answer = client.post("/retrain", content=SACRAMENTO.read_bytes(), headers={**CSV, **auth})
    assert answer.status_code == 202


def test_a_key_added_to_the_file_works_and_one_removed_stops_without_a_restart(
    settings: Settings, fitted: str, tmp_path: Path
) -> None:
    path = tmp_path / "keys"
    path.write_text(f"ci:{CI}\n")
    filed = settings.model_copy(update={"api_key": None, "api_keys_file": path})
    with TestClient(create_app(filed)) as client:
        url = f"/models/{fitted}/activate"
        assert client.post(url, headers=bearer(CI)).status_code == 200
        assert client.post(url, headers=bearer(ALICE)).status_code == 401
        (tmp_path / "keys.new").write_text(f"alice:{ALICE}\n")
        os.replace(tmp_path / "keys.new", path)
        assert client.post(url, headers=bearer(ALICE)).status_code == 200
        assert client.post(url, headers=bearer(CI)).status_code == 401
