"""The practical limit of a JSON batch: orjson in, numpy, orjson out, with no validation at all."""

from __future__ import annotations

import numpy as np
import orjson
from starlette.types import Receive, Scope, Send

from bench.bare_app import _answer, _body

WEIGHTS = np.array([-27035.28, 5342.59, 158.17])
INTERCEPT = 58481.75


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    rows = orjson.loads(await _body(receive))["listings"]
    X = np.array([(r["beds"], r["baths"], r["sqft"]) for r in rows], dtype=np.float64)
    prices = (INTERCEPT + X @ WEIGHTS).tolist()
    await _answer(send, orjson.dumps({"predictions": [{"price": p} for p in prices]}))
