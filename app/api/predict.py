"""Price estimates: one house, or a batch as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError

from app.api import csv_halves, encode
from app.api.bodies import check_rows, content_type, houses_fast, load_json, validate
from app.api.deps import ServedDep, SettingsDep
from app.api.openapi import unprocessable
from app.api.schemas import BatchPrediction, House, HouseBatch, Prediction
from app.config import Settings
from app.domain import listings
from app.domain.comps import MAX_COMPS
from app.domain.errors import BadInput, RowError, ServiceError
from app.domain.markets import NAME_RULE
from app.domain.place_rules import places_of_rows
from app.domain.rules import (
    DEFAULT_LEVEL,
    DEFAULT_MARKET,
    LEVEL_MAX,
    LEVEL_MIN,
    MARKET_MAX_LENGTH,
    MARKET_PATTERN,
)
from app.domain.terms import Places
from app.service.estimating import (
    Routed,
    Unroutable,
    estimate_home,
    estimate_many,
    estimate_one,
    estimate_read,
    estimate_routed,
    label_of,
    list_comps,
)
from app.service.serving import ServedModels
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


def requested_level(settings: SettingsDep, level: Level = None) -> float:
    """The range's level a request asks for, or the service's default."""
    return level or settings.default_level


RequestedLevel = Annotated[float, Depends(requested_level)]
CompsQuery = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_COMPS,
        description=f"List the home's N most similar sales (0 to {MAX_COMPS}), each adjusted to "
        "it in dollars, in `comps` (located markets, homes with coordinates). 0: none listed.",
    ),
]

RowsMarket = Annotated[
    str | None,
    Query(
        pattern=MARKET_PATTERN,
        max_length=MARKET_MAX_LENGTH,
        description="The market of the rows that name none; left out, the default market "
        "(`HOUSE_PRICE_DEFAULT_MARKET`). Not served: 404.",
        examples=[DEFAULT_MARKET],
    ),
]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "The market named is not served (unknown, or retired)."},
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
    "at or below zero or below the lowest training price; and the market and model version "
    "that answered. `market` names the town's model (left out: the default market). Unknown "
    "fields, NaN, infinities, booleans and strings are rejected with 422.",
    responses=_ERRORS,
)
async def predict(
    house: House,
    served: ServedDep,
    settings: SettingsDep,
    level: RequestedLevel,
    comps: CompsQuery = 0,
) -> Response:
    loaded = await run_in_threadpool(served.get, house.market, level)
    if comps:  # a tenth of a millisecond of arithmetic: no thread hop
        body = with_comps(served, loaded, house, level, comps, settings)
    else:
        body = answer(served, loaded, house, level)
    return json_response(body, loaded.version)


def with_comps(
    served: ServedModels,
    loaded: LoadedModel,
    house: House,
    level: float,
    n: int,
    settings: Settings,
) -> dict[str, Any]:
    """The answer with the home's `n` comps listed (or the reason there are none)."""
    body = answer(served, loaded, house, level)
    found, why = list_comps(
        loaded, house.beds, house.baths, house.sqft, house.place, n, settings.list_comps
    )
    body["comps"] = found
    if why is not None:
        body["warnings"] = [*body["warnings"], why]
    return body


def answer(served: ServedModels, loaded: LoadedModel, house: House, level: float) -> dict[str, Any]:
    """The body of a /predict answer; the fast path (app.api.fastpath) serves the same."""
    market = house.market or served.default
    label = label_of(served, market, loaded)
    if house.placed:
        estimate = estimate_home(
            loaded, house.beds, house.baths, house.sqft, level, label, house.place
        )
    else:
        estimate = estimate_one(loaded, house.beds, house.baths, house.sqft, level, label)
    return {
        "price": estimate.price,
        "price_low": estimate.low,
        "price_high": estimate.high,
        "level": level,
        "price_per_sqft": estimate.price / house.sqft,
        "contributions": estimate.contributions,
        "warnings": estimate.warnings,
        "market": market,
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
    "JSON, `max_csv_rows` for CSV; above them the answer is 413.\n\n"
    "A row may name its market (a `market` field, or a `market` column; empty: the default "
    "market). Each row is then estimated by its market's model and the answer says which "
    "market and version made each estimate (JSON: `market` and `model_version` in each "
    "prediction; CSV: a `model_version` column). A row naming a market that is not served "
    "makes the whole batch a 422 naming the rows and the market. `?market=` names the "
    "market of the rows that name none (left out: the default market).",
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
    served: ServedDep,
    settings: SettingsDep,
    level: RequestedLevel,
    market: RowsMarket = None,
) -> Response:
    kind = content_type(request)
    body = await request.body()
    if kind == "text/csv":
        # In a thread: a large CSV takes a second, and its markets' whole models (for a level
        # other than the default) may have to be read from the storage.
        return await run_in_threadpool(_predict_csv, body, served, settings, level, market)
    document = load_json(body)
    check_rows(document, settings.max_batch_rows)
    X = houses_fast(document)
    places = None
    if X is None:  # pydantic, for its exact errors (or the rare valid batch the check misses)
        rows = validate(document, HouseBatch).listings
        X = listings.features_of(rows)
        places = places_of_rows(rows) if any(row.placed for row in rows) else None
        if any(row.market is not None for row in rows):
            markets = [row.market or market for row in rows]
            return await run_in_threadpool(_routed_json, markets, X, served, level, places)
    loaded = await run_in_threadpool(served.get, market, level)
    label = label_of(served, market or served.default, loaded)
    found = estimate_many(loaded, X, level, label, places)
    return Response(
        encode.json_batch(loaded.version, level, found, X[:, 2]),
        media_type="application/json",
        headers={"X-Model-Version": loaded.version},
    )


def _routed_json(
    markets: list[str | None], X: Any, served: ServedModels, level: float, places: Places | None
) -> Response:
    """A JSON batch whose rows name markets: each estimate with its market and version."""
    routed = estimate_routed(served, markets, X, level, places=places)
    if isinstance(routed, Unroutable):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "listings", row, "market"),
                    "msg": f"market {market!r} is not served: GET /markets lists the markets",
                    "input": market,
                }
                for market, rows in routed.unknown.items()
                for row in rows
            ]
        )
    names = [orjson.dumps(n) for n in routed.names]
    versions = [orjson.dumps(v) for v in routed.versions]
    codes = routed.codes.tolist()
    columns = [[names[c] for c in codes], [versions[c] for c in codes]]
    chosen = dict(zip(routed.names, routed.versions, strict=True))
    head = orjson.dumps({"model_version": None, "level": level, "markets": chosen})
    answer = encode.json_rows(
        routed.found, X[:, 2], columns, before=head[:-1] + b',"predictions":', after=b"}"
    )
    return Response(answer, media_type="application/json")


def _predict_csv(
    body: bytes, served: ServedModels, settings: Settings, level: float, market: str | None
) -> Response:
    halves = csv_halves.halves(body, settings.max_csv_rows, CSV_OUTPUTS)
    answer = None if halves is None else _predict_csv_halves(body, halves, served, level, market)
    if answer is not None:
        return answer
    read: list[Places] = []
    frame, X = listings.read_csv(
        body, with_price=False, max_rows=settings.max_csv_rows, allow_empty=True, places=read
    )
    places = read[0] if read else None
    routing = "market" in frame.columns
    outputs = CSV_OUTPUTS + (("model_version",) if routing else ())
    taken = [c for c in outputs if c in frame.columns]
    if taken:
        raise BadInput(
            f"the CSV already has the column(s) {', '.join(taken)}, which the answer adds: "
            "rename or drop them"
        )
    if routing:
        routed = _route_csv(frame, X, served, level, market, places)
        found, version = routed.found, None
        versions = np.array([v.encode() for v in routed.versions], dtype=object)
        per_row: list[bytes] | None = versions[routed.codes].tolist()
    else:
        loaded = served.get(market, level)
        label = label_of(served, market or served.default, loaded)
        found = estimate_many(loaded, X, level, label, places)
        version, per_row = loaded.version, None
    plain = encode.split_lines(body, len(frame))
    if plain is not None:
        header, lines = plain
        text = encode.csv_lines(lines, found, header, per_row)
    else:  # quoted fields or odd line ends: pandas writes the table back, as it was sent
        sent = listings.read_frame(body, with_price=False)
        sent.columns = frame.columns
        text = encode.csv_frame(
            sent, found, None if per_row is None else [v.decode() for v in per_row]
        )
    headers = {"X-Model-Version": version} if version is not None else {}
    return Response(text, media_type="text/csv", headers=headers)


def _predict_csv_halves(
    body: bytes,
    halves: tuple[bytes, bytes],
    served: ServedModels,
    level: float,
    market: str | None,
) -> Response | None:
    """A large plain batch's answer from its two halves read and estimated at once; None where
    a half is refused or the market cannot answer (the batch is then read whole, for its
    errors in their order: its rows' first)."""
    try:
        loaded = served.get(market, level)
    except ServiceError:
        return None
    label = label_of(served, market or served.default, loaded)
    first, second = (csv_halves.reader(half) for half in halves)
    try:
        found = estimate_read(loaded, first, second, level, label)
    except (ServiceError, csv_halves.NotHalved):
        return None
    end = body.index(b"\n")  # each half's rows are its lines: the body's lines are the rows
    lines = body[end + 1 : -1 if body.endswith(b"\n") else None]
    text = encode.csv_lines((lines, b"\n"), found, body[:end])
    return Response(text, media_type="text/csv", headers={"X-Model-Version": loaded.version})


def _route_csv(
    frame: Any,
    X: Any,
    served: ServedModels,
    level: float,
    market: str | None,
    places: Places | None,
) -> Routed:
    routed = estimate_routed(served, frame["market"], X, level, market, places)
    if isinstance(routed, Routed):
        return routed
    errors = [
        RowError(
            f"line {row + 2}", "market", f"line {row + 2}, column market: {market!r} {NAME_RULE}"
        )
        for market, rows in routed.malformed.items()
        for row in rows
    ] + [
        RowError(
            f"line {row + 2}",
            "market",
            f"line {row + 2}, column market: market {market!r} is not served: GET /markets "
            "lists the markets",
        )
        for market, rows in routed.unknown.items()
        for row in rows
    ]
    raise BadInput(errors[:10])
