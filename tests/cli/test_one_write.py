"""The server's HTTP protocol: an answer's head and body leave in one write."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from app.cli.one_write import FLUSH_AT, HeldWrites, OneWriteProtocol


class Recording:
    """A transport that records what is asked of it."""

    def __init__(self, closing: bool = False) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = closing

    def write(self, data: bytes) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, lines: list[bytes]) -> None:
        self.calls.append(("writelines", [bytes(line) for line in lines]))

    def close(self) -> None:
        self.calls.append(("close", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return f"info {name}"


def held(transport: Recording) -> tuple[HeldWrites, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    return HeldWrites(transport, loop), loop  # type: ignore[arg-type]


def test_writes_of_one_turn_leave_in_one_call_in_order() -> None:
    transport = Recording()
    writes, loop = held(transport)
    writes.write(b"head ")
    writes.write(b"body")
    assert transport.calls == []
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert transport.calls == [("writelines", [b"head ", b"body"])]


def test_a_lone_write_is_one_plain_write() -> None:
    transport = Recording()
    writes, loop = held(transport)
    writes.write(b"all of it")
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert transport.calls == [("write", b"all of it")]


def test_a_large_write_leaves_at_once() -> None:
    transport = Recording()
    writes, loop = held(transport)
    writes.write(b"head ")
    writes.write(b"x" * FLUSH_AT)
    assert transport.calls == [("writelines", [b"head ", b"x" * FLUSH_AT])]
    loop.run_until_complete(asyncio.sleep(0))  # nothing is left to write at the turn's end
    loop.close()
    assert len(transport.calls) == 1


def test_closing_writes_what_is_held_first() -> None:
    transport = Recording()
    writes, loop = held(transport)
    writes.write(b"answer")
    writes.close()
    loop.close()
    assert transport.calls == [("write", b"answer"), ("close", None)]


def test_a_closed_connection_drops_what_is_held() -> None:
    transport = Recording(closing=True)
    writes, loop = held(transport)
    writes.write(b"too late")
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    assert transport.calls == []


def test_everything_else_is_the_transports() -> None:
    writes, loop = held(Recording())
    loop.close()
    assert writes.get_extra_info("peername") == "info peername"


async def _answer(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that answers its request's path, head then body, as the service does."""
    if scope["type"] != "http":
        return
    await receive()
    body = scope["path"].encode() * (2 if scope["path"] == "/short" else FLUSH_AT // 4)
    headers = [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


SEEN: list[Recording] = []


class RecordedProtocol(OneWriteProtocol):
    """The protocol over a transport that records the calls it gets (and passes them on)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        recording = Passing(transport)
        SEEN.append(recording)
        super().connection_made(recording)  # type: ignore[arg-type]


class Passing(Recording):
    def __init__(self, transport: Any) -> None:
        super().__init__()
        self.transport = transport

    def write(self, data: bytes) -> None:
        super().write(data)
        self.transport.write(data)

    def writelines(self, lines: list[bytes]) -> None:
        super().writelines(lines)
        self.transport.writelines(lines)

    def close(self) -> None:
        super().close()
        self.transport.close()

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _exchange(requests: bytes, until: int) -> bytes:
    config = uvicorn.Config(
        _answer, host="127.0.0.1", port=0, http=RecordedProtocol, lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(requests)
    answers = b""
    while answers.count(b"HTTP/1.1 200") < until or not answers.endswith((b"/short", b"/long")):
        chunk = await asyncio.wait_for(reader.read(1 << 20), 5)
        assert chunk, answers
        answers += chunk
    writer.close()
    server.should_exit = True
    await serving
    return answers


def test_a_served_answer_leaves_in_one_write() -> None:
    SEEN.clear()
    answers = asyncio.run(_exchange(b"GET /short HTTP/1.1\r\nhost: x\r\n\r\n", 1))
    assert answers.endswith(b"\r\n\r\n/short/short")
    (connection,) = SEEN
    (call,) = [c for c in connection.calls if c[0] != "close"]
    name, parts = call
    assert name == "writelines"
    assert b"".join(parts) == answers


def test_answers_on_one_connection_leave_whole_and_in_order() -> None:
    SEEN.clear()
    requests = b"GET /long HTTP/1.1\r\nhost: x\r\n\r\nGET /short HTTP/1.1\r\nhost: x\r\n\r\n"
    answers = asyncio.run(_exchange(requests, 2))
    first, second = answers.split(b"HTTP/1.1 200")[1:]
    assert first.endswith(b"/long" * (FLUSH_AT // 4))
    assert second.endswith(b"\r\n\r\n/short/short")
    (connection,) = SEEN
    writes = [c for c in connection.calls if c[0] != "close"]
    assert [name for name, _ in writes] == ["writelines", "writelines"]


def test_the_service_is_served_by_this_protocol(monkeypatch: Any, tmp_path: Any) -> None:
    from app.cli import serve

    given: dict[str, Any] = {}
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # main() sets it when unset
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: given.update(k))
    monkeypatch.setenv("HOUSE_PRICE_API_KEY", "a-key-of-sixteen-characters")
    serve.main()
    assert given["http"] is OneWriteProtocol


def test_without_httptools_the_service_is_served_by_uvicorns_choice(monkeypatch: Any) -> None:
    import sys

    from app.cli import serve

    monkeypatch.setitem(sys.modules, "httptools", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "uvicorn.protocols.http.httptools_impl", raising=False)
    monkeypatch.delitem(sys.modules, "app.cli.one_write", raising=False)
    assert serve.http_protocol() == "auto"
