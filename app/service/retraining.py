"""Receiving sales: store them, queue a fit job, wake the runner, and wait for the job if asked.

The HTTP route, the page's Retrain button (through that route) and any other caller share this
path; parsing the request and choosing its status code stay with the caller.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from app.service.runner import JobRunner
from app.service.serving import ActiveModel
from app.storage import Accepted, JobStore, ListingStore, Mode
from app.storage.naming import TERMINAL

WAIT_POLL = 0.05  # seconds between looks at a job being waited for


@dataclass(frozen=True)
class Retraining:
    """One worker's way to turn checked sales into a fit job."""

    store: ListingStore
    jobs: JobStore
    runner: JobRunner
    active: ActiveModel
    wait_seconds: float

    def submit_csv(self, body: bytes, rows: int, mode: Mode, force: bool) -> dict[str, Any]:
        """Store a checked CSV upload as it was sent (other columns and formatting kept)."""
        return self._queue(self.store.add_bytes(body, rows, mode), mode, force)

    def submit_rows(self, frame: pd.DataFrame, mode: Mode, force: bool) -> dict[str, Any]:
        """Store checked rows (a table of listings) and queue their fit."""
        return self._queue(self.store.add(frame, mode), mode, force)

    def _queue(self, accepted: Accepted, mode: Mode, force: bool) -> dict[str, Any]:
        job = self.jobs.create(
            mode=mode,
            force=force,
            rows_received=accepted.rows,
            duplicate=accepted.duplicate,
            set=accepted.set_id,
            batch=accepted.batch,
        )
        self.runner.wake()
        return job

    async def finished(self, job_id: str) -> dict[str, Any]:
        """The job once it has finished, or as it is after `wait_seconds`.

        A finished job's version is then what this worker serves next, if the job activated it.
        """
        deadline = time.monotonic() + self.wait_seconds
        while True:
            job = await asyncio.to_thread(self.jobs.get, job_id)
            if job["status"] in TERMINAL:
                await asyncio.to_thread(self.active.refresh)
                return job
            if time.monotonic() > deadline:
                return job
            await asyncio.sleep(WAIT_POLL)
