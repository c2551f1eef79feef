"""Retrain jobs, fitted by the fitting process (`python -m app.service.jobs`), a market at a time.

Jobs live in the storage (`app.storage`), readable from any worker, each naming its market. A
market's fits run one at a time across every process that shares the storage: a fitting process
holds the market's fit lock (an flock, or a PostgreSQL advisory lock held by its session) for the
whole of a fit, and moves on to another market's job when that lock is taken. Fits of different
markets run side by side in different processes. A job found `running` while its market's lock
is free was interrupted (its process died): it is run again once, then marked failed with the
reason.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
from typing import Any

from app.config import Settings
from app.domain.errors import Busy, Conflict, NotFound, ServiceError
from app.observability import logs
from app.observability.context import acting
from app.service.training import fit_stored, save_version
from app.storage import CorruptVersion, Storage, open_storage
from app.storage.naming import TERMINAL, market_of_job, now_text

log = logging.getLogger(__name__)


__all__ = ["MAX_ATTEMPTS", "run_job", "run_pending"]

MAX_ATTEMPTS = 2

FIT_NICENESS = 10


def run_job(settings: Settings, storage: Storage, job: dict[str, Any]) -> dict[str, Any]:
    """Fit one job, acting for the request that made it; the caller holds its market's lock."""
    with acting(
        key_name=job.get("key_name"),
        request_id=job.get("request_id"),
        via=f"retrain job {job['job_id']}",
    ):
        return _run_job(settings, storage, job)


def _run_job(settings: Settings, storage: Storage, job: dict[str, Any]) -> dict[str, Any]:
    market = storage.market(market_of_job(job))
    jobs, registry, store = storage.jobs, market.registry, market.store
    if job["status"] == "running" and job["attempts"] >= MAX_ATTEMPTS:
        return jobs.update(
            job,
            status="failed",
            finished_at=now_text(),
            reason=f"interrupted {job['attempts']} times (the process fitting it died); its "
            "listings are stored and the next fit includes them",
        )
    job = jobs.update(job, status="running", started_at=now_text(), attempts=job["attempts"] + 1)
    try:
        if market.retired():
            raise Conflict(f"market {market.name!r} was retired: its sales are no longer fitted")
        snapshot = store.snapshot()
        if snapshot is None:
            raise NotFound("the listing store is empty")
        champion_version = registry.active_version()
        try:
            champion = registry.load(champion_version).model if champion_version else None
        except (CorruptVersion, NotFound):
            champion = None  # a damaged active version is no yardstick
        model, card, verdict = fit_stored(
            store,
            snapshot,
            folds=settings.cv_folds,
            window_days=settings.training_window_days,
            source="listing store",
            champion=champion,
            tolerance=settings.promotion_tolerance,
            trim=settings.leave_out_outliers,
        )
        if "skipped" in job:  # rows of the upload left out: the version says so too
            card["training"]["skipped"] = job["skipped"]
        promoted = verdict.promote or bool(job.get("force"))
        reason = verdict.reason
        if job.get("force") and not verdict.promote:
            reason = f"forced (the gate said: {verdict.reason})"
        by = f"retrain job {job['job_id']}" if promoted else None
        version = save_version(registry, model, card, snapshot, activate_by=by)
        return jobs.update(
            job,
            status="succeeded",
            finished_at=now_text(),
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
        reason = exc.message
        log.warning("job %s failed: %s", job["job_id"], reason)
        return jobs.update(job, status="failed", finished_at=now_text(), reason=reason)
    except Exception as exc:  # a bug: the traceback is for whoever fixes it
        log.exception("job %s failed", job["job_id"])
        return jobs.update(
            job, status="failed", finished_at=now_text(), reason=f"{type(exc).__name__}: {exc}"
        )


def run_pending(settings: Settings, storage: Storage) -> int:
    """Fit every pending job this process can, oldest first, each under its market's fit lock.

    A market whose lock another process holds is passed over (that process fits its jobs);
    return how many jobs ran here.
    """
    count = 0
    busy: set[str] = set()
    while (job := storage.jobs.next_pending(skip=busy)) is not None:
        market = market_of_job(job)
        try:
            with storage.market(market).fit_lock(wait=False):
                job = storage.jobs.get(job["job_id"])  # as it is now that the market is ours
                if job["status"] not in TERMINAL:
                    run_job(settings, storage, job)
                    count += 1
        except Busy:
            busy.add(market)
    return count


def main() -> int:
    settings = Settings()
    # The server's format (text, or JSON lines a collector parses), each line with the id of
    # the request whose job it fits.
    level = os.environ.get("HOUSE_PRICE_LOG_LEVEL", "info")
    logging.config.dictConfig(logs.config(settings.log_format, level))
    # Fits yield the processor to the workers beside them: estimates keep their latency while
    # a burst of retrains is fitted.
    os.nice(FIT_NICENESS)
    storage = open_storage(settings)
    try:
        storage.ensure()
        run_pending(settings, storage)
    except ServiceError as exc:  # the storage is gone (an outage): one line, the jobs wait
        log.warning("the fitting process stops: %s; pending jobs are fitted later", exc.message)
        return 1
    finally:
        storage.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
