"""Log lines: one JSON object a line with the request id, or text with it at the end."""

from __future__ import annotations

import json
import logging

from app.observability.logs import (
    REQUEST_ID,
    UVICORN_JSON,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    config,
)


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("app.x", logging.INFO, __file__, 1, message, (), None)
    for name, value in extra.items():
        setattr(made, name, value)
    RequestIdFilter().filter(made)
    return made


def test_a_json_line_has_time_level_logger_message_and_request_id() -> None:
    token = REQUEST_ID.set("abc-123")
    try:
        line = json.loads(JsonFormatter().format(record("hello")))
    finally:
        REQUEST_ID.reset(token)
    assert line.keys() == {"time", "level", "logger", "message", "request_id"}
    assert (line["level"], line["logger"], line["message"]) == ("info", "app.x", "hello")
    assert line["request_id"] == "abc-123" and line["time"].endswith("+00:00")


def test_an_access_line_carries_its_fields() -> None:
    fields = {"method": "POST", "path": "/predict", "status": 200, "duration_ms": 1.5}
    line = json.loads(JsonFormatter().format(record("x", model_version="v1", **fields)))
    assert line | fields == line and line["model_version"] == "v1"


def test_outside_a_request_the_id_is_null() -> None:
    assert json.loads(JsonFormatter().format(record("start")))["request_id"] is None


def test_the_text_format_puts_the_request_id_at_the_end() -> None:
    token = REQUEST_ID.set("abc-123")
    try:
        text = TextFormatter("%(message)s").format(record("hello"))
    finally:
        REQUEST_ID.reset(token)
    assert text == "hello [request abc-123]"


def test_the_shipped_uvicorn_log_config_is_the_json_config_the_service_applies() -> None:
    def named(value: object) -> object:
        if isinstance(value, dict):
            return {k: named(v) for k, v in value.items()}
        if isinstance(value, type):
            return f"{value.__module__}.{value.__qualname__}"
        return value

    shipped = json.loads(UVICORN_JSON.read_text())
    assert shipped == named(config("json", "info"))
