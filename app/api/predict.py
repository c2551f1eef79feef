"""Price estimates: one house, or a batch as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response

from .. import listings, metrics
from ..config import Settings
from ..errors import BadInput
from ..schemas import BatchPrediction, House, HouseBatch, Prediction
from .bodies import content_type, parse_rows
from .deps import Model, get_settings

router = APIRouter(tags=["predict"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "A field is missing, unknown, of the wrong type or out of range."},
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
    description="Beds, baths and square feet in; the estimated price and the model version out. "
    "Unknown fields, NaN, infinities, booleans and strings are rejected with 422.",
    responses=_ERRORS,
)
async def predict(house: House, loaded: Model) -> Response:
    price = loaded.model.predict_one(house.beds, house.baths, house.sqft)
    metrics.ESTIMATES.labels(loaded.version).inc()
    return json_response({"price": price, "model_version": loaded.version}, loaded.version)


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
    "answers with the same CSV and a `price` column added. Row limits: `max_batch_rows` for "
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
    request: Request, loaded: Model, settings: Annotated[Settings, Depends(get_settings)]
) -> Response:
    kind = content_type(request)
    body = await request.body()
    if kind == "text/csv":
        return _predict_csv(body, loaded, settings)
    batch = parse_rows(body, HouseBatch, settings.max_batch_rows)
    X = listings.features_of(batch.listings)
    prices = loaded.model.predict(X)
    metrics.ESTIMATES.labels(loaded.version).inc(len(prices))
    return json_response(
        {"model_version": loaded.version, "predictions": [{"price": p} for p in prices.tolist()]},
        loaded.version,
    )


def _predict_csv(body: bytes, loaded: Any, settings: Settings) -> Response:
    frame, X = listings.read_csv(body, with_price=False, max_rows=settings.max_csv_rows)
    if "price" in frame.columns:
        raise BadInput(
            "the CSV already has a price column, which the answer would overwrite: "
            "rename or drop it"
        )
    prices = loaded.model.predict(X)
    metrics.ESTIMATES.labels(loaded.version).inc(len(prices))
    frame["price"] = prices
    return Response(
        frame.to_csv(index=False).encode(),
        media_type="text/csv",
        headers={"X-Model-Version": loaded.version},
    )
