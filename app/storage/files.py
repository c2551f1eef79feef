"""Storage on the file system: one machine, or directories every replica mounts.

    <model_dir>/ACTIVE                     the active version's name (replaced atomically)
    <model_dir>/activations.jsonl          every change of ACTIVE: when, who, from, to
    <model_dir>/versions/<version>/        model.joblib, model.joblib.sha256, card.json (read-only)
    <model_dir>/.fit.lock                  flock held for the whole of a fit
    <data_dir>/store/CURRENT               the current training set
    <data_dir>/store/sets/<set>/<seq>-<digest>.csv   one file per upload, written whole, fsync'd
    <data_dir>/jobs/<id>.json, jobs/pending/<id>     a job, and a marker while it is pending

A version is assembled in a hidden staging folder and renamed whole; `replace` starts a new set
and leaves the old ones, so every version can be traced to, and refitted from, its files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from filelock import FileLock, Timeout

from ..errors import Conflict, NotFound
from ..fsutil import atomic_write, fsync_dir, write_file
from ..listings import SaleDates, read_chunks, read_table
from ..model import FloatArray, PriceModel
from .base import (
    BATCH_PATTERN,
    JOB_ID_PATTERN,
    SET_PATTERN,
    TERMINAL,
    VERSION_PATTERN,
    Accepted,
    CorruptVersion,
    LoadedModel,
    Mode,
    Snapshot,
    batch_name,
    check_deletable,
    check_job_id,
    check_version_name,
    new_job,
    new_set_name,
    newest_first,
    now_text,
    prepare_version,
    summary,
    verified_model,
)

log = logging.getLogger(__name__)

ARTIFACT = "model.joblib"
CARD = "card.json"
CHECKSUM = "model.joblib.sha256"
POINTER = "ACTIVE"
HISTORY = "activations.jsonl"
_STALE_STAGING_SECONDS = 3600


def actor(by: str = "") -> str:
    """Who changes something: the caller's role, this host and process."""
    return f"{by or 'service'} on {socket.gethostname()} (pid {os.getpid()})"


class FileRegistry:
    """The model directory: `versions/<version>/` folders and the `ACTIVE` pointer file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions_dir = root / "versions"
        self.pointer = root / POINTER
        self.kept_dir = root / "kept"

    def ensure(self) -> None:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()
        # A removal cut short leaves a hidden folder: it stopped being a version when renamed.
        for trash in self.root.glob(".trash-*"):
            shutil.rmtree(trash, ignore_errors=True)

    def save(self, model: PriceModel, card: dict[str, Any]) -> str:
        self.ensure()
        new = prepare_version(model, card)
        # Assembled under a hidden name and renamed whole: a reader never sees half a version.
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            write_file(staging / ARTIFACT, new.artifact)
            card_text = json.dumps(new.card, indent=2, sort_keys=True).encode() + b"\n"
            write_file(staging / CARD, card_text)
            write_file(staging / CHECKSUM, f"{new.sha256}  {ARTIFACT}\n".encode())
            for name in (ARTIFACT, CARD, CHECKSUM):
                os.chmod(staging / name, 0o444)
            fsync_dir(staging)
            # rename(2) onto an existing, non-empty folder fails: a name is never taken twice.
            os.rename(staging, self.versions_dir / new.version)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if (self.versions_dir / new.version).exists():
                log.info("version name %s taken meanwhile (%s); drawing another", new.version, exc)
                return self.save(model, card)
            raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(self.versions_dir)
        log.info("stored model version %s", new.version)
        return new.version

    def activate(self, version: str, by: str = "") -> str | None:
        self.load(version)
        previous = self.active_version()
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self.pointer, f"{version}\n".encode())
        entry = {"version": version, "previous": previous, "at": now_text(), "by": actor(by)}
        with open(self.root / HISTORY, "ab") as history:
            history.write(json.dumps(entry).encode() + b"\n")
            history.flush()
            os.fsync(history.fileno())
        log.info("active model version is now %s (was %s)", version, previous)
        return previous

    def active_version(self) -> str | None:
        try:
            text = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return text or None

    def activations(self, limit: int = 20) -> list[dict[str, Any]]:
        try:
            lines = (self.root / HISTORY).read_text().splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in reversed(lines):
            with contextlib.suppress(ValueError):  # a line cut short by a crash
                found.append(json.loads(line))
            if len(found) >= limit:
                break
        return found

    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return [p.name for p in self.versions_dir.iterdir() if VERSION_PATTERN.match(p.name)]

    def card(self, version: str) -> dict[str, Any]:
        folder = self._folder(version)
        try:
            card: dict[str, Any] = orjson.loads((folder / CARD).read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise CorruptVersion(f"model version {version}: card unreadable ({exc})") from None
        return card

    def cards(self) -> list[dict[str, Any]]:
        cards = []
        for version in self.versions():
            try:
                cards.append(self.card(version))
            except CorruptVersion as exc:
                log.warning("%s", exc.detail)
        return newest_first(cards)

    def artifact(self, version: str) -> tuple[bytes, str]:
        folder = self._folder(version)
        try:
            artifact = (folder / ARTIFACT).read_bytes()
            expected = (folder / CHECKSUM).read_text().split()[0]
        except (OSError, IndexError) as exc:
            raise CorruptVersion(f"model version {version}: files unreadable ({exc})") from None
        return artifact, expected

    def load(self, version: str) -> LoadedModel:
        artifact, expected = self.artifact(version)
        return verified_model(version, artifact, expected, self.card(version))

    def page(self, limit: int, before: str | None = None) -> list[dict[str, Any]]:
        names = sorted(self.versions(), reverse=True)
        if before is not None:
            names = [n for n in names if n < before]
        kept = self.kept()
        found = []
        for name in names:
            try:
                found.append(summary(self.card(name), name in kept))
            except (CorruptVersion, NotFound) as exc:  # removed meanwhile, or damaged
                log.warning("%s", exc.detail)
            if len(found) == limit:
                break
        return found

    def set_kept(self, version: str, kept: bool) -> None:
        self._folder(version)
        marker = self.kept_dir / version
        if kept:
            self.kept_dir.mkdir(parents=True, exist_ok=True)
            marker.touch()
            fsync_dir(self.kept_dir)
        else:
            marker.unlink(missing_ok=True)

    def kept(self) -> set[str]:
        if not self.kept_dir.is_dir():
            return set()
        return {p.name for p in self.kept_dir.iterdir() if VERSION_PATTERN.match(p.name)}

    def previous_version(self) -> str | None:
        """The version the active one replaced, from the activation history."""
        latest = self.activations(limit=1)
        active = self.active_version()
        if latest and latest[0]["version"] == active:
            previous: str | None = latest[0]["previous"]
            return previous
        return None

    def delete(self, version: str) -> None:
        folder = self._folder(version)
        check_deletable(version, self.active_version(), self.previous_version())
        # Renamed whole first: from that instant it is no version, and a crash leaves a hidden
        # folder that the next start sweeps.
        trash = self.root / f".trash-{version}-{uuid.uuid4().hex[:8]}"
        os.rename(folder, trash)
        fsync_dir(self.versions_dir)
        if self.active_version() == version:  # activated at that very moment: put it back
            os.rename(trash, folder)
            fsync_dir(self.versions_dir)
            check_deletable(version, version, None)
        shutil.rmtree(trash, ignore_errors=True)
        (self.kept_dir / version).unlink(missing_ok=True)
        log.info("removed model version %s", version)

    def _folder(self, version: str) -> Path:
        check_version_name(version)
        folder = self.versions_dir / version
        if not folder.is_dir():
            raise NotFound(f"no model version {version!r}")
        return folder

    def _sweep_staging(self) -> None:
        # A crash while saving leaves a hidden staging folder; it was never visible as a version.
        cutoff = time.time() - _STALE_STAGING_SECONDS
        for path in self.root.glob(".staging-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                pass


class FileStore:
    """The listing store under `<data_dir>/store/`."""

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
                os.rename(staged, self.sets_dir / current / batch)
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


class FileJobs:
    """Job files `<data_dir>/jobs/<id>.json`, replaced atomically at each change of state."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "jobs"
        self.pending_dir = self.root / "pending"

    def ensure(self) -> None:
        self.pending_dir.mkdir(parents=True, exist_ok=True)

    def create(self, **fields: Any) -> dict[str, Any]:
        self.ensure()
        job = new_job(**fields)
        self._write(job)
        (self.pending_dir / job["job_id"]).touch()
        fsync_dir(self.pending_dir)
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        check_job_id(job_id)
        try:
            job: dict[str, Any] = json.loads((self.root / f"{job_id}.json").read_text())
        except FileNotFoundError:
            raise NotFound(f"no job {job_id!r}") from None
        return job

    def pending(self) -> list[dict[str, Any]]:
        if not self.pending_dir.is_dir():
            return []
        jobs = []
        for marker in self.pending_dir.iterdir():
            try:
                jobs.append(self.get(marker.name))
            except NotFound:
                marker.unlink(missing_ok=True)  # a crash between the two writes of `create`
        return sorted(jobs, key=lambda j: j["created_at"])

    def has_pending(self) -> bool:
        return self.pending_dir.is_dir() and any(self.pending_dir.iterdir())

    def next_pending(self) -> dict[str, Any] | None:
        pending = self.pending()
        return pending[0] if pending else None

    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
        job = {**job, **changes}
        self._write(job)
        if job["status"] in TERMINAL:
            (self.pending_dir / job["job_id"]).unlink(missing_ok=True)
        return job

    def all(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        jobs = [self.get(p.stem) for p in self.root.glob("*.json") if JOB_ID_PATTERN.match(p.stem)]
        return sorted(jobs, key=lambda j: j["created_at"])

    def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job["status"] not in TERMINAL:
            raise Conflict(f"job {job_id} is {job['status']}: only finished jobs are removed")
        (self.root / f"{job_id}.json").unlink(missing_ok=True)

    def _write(self, job: dict[str, Any]) -> None:
        atomic_write(self.root / f"{job['job_id']}.json", json.dumps(job, indent=2).encode())


class FileStorage:
    """The embedded default: two directories, an flock for fits, polling for changes."""

    def __init__(self, model_dir: Path, data_dir: Path) -> None:
        self.model_dir, self.data_dir = model_dir, data_dir
        self.registry = FileRegistry(model_dir)
        self.store = FileStore(data_dir)
        self.jobs = FileJobs(data_dir)

    def ensure(self) -> None:
        self.registry.ensure()
        self.store.ensure()
        self.jobs.ensure()

    def fit_lock(self) -> FileLock:
        self.model_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.model_dir / ".fit.lock"))

    def fit_lock_free(self) -> bool:
        lock = self.fit_lock()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        lock.release()
        return True

    def wait_for_change(self, timeout: float) -> bool:
        time.sleep(timeout)  # files are polled: any moment may bring a change
        return True

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"files ({self.model_dir}, {self.data_dir})"
