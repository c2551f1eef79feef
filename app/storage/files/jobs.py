"""Retrain jobs as JSON files, one per job, replaced atomically."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

from app.domain.errors import Conflict, NotFound
from app.storage.audit import entry, job_entry, queued_entry
from app.storage.files.audit import FileAudit, audited
from app.storage.files.durable import atomic_write, fsync_dir
from app.storage.naming import (
    JOB_ID_PATTERN,
    TERMINAL,
    check_job_id,
    market_of_job,
    new_job,
)


class FileJobs:
    """Job files `<data_dir>/jobs/<id>.json`, replaced atomically at each change of state."""

    def __init__(self, data_dir: Path, audit: FileAudit | None = None) -> None:
        self.audit = audit
        self.root = data_dir / "jobs"
        self.pending_dir = self.root / "pending"

    def ensure(self) -> None:
        self.pending_dir.mkdir(parents=True, exist_ok=True)

    def create(self, **fields: Any) -> dict[str, Any]:
        self.ensure()
        job = new_job(**fields)
        queued = queued_entry(job)
        # The marker first, then the job: a crash between the two leaves a marker without its
        # job (forgotten by the next reader, and no entry in the trail), never a queued job
        # without its marker, which no reader would ever find.
        with audited(self.audit, queued, {"exists": str(self._path(job["job_id"]))}):
            (self.pending_dir / job["job_id"]).touch()
            fsync_dir(self.pending_dir)
            self._write(job)
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        check_job_id(job_id)
        try:
            job: dict[str, Any] = json.loads((self.root / f"{job_id}.json").read_text())
        except FileNotFoundError:
            raise NotFound(f"no job {job_id!r}") from None
        return job

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        markers = self._markers()
        jobs = []
        for marker in markers if limit is None else markers[:limit]:
            job = self._job_of(marker)
            if job is None:
                continue
            if job["status"] in TERMINAL:  # a crash between the two writes of `update`
                marker.unlink(missing_ok=True)
                continue
            jobs.append(job)
        return sorted(jobs, key=lambda j: j["created_at"])

    def has_pending(self) -> bool:
        return self.pending_dir.is_dir() and any(self.pending_dir.iterdir())

    def next_pending(self, skip: Collection[str] = ()) -> dict[str, Any] | None:
        # Markers in the order they were made, each job read only when it is looked at: with
        # a thousand jobs queued, a claim reads a few files, not a thousand. Markers made in
        # the same tick of the clock are put in order by their jobs' creation times.
        for group in self._marker_groups():
            jobs = []
            for marker in group:
                job = self._job_of(marker)
                if job is not None:
                    jobs.append(job)
            for job in sorted(jobs, key=lambda j: j["created_at"]):
                if job["status"] in TERMINAL:  # a crash between the two writes of `update`
                    (self.pending_dir / job["job_id"]).unlink(missing_ok=True)
                elif market_of_job(job) not in skip:
                    return job
        return None

    def _job_of(self, marker: Path) -> dict[str, Any] | None:
        """The job a pending marker stands for; None, with the marker removed, where a crash
        between the two writes of `create` left the job unwritten.

        A `create` under way in another process has its marker and not yet its job; it holds the
        trail's lock from before the one to after the other, so a marker without its job is
        looked at again under that lock, and removed only if its job is still missing."""
        try:
            return self.get(marker.name)
        except NotFound:
            pass
        with self.audit.locked() if self.audit is not None else contextlib.nullcontext():
            try:
                return self.get(marker.name)
            except NotFound:
                marker.unlink(missing_ok=True)
                return None

    def _markers(self) -> list[Path]:
        """The pending markers, oldest first (by when each was made, then by name)."""
        return [marker for group in self._marker_groups() for marker in group]

    def _marker_groups(self) -> list[list[Path]]:
        """The pending markers grouped by the time each was made, oldest group first."""
        if not self.pending_dir.is_dir():
            return []
        groups: dict[int, list[Path]] = {}
        for marker in self.pending_dir.iterdir():
            try:
                made = marker.stat().st_mtime_ns
            except FileNotFoundError:
                continue  # finished meanwhile
            groups.setdefault(made, []).append(marker)
        return [sorted(groups[made]) for made in sorted(groups)]

    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
        job = {**job, **changes}
        changed = job_entry(job, market_of_job(job))
        if changed is None:
            self._write(job)
            return job
        path = str(self._path(job["job_id"]))
        with audited(self.audit, changed, {"path": path, "status": job["status"]}):
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
        path = self._path(job_id)
        pruned = entry("prune.job", market_of_job(job), job_id)
        with audited(self.audit, pruned, {"absent": str(path)}):
            path.unlink(missing_ok=True)

    def _path(self, job_id: str) -> Path:
        return self.root / f"{job_id}.json"

    def _write(self, job: dict[str, Any]) -> None:
        atomic_write(self._path(job["job_id"]), json.dumps(job, indent=2).encode())
