"""Fixtures: a temporary model directory, the bundled data set, a fitted model, an app client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.fitting import fit_table
from app.listings import read_table
from app.main import create_app
from app.registry import Registry
from app.store import Store

ROOT = Path(__file__).resolve().parent.parent
SACRAMENTO = ROOT / "data" / "sacramento.csv"
API_KEY = "test-key-4f1c2a"


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
def registry(model_dir: Path) -> Registry:
    registry = Registry(model_dir)
    registry.ensure()
    return registry


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
def settings(model_dir: Path, tmp_path: Path) -> Settings:
    return make_settings(model_dir, tmp_path)


@pytest.fixture
def client(settings: Settings, fitted: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """The listing store of `settings`, holding the bundled data as its training set."""
    store = Store(tmp_path / "data")
    store.add(read_table(SACRAMENTO), "replace")
    return store
