"""A planted version, on both engines: refused in words wherever it is met, never run, and the
rest keeps serving; a signed deployment serves only versions signed with its key."""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.api.factory import create_app
from app.config import Settings
from app.domain.fitting import fit_table
from app.storage import CorruptVersion, RefusedVersion, Storage, open_storage
from tests.api.test_markets import town_sales
from tests.damage import plant_artifact, point_at
from tests.support import API_KEY

pytestmark = pytest.mark.engines("files", "postgres")

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}
AUTH = {"Authorization": f"Bearer {API_KEY}"}
KEY = "s" * 40


class Planted:
    """A pickle that runs a shell command when it is unpickled."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "created-by-the-planted-pickle"


@pytest.fixture
def planted(marker: Path) -> bytes:
    return pickle.dumps(Planted(f"touch {marker}"), protocol=4)


def save(storage: Storage, sales: pd.DataFrame, market: str = "default") -> str:
    return storage.market(market).registry.save(*fit_table(sales, folds=5, source="t"))


def test_a_planted_active_version_is_refused_and_readiness_names_what_it_holds(
    settings: Settings, storage: Storage, sacramento: pd.DataFrame, planted: bytes, marker: Path
) -> None:
    version = save(storage, sacramento)
    storage.registry.activate(version)
    plant_artifact(storage, settings, version, planted)
    with TestClient(create_app(settings)) as client:
        ready = client.get("/health/ready")
        predict = client.post("/predict", json=HOUSE)
    assert ready.status_code == 503 and predict.status_code == 503
    reason = ready.json()["reason"]
    assert f"model version {version}: refused: the artifact names `posix.system`" in reason
    assert not marker.exists()


def test_a_planted_version_pointed_at_leaves_the_last_good_one_serving(
    settings: Settings, storage: Storage, sacramento: pd.DataFrame, planted: bytes, marker: Path
) -> None:
    good, bad = save(storage, sacramento), save(storage, sacramento)
    storage.registry.activate(good)
    with TestClient(create_app(settings)) as client:
        plant_artifact(storage, settings, bad, planted)
        point_at(storage, settings, bad)
        client.app.state.served.refresh()  # type: ignore[attr-defined]
        predict = client.post("/predict", json=HOUSE)
        ready = client.get("/health/ready").json()
    assert predict.status_code == 200 and predict.json()["model_version"] == good
    assert "refused: the artifact names `posix.system`" in ready["reason"]
    assert not marker.exists()


def test_a_planted_rollback_target_is_refused_in_the_answer_and_nothing_moves(
    client: TestClient,
    settings: Settings,
    storage: Storage,
    fitted: str,
    sacramento: pd.DataFrame,
    planted: bytes,
    marker: Path,
) -> None:
    older = save(storage, sacramento)
    plant_artifact(storage, settings, older, planted)
    answer = client.post(f"/models/{older}/activate", headers=AUTH)
    assert answer.status_code == 409
    assert f"model version {older}: refused: the artifact names `posix.system`" in str(
        answer.json()["detail"]
    )
    assert storage.registry.active_version() == fitted
    assert client.post("/predict", json=HOUSE).json()["model_version"] == fitted
    assert not marker.exists()


def test_a_planted_version_in_one_market_leaves_the_others_serving(
    settings: Settings, storage: Storage, fitted: str, planted: bytes, marker: Path
) -> None:
    version = save(storage, town_sales("ELK_GROVE"), "elk-grove")
    storage.market("elk-grove").registry.activate(version)
    plant_artifact(storage, settings, version, planted)
    with TestClient(create_app(settings)) as client:
        default = client.post("/predict", json=HOUSE)
        elk = client.post("/predict", json={**HOUSE, "market": "elk-grove"})
        ready = client.get("/health/ready").json()
    assert default.status_code == 200 and default.json()["model_version"] == fitted
    refusal = f"model version {version}: refused: the artifact names `posix.system`"
    assert elk.status_code == 503 and refusal in elk.json()["detail"]
    assert list(ready["refused"]) == ["elk-grove"] and refusal in ready["refused"]["elk-grove"]
    assert not marker.exists()


@pytest.fixture
def signed(settings: Settings) -> Iterator[tuple[Settings, Storage]]:
    """The same deployment with a signing key: its settings and its storage."""
    signing = settings.model_copy(update={"signing_key": SecretStr(KEY)})
    opened = open_storage(signing)
    opened.ensure()
    yield signing, opened
    opened.close()


def test_a_signed_deployment_serves_a_version_signed_with_its_key(
    signed: tuple[Settings, Storage], sacramento: pd.DataFrame
) -> None:
    settings, storage = signed
    version = save(storage, sacramento)
    storage.registry.activate(version)
    assert "signature" in storage.registry.card(version)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/predict", json=HOUSE)
    assert answer.status_code == 200 and answer.json()["model_version"] == version


def test_a_signed_deployment_refuses_an_unsigned_version(
    signed: tuple[Settings, Storage], storage: Storage, sacramento: pd.DataFrame
) -> None:
    unsigned = save(storage, sacramento)  # saved without the key
    with pytest.raises(RefusedVersion, match="refused: it is not signed"):
        signed[1].registry.activate(unsigned)
    assert signed[1].registry.active_version() is None


def test_a_signed_deployment_refuses_a_version_signed_with_another_key(
    signed: tuple[Settings, Storage], sacramento: pd.DataFrame
) -> None:
    settings, _ = signed
    other = open_storage(settings.model_copy(update={"signing_key": SecretStr("o" * 40)}))
    try:
        version = save(other, sacramento)
    finally:
        other.close()
    with pytest.raises(RefusedVersion, match="signature does not match the signing key"):
        signed[1].registry.load(version)


def test_a_planted_model_of_the_right_format_with_other_numbers_is_refused_when_signed(
    signed: tuple[Settings, Storage], sacramento: pd.DataFrame
) -> None:
    settings, storage = signed
    version = save(storage, sacramento)
    model = storage.registry.load(version).model
    other = pickle.dumps(model.__class__(**{**vars_of(model), "intercept": 1e6}), protocol=4)
    plant_artifact(storage, settings, version, other)
    with pytest.raises(RefusedVersion, match="signature does not match"):
        storage.registry.load(version)
    with pytest.raises(CorruptVersion):
        storage.registry.activate(version)


def vars_of(model: Any) -> dict[str, Any]:
    """The arguments that make `model` again (its caches are made, not given)."""
    return {f.name: getattr(model, f.name) for f in dataclasses.fields(model) if f.init}
