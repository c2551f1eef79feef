"""Dependencies shared by the routers: settings, storage, the served model, the bearer key."""

from __future__ import annotations

import hmac
from typing import Annotated, cast

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import Forbidden, Unauthorized
from app.config import Settings
from app.domain.rules import MARKET_MAX_LENGTH, MARKET_PATTERN
from app.service.markets import MarketTable
from app.service.retraining import Retraining
from app.service.serving import ServedModels
from app.storage import JobStore, LoadedModel, Storage

_bearer = HTTPBearer(
    auto_error=False,
    description="The key set in HOUSE_PRICE_API_KEY, sent as `Authorization: Bearer <key>`.",
)


# The lifespan (app.main) puts these objects on app.state; routes receive them with Depends.
def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_storage(request: Request) -> Storage:
    return cast(Storage, request.app.state.storage)


def get_served(request: Request) -> ServedModels:
    return cast(ServedModels, request.app.state.served)


def get_market_table(request: Request) -> MarketTable:
    return cast(MarketTable, request.app.state.market_table)


def get_jobs(request: Request) -> JobStore:
    return get_storage(request).jobs


def get_retraining(request: Request) -> Retraining:
    return cast(Retraining, request.app.state.retraining)


MarketQuery = Annotated[
    str | None,
    Query(
        pattern=MARKET_PATTERN,
        max_length=MARKET_MAX_LENGTH,
        description="The market (town); left out, the default market "
        "(`HOUSE_PRICE_DEFAULT_MARKET`).",
        examples=["sacramento"],
    ),
]


def market_name(
    settings: Annotated[Settings, Depends(get_settings)], market: MarketQuery = None
) -> str:
    """The market a request names in its query, or the default market."""
    return market or settings.default_market


def serving_model(
    served: Annotated[ServedModels, Depends(get_served)],
    market: Annotated[str, Depends(market_name)],
) -> LoadedModel:
    """The model this worker serves now for the market, or 404/503 with the reason."""
    return served.get(market)


def require_key(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with the configured bearer key."""
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise Forbidden(
            "this endpoint changes the service and no API key is configured: "
            "set HOUSE_PRICE_API_KEY and restart the service"
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing API key: send the header `Authorization: Bearer <key>`")
    expected = settings.api_key.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise Unauthorized("invalid API key")


Model = Annotated[LoadedModel, Depends(serving_model)]
Market = Annotated[str, Depends(market_name)]
Authorized = Depends(require_key)
