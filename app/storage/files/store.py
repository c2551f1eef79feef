"""The listing store as files: sets of uploaded CSV files, one current."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from filelock import FileLock

from app.domain.arrays import FloatArray
from app.domain.errors import NotFound
from app.domain.listings import read_chunks, read_table
from app.domain.sale_dates import SaleDates
from app.storage.audit import entry
from app.storage.files.audit import FileAudit, audited
from app.storage.files.durable import atomic_write, fsync_dir, write_file
from app.storage.interface import Accepted, Mode, Snapshot
from app.storage.naming import (
    BATCH_PATTERN,
    SET_PATTERN,
    batch_name,
    new_set_name,
)

log = logging.getLogger(__name__)


class FileStore:
    """The listing store under `<data_dir>/store/`; `audit` is the trail of its changes."""

    def __init__(
        self, data_dir: Path, market: str = "default", audit: FileAudit | None = None
    ) -> None:
        self.market = market
        self.audit = audit
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

    def sets(self) -> list[str]:
        if not self.sets_dir.is_dir():
            return []
        return sorted(p.name for p in self.sets_dir.iterdir() if SET_PATTERN.match(p.name))

    def batches(self, set_id: str) -> list[str]:
        folder = self._set_folder(set_id)
        return sorted(p.name for p in folder.iterdir() if BATCH_PATTERN.match(p.name))

    def batch_path(self, set_id: str, batch: str) -> Path:
        return self._set_folder(set_id) / batch

    def add(self, frame: pd.DataFrame, mode: Mode) -> Accepted:
        return self.add_bytes(frame.to_csv(index=False).encode(), len(frame), mode)

    def add_bytes(self, payload: bytes, rows: int, mode: Mode) -> Accepted:
        self.ensure()
        staged = self.sets_dir / f".upload-{uuid.uuid4().hex}.tmp"
        write_file(staged, payload)
        return self._commit(staged, hashlib.sha256(payload).hexdigest(), rows, mode)

    def add_file(self, path: Path, rows: int, mode: Mode) -> Accepted:
        self.ensure()
        staged = self.sets_dir / f".upload-{uuid.uuid4().hex}.tmp"
        digest = hashlib.sha256()
        with open(path, "rb") as source, open(staged, "xb") as target:
            while block := source.read(1 << 20):
                digest.update(block)
                target.write(block)
            target.flush()
            os.fsync(target.fileno())
        return self._commit(staged, digest.hexdigest(), rows, mode)

    def _commit(self, staged: Path, digest: str, rows: int, mode: Mode) -> Accepted:
        """Rename a staged, fsync'd upload into the training set, unless it is there already."""
        short = digest[:16]
        try:
            with self._lock:
                current = self.current_set()
                existing = self.batches(current) if current else []
                digests = [b.split("-")[1].removesuffix(".csv") for b in existing]
                repeated = digests == [short] if mode == "replace" else short in digests
                if current is not None and repeated:
                    return Accepted(current, existing[digests.index(short)], rows, duplicate=True)
                if mode == "replace" or current is None:
                    current = self._new_set()
                    existing = []
                batch = batch_name(_next_seq(existing), digest)
                final = self.sets_dir / current / batch
                stored = entry("upload", self.market, f"{current}/{batch}", rows=rows, mode=mode)
                with audited(self.audit, stored, {"exists": str(final)}):
                    os.rename(staged, final)
                    fsync_dir(self.sets_dir / current)
                    if self.current_set() != current:
                        atomic_write(self.pointer, f"{current}\n".encode())
        finally:
            staged.unlink(missing_ok=True)
        log.info("stored %d listings as %s/%s", rows, current, batch)
        return Accepted(current, batch, rows, duplicate=False)

    def uploads(self) -> list[tuple[str, str]]:
        return [(s, b) for s in self.sets() for b in self.batches(s)]

    def delete_upload(self, set_id: str, batch: str) -> None:
        path = self._set_folder(set_id) / batch
        if not BATCH_PATTERN.match(batch) or not path.is_file():
            raise NotFound(f"no upload {batch!r} in training set {set_id!r}")
        pruned = entry("prune.upload", self.market, f"{set_id}/{batch}")
        with audited(self.audit, pruned, {"absent": str(path)}):
            path.unlink()
            fsync_dir(path.parent)
        log.info("removed upload %s/%s", set_id, batch)

    def chunks(
        self, snapshot: Snapshot, chunk_rows: int = 1_000_000, dates: SaleDates | None = None
    ) -> Iterator[FloatArray]:
        folder = self._set_folder(snapshot.set_id)
        for batch in snapshot.batches:
            yield from read_chunks(folder / batch, chunk_rows, dates)

    def snapshot(self) -> Snapshot | None:
        current = self.current_set()
        if current is None:
            return None
        return Snapshot(current, tuple(self.batches(current)))

    def read(self, snapshot: Snapshot) -> pd.DataFrame:
        folder = self._set_folder(snapshot.set_id)
        frames = [read_table(folder / batch) for batch in snapshot.batches]
        if not frames:
            raise NotFound(f"training set {snapshot.set_id} holds no listings")
        return pd.concat(frames, ignore_index=True)

    def _new_set(self) -> str:
        set_id = new_set_name()
        (self.sets_dir / set_id).mkdir()
        fsync_dir(self.sets_dir)
        return set_id

    def _set_folder(self, set_id: str) -> Path:
        folder = self.sets_dir / set_id
        if not SET_PATTERN.match(set_id) or not folder.is_dir():
            raise NotFound(f"no training set {set_id!r}")
        return folder


def _next_seq(batches: list[str]) -> int:
    """One past the highest sequence number (uploads removed by pruning leave gaps)."""
    return max((int(b[:6]) for b in batches), default=0) + 1
