"""The metrics folder: one per server, found from the process that started the workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.observability import multiproc


def test_a_process_serving_alone_shares_no_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(multiproc.ENV, raising=False)
    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert multiproc.supervisor() is None
    assert multiproc.share() is None
    assert multiproc.ENV not in os.environ


def test_a_folder_set_by_the_launcher_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(multiproc.ENV, "/somewhere/else")
    assert multiproc.share() == "/somewhere/else"


def test_two_supervisors_get_two_folders(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        mine = multiproc.folder_for(os.getpid(), tmp_path)
        theirs = multiproc.folder_for(other.pid, tmp_path)
    finally:
        other.kill()
        other.wait()
    assert mine != theirs
    assert mine == multiproc.folder_for(os.getpid(), tmp_path)


def test_folders_of_supervisors_that_exited_are_removed(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    stale = multiproc.folder_for(gone.pid, tmp_path)
    gone.kill()
    gone.wait()
    stale.mkdir()
    live = multiproc.folder_for(os.getpid(), tmp_path)
    live.mkdir()
    multiproc.remove_stale(tmp_path)
    assert not stale.exists()
    assert live.exists()
