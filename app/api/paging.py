"""Page tokens of `GET /models`: opaque to clients, checked when they come back."""

from __future__ import annotations

import base64
import binascii
import json

from fastapi.exceptions import RequestValidationError

from app.storage.naming import VERSION_PATTERN


def encode(last_version: str) -> str:
    """The token of the page after the one that ended with `last_version`."""
    raw = json.dumps({"before": last_version}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> str:
    """The version a token continues below; a 422 naming `page_token` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        before = json.loads(raw)["before"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        before = None
    if not isinstance(before, str) or not VERSION_PATTERN.match(before):
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
