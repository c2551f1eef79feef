"""Access lines: written straight to the service's own streams, the same bytes as `logging`
writes, and through `logging` whenever anything else listens."""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Iterator

import pytest

from app.observability.access import FLUSH_EVERY, AccessLog
from app.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter

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
    assert stream.getvalue().count("\n") == 100 and stream.flushes == 1
    now[0] += FLUSH_EVERY
    access.write(*LINE)
    assert stream.flushes == 2
    access.flush()
    assert stream.flushes == 3
