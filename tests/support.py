"""What the tests share that is not a fixture: paths, the test key, settings, synthetic sales."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from psycopg.conninfo import make_conninfo

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SACRAMENTO = ROOT / "data" / "sacramento.csv"
API_KEY = "test-key-4f1c2a-9b7e"
TEST_DATABASE_URL = os.environ.get(
    "HOUSE_PRICE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ENGINES = ("files", "postgres")


def schema_url(server: str, schema: str) -> str:
    return make_conninfo(server, options=f"-csearch_path={schema}")


def make_settings(model_dir: Path, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_dir": model_dir,
        "data_dir": tmp_path / "data",
        "api_key": API_KEY,
        "poll_interval": 0.05,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def synthetic_listings(rows: int, seed: int = 0) -> pd.DataFrame:
    """Listings like the bundled ones: price linear in the features plus noise."""
    rng = np.random.default_rng(seed)
    beds = rng.integers(1, 7, rows)
    baths = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0, 3.5], rows)
    sqft = rng.integers(500, 5000, rows).astype(float)
    price = 58_000 - 27_000 * beds + 5_300 * baths + 158 * sqft + rng.normal(0, 60_000, rows)
    price = np.maximum(price, 20_000).round(0)
    return pd.DataFrame({"beds": beds, "baths": baths, "sqft": sqft, "price": price})
