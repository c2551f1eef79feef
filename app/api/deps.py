"""Dependencies shared by the routers: settings, storage, the served model, the bearer key."""

from __future__ import annotations

import hmac
from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.api.errors import Forbidden, Unauthorized
from app.config import Settings
from app.domain.errors import NotReady
from app.service.retraining import Retraining
from app.service.serving import ActiveModel
from app.storage import JobStore, LoadedModel, Registry, Storage

_bearer = HTTPBearer(
    auto_error=False,
    description="The key set in HOUSE_PRICE_API_KEY, sent as `Authorization: Bearer <key>`.",
)


# The lifespan (app.main) puts these objects on app.state; routes receive them with Depends.
def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_storage(request: Request) -> Storage:
    return cast(Storage, request.app.state.storage)


def get_registry(request: Request) -> Registry:
    return get_storage(request).registry


def get_active(request: Request) -> ActiveModel:
    return cast(ActiveModel, request.app.state.active)


def get_jobs(request: Request) -> JobStore:
    return get_storage(request).jobs


def get_retraining(request: Request) -> Retraining:
    return cast(Retraining, request.app.state.retraining)


def serving_model(active: Annotated[ActiveModel, Depends(get_active)]) -> LoadedModel:
    """The model this worker serves now, or 503 with the reason there is none."""
    current = active.current
    if current is None:
        raise NotReady(active.error or "no model loaded yet")
    return current


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
Authorized = Depends(require_key)
