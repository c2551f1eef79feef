"""Access lines: written straight to the service's own streams, the same bytes as `logging`
writes, and through `logging` whenever anything else listens."""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.observability.access import (
    FLUSH_EVERY,
    MOST_HELD,
    AccessLog,
    _json_renderer,
)
from app.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter, json_line

LINE = ("10.0.0.7", "POST", "/predict", "1.1", 200, 1.2345, "v20261206-000000-abcdef", "r-1")


class Recorded(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler of another type: its lines need a record."""


def logger_with(handler: logging.Handler, formatter: logging.Formatter) -> logging.Logger:
    logger = logging.getLogger(f"test.access.{uuid.uuid4().hex}")
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


@pytest.fixture(autouse=True)
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(time, "time", lambda: 1_780_000_000.123456)
    monkeypatch.setattr(time, "time_ns", lambda: 1_780_000_000_123_456_000)
    yield


@pytest.mark.parametrize(
    "formatter", [JsonFormatter(), TextFormatter(TextFormatter.FORMAT)], ids=["json", "text"]
)
def test_a_line_written_directly_is_the_line_logging_writes(formatter: logging.Formatter) -> None:
    direct, recorded = io.StringIO(), io.StringIO()
    fast = AccessLog(logger_with(logging.StreamHandler(direct), formatter))
    slow = AccessLog(logger_with(Recorded(recorded), formatter))
    fast.write(*LINE)
    slow.write(*LINE)
    assert fast._direct is not None and slow._direct is None  # one each way
    assert direct.getvalue() == recorded.getvalue().replace(slow.logger.name, fast.logger.name)
    assert "r-1" in direct.getvalue() and "v20261206-000000-abcdef" in direct.getvalue()


def test_a_handler_added_later_gets_a_record(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    logger = logger_with(logging.StreamHandler(stream), JsonFormatter())
    access = AccessLog(logger)
    access.write(*LINE)
    logger.addHandler(caplog.handler)
    access.write(*LINE)
    [record] = caplog.records
    assert (record.status, record.request_id) == (200, "r-1")  # type: ignore[attr-defined]
    assert stream.getvalue().count("\n") == 2


def test_nothing_is_written_when_the_logger_is_quiet() -> None:
    stream = io.StringIO()
    logger = logger_with(logging.StreamHandler(stream), JsonFormatter())
    logger.setLevel(logging.WARNING)
    AccessLog(logger).write(*LINE)
    assert stream.getvalue() == ""


def test_the_time_is_the_one_iso_format_gives(fixed_time: None) -> None:
    stream = io.StringIO()
    AccessLog(logger_with(logging.StreamHandler(stream), JsonFormatter())).write(*LINE)
    assert '"time":"2026-05-28T20:26:40.123+00:00"' in stream.getvalue()


class Counted(io.StringIO):
    """A stream that counts its flushes."""

    flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_lines_written_directly_are_flushed_at_most_every_few_tenths_and_on_demand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_780_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    stream = Counted()
    access = AccessLog(logger_with(logging.StreamHandler(stream), JsonFormatter()))
    for _ in range(100):
        access.write(*LINE)
    assert stream.getvalue().count("\n") == 1 and stream.flushes == 1  # the rest are held
    now[0] += FLUSH_EVERY
    access.write(*LINE)
    assert stream.getvalue().count("\n") == 101 and stream.flushes == 2
    access.write(*LINE)
    access.flush()
    assert stream.getvalue().count("\n") == 102 and stream.flushes == 3


def test_no_more_than_a_few_hundred_lines_are_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_780_000_000.0)
    stream = io.StringIO()
    access = AccessLog(logger_with(logging.StreamHandler(stream), JsonFormatter()))
    for _ in range(MOST_HELD + 1):
        access.write(*LINE)
    assert stream.getvalue().count("\n") == MOST_HELD + 1


def test_lines_held_come_before_a_line_that_needs_a_record(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_780_000_000.0)
    stream = io.StringIO()
    logger = logger_with(logging.StreamHandler(stream), JsonFormatter())
    access = AccessLog(logger)
    for n in range(3):
        access.write(*LINE[:-1], f"r-{n}")
    logger.addHandler(caplog.handler)
    access.write(*LINE[:-1], "r-3")
    ids = [json.loads(line)["request_id"] for line in stream.getvalue().splitlines()]
    assert ids == ["r-0", "r-1", "r-2", "r-3"]
    assert [r.request_id for r in caplog.records] == ["r-1", "r-2", "r-3"]  # type: ignore[attr-defined]


PLAIN_OR_ANY = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40), st.text(max_size=40)
)


@given(
    client=PLAIN_OR_ANY,
    path=PLAIN_OR_ANY,
    status=st.integers(100, 599),
    duration=st.one_of(
        st.floats(0, 1e12, allow_nan=False),
        st.floats(0, 2, allow_nan=False),
        st.sampled_from([0.0, 0.0004, 0.0005, 0.001, 0.1, 1.0, 1e-7, 999_999_999.9996]),
    ),
    model_version=st.one_of(st.none(), PLAIN_OR_ANY),
    request_id=st.one_of(st.none(), PLAIN_OR_ANY),
    created=st.floats(1e9, 4e9),
)
def test_a_json_line_made_from_its_parts_is_the_one_json_line_makes(
    client: str,
    path: str,
    status: int,
    duration: float,
    model_version: str | None,
    request_id: str | None,
    created: float,
) -> None:
    render = _json_renderer("house_price.access")
    message = f'{client} - "POST {path} HTTP/1.1" {status} {duration:.1f} ms'
    if model_version:
        message += f" model {model_version}"
    fields = {
        "method": "POST",
        "path": path,
        "status": status,
        "duration_ms": round(duration, 3),
        "model_version": model_version,
    }
    expected = json_line(created, "info", "house_price.access", message, request_id, fields)
    line = (created, client, "POST", path, "1.1", status, duration, model_version, request_id)
    for _ in range(2):  # made, then from the parts kept
        assert render(line) == expected
