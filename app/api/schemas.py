"""Request and response models of the HTTP contract, with the examples Swagger UI shows."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.rules import BATHS_MAX, BATHS_MIN, BEDS_MAX, BEDS_MIN, SQFT_MAX, SQFT_MIN

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

Beds = Annotated[
    int,
    Field(
        ge=BEDS_MIN,
        le=BEDS_MAX,
        description=f"Bedrooms, an integer {BEDS_MIN} to {BEDS_MAX}.",
    ),
]

Baths = Annotated[
    float,
    Field(
        ge=BATHS_MIN,
        le=BATHS_MAX,
        description=f"Bathrooms, {BATHS_MIN:g} to {BATHS_MAX:g}; halves allowed.",
    ),
]

Sqft = Annotated[
    float,
    Field(
        ge=SQFT_MIN,
        le=SQFT_MAX,
        description=f"Living area in square feet, {SQFT_MIN:,.0f} to {SQFT_MAX:,.0f}.",
    ),
]

Price = Annotated[float, Field(gt=0, description="Sale price in US dollars, above 0.")]


class House(BaseModel):
    """One home to estimate. Unknown fields are an error, so a typo is never silently ignored."""

    model_config = ConfigDict(
        **_STRICT, json_schema_extra={"examples": [{"beds": 3, "baths": 2, "sqft": 1500}]}
    )

    beds: Beds
    baths: Baths
    sqft: Sqft


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
                }
            ]
        },
    )

    listings: list[House] = Field(
        description="The homes, at most `max_batch_rows` of them; an empty list answers with "
        "no predictions."
    )


class Contributions(BaseModel):
    """The estimate in parts: intercept + beds + baths + sqft, added in that order, is the price."""

    intercept: float
    beds: float
    baths: float
    sqft: float


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
                {**_EXAMPLE_ESTIMATE, "level": 0.9, "model_version": "v20261126-231752-3f9a1c"}
            ]
        }
    )

    level: float = Field(description="Probability the range is meant to hold the sale price.")
    model_version: str = Field(description="The model version that answered.")


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

    model_version: str
    level: float
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
    active_version: str | None
    versions: list[VersionSummary]
    activations: list[ActivationRecord] = Field(
        description="The latest changes of the active version, newest first (at most 20)."
    )
    next_page_token: str | None = Field(
        description="Pass as `page_token` for the next page; null on the last page."
    )


class Activation(BaseModel):
    active_version: str
    previous_version: str | None


class Readiness(BaseModel):
    status: str = Field(description="`ready`, or `unavailable` with a reason.")
    model_version: str | None = None
    reason: str | None = None
    storage: str | None = Field(
        None, description="Where versions and listings live (files, or the database, no password)."
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


class Job(BaseModel):
    """A retrain job, as stored; fields appear as the job advances."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "job_id": "0f8e4c8a5b9d4e0fa1b2c3d4e5f60718",
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
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str
    version: str | None = None
    promoted: bool | None = None
    reason: str | None = None
    active_version: str | None = None
    n_train: int | None = None
    metrics: dict[str, Any] | None = None
