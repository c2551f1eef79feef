"""Durable file writes: a file or folder appears whole under its final name, or not at all."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a rename or a new entry in `path` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: Path, data: bytes) -> None:
    """Write `data` to a new file and fsync it (the caller renames it into place)."""
    with open(path, "xb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: write a sibling, fsync, rename, fsync the dir."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def append_line(path: Path, line: bytes) -> None:
    """Append one line to `path` and fsync it, first dropping a last line a crash cut short
    (one without its newline), so that the new line is never glued to a broken one."""
    with open(path, "ab+") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                handle.seek(0)
                handle.truncate(handle.read().rfind(b"\n") + 1)
        handle.write(line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def last_line(path: Path, tail: int = 1 << 16) -> bytes | None:
    """The last whole line of `path` (read from its last `tail` bytes), or None."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - tail))
            data = handle.read()
    except FileNotFoundError:
        return None
    if not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]  # a line cut short is not a line
    lines = data.splitlines()
    return lines[-1] if lines else None
