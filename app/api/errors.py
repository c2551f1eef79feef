"""The one table from domain errors to HTTP answers: status, headers, the 422 shape."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
from app.domain.errors import ServiceError


class Unauthorized(ServiceError):
    status_code = 401

    def __init__(self, detail: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ServiceError):
    status_code = 403


class UnsupportedMediaType(ServiceError):
    status_code = 415


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
    # Imported here so that the domain modules raising these errors never pull in the web stack.
    from starlette.responses import JSONResponse

    assert isinstance(exc, ServiceError)
    detail = exc.detail
    if exc.status_code == 422 and not isinstance(detail, list):
        # Every 422 has FastAPI's shape, a list of errors: one way for clients to read them.
        detail = [{"loc": ["body"], "msg": str(detail), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)
