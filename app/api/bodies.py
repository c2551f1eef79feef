"""Reading request bodies that may be JSON or CSV: content type, JSON with a row limit."""

from __future__ import annotations

import operator
from typing import Any, TypeVar

import numpy as np
import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from app.api.errors import UnsupportedMediaType
from app.domain.arrays import FloatArray
from app.domain.errors import TooLarge
from app.domain.listings import Skipped
from app.domain.rules import FEATURES, LIMITS

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


_COLUMNS = tuple(operator.itemgetter(name) for name in FEATURES)


def houses_fast(document: Any) -> FloatArray | None:
    """The (n, 3) features of a `{"listings": [...]}` document that plainly meets every rule.

    Checked with C-speed builtins and numpy; anything irregular returns None, and the caller
    validates with pydantic instead, which gives the documented error answer.
    """
    if type(document) is not dict or document.keys() != {"listings"}:
        return None
    rows = document["listings"]
    if type(rows) is not list:
        return None
    if not rows:
        return np.empty((0, 3))
    # Every row a dict of three entries, each of the three keys found: exactly those keys.
    if set(map(type, rows)) != {dict} or set(map(len, rows)) != {3}:
        return None
    try:
        beds, baths, sqft = (list(map(column, rows)) for column in _COLUMNS)
    except KeyError:
        return None
    # Every value an int or a float (never a bool, a string or None), and every bedrooms an int.
    if not (
        set(map(type, beds)) <= {int}
        and set(map(type, baths)) | set(map(type, sqft)) <= {int, float}
    ):
        return None
    X = np.empty((len(rows), 3))
    try:  # a column at a time: no list of every value, no tuple per row
        X[:, 0], X[:, 1], X[:, 2] = beds, baths, sqft
    except OverflowError:
        return None
    within = np.isfinite(X).all() and all(
        ((X[:, i] >= low) & (X[:, i] <= high)).all()
        for i, (low, high) in enumerate(LIMITS[name] for name in FEATURES)
    )
    return X if within else None


def load_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": f"JSON decode error: {exc}"}]
        ) from None


def check_rows(document: Any, max_rows: int) -> None:
    """413 for a `listings` list over the limit, before any per-row work."""
    rows = document.get("listings") if isinstance(document, dict) else None
    if isinstance(rows, list) and len(rows) > max_rows:
        raise TooLarge(f"batch of {len(rows):,} listings is over the limit of {max_rows:,} rows")


def validate(document: Any, schema: type[Schema]) -> Schema:
    try:
        return schema.model_validate(document)
    except ValidationError as exc:
        errors: list[dict[str, Any]] = [
            {**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)
        ]
        raise RequestValidationError(errors[:MAX_REPORTED_ERRORS]) from None


def without_bad_rows(document: Any, row_schema: type[BaseModel], skipped: Skipped) -> Any:
    """The document with the `listings` rows that fail `row_schema` left out and recorded in
    `skipped` (each by its index and first error); the rest is validated as usual after."""
    rows = document.get("listings") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        return document
    kept = []
    for index, row in enumerate(rows):
        try:
            row_schema.model_validate(row)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in first["loc"])
            skipped.add_row(
                index, f"listings[{index}]{'.' + where if where else ''}: {first['msg']}"
            )
            continue
        kept.append(row)
    if rows and not kept:
        raise skipped.nothing_left()
    return {**document, "listings": kept}


def parse_rows(body: bytes, schema: type[Schema], max_rows: int) -> Schema:
    """Validate a JSON body whose `listings` list may hold at most `max_rows` rows.

    The rows are counted before validation, so an oversized batch costs no per-row work; at most
    ten errors are reported, in FastAPI's shape.
    """
    document = load_json(body)
    check_rows(document, max_rows)
    return validate(document, schema)
