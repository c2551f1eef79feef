"""The file engine's entry: the registry, store and jobs on folders, and the fit lock (flock)."""

from __future__ import annotations

import time
from pathlib import Path

from filelock import FileLock, Timeout

from app.storage.files.jobs import FileJobs
from app.storage.files.registry import FileRegistry
from app.storage.files.store import FileStore


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
