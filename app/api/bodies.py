"""Reading request bodies that may be JSON or CSV: content type, JSON with a row limit."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from ..errors import TooLarge, UnsupportedMediaType

MAX_REPORTED_ERRORS = 10

Schema = TypeVar("Schema", bound=BaseModel)


def content_type(request: Request) -> str:
    """`application/json` or `text/csv` (a missing header means JSON); else 415."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind not in ("application/json", "text/csv"):
        raise UnsupportedMediaType(
            f"unsupported content type {kind!r}: send application/json or text/csv"
        )
    return kind


def parse_rows(body: bytes, schema: type[Schema], max_rows: int) -> Schema:
    """Validate a JSON body whose `listings` list may hold at most `max_rows` rows.

    The rows are counted before validation, so an oversized batch costs no per-row work; at most
    ten errors are reported, in FastAPI's shape.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": f"JSON decode error: {exc}"}]
        ) from None
    rows = document.get("listings") if isinstance(document, dict) else None
    if isinstance(rows, list) and len(rows) > max_rows:
        raise TooLarge(f"batch of {len(rows):,} listings is over the limit of {max_rows:,} rows")
    try:
        return schema.model_validate(document)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors[:MAX_REPORTED_ERRORS]) from None
