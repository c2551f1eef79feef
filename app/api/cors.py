"""CORS, off unless `HOUSE_PRICE_CORS_ORIGINS` lists origins: which other sites' pages may call
the API from a browser.

Listed origins (exact `scheme://host[:port]`) may call every route, the key-protected ones with
their `Authorization` header. `*` lets any page call the estimate routes only. Credentials
(cookies) are never allowed: the keys travel in a header a page must set itself.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.edge import Layer

ESTIMATE_PATHS = frozenset({"/predict", "/predict/batch"})
METHODS = b"GET, POST, DELETE, OPTIONS"
HEADERS = b"Authorization, Content-Type, X-Request-ID"
EXPOSED = b"X-Request-ID, X-Model-Version, Location"
MAX_AGE = b"600"


def parse_origins(text: str | None) -> tuple[frozenset[str], bool]:
    """The exact origins listed (comma-separated), and whether `*` is among them."""
    items = {o.strip().rstrip("/") for o in (text or "").split(",") if o.strip()}
    return frozenset(items - {"*"}), "*" in items


def marks(allowed: bytes | None) -> list[tuple[bytes, bytes]]:
    """The headers an answer (not a preflight) to a request with an `Origin` gets."""
    if allowed is None:
        return [(b"vary", b"Origin")]
    return [
        (b"vary", b"Origin"),
        (b"access-control-allow-origin", allowed),
        (b"access-control-expose-headers", EXPOSED),
    ]


class Cors(Layer):
    """Answers preflights and marks answers for allowed origins; changes nothing else."""

    def __init__(self, app: ASGIApp, origins: frozenset[str], anyone: bool) -> None:
        self.app = app
        self.origins = origins
        self.anyone = anyone

    def allowed(self, origin: str, path: str) -> bytes | None:
        """What `Access-Control-Allow-Origin` says to `origin` on `path`, or None."""
        if origin in self.origins:
            return origin.encode()
        if self.anyone and path in ESTIMATE_PATHS:
            return b"*"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"origin"), None)
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.allowed(origin, scope["path"])
        vary = [(b"vary", b"Origin")]
        preflight = scope["method"] == "OPTIONS" and any(
            k == b"access-control-request-method" for k, _ in scope["headers"]
        )
        if preflight:
            headers = list(vary)
            if allowed is not None:
                headers += [
                    (b"access-control-allow-origin", allowed),
                    (b"access-control-allow-methods", METHODS),
                    (b"access-control-allow-headers", HEADERS),
                    (b"access-control-max-age", MAX_AGE),
                ]
            await send(
                {
                    "type": "http.response.start",
                    "status": 204 if allowed is not None else 403,
                    "headers": [*headers, (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        extra = marks(allowed)

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_marked)
