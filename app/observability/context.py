"""Who is acting and for which request: set where a request or command starts, read where a
change is recorded (the audit trail) or a line is logged."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# The name of the API key that authorised the request (never the key itself).
KEY_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar("key_name", default=None)
# What acts when no request does: a command (`python -m app.db prune`) or a fit job.
VIA: contextvars.ContextVar[str] = contextvars.ContextVar("via", default="")


@contextlib.contextmanager
def acting(
    *, key_name: str | None = None, request_id: str | None = None, via: str = ""
) -> Iterator[None]:
    """Run a block as that caller (a command, or a job acting for the request that made it)."""
    tokens = (KEY_NAME.set(key_name), REQUEST_ID.set(request_id), VIA.set(via))
    try:
        yield
    finally:
        VIA.reset(tokens[2])
        REQUEST_ID.reset(tokens[1])
        KEY_NAME.reset(tokens[0])
