"""Deployments written by former releases are served as they are, or after `app.db upgrade`."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from app.api.factory import create_app
from app.domain.fitting import fit_table
from app.domain.listings import read_table
from app.storage.postgres.schema import MIGRATIONS
from tests.support import API_KEY, ROOT, SACRAMENTO, make_settings, schema_url

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


FORMER_DATABASE = FORMER.parent / "release-2026-12-db" / "schema.sql"


@pytest.fixture
def former_database(database_server: str) -> Iterator[str]:
    """A schema loaded from the dump of a database the former release wrote; its URL."""
    schema = f"hp_former_{uuid.uuid4().hex[:12]}"
    dump = FORMER_DATABASE.read_text().replace("former_release.", f"{schema}.")
    with psycopg.connect(database_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        conn.execute(dump.encode())
    yield schema_url(database_server, schema)
    with psycopg.connect(database_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def test_the_former_database_dump_is_of_the_schema_before_markets(former_database: str) -> None:
    with psycopg.connect(former_database) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (1,)


def test_upgrading_a_former_database_makes_its_model_the_default_market(
    former_database: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.db", "upgrade", "--url", former_database],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"schema at version {len(MIGRATIONS)}" in done.stdout
    settings = make_settings(tmp_path / "models", tmp_path, database_url=former_database)
    with TestClient(create_app(settings)) as client:
        answer = client.post("/predict", json=HOUSE)
        markets = client.get("/markets").json()
        sales = client.post(
            "/retrain?wait=true",
            content=SACRAMENTO.read_bytes(),
            headers={"Content-Type": "text/csv", "Authorization": f"Bearer {API_KEY}"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["market"] == "default"
    assert [m["market"] for m in markets["markets"]] == ["default"]
    assert markets["markets"][0]["active_version"] == answer.json()["model_version"]
    assert markets["markets"][0]["n_train"] == 932
    # The upgraded store takes sales as before: the same file is recognised, not stored again.
    assert sales.status_code == 200 and sales.json()["duplicate"] is True
