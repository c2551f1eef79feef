"""What only the file engine has: folders, read-only files, staging, the ACTIVE file, uploads
kept byte for byte."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import stat
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from app.domain.errors import BadInput
from app.domain.fitting import fit_table
from app.domain.listings import from_records, read_table
from app.storage.files.registry import ARTIFACT, CARD, CHECKSUM, FileRegistry
from app.storage.files.store import FileStore
from app.storage.naming import new_job
from tests.support import SACRAMENTO

pytestmark = pytest.mark.engines("files")


@pytest.fixture
def files(model_dir: Path) -> FileRegistry:
    registry = FileRegistry(model_dir)
    registry.ensure()
    return registry


@pytest.fixture
def empty(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "data")


def save(registry: FileRegistry, frame: pd.DataFrame) -> str:
    return registry.save(*fit_table(frame, folds=5, source="test"))


def test_a_version_is_a_folder_with_artifact_card_and_checksum(
    files: FileRegistry, sacramento: pd.DataFrame
) -> None:
    version = save(files, sacramento)
    folder = files.versions_dir / version
    assert sorted(p.name for p in folder.iterdir()) == sorted([ARTIFACT, CARD, CHECKSUM])
    digest = hashlib.sha256((folder / ARTIFACT).read_bytes()).hexdigest()
    assert (folder / CHECKSUM).read_text() == f"{digest}  {ARTIFACT}\n"


def test_version_files_are_read_only(files: FileRegistry, sacramento: pd.DataFrame) -> None:
    folder = files.versions_dir / save(files, sacramento)
    for path in folder.iterdir():
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_the_pointer_is_a_one_line_file(files: FileRegistry, sacramento: pd.DataFrame) -> None:
    version = save(files, sacramento)
    files.activate(version)
    assert files.pointer.read_text() == f"{version}\n"


def test_leftover_staging_folders_are_swept_once_stale(files: FileRegistry) -> None:
    stale = files.root / ".staging-old"
    fresh = files.root / ".staging-new"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    files.ensure()
    assert not stale.exists()
    assert fresh.exists()


def _flip_pointer(root: str, versions: list[str], rounds: int) -> None:
    registry = FileRegistry(Path(root))
    for i in range(rounds):
        registry.activate(versions[i % len(versions)])


def _read_pointer_file(root: str, seconds: float, seen: mp.Queue[str]) -> None:
    pointer = Path(root) / "ACTIVE"
    deadline = time.monotonic() + seconds
    observed: set[str] = set()
    while time.monotonic() < deadline:
        observed.add(pointer.read_text())
    for value in observed:
        seen.put(value)


def test_concurrent_activations_never_expose_a_partial_pointer_file(
    files: FileRegistry, sacramento: pd.DataFrame
) -> None:
    versions = [save(files, sacramento) for _ in range(3)]
    files.activate(versions[0])
    ctx = mp.get_context("spawn")
    seen: mp.Queue[str] = ctx.Queue()
    reader = ctx.Process(target=_read_pointer_file, args=(str(files.root), 3.0, seen))
    writers = [
        ctx.Process(target=_flip_pointer, args=(str(files.root), versions[i:] + versions[:i], 150))
        for i in range(3)
    ]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    reader.join(60)
    observed = set()
    while not seen.empty():
        observed.add(seen.get())
    assert observed and observed <= {f"{v}\n" for v in versions}
    assert not list(files.root.glob(".ACTIVE.*.tmp"))


def test_an_upload_is_kept_as_sent_with_its_other_columns(empty: FileStore) -> None:
    frame = read_table(SACRAMENTO)
    frame["sold_at"] = "2008-05-21"
    empty.add(frame, "replace")
    snapshot = empty.snapshot()
    assert snapshot is not None
    back = empty.read(snapshot)
    assert back["city"].tolist() == frame["city"].tolist()


def test_a_tampered_file_is_refused_on_read(empty: FileStore) -> None:
    rows = from_records({"beds": 3, "baths": 2, "sqft": 1500, "price": p} for p in (1, 2))
    accepted = empty.add(rows, "append")
    (empty.sets_dir / accepted.set_id / accepted.batch).write_text(
        "beds,baths,sqft,price\n3,2,x,1\n"
    )
    snapshot = empty.snapshot()
    assert snapshot is not None
    with pytest.raises(BadInput):
        empty.read(snapshot)


def test_no_temporary_files_are_left_behind(empty: FileStore) -> None:
    rows = from_records([{"beds": 3, "baths": 2, "sqft": 1500, "price": 1.0}])
    empty.add(rows, "append")
    empty.add(rows.assign(price=2.0), "replace")
    assert not [p for p in empty.root.rglob("*") if p.name.endswith(".tmp")]


def test_a_finished_job_whose_marker_a_crash_left_is_not_pending(tmp_path: Path) -> None:
    from app.storage.files.jobs import FileJobs

    jobs = FileJobs(tmp_path / "data")
    job = jobs.create(market="default", mode="append", force=False)
    # A crash between the two writes of `update`: the job file says it ended, its marker stays.
    jobs._write({**job, "status": "succeeded"})
    assert jobs.has_pending()
    assert jobs.next_pending() is None and jobs.pending() == []
    assert not jobs.has_pending()


def test_a_marker_whose_job_a_crash_left_unwritten_is_forgotten(tmp_path: Path) -> None:
    from app.storage.files.audit import FileAudit
    from app.storage.files.jobs import FileJobs

    jobs = FileJobs(tmp_path / "data", FileAudit(tmp_path / "audit"))
    jobs.ensure()
    # A crash between the two writes of `create`: the marker is made, the job is not.
    (jobs.pending_dir / new_job(market="default")["job_id"]).touch()
    assert jobs.has_pending()
    assert jobs.next_pending() is None and jobs.pending() == []
    assert not jobs.has_pending()


def test_a_marker_whose_create_is_under_way_elsewhere_is_kept(tmp_path: Path) -> None:
    from app.storage.files.audit import FileAudit
    from app.storage.files.jobs import FileJobs

    audit = FileAudit(tmp_path / "audit")
    jobs = FileJobs(tmp_path / "data", audit)
    jobs.ensure()
    job = new_job(market="default", mode="append", force=False)
    marker = jobs.pending_dir / job["job_id"]
    looked: list[dict[str, object] | None] = []
    with audit.locked():  # another create holds the trail's lock between its two writes
        marker.touch()
        reader = threading.Thread(target=lambda: looked.append(jobs.next_pending()))
        reader.start()
        reader.join(0.5)
        assert reader.is_alive(), "the reader waits for the create to end"
        jobs._write(job)
    reader.join(5)
    assert looked == [job] and marker.exists()


def test_a_line_appended_after_a_cut_short_one_replaces_it(tmp_path: Path) -> None:
    from app.storage.files.durable import append_line, last_line

    path = tmp_path / "log.jsonl"
    append_line(path, b'{"n": 1}')
    with open(path, "ab") as handle:
        handle.write(b'{"n": 2, "cu')  # a crash in the middle of a write
    assert last_line(path) == b'{"n": 1}'
    append_line(path, b'{"n": 3}')
    assert path.read_bytes() == b'{"n": 1}\n{"n": 3}\n'
