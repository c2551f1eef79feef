"""Each request's id (kept from the client when well-formed) and its access line with method,
path, status, duration and model version: the layer in front of CORS and the FastAPI app."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.access import AccessLog
from app.observability.logs import REQUEST_ID

# A client's id is kept if it is 1 to 128 of these characters; anything else is replaced.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
HEADER = b"x-request-id"


# A made id: this process's random prefix and a counter (unique without a system call).
_PREFIX = uuid.uuid4().hex[:16]
_COUNTER = itertools.count(1)


def request_id_of(scope: Scope) -> str:
    """The client's `X-Request-ID` when well-formed, else a new one (never the client's text)."""
    for name, value in scope["headers"]:
        if name == HEADER:
            return request_id_from(value)
    return request_id_from(None)


def request_id_from(given: bytes | None) -> str:
    """`given` (the first `X-Request-ID` header) when well-formed, else a new id."""
    if given is not None:
        text = str(given.decode("latin-1"))
        if REQUEST_ID_PATTERN.match(text):
            return text
    return f"{_PREFIX}{next(_COUNTER):016x}"


class Layer:
    """An ASGI layer in front of the FastAPI app; `state`, `openapi`... are the app's."""

    app: ASGIApp

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class RequestContext(Layer):
    """Gives every HTTP request an id: on the answer (`X-Request-ID`), in every log line
    written while serving it, and in what it creates (a retrain job)."""

    def __init__(self, app: ASGIApp, access: AccessLog | None) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header = (HEADER, request_id.encode())
        token = REQUEST_ID.set(request_id)
        access = self.access
        if access is None:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), header]
                await send(message)

            try:
                await self.app(scope, receive, send_with_id)
            finally:
                REQUEST_ID.reset(token)
            return
        start = time.perf_counter()
        seen: dict[str, object] = {"status": 500, "model_version": None}

        async def send_and_see(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"] = message["status"]
                headers = message["headers"] = [*message.get("headers", ()), header]
                for name, value in headers:
                    if name.lower() == b"x-model-version":
                        seen["model_version"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            write_access(
                access,
                scope,
                seen["status"],  # type: ignore[arg-type]
                (time.perf_counter() - start) * 1000,
                seen["model_version"],  # type: ignore[arg-type]
                request_id,
            )
            REQUEST_ID.reset(token)


def write_access(
    log: AccessLog,
    scope: Scope,
    status: int,
    duration_ms: float,
    model_version: str | None,
    request_id: str,
) -> None:
    """The access line of the request in `scope`."""
    client = scope.get("client")
    log.write(
        client[0] if client else "-",
        scope["method"],
        scope["path"],
        scope.get("http_version", "1.1"),
        status,
        duration_ms,
        model_version,
        request_id,
    )
