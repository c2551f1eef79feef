"""The access line of each request: written to the service's own log streams directly, through
`logging` whenever anything else (another handler, formatter or filter) listens.

`logging` makes a record, looks up its caller and runs its handlers' machinery for every line:
several times what a prediction costs. When the access logger's handlers are the ones
`logs.config` makes (stream handlers with this service's formatters and request-id filter,
nothing propagated), the line's parts are kept, and the lines kept are rendered to the text
those formatters make and written under each handler's lock, together: rendering between two
requests, with the code and data cold, costs several times rendering a few hundred in a row.
Any other set-up gets a record. Lines written directly reach the stream within `FLUSH_EVERY`
seconds while requests come, and within the server's poll interval (`HOUSE_PRICE_POLL_INTERVAL`)
when they stop, and at shutdown.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from app.observability.logs import (
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    iso_time,
    json_line,
)

ACCESS = logging.getLogger("house_price.access")

# Lines written directly are flushed at most this often (seconds), and by `flush`: a write to
# the terminal or pipe for each of thousands of requests a second costs more than the line.
FLUSH_EVERY = 0.2
INFO = logging.INFO

# A handler this module writes to itself, and how it turns a line's parts into the text its
# formatter would make.
# A line's parts: time, client, method, path, HTTP version, status, duration (ms), model version
# and request id.
Line = tuple[float, str, str, str, str, int, float, "str | None", "str | None"]
Render = Callable[[Line], str]
Direct = tuple[tuple[logging.StreamHandler[Any], Render], ...]
# Lines held at most before they are written, whatever the time.
MOST_HELD = 256

# Text that orjson writes as it is between quotes: printable ASCII but `"` and `\`.
_PLAIN = re.compile(r"[ !#-\[\]-~]*")
# Durations (ms) below this are written by orjson as plain decimals, 3 places at most.
_DECIMAL_BELOW = 1e9
# The constant parts of a JSON access line, by (client, method, path, version, status, model).
_MOST_TEMPLATES = 4096


def message_of(line: Line) -> str:
    """An access line's message, with the model version when there is one."""
    _, client, method, path, http_version, status, duration_ms, model_version, _ = line
    message = f'{client} - "{method} {path} HTTP/{http_version}" {status} {duration_ms:.1f} ms'
    return f"{message} model {model_version}" if model_version else message


def fields_of(line: Line) -> dict[str, Any]:
    """An access line's fields beside its message."""
    _, _, method, path, _, status, duration_ms, model_version, _ = line
    return {
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(duration_ms, 3),
        "model_version": model_version,
    }


def _json_renderer(name: str) -> Render:
    """`json_line`'s text of an access line; where every string is plain, the same text from
    the line's constant parts, made once (a dict and an encoder a line cost more than the line's
    own work)."""
    templates: dict[tuple[object, ...], tuple[str, str, str, str] | None] = {}
    plain = _PLAIN.fullmatch
    most = _DECIMAL_BELOW

    def template(key: tuple[Any, ...]) -> tuple[str, str, str, str] | None:
        client, method, path, http_version, status, model_version = key
        texts = (name, client, method, path, http_version, model_version or "")
        if not all(plain(text) for text in texts):
            return None
        model = f" model {model_version}" if model_version else ""
        version = f'"{model_version}"' if model_version is not None else "null"
        return (
            f'","level":"info","logger":"{name}","message":"{client} - \\"{method} {path} '
            f'HTTP/{http_version}\\" {status} ',
            f' ms{model}","request_id":',
            f',"method":"{method}","path":"{path}","status":{status},"duration_ms":',
            f',"model_version":{version}}}',
        )

    def render(line: Line) -> str:
        created, client, method, path, http_version, status, duration_ms, model_version, rid = line
        key = (client, method, path, http_version, status, model_version)
        parts = templates.get(key)
        if parts is None and key not in templates:
            if len(templates) >= _MOST_TEMPLATES:
                templates.clear()
            parts = templates[key] = template(key)
        if parts is None or not 0.0 <= duration_ms < most or (rid is not None and not plain(rid)):
            return json_line(created, "info", name, message_of(line), rid, fields_of(line))
        head, middle, named, tail = parts
        quoted = "null" if rid is None else f'"{rid}"'
        # repr(round(duration_ms, 3)), as orjson writes it: the same correctly rounded digits.
        rounded = f"{duration_ms:.3f}".rstrip("0")
        if rounded[-1] == ".":
            rounded += "0"
        return (
            f'{{"time":"{iso_time(created)}{head}{duration_ms:.1f}{middle}{quoted}{named}'
            f"{rounded}{tail}"
        )

    return render


def _text_renderer(formatter: TextFormatter, name: str) -> Render:
    prefix = formatter._fmt % {"levelname": "INFO", "name": name, "message": ""}  # type: ignore[operator]

    def render(line: Line) -> str:
        text = prefix + message_of(line)
        request_id = line[-1]
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
    """Writes one line a request with method, path, status, duration and model version.

    Lines for the handlers written to directly are kept as their parts and rendered and written
    together, in the order they came, when `FLUSH_EVERY` has passed since the last write or
    `MOST_HELD` lines are held, and by `flush`: rendering a few hundred lines in one loop costs
    a fraction of rendering each one between two requests.
    """

    def __init__(self, logger: logging.Logger = ACCESS) -> None:
        self.logger = logger
        self._seen: tuple[object, ...] | None = None
        self._direct: Direct | None = None
        self._formatters: tuple[tuple[logging.Handler, logging.Formatter | None], ...] = ()
        self._flushed = 0.0
        self._held: list[Line] = []

    def flush(self) -> None:
        """Write out the lines held here and in the streams (the server calls this at every
        poll)."""
        self._write_held(self._handlers())
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
        direct = self._handlers()
        line = (
            time.time(),
            client,
            method,
            path,
            http_version,
            status,
            duration_ms,
            model_version,
            request_id,
        )
        if direct is None:
            self._write_held(None)  # the lines held before it come first
            self._record(line)
            return
        held = self._held
        held.append(line)
        if len(held) >= MOST_HELD or line[0] - self._flushed >= FLUSH_EVERY:
            self._write_held(direct)
            for handler, _ in direct:
                handler.flush()

    def _write_held(self, direct: Direct | None) -> None:
        """Render the lines held and write them, to each handler in one call (through logging
        when a handler now needs a record)."""
        held = self._held
        if not held:
            return
        self._held = []
        self._flushed = held[-1][0]
        if direct is None:
            for line in held:
                self._record(line)
            return
        for handler, render in direct:
            terminator = handler.terminator
            text = "".join([render(line) + terminator for line in held])
            with handler.lock:  # type: ignore[union-attr]  # a StreamHandler's lock is made
                try:
                    handler.stream.write(text)
                except Exception:  # as logging does: lines lost are reported, never raised
                    record = self.logger.makeRecord(self.logger.name, INFO, "", 0, text, (), None)
                    handler.handleError(record)

    def _record(self, line: Line) -> None:
        """One line through `logging` (its time is the record's)."""
        self.logger.info("%s", message_of(line), extra={**fields_of(line), "request_id": line[-1]})
