"""The outermost layer: each request's id (kept from the client when well-formed), and its
access-log line with method, path, status, duration and model version."""

from __future__ import annotations

import itertools
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import REQUEST_ID

access = logging.getLogger("house_price.access")

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
            text = str(value.decode("latin-1"))
            if REQUEST_ID_PATTERN.match(text):
                return text
            break
    return f"{_PREFIX}{next(_COUNTER):016x}"


class Layer:
    """An ASGI layer in front of the FastAPI app; `state`, `openapi`... are the app's."""

    app: ASGIApp

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


class RequestContext(Layer):
    """Gives every HTTP request an id: on the answer (`X-Request-ID`), in every log line
    written while serving it, and in what it creates (a retrain job)."""

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header = (HEADER, request_id.encode())
        token = REQUEST_ID.set(request_id)
        if not self.access_log:

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
            self._log(scope, seen, (time.perf_counter() - start) * 1000)
            REQUEST_ID.reset(token)

    @staticmethod
    def _log(scope: Scope, seen: dict[str, object], duration_ms: float) -> None:
        path = scope["path"]
        client = scope.get("client")
        access.info(
            '%s - "%s %s HTTP/%s" %s %.1f ms%s',
            client[0] if client else "-",
            scope["method"],
            path,
            scope.get("http_version", "1.1"),
            seen["status"],
            duration_ms,
            f" model {seen['model_version']}" if seen["model_version"] else "",
            extra={
                "method": scope["method"],
                "path": path,
                "status": seen["status"],
                "duration_ms": round(duration_ms, 3),
                "model_version": seen["model_version"],
            },
        )
