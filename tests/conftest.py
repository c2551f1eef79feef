"""Fixtures: the bundled data set, a storage (files, or a fresh PostgreSQL schema), a fitted
model, an app client.

Storage fixtures use files unless a test is marked `engines("files", "postgres")` (or only
"postgres"): it then runs once on each engine named, the one way to say it in this suite.
PostgreSQL tests run against the server at HOUSE_PRICE_TEST_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), each in a schema of its own; with no server
they are skipped, except under CI, where that is a failure.
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

from app.api.factory import create_app
from app.config import Settings
from app.domain.fitting import fit_table
from app.domain.listings import read_table
from app.domain.located_fitting import fit_located_table
from app.storage import ListingStore, Registry, Storage, open_storage
from app.storage.postgres.database import redact
from tests.support import (
    API_KEY,
    ENGINES,
    ROOT,
    SACRAMENTO,
    TEST_DATABASE_URL,
    king_county_csv,
    located_listings,
    make_settings,
    schema_url,
)

E2E = ROOT / "tests" / "e2e"


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


@pytest.fixture(scope="session")
def king_county() -> Path:
    """The King County sales (../shared/data/king_county.csv beside the checkout, or beside the
    repository it was cloned from; HOUSE_PRICE_KING_COUNTY names another copy); a failure under
    CI when none is found."""
    found = king_county_csv()
    if found is None:
        message = "no ../shared/data/king_county.csv (set HOUSE_PRICE_KING_COUNTY)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


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
    """The storage engine of a test: files, unless it is marked `engines(...)`."""
    return "files"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.engines("files", "postgres")` runs a test once on each engine it names."""
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None and "backend" in metafunc.fixturenames:
        unknown = set(marker.args) - set(ENGINES)
        assert marker.args and not unknown, f"engines() takes some of {ENGINES}"
        metafunc.parametrize("backend", marker.args)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test (real servers, real processes) is slow: `make test-slow` runs them."""
    for item in items:
        if Path(str(item.path)).is_relative_to(E2E):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture
def client(settings: Settings, fitted: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def located(registry: Registry) -> str:
    """A located version (areas, coordinates, sale dates; comps) made active; its name."""
    version = registry.save(*fit_located_table(located_listings(2000), folds=5, source="test"))
    registry.activate(version)
    return version


@pytest.fixture
def located_client(settings: Settings, located: str) -> Iterator[TestClient]:
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
