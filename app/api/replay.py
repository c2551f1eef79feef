"""A request body read whole at the ASGI level, then handed on to the app as if unread."""

from __future__ import annotations

from starlette.types import Message, Receive


async def read_body(receive: Receive, max_bytes: int | None = None) -> bytes | None:
    """The body's bytes, read message by message; None as soon as they pass `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_message(message: Message, receive: Receive) -> Receive:
    """A `receive` that gives `message` once, then whatever `receive` gives next."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return message
        return await receive()

    return receive_again


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` once, whole, then whatever `receive` gives next."""
    return replay_message({"type": "http.request", "body": body, "more_body": False}, receive)
