"""A deployment written by the release before the layered layout is served as it is."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.domain.fitting import fit_table
from app.domain.listings import read_table
from tests.support import SACRAMENTO, make_settings

FORMER = Path(__file__).resolve().parent.parent / "fixtures" / "release-2026-12"
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    copy = tmp_path / "former"
    shutil.copytree(FORMER, copy)
    return copy


def test_a_version_pickled_under_the_former_module_names_loads_and_serves(
    deployment: Path, tmp_path: Path
) -> None:
    settings = make_settings(deployment / "models", tmp_path, data_dir=deployment / "data")
    with TestClient(create_app(settings)) as client:
        answer = client.post("/predict", json=HOUSE)
        card = client.get("/model").json()
    assert answer.status_code == 200, answer.text
    active = (deployment / "models" / "ACTIVE").read_text().strip()
    assert answer.headers["X-Model-Version"] == active
    model, _ = fit_table(read_table(SACRAMENTO), folds=5, source="sacramento.csv")
    expected = model.predict(np.array([[3.0, 2.0, 1500.0]]))[0]
    assert answer.json()["price"] == pytest.approx(expected, rel=1e-12)
    assert card["training"]["rows"] == 932


def test_the_former_artifact_names_the_former_module() -> None:
    # What makes the test above worth having: the fixture really is of the former layout.
    (artifact,) = FORMER.glob("models/versions/*/model.joblib")
    assert b"app.model" in artifact.read_bytes()
    assert b"app.domain" not in artifact.read_bytes()
