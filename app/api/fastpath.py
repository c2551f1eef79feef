"""POST /predict without FastAPI's per-request machinery, for well-formed requests only.

A linear estimate costs under a microsecond; dependency injection, body parsing and response
validation in FastAPI cost far more. This ASGI layer answers a POST /predict whose JSON body
passes the same pydantic model (`House.model_validate_json`) and whose query is empty or a valid
`level` and `comps`, with the same body as the documented route (`api.predict.answer`, and
`with_comps`). Everything else, and
every error, goes on to the FastAPI route, so error answers are FastAPI's own, byte for byte.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from app.api.predict import answer as answer
from app.api.predict import with_comps
from app.api.replay import read_body, replay
from app.api.schemas import House
from app.domain.comps import MAX_COMPS
from app.domain.rules import level_allowed
from app.observability import metrics

_JSON_TYPES = (b"application/json",)


class FastPredict:
    """The served ASGI app: this fast path in front of the FastAPI app, which does the rest.

    It sits outside FastAPI's middleware stack, so it checks the body limit and records the
    request metrics itself; attribute access (`state`, `openapi`, ...) goes to the FastAPI app.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        state = self.app.state
        json_body = small = False
        for name, value in scope["headers"]:
            if name == b"content-type":
                json_body = value.split(b";")[0].strip().lower() in _JSON_TYPES
            elif name == b"content-length":
                small = value.isdigit() and int(value) <= state.settings.max_body_bytes
        # As FastAPI, which parses a body as JSON only when it says so; sizes are its to refuse.
        if not (json_body and small):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive) or b""
        level, comps = _query(scope["query_string"], state.settings.default_level)
        served = state.served
        house = current = None
        if level is not None:
            try:
                house = House.model_validate_json(body)
            except ValidationError:
                house = None
            if house is not None:
                current = served.ready(house.market, level)
        if house is None or current is None or level is None:
            await self.app(scope, replay(body, receive), send)
            return
        if comps:
            found = with_comps(served, current, house, level, comps, state.settings)
        else:
            found = answer(served, current, house, level)
        payload = orjson.dumps(found)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(payload)).encode()),
                    (b"content-type", b"application/json"),
                    (b"x-model-version", current.version.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        metrics.TALLY.request("POST", "/predict", "200", time.perf_counter() - start)


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
