"""POST /predict without FastAPI's per-request machinery, for well-formed requests only.

A linear estimate costs about a microsecond; dependency injection, body parsing and response
validation in FastAPI, and a layer of middleware per concern, cost far more. This ASGI app is
what the server calls first. It answers a POST /predict whose JSON body passes the same
pydantic model (`House.model_validate_json`) and whose query is empty or a valid `level` and
`comps`, with the same body as the documented route (`api.predict.answer`, and `with_comps`),
and does for it what the layers behind it do for every other request, in one pass: the request
id (`api.edge`), the CORS headers (`api.cors`), the request metrics and the access line.
Everything else, and every error, goes on to those layers and the FastAPI route, so error
answers are FastAPI's own, byte for byte.
"""

from __future__ import annotations

import time

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.cors import Cors, marks
from app.api.edge import Layer, request_id_from, write_access
from app.api.predict import answer as answer
from app.api.predict import with_comps
from app.api.replay import read_body, replay, replay_message
from app.api.schemas import House
from app.config import Settings
from app.domain.comps import MAX_COMPS
from app.domain.rules import level_allowed
from app.observability import metrics
from app.observability.access import AccessLog
from app.observability.logs import REQUEST_ID
from app.service.serving import ServedModels

_JSON_TYPES = (b"application/json",)
_JSON = (b"content-type", b"application/json")


class FastPredict(Layer):
    """The served ASGI app: this fast path in front of the layers and the FastAPI app.

    It answers only between `start` (the lifespan's models are loaded) and `stop`; attribute
    access (`state`, `openapi`, ...) goes to the FastAPI app.
    """

    def __init__(self, app: ASGIApp, cors: Cors | None, access: AccessLog | None) -> None:
        self.app = app
        self.cors = cors
        self.access = access
        self.served: ServedModels | None = None
        self.settings: Settings | None = None

    def start(self, served: ServedModels, settings: Settings) -> None:
        self.served, self.settings = served, settings

    def stop(self) -> None:
        self.served = self.settings = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        served, settings = self.served, self.settings
        if (
            served is None
            or settings is None
            or scope["type"] != "http"
            or scope["path"] != "/predict"
            or scope["method"] != "POST"
        ):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        json_body = small = False
        given = origin = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                json_body = value.split(b";")[0].strip().lower() in _JSON_TYPES
            elif name == b"content-length":
                small = value.isdigit() and int(value) <= settings.max_body_bytes
            elif name == b"x-request-id":
                given = value if given is None else given
            elif name == b"origin":
                origin = value if origin is None else origin
        # As FastAPI, which parses a body as JSON only when it says so; sizes are its to refuse.
        if not (json_body and small):
            await self.app(scope, receive, send)
            return
        message = await receive()  # a small body comes whole, in one message
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")
        else:
            body = await read_body(replay_message(message, receive)) or b""
        level, comps = _query(scope["query_string"], settings.default_level)
        if level is None:
            await self.app(scope, replay(body, receive), send)
            return
        try:
            house = House.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replay(body, receive), send)
            return
        current = served.ready(house.market, level)
        if current is None:
            await self.app(scope, replay(body, receive), send)
            return
        request_id = request_id_from(given)
        token = REQUEST_ID.set(request_id)
        try:
            if comps:
                found = with_comps(served, current, house, level, comps, settings)
            else:
                found = answer(served, current, house, level)
            payload = orjson.dumps(found)
        except Exception:  # the route answers it, as a 500 or whatever it is, and logs it
            REQUEST_ID.reset(token)
            await self.app(scope, replay(body, receive), send)
            return
        version = current.version
        headers = [
            (b"content-length", str(len(payload)).encode()),
            _JSON,
            (b"x-model-version", version.encode()),
        ]
        if origin is not None and self.cors is not None:
            headers += marks(self.cors.allowed(origin.decode("latin-1"), "/predict"))
        headers.append((b"x-request-id", request_id.encode()))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
        finally:
            seconds = time.perf_counter() - start
            metrics.TALLY.request("POST", "/predict", "200", seconds)
            if self.access is not None:
                write_access(self.access, scope, 200, seconds * 1000, version, request_id)
            REQUEST_ID.reset(token)


def _query(query: bytes, default: float) -> tuple[float | None, int]:
    """The `level` and `comps` of a query that holds nothing else, each at most once; a level
    of None sends the request to FastAPI (which answers anything else, errors included)."""
    level, comps = default, 0
    if not query:
        return level, comps
    seen = set()
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name in seen:
            return None, 0
        seen.add(name)
        if name == b"level":
            try:
                level = float(value)
            except ValueError:
                return None, 0
            if not level_allowed(level):
                return None, 0
        elif name == b"comps" and value.isdigit() and len(value) <= 2 and int(value) <= MAX_COMPS:
            comps = int(value)
        else:
            return None, 0
    return level, comps
