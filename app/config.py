"""Service settings, read from the environment (prefix HOUSE_PRICE_) or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.rules import (
    DEFAULT_LEVEL,
    DEFAULT_MARKET,
    LEVEL_MAX,
    LEVEL_MIN,
    MARKET_PATTERN,
)


class Settings(BaseSettings):
    """Every knob of the service; each field is `HOUSE_PRICE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HOUSE_PRICE_", env_file=".env", extra="ignore")

    model_dir: Path = Field(Path("models"), description="Model versions and the ACTIVE pointer.")
    data_dir: Path = Field(Path("data"), description="The listing store that models are fitted on.")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:5432/db: keep versions, listings, jobs and "
        "the fit lock in this database instead of model_dir and data_dir (unset: files).",
    )
    db_pool_size: int = Field(
        4, ge=1, le=100, description="Most database connections one process holds in its pool."
    )
    db_connect_timeout: float = Field(
        3.0, gt=0, le=60, description="Seconds a database connection may take to open."
    )
    api_key: SecretStr | None = Field(
        None,
        description="A bearer key for the endpoints that change the service, named `default` "
        "(unset, and no other key: they refuse).",
    )
    api_keys: SecretStr | None = Field(
        None,
        description="Named bearer keys, `name:key` or `name:key:scope+scope`, separated by "
        "commas; the scopes are `retrain` and `admin` (both when none is named).",
    )
    api_keys_file: Path | None = Field(
        None,
        description="A file of named keys, one `name:key[:scopes]` a line, read again when it "
        "changes (replace it whole: write a new file and rename it over the old).",
    )
    signing_key: SecretStr | None = Field(
        None,
        description="A key of at least 32 characters that signs every new model version "
        "(HMAC-SHA-256 of its artifact and card); with it set, a version whose signature is "
        "missing or wrong is refused. Unset: versions are neither signed nor checked.",
    )
    signing_key_file: Path | None = Field(
        None, description="A file whose first line is the signing key (instead of signing_key)."
    )
    max_body_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Largest request body.")
    max_batch_rows: int = Field(100_000, gt=0, description="Most rows in one JSON batch.")
    max_csv_rows: int = Field(1_000_000, gt=0, description="Most rows in one CSV batch.")
    poll_interval: float = Field(
        0.2, gt=0, le=1.0, description="Seconds between checks of the ACTIVE pointer."
    )
    promotion_tolerance: float = Field(
        0.05,
        ge=0,
        le=1,
        description="How much worse (relative held-out MAE) a retrained model may be and still "
        "replace the active one.",
    )
    retrain_wait_seconds: float = Field(
        600, gt=0, description="Longest a `/retrain?wait=true` request waits for its fit."
    )
    training_window_days: int | None = Field(
        None,
        gt=0,
        description="Fit /retrain models on the sales of the last N days only (by sold_at, "
        "counted back from the newest sale); unset fits on all listings.",
    )
    leave_out_outliers: bool = Field(
        True,
        description="In fits of located markets, leave out sales whose ratio to a first fit lies "
        "beyond 3 interquartile ranges (counted in the card); false keeps every sale. Plain "
        "fits keep every sale.",
    )
    list_comps: bool = Field(
        True,
        description="List a home's comparable sales in /predict?comps=N; false lists none "
        "(for an operator who may not show sales), and estimates still use them.",
    )
    comps_dir: Path | None = Field(
        None,
        description="Where this machine keeps each located version's comparable sales packed "
        "(36 bytes a sale), one file a version that every worker maps instead of holding its "
        "own copy (unset: house-price-<uid>/comps in the system's temporary directory).",
    )
    default_level: float = Field(
        DEFAULT_LEVEL,
        ge=LEVEL_MIN,
        le=LEVEL_MAX,
        description="Level of the price range when a request names none.",
    )
    default_market: str = Field(
        DEFAULT_MARKET,
        pattern=MARKET_PATTERN,
        description="The market that answers requests naming none.",
    )
    cv_folds: int = Field(5, ge=2, le=20, description="Folds of the cross-validated metrics.")
    host: str = Field("127.0.0.1", description="Address `python -m app.serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `python -m app.serve` binds.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes of `python -m app.serve`.")
    access_log: bool = Field(
        True, description="Log every request: method, path, status, duration, model version."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object a line, for log collectors."
    )
    cors_origins: str | None = Field(
        None,
        description="Origins whose pages may call the API from a browser, comma-separated and "
        "exact (`https://example.com`); `*` lets any page call the estimate routes only. "
        "Unset: none.",
    )
