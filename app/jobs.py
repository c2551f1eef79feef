"""Retrain jobs: their state on disk, readable from any worker, and the runner that fits them.

A job file `<data_dir>/jobs/<id>.json` is replaced atomically at each change of state; a marker
`jobs/pending/<id>` exists while the job is queued or running. Fits run one at a time across all
processes that share the model directory: the runner holds the inter-process fit lock
(`<model_dir>/.fit.lock`) for the whole of a fit. A job found `running` while that lock is free
was interrupted (its process died): it is run again once, then marked failed with the reason.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from .config import Settings
from .errors import NotFound, ServiceError
from .fitting import fit_stream, fit_table, judge, select_window
from .fsutil import atomic_write, fsync_dir
from .listings import features, target
from .registry import CorruptVersion, Registry
from .store import Store

log = logging.getLogger(__name__)

TERMINAL = frozenset({"succeeded", "failed"})
MAX_ATTEMPTS = 2
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fit_lock(model_dir: Path) -> FileLock:
    model_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(model_dir / ".fit.lock"))


class Jobs:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "jobs"
        self.pending_dir = self.root / "pending"

    def ensure(self) -> None:
        self.pending_dir.mkdir(parents=True, exist_ok=True)

    def create(self, **fields: Any) -> dict[str, Any]:
        self.ensure()
        job = {
            "job_id": uuid.uuid4().hex,
            "status": "queued",
            "created_at": _now(),
            "attempts": 0,
            **fields,
        }
        self._write(job)
        marker = self.pending_dir / job["job_id"]
        marker.touch()
        fsync_dir(self.pending_dir)
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        if not _JOB_ID.match(job_id):
            raise NotFound(f"no job {job_id!r}")
        try:
            job: dict[str, Any] = json.loads((self.root / f"{job_id}.json").read_text())
        except FileNotFoundError:
            raise NotFound(f"no job {job_id!r}") from None
        return job

    def pending(self) -> list[dict[str, Any]]:
        """Queued and running jobs, oldest first."""
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

    def update(self, job: dict[str, Any], **changes: Any) -> dict[str, Any]:
        job = {**job, **changes}
        self._write(job)
        if job["status"] in TERMINAL:
            (self.pending_dir / job["job_id"]).unlink(missing_ok=True)
        return job

    def _write(self, job: dict[str, Any]) -> None:
        atomic_write(self.root / f"{job['job_id']}.json", json.dumps(job, indent=2).encode())


def run_job(settings: Settings, jobs: Jobs, job: dict[str, Any]) -> dict[str, Any]:
    """Fit one job; the caller holds the fit lock."""
    if job["status"] == "running" and job["attempts"] >= MAX_ATTEMPTS:
        return jobs.update(
            job,
            status="failed",
            finished_at=_now(),
            reason=f"interrupted {job['attempts']} times (the process fitting it died); its "
            "listings are stored and the next fit includes them",
        )
    job = jobs.update(job, status="running", started_at=_now(), attempts=job["attempts"] + 1)
    registry, store = Registry(settings.model_dir), Store(settings.data_dir)
    try:
        snapshot = store.snapshot()
        if snapshot is None:
            raise NotFound("the listing store is empty")
        champion_version = registry.active_version()
        try:
            champion = registry.load(champion_version).model if champion_version else None
        except (CorruptVersion, NotFound):
            champion = None  # a damaged active version is no yardstick
        tolerance = settings.promotion_tolerance
        if settings.training_window_days is None:
            # Only the four columns, and the fit from sufficient statistics: a training set
            # grown by appends to millions of sales fits in a few hundred megabytes.
            rows = np.concatenate(list(store.chunks(snapshot)))
            verdict = judge(rows[:, :3], rows[:, 3], champion, tolerance)
            model, card = fit_stream([rows], folds=settings.cv_folds, source="listing store")
        else:
            frame = store.read(snapshot)
            window = settings.training_window_days
            model, card = fit_table(
                frame, folds=settings.cv_folds, source="listing store", window_days=window
            )
            # The gate judges on the rows the new version was fitted on: the window's.
            in_window, _ = select_window(frame, window)
            verdict = judge(features(in_window), target(in_window), champion, tolerance)
        card["training"].update({"set": snapshot.set_id, "batches": list(snapshot.batches)})
        version = registry.save(model, card)
        promoted = verdict.promote or bool(job.get("force"))
        reason = verdict.reason
        if job.get("force") and not verdict.promote:
            reason = f"forced (the gate said: {verdict.reason})"
        if promoted:
            registry.activate(version)
        return jobs.update(
            job,
            status="succeeded",
            finished_at=_now(),
            version=version,
            promoted=promoted,
            reason=reason,
            active_version=registry.active_version(),
            n_train=card["training"]["rows"],
            metrics=card["metrics"]["cv"],
            gate={
                "challenger_mae": verdict.challenger_mae,
                "champion_mae": verdict.champion_mae,
                "holdout_rows": verdict.holdout_rows,
                "tolerance": settings.promotion_tolerance,
            },
        )
    except ServiceError as exc:  # the data or the state says no: the reason says what to do
        reason = _reason(exc.detail)
        log.warning("job %s failed: %s", job["job_id"], reason)
        return jobs.update(job, status="failed", finished_at=_now(), reason=reason)
    except Exception as exc:  # a bug: the traceback is for whoever fixes it
        log.exception("job %s failed", job["job_id"])
        return jobs.update(
            job, status="failed", finished_at=_now(), reason=f"{type(exc).__name__}: {exc}"
        )


def _reason(detail: Any) -> str:
    """One line from an error's detail: a message, or the messages of a list of row errors."""
    if isinstance(detail, list):
        return "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    return str(detail)


def run_pending(settings: Settings) -> int:
    """Fit every pending job, oldest first, holding the fit lock; return how many ran."""
    jobs = Jobs(settings.data_dir)
    count = 0
    with fit_lock(settings.model_dir):
        while pending := jobs.pending():
            for job in pending:
                run_job(settings, jobs, job)
                count += 1
    return count


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as HOUSE_PRICE_* variables, for a child process (the key stays behind)."""
    values = settings.model_dump(exclude={"api_key"})
    return {f"HOUSE_PRICE_{k.upper()}": str(v) for k, v in values.items() if v is not None}


class JobRunner:
    """A worker's thread that starts a fitting process whenever jobs are pending and no fit runs.

    Fits run in a child process so that a large fit takes neither the GIL nor the memory of the
    worker that serves predictions.
    """

    def __init__(self, settings: Settings, check_every: float = 1.0) -> None:
        self.settings = settings
        self.jobs = Jobs(settings.data_dir)
        self.check_every = check_every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="job-runner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.check_every)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self.jobs.has_pending() and self._fit_lock_free():
                    self._run_child()
            except Exception:
                log.exception("the job runner failed; it tries again")

    def _fit_lock_free(self) -> bool:
        lock = fit_lock(self.settings.model_dir)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            return False
        lock.release()
        return True

    def _run_child(self) -> None:
        env = {**os.environ, **settings_env(self.settings)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([sys.executable, "-m", "app.jobs"], env=env, check=False)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: [fit] %(message)s")
    run_pending(Settings())
    return 0


if __name__ == "__main__":
    sys.exit(main())
