"""The listings models are fitted on: validated, durable, appended without loss or duplication.

Layout under `<data_dir>/store/`:

    CURRENT                         name of the current training set (replaced atomically)
    sets/<set>/<seq>-<digest>.csv   one file per accepted upload, written whole and fsync'd

`replace` starts a new set and leaves the old ones on disk, so a model version can always be
traced to, and refitted from, exactly the files it was fitted on.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from filelock import FileLock

from .errors import NotFound
from .fsutil import atomic_write, fsync_dir, write_file
from .listings import read_chunks, read_table
from .model import FloatArray

log = logging.getLogger(__name__)

Mode = Literal["append", "replace"]
_BATCH = re.compile(r"^(\d{6})-([0-9a-f]{16})\.csv$")
_SET = re.compile(r"^s\d{8}-\d{6}-[0-9a-f]{6}$")


@dataclass(frozen=True)
class Accepted:
    """What `Store.add` did with an upload."""

    set_id: str
    batch: str
    rows: int
    duplicate: bool


@dataclass(frozen=True)
class Snapshot:
    """A training set as it stood: the set and the exact files (in order) it held."""

    set_id: str
    batches: tuple[str, ...]


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "store"
        self.sets_dir = self.root / "sets"
        self.pointer = self.root / "CURRENT"
        self._lock = FileLock(str(self.root / ".lock"))

    def ensure(self) -> None:
        self.sets_dir.mkdir(parents=True, exist_ok=True)

    def current_set(self) -> str | None:
        try:
            return self.pointer.read_text().strip() or None
        except FileNotFoundError:
            return None

    def batches(self, set_id: str) -> list[str]:
        folder = self._set_folder(set_id)
        return sorted(p.name for p in folder.iterdir() if _BATCH.match(p.name))

    def add(self, frame: pd.DataFrame, mode: Mode) -> Accepted:
        """Store checked listings durably; the same upload again is recognised and not added."""
        return self.add_bytes(frame.to_csv(index=False).encode(), len(frame), mode)

    def add_bytes(self, payload: bytes, rows: int, mode: Mode) -> Accepted:
        """Store a checked CSV as it was sent (its other columns and formatting kept)."""
        self.ensure()
        staged = self.sets_dir / f".upload-{uuid.uuid4().hex}.tmp"
        write_file(staged, payload)
        return self._commit(staged, hashlib.sha256(payload).hexdigest()[:16], rows, mode)

    def add_file(self, path: Path, rows: int, mode: Mode) -> Accepted:
        """Store a checked CSV file by copying it, without holding it in memory."""
        self.ensure()
        staged = self.sets_dir / f".upload-{uuid.uuid4().hex}.tmp"
        digest = hashlib.sha256()
        with open(path, "rb") as source, open(staged, "xb") as target:
            while block := source.read(1 << 20):
                digest.update(block)
                target.write(block)
            target.flush()
            os.fsync(target.fileno())
        return self._commit(staged, digest.hexdigest()[:16], rows, mode)

    def _commit(self, staged: Path, digest: str, rows: int, mode: Mode) -> Accepted:
        """Rename a staged, fsync'd upload into the training set, unless it is there already."""
        try:
            with self._lock:
                current = self.current_set()
                existing = self.batches(current) if current else []
                digests = [b.split("-")[1].removesuffix(".csv") for b in existing]
                repeated = digests == [digest] if mode == "replace" else digest in digests
                if current is not None and repeated:
                    return Accepted(current, existing[digests.index(digest)], rows, duplicate=True)
                if mode == "replace" or current is None:
                    current = self._new_set()
                    existing = []
                batch = f"{len(existing) + 1:06d}-{digest}.csv"
                os.rename(staged, self.sets_dir / current / batch)
                fsync_dir(self.sets_dir / current)
                if self.current_set() != current:
                    atomic_write(self.pointer, f"{current}\n".encode())
        finally:
            staged.unlink(missing_ok=True)
        log.info("stored %d listings as %s/%s", rows, current, batch)
        return Accepted(current, batch, rows, duplicate=False)

    def chunks(self, snapshot: Snapshot, chunk_rows: int = 1_000_000) -> Iterator[FloatArray]:
        """The (m, 4) arrays of a snapshot's rows, in order, a chunk at a time."""
        folder = self._set_folder(snapshot.set_id)
        for batch in snapshot.batches:
            yield from read_chunks(folder / batch, chunk_rows)

    def snapshot(self) -> Snapshot | None:
        current = self.current_set()
        if current is None:
            return None
        return Snapshot(current, tuple(self.batches(current)))

    def read(self, snapshot: Snapshot) -> pd.DataFrame:
        """The listings of a snapshot, in the order they were accepted, checked again."""
        folder = self._set_folder(snapshot.set_id)
        frames = [read_table(folder / batch) for batch in snapshot.batches]
        if not frames:
            raise NotFound(f"training set {snapshot.set_id} holds no listings")
        return pd.concat(frames, ignore_index=True)

    def _new_set(self) -> str:
        set_id = f"s{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        (self.sets_dir / set_id).mkdir()
        fsync_dir(self.sets_dir)
        return set_id

    def _set_folder(self, set_id: str) -> Path:
        folder = self.sets_dir / set_id
        if not _SET.match(set_id) or not folder.is_dir():
            raise NotFound(f"no training set {set_id!r}")
        return folder
