"""The one table from domain errors to HTTP answers: status, headers, the 422 shape."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
from app.domain.errors import (
    BadInput,
    Conflict,
    NotFound,
    NotReady,
    RowError,
    ServiceError,
    TooLarge,
    Unavailable,
)


class Unauthorized(ServiceError):
    """No bearer key, or not one of the service's."""


class Forbidden(ServiceError):
    """The service has no key set, so the route it guards is closed."""


class UnsupportedMediaType(ServiceError):
    """A body of a content type the route does not read."""


STATUS: dict[type[ServiceError], int] = {
    BadInput: 422,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Unauthorized: 401,
    Forbidden: 403,
    UnsupportedMediaType: 415,
    Unavailable: 503,
    NotReady: 503,
}


def status_of(exc: ServiceError) -> int:
    """The HTTP status of an error: its own class's, or the nearest base class's in STATUS."""
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 500)


def headers_of(exc: ServiceError) -> dict[str, str] | None:
    if isinstance(exc, Unavailable):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    return None


def detail_of(exc: ServiceError, status: int) -> Any:
    """The answer's `detail`: every 422 in FastAPI's shape (a list of errors), others a sentence."""
    if isinstance(exc.detail, list):
        return [_row_error(error) for error in exc.detail]
    if status == 422:
        return [{"loc": ["body"], "msg": exc.detail, "type": "value_error"}]
    return exc.detail


def _row_error(error: RowError) -> dict[str, Any]:
    return {"loc": ["body", error.row, error.field], "msg": error.msg, "type": error.kind}


def _json_safe(value: Any) -> Any:
    # A rejected NaN or infinity is echoed back as text: JSON has no literal for it.
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's 422 for a request that fails its schema, safe for non-finite inputs."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from starlette.responses import JSONResponse

    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


async def handle_service_error(request: Request, exc: Exception) -> Response:
    from starlette.responses import JSONResponse

    assert isinstance(exc, ServiceError)
    status = status_of(exc)
    return JSONResponse(
        {"detail": detail_of(exc, status)}, status_code=status, headers=headers_of(exc)
    )
