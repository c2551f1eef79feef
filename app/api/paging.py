"""Page tokens of `GET /models` and `GET /markets`: opaque to clients, checked on return."""

from __future__ import annotations

import base64
import binascii
import json
import re

from fastapi.exceptions import RequestValidationError

from app.storage.naming import VERSION_PATTERN


def encode(last: str, key: str = "before") -> str:
    """The token of the page after the one that ended with `last` (a version, or a market)."""
    raw = json.dumps({key: last}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, key: str = "before", pattern: re.Pattern[str] = VERSION_PATTERN) -> str:
    """The name a token continues from; a 422 naming `page_token` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        before = json.loads(raw)[key]
    except (binascii.Error, ValueError, KeyError, TypeError):
        before = None
    if not isinstance(before, str) or not pattern.match(before):
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "page_token"),
                    "msg": "not a page token this service gave: pass the `next_page_token` "
                    "of the previous answer, or leave it out for the first page",
                    "input": token,
                }
            ]
        )
    return before
