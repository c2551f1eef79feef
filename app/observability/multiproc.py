"""Which worker processes serve as one server, and the folder where they add up their metrics.

Prometheus counters live in each process; summed across workers they need a folder shared by
exactly the workers of one server (`PROMETHEUS_MULTIPROC_DIR`). `python -m app.serve` makes one.
When something else starts the workers, `uvicorn app.main:app --workers N` or gunicorn with
uvicorn workers, the folder is found from the process that started them: every worker of the
same supervisor names the same folder, and another server (another supervisor) another one.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"

PREFIX = "house-price-metrics-"


def supervisor() -> int | None:
    """The pid of the process whose workers this process serves with, when it is one of them."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        return parent.pid  # uvicorn --workers N (and --reload) spawn their workers
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/"):
        # Imported in a worker, the arbiter is the parent. Imported by the arbiter itself
        # (--preload), the workers it forks afterwards inherit what it chose.
        return os.getppid() if _in_gunicorn_worker() else os.getpid()
    return None


def _in_gunicorn_worker() -> bool:
    base = sys.modules.get("gunicorn.workers.base")
    if base is None:
        return False
    frame = sys._getframe()
    while frame is not None:
        if isinstance(frame.f_locals.get("self"), base.Worker):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _started(pid: int) -> str | None:
    """The start time of a process (clock ticks since boot), so a reused pid is told apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def folder_for(pid: int, root: Path | None = None) -> Path:
    root = root or Path(tempfile.gettempdir())
    return root / f"{PREFIX}{pid}-{_started(pid) or 'unknown'}"


def remove_stale(root: Path) -> None:
    """Delete the folders of supervisors that no longer run (best effort)."""
    for path in root.glob(f"{PREFIX}*-*"):
        pid, _, started = path.name.removeprefix(PREFIX).partition("-")
        if pid.isdigit() and started.isdigit() and _started(int(pid)) != started:
            shutil.rmtree(path, ignore_errors=True)


def share() -> str | None:
    """Set and return the metrics folder of this process's server; None when it serves alone."""
    chosen = os.environ.get(ENV)
    if chosen:
        return chosen
    pid = supervisor()
    if pid is None:
        return None
    root = Path(tempfile.gettempdir())
    remove_stale(root)
    folder = folder_for(pid, root)
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid():
        raise RuntimeError(f"{folder} belongs to another user: set {ENV} to a folder of your own")
    os.environ[ENV] = str(folder)
    return str(folder)
