"""Fixtures: the bundled data set, a storage (files, or a fresh PostgreSQL schema), a fitted
model, an app client.

Storage fixtures use files unless a test module asks for both engines by overriding `backend`
(tests/storage/conftest.py does). PostgreSQL tests run against the server at
HOUSE_PRICE_TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), each in a
schema of its own; with no server they are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app.api.factory import create_app
from app.config import Settings
from app.domain.fitting import fit_table
from app.domain.listings import read_table
from app.storage import ListingStore, Registry, Storage, open_storage
from app.storage.postgres.database import redact

ROOT = Path(__file__).resolve().parent.parent
SACRAMENTO = ROOT / "data" / "sacramento.csv"
API_KEY = "test-key-4f1c2a"
TEST_DATABASE_URL = os.environ.get(
    "HOUSE_PRICE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def database_server() -> str:
    """The PostgreSQL server the tests use; a failure under CI when it does not answer."""
    try:
        psycopg.connect(TEST_DATABASE_URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        message = f"no PostgreSQL server at {redact(TEST_DATABASE_URL)}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message + " (set HOUSE_PRICE_TEST_DATABASE_URL)")
    return TEST_DATABASE_URL


def schema_url(server: str, schema: str) -> str:
    return make_conninfo(server, options=f"-csearch_path={schema}")


@pytest.fixture
def database_url(database_server: str) -> Iterator[str]:
    """A connection string to a fresh, empty schema of its own, dropped afterwards."""
    schema = f"hp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield schema_url(database_server, schema)
    with psycopg.connect(database_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def backend() -> str:
    """The storage engine of a test: files, unless the module asks for both."""
    return "files"


@pytest.fixture(scope="session")
def sacramento() -> pd.DataFrame:
    """The bundled data set, checked, with the required columns as float64."""
    return read_table(SACRAMENTO)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def settings(
    model_dir: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Settings:
    extra: dict[str, Any] = {}
    if backend == "postgres":
        extra["database_url"] = request.getfixturevalue("database_url")
    return make_settings(model_dir, tmp_path, **extra)


@pytest.fixture
def storage(settings: Settings) -> Iterator[Storage]:
    opened = open_storage(settings)
    opened.ensure()
    yield opened
    opened.close()


@pytest.fixture
def registry(storage: Storage) -> Registry:
    return storage.registry


@pytest.fixture
def fitted(registry: Registry, sacramento: pd.DataFrame) -> str:
    """A version fitted on the bundled data and made active; its name."""
    version = registry.save(*fit_table(sacramento, folds=5, source="sacramento.csv"))
    registry.activate(version)
    return version


def make_settings(model_dir: Path, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_dir": model_dir,
        "data_dir": tmp_path / "data",
        "api_key": API_KEY,
        "poll_interval": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def client(settings: Settings, fitted: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def store(storage: Storage) -> ListingStore:
    """The listing store of `settings`, holding the bundled data as its training set."""
    storage.store.add(read_table(SACRAMENTO), "replace")
    return storage.store
