"""Price estimates: one house, or a batch as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from app.api import encode
from app.api.bodies import check_rows, content_type, houses_fast, load_json, validate
from app.api.deps import Model, get_settings
from app.api.openapi import unprocessable
from app.api.schemas import BatchPrediction, House, HouseBatch, Prediction
from app.config import Settings
from app.domain import listings
from app.domain.errors import BadInput
from app.domain.rules import DEFAULT_LEVEL, LEVEL_MAX, LEVEL_MIN
from app.service.estimating import estimate_many, estimate_one
from app.storage import LoadedModel

router = APIRouter(tags=["predict"])

CSV_OUTPUTS = ("price", "price_low", "price_high", "warnings")
Level = Annotated[
    float | None,
    Query(
        ge=LEVEL_MIN,
        le=LEVEL_MAX,
        description="Probability that the range holds the sale price "
        f"({LEVEL_MIN:g} to {LEVEL_MAX:g}); default `HOUSE_PRICE_DEFAULT_LEVEL` "
        f"({DEFAULT_LEVEL:.2f}).",
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: unprocessable("A field is missing, unknown, of the wrong type or out of range."),
    503: {"description": "No model version can be served; the detail says why."},
}


def json_response(body: dict[str, Any], version: str, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status_code,
        media_type="application/json",
        headers={"X-Model-Version": version},
    )


@router.post(
    "/predict",
    response_model=Prediction,
    summary="Estimate the price of one house",
    description="Beds, baths and square feet in. Out: the estimated price; a calibrated range "
    "(`price_low`, `price_high`) meant to hold the sale price with probability `level`; the "
    "contributions of the intercept and each feature, which add up to the price; the price per "
    "square foot; `warnings` when an input lies outside the training data or the estimate is "
    "at or below zero or below the lowest training price; and the model version. Unknown "
    "fields, NaN, infinities, booleans and strings are rejected with 422.",
    responses=_ERRORS,
)
async def predict(
    house: House,
    loaded: Model,
    settings: Annotated[Settings, Depends(get_settings)],
    level: Level = None,
) -> Response:
    return json_response(answer(loaded, house, level or settings.default_level), loaded.version)


def answer(loaded: LoadedModel, house: House, level: float) -> dict[str, Any]:
    """The body of a /predict answer; the fast path (app.api.fastpath) serves the same."""
    estimate = estimate_one(loaded, house.beds, house.baths, house.sqft, level)
    return {
        "price": estimate.price,
        "price_low": estimate.low,
        "price_high": estimate.high,
        "level": level,
        "price_per_sqft": estimate.price / house.sqft,
        "contributions": estimate.contributions,
        "warnings": estimate.warnings,
        "model_version": loaded.version,
    }


_BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/HouseBatch"},
                "example": HouseBatch.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "beds,baths,sqft,address\n3,2,1500,12 Oak St\n2,1,836,4 Elm Ct\n",
            },
        },
    }
}


@router.post(
    "/predict/batch",
    response_model=BatchPrediction,
    summary="Estimate many houses at once (JSON or CSV)",
    description='JSON `{"listings": [...]}` answers with the predictions in order. '
    "A `text/csv` body with columns beds, baths, sqft (other columns are passed through) "
    "answers with the same CSV and the columns `price`, `price_low`, `price_high` and "
    "`warnings` added. Row limits: `max_batch_rows` for "
    "JSON, `max_csv_rows` for CSV; above them the answer is 413.",
    responses={
        **_ERRORS,
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        413: {"description": "Too many rows or too large a body."},
        415: {"description": "Neither JSON nor CSV."},
    },
    openapi_extra=_BATCH_BODY,
)
async def predict_batch(
    request: Request,
    loaded: Model,
    settings: Annotated[Settings, Depends(get_settings)],
    level: Level = None,
) -> Response:
    level = level or settings.default_level
    kind = content_type(request)
    body = await request.body()
    if kind == "text/csv":
        return _predict_csv(body, loaded, settings, level)
    document = load_json(body)
    check_rows(document, settings.max_batch_rows)
    X = houses_fast(document)
    if X is None:  # pydantic, for its exact errors (or the rare valid batch the check misses)
        X = listings.features_of(validate(document, HouseBatch).listings)
    found = estimate_many(loaded, X, level)
    return Response(
        encode.json_batch(loaded.version, level, found, X[:, 2]),
        media_type="application/json",
        headers={"X-Model-Version": loaded.version},
    )


def _predict_csv(body: bytes, loaded: Any, settings: Settings, level: float) -> Response:
    frame, X = listings.read_csv(
        body, with_price=False, max_rows=settings.max_csv_rows, allow_empty=True
    )
    taken = [c for c in CSV_OUTPUTS if c in frame.columns]
    if taken:
        raise BadInput(
            f"the CSV already has the column(s) {', '.join(taken)}, which the answer adds: "
            "rename or drop them"
        )
    found = estimate_many(loaded, X, level)
    plain = encode.split_lines(body, len(frame))
    if plain is not None:
        header, lines = plain
        text = encode.csv_lines(lines, found, header)
    else:  # quoted fields or odd line ends: pandas writes the table back
        text = encode.csv_frame(frame, found)
    return Response(text, media_type="text/csv", headers={"X-Model-Version": loaded.version})
