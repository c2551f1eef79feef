"""uvicorn's HTTP protocol with each answer's head and body sent in one write, not two.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, and its body when the app sends `http.response.body`: two system calls
and two TCP segments for an answer of a few hundred bytes, where the estimate itself costs a
microsecond. Here the connection's transport holds what is written until the end of the event
loop's turn (or until it holds `FLUSH_AT` bytes, or the connection closes) and writes it then,
in one call: an answer whose head and body are sent one after the other, as every answer of this
service is, leaves in one segment. Nothing else changes: the bytes, their order, flow control
(the real transport still pauses and resumes the protocol) and closing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Held bytes are written at once from this size on (a large body goes out without waiting).
FLUSH_AT = 64 * 1024


class HeldWrites:
    """A transport that writes what it is given at the end of the loop's turn, in one call."""

    __slots__ = ("_held", "_loop", "_size", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what is held, in one call (a closed connection drops it, as its transport
        would)."""
        held = self._held
        if not held:
            return
        self._held, self._size = [], 0
        if self.transport.is_closing():
            return
        if len(held) == 1:
            self.transport.write(held[0])
        else:
            self.transport.writelines(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `HeldWrites` transport."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        held = HeldWrites(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(held)  # type: ignore[arg-type]
