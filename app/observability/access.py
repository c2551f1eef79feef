"""The access line of each request: written to the service's own log streams directly, through
`logging` whenever anything else (another handler, formatter or filter) listens.

`logging` makes a record, looks up its caller and runs its handlers' machinery for every line:
several times what a prediction costs. When the access logger's handlers are the ones
`logs.config` makes (stream handlers with this service's formatters and request-id filter,
nothing propagated), the line is formatted by the same functions those formatters use and
written under each handler's lock, so the bytes are the same; any other set-up gets a record.
Lines written directly reach the stream within `FLUSH_EVERY` seconds while requests come, and
within the server's poll interval (`HOUSE_PRICE_POLL_INTERVAL`) when they stop, and at shutdown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from app.observability.logs import JsonFormatter, RequestIdFilter, TextFormatter, json_line

ACCESS = logging.getLogger("house_price.access")

# Lines written directly are flushed at most this often (seconds), and by `flush`: a write to
# the terminal or pipe for each of thousands of requests a second costs more than the line.
FLUSH_EVERY = 0.2
INFO = logging.INFO

# A handler this module writes to itself, and how it turns (time, message, request id, fields)
# into the text its formatter would make.
Render = Callable[[float, str, "str | None", dict[str, Any]], str]
Direct = tuple[tuple[logging.StreamHandler[Any], Render], ...]


def _json_renderer(name: str) -> Render:
    def render(created: float, message: str, request_id: str | None, fields: dict[str, Any]) -> str:
        return json_line(created, "info", name, message, request_id, fields)

    return render


def _text_renderer(formatter: TextFormatter, name: str) -> Render:
    prefix = formatter._fmt % {"levelname": "INFO", "name": name, "message": ""}  # type: ignore[operator]

    def render(created: float, message: str, request_id: str | None, fields: dict[str, Any]) -> str:
        text = prefix + message
        return text if request_id is None else f"{text} [request {request_id}]"

    return render


def _renderer(handler: logging.Handler, name: str) -> Render | None:
    """How to write `handler`'s lines without a record, or None when only a record will do."""
    if type(handler) is not logging.StreamHandler or handler.level > logging.INFO:
        return None
    if any(type(f) is not RequestIdFilter for f in handler.filters):
        return None
    formatter = handler.formatter
    if type(formatter) is JsonFormatter:
        return _json_renderer(name)
    if type(formatter) is TextFormatter and formatter._fmt == TextFormatter.FORMAT:
        return _text_renderer(formatter, name)
    return None


def _direct_of(handlers: list[logging.Handler], name: str) -> Direct | None:
    """Each handler with its renderer, or None if any one of them needs a record."""
    direct = []
    for handler in handlers:
        render = _renderer(handler, name)
        if render is None or not isinstance(handler, logging.StreamHandler):
            return None
        direct.append((handler, render))
    return tuple(direct)


class AccessLog:
    """Writes one line a request with method, path, status, duration and model version."""

    def __init__(self, logger: logging.Logger = ACCESS) -> None:
        self.logger = logger
        self._seen: tuple[object, ...] | None = None
        self._direct: Direct | None = None
        self._formatters: tuple[tuple[logging.Handler, logging.Formatter | None], ...] = ()
        self._flushed = 0.0

    def flush(self) -> None:
        """Write out the lines the streams still hold (the server calls this at every poll)."""
        for handler, _ in self._direct or ():
            handler.flush()

    def _handlers(self) -> Direct | None:
        """The handlers to write to directly, or None when the line must go through logging."""
        logger = self.logger
        if logger.propagate or logger.filters:
            return None
        seen = tuple(logger.handlers)
        changed = seen != self._seen
        for handler, formatter in self._formatters:  # a handler given another formatter or level
            changed = changed or handler.formatter is not formatter or handler.level > INFO
        if changed:
            self._direct = _direct_of(logger.handlers, logger.name)
            self._seen = seen
            self._formatters = tuple((h, h.formatter) for h in seen)
        return self._direct

    def write(
        self,
        client: str,
        method: str,
        path: str,
        http_version: str,
        status: int,
        duration_ms: float,
        model_version: str | None,
        request_id: str | None,
    ) -> None:
        logger = self.logger
        if not logger.isEnabledFor(INFO):
            return
        message = f'{client} - "{method} {path} HTTP/{http_version}" {status} {duration_ms:.1f} ms'
        if model_version:
            message += f" model {model_version}"
        fields = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(duration_ms, 3),
            "model_version": model_version,
        }
        direct = self._handlers()
        if direct is None:
            logger.info("%s", message, extra={**fields, "request_id": request_id})
            return
        created = time.time()
        due = created - self._flushed >= FLUSH_EVERY
        if due:
            self._flushed = created
        for handler, render in direct:
            line = render(created, message, request_id, fields)
            with handler.lock:  # type: ignore[union-attr]  # a StreamHandler's lock is made
                try:
                    handler.stream.write(line + handler.terminator)
                    if due:
                        handler.stream.flush()
                except Exception:  # as logging does: a line lost is reported, never raised
                    record = logger.makeRecord(logger.name, INFO, "", 0, line, (), None)
                    handler.handleError(record)
