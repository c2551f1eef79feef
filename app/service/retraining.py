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

from app.domain.errors import Conflict
from app.domain.listings import Skipped
from app.observability.context import KEY_NAME, REQUEST_ID
from app.service.runner import JobRunner
from app.service.serving import ServedModels
from app.storage import Accepted, ListingStore, Mode, Storage
from app.storage.naming import TERMINAL, market_of_job

WAIT_POLL = 0.05  # seconds between looks at a job being waited for


@dataclass(frozen=True)
class Retraining:
    """One worker's way to turn checked sales into a fit job."""

    storage: Storage
    runner: JobRunner
    served: ServedModels
    wait_seconds: float

    def submit_csv(
        self,
        body: bytes,
        rows: int,
        mode: Mode,
        force: bool,
        market: str,
        skipped: Skipped | None = None,
    ) -> dict[str, Any]:
        """Store a checked CSV upload as it was sent (other columns and formatting kept), less
        the rows `skipped` names."""
        store = self._store(market)
        return self._queue(store.add_bytes(body, rows, mode), mode, force, market, skipped)

    def submit_rows(
        self,
        frame: pd.DataFrame,
        mode: Mode,
        force: bool,
        market: str,
        skipped: Skipped | None = None,
    ) -> dict[str, Any]:
        """Store checked rows (a table of listings) and queue their fit."""
        accepted = self._store(market).add(frame, mode)
        return self._queue(accepted, mode, force, market, skipped)

    def _store(self, market: str) -> ListingStore:
        found = self.storage.market(market)
        if found.retired():
            raise Conflict(
                f"market {market!r} is retired: it takes no sales until `python -m app.db "
                "prune` has removed it"
            )
        return found.store

    def _queue(
        self, accepted: Accepted, mode: Mode, force: bool, market: str, skipped: Skipped | None
    ) -> dict[str, Any]:
        left_out = {} if skipped is None else {"skipped": skipped.for_card()}
        job = self.storage.jobs.create(
            **left_out,
            market=market,
            mode=mode,
            force=force,
            rows_received=accepted.rows,
            duplicate=accepted.duplicate,
            set=accepted.set_id,
            batch=accepted.batch,
            request_id=REQUEST_ID.get(),
            key_name=KEY_NAME.get(),
        )
        self.runner.wake()
        return job

    async def finished(self, job_id: str) -> dict[str, Any]:
        """The job once it has finished, or as it is after `wait_seconds`.

        A finished job's version is then what this worker serves next, if the job activated it.
        """
        deadline = time.monotonic() + self.wait_seconds
        while True:
            job = await asyncio.to_thread(self.storage.jobs.get, job_id)
            if job["status"] in TERMINAL:
                await asyncio.to_thread(self.served.refresh, {market_of_job(job)})
                return job
            if time.monotonic() > deadline:
                return job
            await asyncio.sleep(WAIT_POLL)
