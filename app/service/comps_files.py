"""A machine's packed comps: one file a located version, written once and mapped by every worker.

A worker that first values a home of a located market asks for its version's pack by the
version's checksum: it maps the file another worker (or replica on the machine) wrote, or packs
the comps itself, writes them (to a temporary name, then renamed: a reader never sees half a
file) and maps what it wrote. The pages are the machine's page cache, shared by every process
that maps them: a worker's private memory does not grow with its markets' sales. A file whose
digest does not match its bytes is packed again; one not opened for `KEEP_DAYS` is removed when
a worker starts.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import secrets
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.domain import comps_pack
from app.domain.comps_pack import Buffer, DamagedPack

log = logging.getLogger(__name__)

KEEP_DAYS = 7
SUFFIX = ".comps"


def default_directory() -> Path:
    return Path(tempfile.gettempdir()) / f"house-price-{os.getuid()}" / "comps"


class CompsFiles:
    """`get(checksum, make)`: a version's pack, mapped from this machine's file of it, or made
    by `make` and written first. Without a directory (None, or one that is not this user's
    alone), what `make` packs, unshared."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = None if directory is None else self._private(directory)

    @staticmethod
    def _private(directory: Path) -> Path | None:
        """The directory, made if missing; None (packs unshared) if it is not this user's
        alone: another user who could write it could change what the estimates read."""
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            found = directory.stat()
        except OSError as exc:
            log.warning("comps are not shared between workers: %s: %s", directory, exc)
            return None
        if found.st_uid != os.getuid() or found.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            log.warning(
                "comps are not shared between workers: %s is writable by other users", directory
            )
            return None
        return directory

    def path(self, checksum: str) -> Path | None:
        if self.directory is None:
            return None
        return self.directory / f"{checksum}-{comps_pack.FORMAT}{SUFFIX}"

    def get(self, checksum: str, make: Callable[[], bytes]) -> Buffer:
        path = self.path(checksum) if checksum else None
        if path is None:
            return make()
        found = self._map(path)
        if found is not None:
            return found
        packed = make()
        try:
            self._write(path, packed)
        except OSError as exc:
            log.warning("cannot keep comps in %s (%s): this worker holds its own", path, exc)
            return packed
        return self._map(path) or packed

    @staticmethod
    def _map(path: Path) -> Buffer | None:
        """The file mapped read-only, once its digest matches; None if missing or damaged."""
        try:
            with open(path, "rb") as file:
                mapped = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (FileNotFoundError, ValueError):  # ValueError: an empty file
            return None
        view = memoryview(mapped)
        try:
            comps_pack.read(view)
        except DamagedPack as exc:
            log.warning("packing the comps again: %s: %s", path, exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # in use: not pruned
        return view

    @staticmethod
    def _write(path: Path, packed: bytes) -> None:
        staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(staged, "xb") as file:
                file.write(packed)
            os.replace(staged, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()

    def prune(self, days: float = KEEP_DAYS) -> int:
        """Remove the packs not opened for `days` (and what a crash left half-written): how
        many. A worker that still maps one keeps reading it."""
        if self.directory is None:
            return 0
        removed = 0
        before = time.time() - days * 86400
        for entry in os.scandir(self.directory):
            stale = entry.name.endswith(".tmp") or entry.name.endswith(SUFFIX)
            with contextlib.suppress(FileNotFoundError):
                if stale and entry.stat().st_mtime < before:
                    os.unlink(entry.path)
                    removed += 1
        return removed
