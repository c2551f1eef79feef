"""What the tests share that is not a fixture: paths, the test key, settings, synthetic sales."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from psycopg.conninfo import make_conninfo

from app.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SACRAMENTO = ROOT / "data" / "sacramento.csv"


def king_county_csv() -> Path | None:
    """King County's 21,613 sales: named by HOUSE_PRICE_KING_COUNTY, or in ../shared/data beside
    this checkout or beside the repository it was cloned from."""
    named = os.environ.get("HOUSE_PRICE_KING_COUNTY")
    places = [Path(named)] if named else []
    places.append(ROOT.parent / "shared" / "data" / "king_county.csv")
    origin = subprocess.run(
        ["git", "config", "--get", "remote.origin.url"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if origin and Path(origin).is_dir():
        places.append(Path(origin).resolve().parent / "shared" / "data" / "king_county.csv")
    return next((p for p in places if p.is_file()), None)


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
        "comps_dir": tmp_path / "comps",
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


AREA_EFFECTS = {"north": 0.30, "centre": 0.0, "south": -0.25, "east": 0.10}


def located_listings(rows: int, seed: int = 0) -> pd.DataFrame:
    """Sales of a located market: log price is size, plus the effect of an area (a quarter of
    the town), plus a smooth east-west gradient, plus a price index rising 1 % a month, plus
    noise."""
    rng = np.random.default_rng(seed)
    beds = rng.integers(1, 6, rows)
    baths = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], rows)
    sqft = rng.integers(600, 4000, rows).astype(float)
    latitude = 47.5 + rng.uniform(-0.05, 0.05, rows)
    longitude = -122.3 + rng.uniform(-0.07, 0.07, rows)
    quarter = (latitude > 47.5).astype(int) * 2 + (longitude > -122.3).astype(int)
    area = np.array(list(AREA_EFFECTS))[quarter]
    month = rng.integers(0, 12, rows)
    log_price = (
        12.0
        + 0.02 * beds
        + 0.05 * baths
        + 0.6 * np.log(sqft / 1800)
        + np.array([AREA_EFFECTS[a] for a in area])
        + 3.0 * (longitude + 122.3)
        + 0.01 * month
        + rng.normal(0, 0.08, rows)
    )
    sold_at = [f"{2014 + (5 + m) // 12}-{(5 + m) % 12 + 1:02d}-15" for m in month]
    return pd.DataFrame(
        {
            "beds": beds,
            "baths": baths,
            "sqft": sqft,
            "price": np.exp(log_price).round(0),
            "area": area,
            "latitude": latitude.round(6),
            "longitude": longitude.round(6),
            "sold_at": sold_at,
        }
    )


def uvicorn_workers(pid: int) -> list[int]:
    """The workers a server started: its children that run multiprocessing's spawn."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def mapped_packs(pid: int) -> set[str]:
    """The files of packed comps a process maps."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in lines if line.endswith(".comps")}
