"""Dependencies shared by the routers: settings, storage, the served model, the bearer key."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import Forbidden, Unauthorized
from app.config import Settings
from app.domain.rules import MARKET_MAX_LENGTH, MARKET_PATTERN
from app.observability.context import KEY_NAME
from app.service.keys import Key, Keyring
from app.service.markets import MarketTable
from app.service.retraining import Retraining
from app.service.serving import ServedModels
from app.storage import JobStore, LoadedModel, Storage

_bearer = HTTPBearer(
    auto_error=False,
    description="One of the keys set in HOUSE_PRICE_API_KEYS, HOUSE_PRICE_API_KEYS_FILE or "
    "HOUSE_PRICE_API_KEY, sent as `Authorization: Bearer <key>`.",
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


def get_keyring(request: Request) -> Keyring:
    return cast(Keyring, request.app.state.keyring)


def authorize(
    request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str
) -> Key:
    """The key presented, if it is one of the keys and has `scope`; 403 or 401 otherwise."""
    keyring = get_keyring(request)
    if not keyring.configured:
        raise Forbidden(
            "this endpoint changes the service and no API key is configured: set "
            "HOUSE_PRICE_API_KEYS (or HOUSE_PRICE_API_KEY) and restart the service"
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing API key: send the header `Authorization: Bearer <key>`")
    key = keyring.match(credentials.credentials)
    if key is None:
        raise Unauthorized("invalid API key")
    if scope not in key.scopes:
        raise Forbidden(
            f"the key named {key.name!r} may not do this: it needs the scope {scope!r} "
            f"(it has {', '.join(sorted(key.scopes))})"
        )
    request.state.key_name = key.name
    KEY_NAME.set(key.name)  # for the audit trail: read by the storage, in the request's context
    return key


# Async, so that the key's name is set in the request's own context (a dependency run in a
# thread would set it in a copy): the storage's audit entries read it there.
async def require_retrain(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Key:
    """A key with the `retrain` scope: send sales and fit."""
    return authorize(request, credentials, "retrain")


async def require_admin(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Key:
    """A key with the `admin` scope: change what is served."""
    return authorize(request, credentials, "admin")


Model = Annotated[LoadedModel, Depends(serving_model)]
# The objects made in the lifespan, as route parameters (`served: ServedDep`).
ServedDep = Annotated[ServedModels, Depends(get_served)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
Market = Annotated[str, Depends(market_name)]
Retrainer = Depends(require_retrain)
Admin = Depends(require_admin)
RetrainKey = Annotated[Key, Retrainer]


def forced_by(key: Key) -> None:
    """Forcing a version past the promotion gate changes what is served: the admin scope."""
    if "admin" not in key.scopes:
        raise Forbidden(
            f"the key named {key.name!r} may send sales and fit, but not force a version past "
            "the promotion gate: that needs the scope 'admin'"
        )
