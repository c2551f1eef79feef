"""Request and response models of the HTTP contract, with the examples Swagger UI shows."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.api.answer_parts import Comp, Contributions
from app.api.fields import Area, AsOf, Baths, Beds, Latitude, Longitude, MarketName, Price, Sqft
from app.service.markets import CONCERNS

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

REFUSED_LISTED = 20  # markets named in /health/ready's `refused`


class House(BaseModel):
    """One home to estimate. Unknown fields are an error, so a typo is never silently ignored."""

    model_config = ConfigDict(
        **_STRICT, json_schema_extra={"examples": [{"beds": 3, "baths": 2, "sqft": 1500}]}
    )

    beds: Beds
    baths: Baths
    sqft: Sqft
    market: MarketName | None = None
    area: Area | None = None
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    as_of: AsOf | None = None

    @field_validator("as_of", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str | dt.date):
            raise ValueError("as_of must be a date as YYYY-MM-DD")
        if isinstance(value, str) and len(value) != len("YYYY-MM-DD"):
            raise ValueError(f"as_of must be a date as YYYY-MM-DD, got {value!r}")
        return value

    @model_validator(mode="after")
    def _coordinates_together(self) -> House:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude go together: give both or neither")
        return self

    @property
    def place(self) -> tuple[str | None, float, float, int]:
        """Area, latitude, longitude (NaN when none) and valuation month (-1 when none)."""
        nan = float("nan")
        as_of = self.as_of
        return (
            self.area,
            nan if self.latitude is None else self.latitude,
            nan if self.longitude is None else self.longitude,
            -1 if as_of is None else as_of.year * 12 + as_of.month - 1,
        )

    @property
    def placed(self) -> bool:
        """Whether the home says where or when it is."""
        return not (
            self.area is None
            and self.latitude is None
            and self.longitude is None
            and self.as_of is None
        )


class HouseBatch(BaseModel):
    """Several homes, estimated in one vectorised pass; answers come back in the same order."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "listings": [
                        {"beds": 3, "baths": 2, "sqft": 1500},
                        {"beds": 2, "baths": 1, "sqft": 836},
                    ]
                },
                {
                    "listings": [
                        {"beds": 3, "baths": 2, "sqft": 1500, "market": "sacramento"},
                        {"beds": 2, "baths": 1, "sqft": 836, "market": "elk-grove"},
                    ]
                },
            ]
        },
    )

    listings: list[House] = Field(
        description="The homes, at most `max_batch_rows` of them; an empty list answers with "
        "no predictions."
    )


class EstimateWarning(BaseModel):
    code: str = Field(
        description="`outside_training_range`, `below_training_prices`, "
        "`non_positive_estimate`, `range_calibrated_on_all_sales` (too few training sales near "
        "this estimate for the level: the range is calibrated on all sales) or "
        "`range_too_few_sales` (too few training sales for the level at all)."
    )
    field: str | None = Field(None, description="The input or output the warning is about.")
    message: str


class Estimate(BaseModel):
    price: float = Field(description="Estimated sale price in US dollars.")
    price_low: float = Field(description="Low end of the calibrated range (never below 0).")
    price_high: float = Field(description="High end of the calibrated range.")
    price_per_sqft: float = Field(description="The estimate divided by the living area.")
    contributions: Contributions
    warnings: list[EstimateWarning] = Field(
        description="Empty when the inputs and the estimate lie within the training data and "
        "the range is calibrated on enough sales near the estimate."
    )
    market: str | None = Field(
        None, description="In a batch that names markets: the market that made the estimate."
    )
    model_version: str | None = Field(
        None, description="In a batch that names markets: the version that made the estimate."
    )


_EXAMPLE_ESTIMATE: dict[str, Any] = {
    "price": 225312.29,
    "price_low": 134675.77,
    "price_high": 358101.52,
    "price_per_sqft": 150.21,
    "contributions": {
        "intercept": 58481.75,
        "beds": -81105.85,
        "baths": 10685.18,
        "sqft": 237251.21,
    },
    "warnings": [],
}


class Prediction(Estimate):
    """An estimate, its range at `level`, its parts, warnings, and the model version."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_EXAMPLE_ESTIMATE,
                    "level": 0.9,
                    "market": "default",
                    "model_version": "v20261126-231752-3f9a1c",
                }
            ]
        }
    )

    level: float = Field(description="Probability the range is meant to hold the sale price.")
    market: str = Field(description="The market whose model answered.")
    model_version: str = Field(description="The model version that answered.")
    comps: list[Comp] | None = Field(
        None, description="With `comps=N`: the home's N most similar sales, most similar first."
    )


class BatchPrediction(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_version": "v20261126-231752-3f9a1c",
                    "level": 0.9,
                    "predictions": [_EXAMPLE_ESTIMATE],
                }
            ]
        }
    )

    model_version: str | None = Field(
        description="The version that made every estimate; null when the batch names markets "
        "(each estimate then says its market and version)."
    )
    level: float
    markets: dict[str, str] | None = Field(
        None, description="When the batch names markets: each market's version that answered."
    )
    predictions: list[Estimate]


class ModelCard(BaseModel):
    """What a model version is: how it was fitted, on what, and how well it does."""

    model_config = ConfigDict(extra="allow")

    version: str
    created_at: str
    algorithm: str
    features: list[str]
    coefficients: dict[str, dict[str, Any]]
    intercept: float
    feature_ranges: dict[str, dict[str, float]]
    metrics: dict[str, Any]
    training: dict[str, Any]
    libraries: dict[str, str]
    artifact_sha256: str


class VersionSummary(BaseModel):
    version: str
    created_at: str
    active: bool
    kept: bool = Field(description="Marked kept: pruning never removes it.")
    n_train: int
    metrics: dict[str, Any]


class KeptVersion(BaseModel):
    version: str
    kept: bool


class ActivationRecord(BaseModel):
    """One change of the active version: to which, from which, when and by whom."""

    version: str
    previous: str | None
    at: str
    by: str


class VersionList(BaseModel):
    market: str
    active_version: str | None
    versions: list[VersionSummary]
    activations: list[ActivationRecord] = Field(
        description="The latest changes of the active version, newest first (at most 20)."
    )
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class MarketAccuracy(BaseModel):
    """Cross-validated accuracy in the terms AVM users read (null for versions fitted before
    these figures were recorded)."""

    median_ape: float | None = Field(description="Median absolute error, as a share of price.")
    within_10: float | None = Field(description="Share of estimates within 10 % of the price.")
    within_20: float | None = Field(description="Share of estimates within 20 % of the price.")
    coverage_90: float | None = Field(
        description="Share of sale prices inside the 90 % range of their (held-out) estimate."
    )
    cod: float | None = Field(
        None, description="Coefficient of dispersion of the ratios (IAAO: at most 15 for homes)."
    )
    prd: float | None = Field(
        None, description="Price-related differential (IAAO: 0.98 to 1.03; above: regressive)."
    )
    prb: float | None = Field(None, description="Price-related bias (IAAO: within ±0.05).")


class MarketSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "market": "sacramento",
                    "active_version": "v20261126-231752-3f9a1c",
                    "n_train": 932,
                    "first_sale": "2008-05-15",
                    "last_sale": "2008-05-21",
                    "fitted_at": "2026-11-26T23:17:52.123+00:00",
                    "last_fit": "2026-11-26T23:17:52.123+00:00",
                    "accuracy": {
                        "median_ape": 0.223,
                        "within_10": 0.25,
                        "within_20": 0.45,
                        "coverage_90": 0.9,
                    },
                    "ready": True,
                    "concerns": ["poor_accuracy", "old_sales"],
                }
            ]
        }
    )

    market: str
    active_version: str
    n_train: int = Field(description="Sales the active version was fitted on.")
    first_sale: str | None = Field(description="The first sale date it saw (with sold_at).")
    last_sale: str | None = Field(description="The last sale date it saw (with sold_at).")
    fitted_at: str = Field(description="When the active version was fitted.")
    last_fit: str = Field(
        description="When the market's newest version was fitted (later than `fitted_at` when "
        "the newest fit was not promoted)."
    )
    accuracy: MarketAccuracy
    out_of_time: MarketAccuracy | None = Field(
        None,
        description="The same figures on the newest tenth of the sales, estimated by a fit of "
        "the others (located markets; null for plain ones).",
    )
    ready: bool = Field(description="Whether this worker serves estimates of the market now.")
    concerns: list[str] = Field(
        description="What needs attention, each a key: "
        + "; ".join(f"`{key}`: {words}" for key, words in CONCERNS.items())
        + "."
    )


class MarketList(BaseModel):
    default_market: str
    total: int = Field(description="How many markets match (every page counted).")
    markets: list[MarketSummary]
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class MarketDetail(MarketSummary):
    card: ModelCard = Field(description="The active version's card.")


class Retirement(BaseModel):
    market: str
    retired: bool


class Activation(BaseModel):
    market: str
    active_version: str
    previous_version: str | None


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `unavailable` with a reason.")
    model_version: str | None = Field(None, description="The default market's version.")
    markets: int | None = Field(None, description="How many markets this worker serves.")
    reason: str | None = None
    storage: str | None = Field(
        None, description="Where versions and listings live (files, or the database, no password)."
    )
    refused: dict[str, str] = Field(
        default_factory=dict,
        description="Markets whose active version this worker refused (damaged, unreadable, "
        "naming what no model holds, or unsigned where versions are signed), with the reason; "
        f"at most {REFUSED_LISTED} by name. Each keeps serving its last good version, if any.",
    )


class Listing(BaseModel):
    """A sold home, for training: the features, the sale price and, optionally, the sale date."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {"beds": 3, "baths": 2, "sqft": 1500, "price": 249000, "sold_at": "2026-11-02"}
            ]
        },
    )

    beds: Beds
    baths: Baths
    sqft: Sqft
    price: Price
    sold_at: dt.date | None = Field(
        None, strict=False, description="Sale date, ISO 8601 (YYYY-MM-DD); optional."
    )


class RetrainRequest(BaseModel):
    """New sales in; a fit job out. Every row is checked before anything is stored."""

    model_config = ConfigDict(
        **_STRICT,
        json_schema_extra={
            "examples": [
                {
                    "listings": [
                        {"beds": 3, "baths": 2, "sqft": 1500, "price": 249000},
                        {"beds": 2, "baths": 1, "sqft": 836, "price": 139000},
                    ],
                    "mode": "append",
                    "force": False,
                }
            ]
        },
    )

    listings: list[Listing] = Field(min_length=1)
    mode: Literal["append", "replace"] = Field(
        "append",
        description="`append` adds to the current training set; `replace` starts a new one "
        "(earlier sets stay on disk).",
    )
    force: bool = Field(
        False, description="Make the new version active even if the promotion gate says no."
    )


class SkippedRows(BaseModel):
    """Rows of an upload left out because they failed a check."""

    rows: int = Field(description="How many rows were left out.")
    reasons: list[str] = Field(description="The first ten, each with its line or row and why.")


class Job(BaseModel):
    """A retrain job, as stored; fields appear as the job advances."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "job_id": "0f8e4c8a5b9d4e0fa1b2c3d4e5f60718",
                    "market": "sacramento",
                    "status": "succeeded",
                    "mode": "append",
                    "force": False,
                    "rows_received": 2,
                    "duplicate": False,
                    "version": "v20261126-231752-3f9a1c",
                    "promoted": True,
                    "reason": "not worse: held-out MAE $60,102 (new) vs $60,311 (active) ...",
                    "active_version": "v20261126-231752-3f9a1c",
                    "n_train": 934,
                    "metrics": {"r2": 0.594, "mae": 60650.1, "rmse": 83500.2, "median_ape": 0.223},
                }
            ]
        },
    )

    job_id: str
    market: str = Field("default", description="The market the job fits.")
    request_id: str | None = Field(
        None, description="The `X-Request-ID` of the request that queued the job."
    )
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str
    version: str | None = None
    promoted: bool | None = None
    reason: str | None = None
    active_version: str | None = None
    n_train: int | None = None
    metrics: dict[str, Any] | None = None
    skipped: SkippedRows | None = Field(
        None,
        description="With `?invalid=skip`: the rows of the upload left out because they failed "
        "a check (the fit's version records the same in its card, `training.skipped`).",
    )


class AuditEntry(BaseModel):
    """One change: when, by which key (its name, never the key) and request, and its result."""

    id: int = Field(description="Its place in the trail: higher is newer.")
    at: str = Field(description="When the change was made (UTC, ISO 8601).")
    key: str | None = Field(description="The name of the API key; null for a host's command.")
    request_id: str | None = Field(description="The `X-Request-ID` of the request it served.")
    by: str = Field(description="What made it, on which host and process.")
    action: str = Field(description="What was done (see the `action` filter).")
    market: str
    target: str = Field(description="What it acted on: a version, job, upload or market.")
    version: str | None = Field(description="The model version concerned, if one is.")
    outcome: str = Field(description="`ok`, or how a job ended (`succeeded`, `failed`).")
    detail: dict[str, Any] = Field(description="What else the action records.")


class AuditPage(BaseModel):
    entries: list[AuditEntry] = Field(description="Newest first.")
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )
