"""The runner: a worker's thread that starts the fitting process when jobs wait."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from app.config import Settings
from app.domain.errors import Unavailable
from app.storage import Storage
from app.storage.naming import market_of_job

log = logging.getLogger(__name__)

_LOOK_AT = 20  # markets with pending jobs whose locks are tried before starting a fitting process


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as HOUSE_PRICE_* variables, for a child process (the key stays behind)."""
    values = settings.model_dump(exclude={"api_key", "api_keys", "api_keys_file", "database_url"})
    env = {f"HOUSE_PRICE_{k.upper()}": str(v) for k, v in values.items() if v is not None}
    if settings.database_url is not None:
        env["HOUSE_PRICE_DATABASE_URL"] = settings.database_url.get_secret_value()
    return env


class JobRunner:
    """A worker's thread that starts a fitting process whenever a pending job's market is free.

    Fits run in a child process so that a large fit takes neither the GIL nor the memory of the
    worker that serves predictions.
    """

    def __init__(self, settings: Settings, storage: Storage, check_every: float = 1.0) -> None:
        self.settings = settings
        self.storage = storage
        self.check_every = check_every
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._unavailable: str | None = None
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
                if self.storage.jobs.has_pending() and self._fittable():
                    self._run_child()
                self._unavailable = None
            except Unavailable as exc:
                if self._unavailable is None:  # once an outage, not once a second
                    log.warning("the job runner cannot check for jobs: %s", exc.message)
                self._unavailable = exc.message
            except Exception:
                log.exception("the job runner failed; it tries again")

    def _fittable(self) -> bool:
        """Whether some pending job's market is free to fit (its lock held by no process)."""
        pending = self.storage.jobs.pending(limit=_LOOK_AT)
        markets = dict.fromkeys(market_of_job(job) for job in pending)
        return any(self.storage.market(m).fit_lock_free() for m in markets)

    def _run_child(self) -> None:
        env = {**os.environ, **settings_env(self.settings)}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        subprocess.run([sys.executable, "-m", "app.service.jobs"], env=env, check=False)
