"""References for the /predict benchmark: the same body parsed by the same pydantic model.

- `fastapi_app`: a bare FastAPI endpoint that takes `House` and returns a constant (the floor
  any FastAPI service pays);
- `asgi_validated`: a pure ASGI handler that validates with `House.model_validate_json` and
  answers with orjson (the limit of this stack with validation);
- `asgi_raw`: the same without validation (the limit of the HTTP stack itself).
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from app.api.schemas import House

fastapi_app = FastAPI()


@fastapi_app.post("/predict")
async def predict(house: House) -> dict[str, float]:
    return {"price": 1.0}


_HEADERS = [(b"content-type", b"application/json")]


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, payload: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def asgi_validated(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    house = House.model_validate_json(await _body(receive))
    await _answer(send, orjson.dumps({"price": house.sqft}))


async def asgi_raw(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await _body(receive)
    await _answer(send, b'{"price":1.0}')
