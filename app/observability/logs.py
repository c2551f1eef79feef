"""Logging: text or one JSON object a line, each line with the id of the request it serves.

The request id lives in a context variable set by the request-id middleware; every record
written while serving that request (the service's, uvicorn's, psycopg's) carries it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import orjson

from app.observability.context import REQUEST_ID

__all__ = [
    "ACCESS_FIELDS",
    "FORMATS",
    "REQUEST_ID",
    "UVICORN_JSON",
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "config",
    "json_line",
]

# What an access line carries besides the message (set by the access-log middleware).
ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "model_version")
FORMATS = ("text", "json")
# `config("json", "info")` as a file, for plain uvicorn: `uvicorn app.main:app --log-config
# app/observability/uvicorn-json.json` writes JSON from its first line (a test keeps it equal).
UVICORN_JSON = Path(__file__).with_name("uvicorn-json.json")


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


_SECOND: list[Any] = [None, ""]  # the last second formatted, and its text
_MILLISECONDS = [f".{ms:03d}+00:00" for ms in range(1000)]


def iso_time(created: float) -> str:
    """`created` (seconds since the epoch) in UTC, ISO 8601 to the millisecond, as
    `datetime.isoformat(timespec="milliseconds")` writes it; each second is formatted once."""
    second = int(created // 1)
    micro = round((created - second) * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    if _SECOND[0] != second:
        text = dt.datetime.fromtimestamp(second, dt.UTC).isoformat(timespec="seconds")
        _SECOND[:] = [second, text[: -len("+00:00")]]
    return _SECOND[1] + _MILLISECONDS[micro // 1000]  # type: ignore[no-any-return]


def json_line(
    created: float,
    level: str,
    logger: str,
    message: str,
    request_id: str | None,
    fields: dict[str, Any],
    error: str | None = None,
) -> str:
    """One JSON log line: time, level, logger, message, request_id, then `fields` and `error`."""
    line: dict[str, Any] = {
        "time": iso_time(created),
        "level": level,
        "logger": logger,
        "message": message,
        "request_id": request_id,
        **fields,
    }
    if error is not None:
        line["error"] = error
    return orjson.dumps(line, default=str).decode()


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, and access fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {name: getattr(record, name) for name in ACCESS_FIELDS if hasattr(record, name)}
        return json_line(
            record.created,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            getattr(record, "request_id", None),
            fields,
            self.formatException(record.exc_info) if record.exc_info else None,
        )


class TextFormatter(logging.Formatter):
    """The text format, with the request id at the end when there is one."""

    FORMAT = "%(levelname)s:     %(name)s: %(message)s"  # the service's (`config`)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        return text if request_id is None else f"{text} [request {request_id}]"


def config(fmt: str, level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` (also uvicorn's `log_config`) for `fmt` at `level`."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"()": TextFormatter, "format": TextFormatter.FORMAT}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "main",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    # Access lines go to standard output, the rest to standard error, as uvicorn's do.
    access = {**handler, "stream": "ext://sys.stdout"}
    quiet = {"level": level.upper(), "handlers": ["main"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler, "access": access},
        "root": {"level": level.upper(), "handlers": ["main"]},
        "loggers": {
            "uvicorn": quiet,
            "uvicorn.error": {"level": level.upper(), "propagate": True},
            # The service writes its own access line (with duration and model version).
            "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            "house_price.access": {**quiet, "handlers": ["access"]},
            # The pool's warning for each failed attempt during an outage: the service logs one
            # line when the database goes and one when it is back.
            "psycopg.pool": {"level": "ERROR"},
        },
    }
