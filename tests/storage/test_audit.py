"""The audit trail in the storage, on both engines: each change with its entry, none for a
refused or empty change, entries that survive a restart, and on files an interrupted change
settled by what the files show."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import pandas as pd
import pytest

from app.config import Settings
from app.domain.errors import Conflict, NotFound
from app.domain.fitting import fit_table
from app.observability.context import acting
from app.storage import Storage, open_storage
from app.storage.audit import entry
from app.storage.files.audit import FileAudit
from app.storage.files.storage import FileStorage

engines = pytest.mark.engines("files", "postgres")


def actions(storage: Storage) -> list[tuple[str, str | None, str | None]]:
    return [(e["action"], e["key"], e["request_id"]) for e in storage.audit.all()]


@pytest.fixture
def two_versions(storage: Storage, sacramento: pd.DataFrame) -> tuple[str, str]:
    fitted = fit_table(sacramento, folds=3, source="t")
    first = storage.registry.save(*fitted)
    storage.registry.activate(first)
    second = storage.registry.save(*fitted)
    return first, second


@engines
def test_a_change_made_for_a_request_names_its_key_and_request_id(
    storage: Storage, two_versions: tuple[str, str]
) -> None:
    with acting(key_name="alice", request_id="req-42"):
        storage.registry.activate(two_versions[1])
    last = storage.audit.page(1)[0]
    assert (last["action"], last["key"], last["request_id"]) == ("activation", "alice", "req-42")
    assert last["version"] == two_versions[1] and last["detail"] == {"previous": two_versions[0]}


@engines
def test_a_refused_change_leaves_no_entry(storage: Storage, two_versions: tuple[str, str]) -> None:
    before = actions(storage)
    with pytest.raises(Conflict):
        storage.registry.delete(two_versions[0])  # the active version
    with pytest.raises(NotFound):
        storage.registry.activate("v20260101-000000-000000")
    with pytest.raises(NotFound):
        storage.registry.set_kept("v20260101-000000-000000", True)
    assert actions(storage) == before


@engines
def test_keeping_a_kept_version_again_records_nothing(
    storage: Storage, two_versions: tuple[str, str]
) -> None:
    storage.registry.set_kept(two_versions[1], True)
    storage.registry.set_kept(two_versions[1], True)
    storage.registry.set_kept(two_versions[0], False)  # never kept
    assert [a for a, _, _ in actions(storage)][-1:] == ["keep"]
    assert [a for a, _, _ in actions(storage)].count("keep") == 1


@engines
def test_an_older_version_made_active_is_a_rollback(
    storage: Storage, two_versions: tuple[str, str]
) -> None:
    first, second = two_versions
    storage.registry.activate(second)
    storage.registry.activate(first)
    assert [a for a, _, _ in actions(storage)][-2:] == ["activation", "rollback"]


@engines
def test_a_retired_market_and_its_removal_are_recorded_and_the_trail_outlives_it(
    storage: Storage, sacramento: pd.DataFrame
) -> None:
    ames = storage.market("ames")
    ames.registry.activate(
        ames.registry.save(*fit_table(sacramento.head(200), folds=3, source="t"))
    )
    storage.retire("ames")
    storage.remove_market("ames")
    about = [e["action"] for e in storage.audit.all() if e["market"] == "ames"]
    assert about == ["version.saved", "activation", "market.retired", "market.removed"]


@engines
def test_the_trail_survives_a_restart(
    storage: Storage, settings: Settings, two_versions: tuple[str, str]
) -> None:
    before = storage.audit.all()
    storage.close()
    reopened = open_storage(settings)
    try:
        assert reopened.audit.all() == before and len(before) == 3
    finally:
        reopened.close()


@engines
def test_paging_goes_below_the_last_id_seen_and_filters_by_version(
    storage: Storage, two_versions: tuple[str, str]
) -> None:
    first, second = two_versions
    newest = storage.audit.page(2)
    assert [e["version"] for e in newest] == [second, first]
    older = storage.audit.page(2, before=newest[-1]["id"])
    assert [e["action"] for e in older] == ["version.saved"]
    assert [e["action"] for e in storage.audit.page(10, version=first)] == [
        "activation",
        "version.saved",
    ]


def intent(storage: FileStorage, made: dict[str, Any], check: dict[str, Any]) -> None:
    """What a process that died in the middle of a change leaves behind."""
    storage.audit.root.mkdir(parents=True, exist_ok=True)
    (storage.audit.root / "INTENT").write_text(json.dumps({"entry": made, "check": check}))


def test_an_interrupted_change_that_happened_gets_its_entry(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "models", tmp_path / "data")
    marker = tmp_path / "done"
    marker.touch()
    intent(storage, entry("keep", "default", "v1"), {"exists": str(marker)})
    assert [e["action"] for e in storage.audit.all()] == ["keep"]
    assert not (storage.audit.root / "INTENT").exists()


def test_an_interrupted_change_that_did_not_happen_gets_no_entry(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "models", tmp_path / "data")
    intent(storage, entry("keep", "default", "v1"), {"exists": str(tmp_path / "never")})
    assert storage.audit.all() == []
    assert not (storage.audit.root / "INTENT").exists()


def test_an_entry_appended_before_the_crash_is_not_appended_twice(tmp_path: Path) -> None:
    audit = FileAudit(tmp_path / "audit")
    made = entry("keep", "default", "v1")
    with audit.change(made, {"exists": str(tmp_path)}):
        pass
    (audit.root / "INTENT").write_text(json.dumps({"entry": made, "check": {}}))
    assert [e["uid"] for e in audit.all()] == [made["uid"]]


def test_a_line_cut_short_by_a_crash_is_dropped_and_numbering_goes_on(tmp_path: Path) -> None:
    audit = FileAudit(tmp_path / "audit")
    for n in range(2):
        with audit.change(entry("keep", "default", f"v{n}"), {}):
            pass
    with open(audit.log, "ab") as log:
        log.write(b'{"id": 3, "uid": "cut')
    with audit.change(entry("unkeep", "default", "v0"), {}):
        pass
    assert [(e["id"], e["action"]) for e in audit.all()] == [
        (1, "keep"),
        (2, "keep"),
        (3, "unkeep"),
    ]


def die_before_the_history_line(root: Path, version: str) -> None:
    """Activate `version` in a process that is killed once the pointer has moved, before the
    activation's line is in the history."""

    def die(path: Path, line: bytes) -> None:
        os._exit(9)

    storage = FileStorage(root / "models", root / "data")
    with mock.patch("app.storage.files.registry.append_line", die):
        storage.registry.activate(version)


def test_an_activation_cut_short_after_its_pointer_moved_gets_its_history_line_and_entry(
    tmp_path: Path, sacramento: pd.DataFrame
) -> None:
    storage = FileStorage(tmp_path / "models", tmp_path / "data")
    fitted = fit_table(sacramento.head(200), folds=3, source="t")
    first, second = (storage.registry.save(*fitted) for _ in range(2))
    storage.registry.activate(first)
    child = mp.get_context("fork").Process(
        target=die_before_the_history_line, args=(tmp_path, second)
    )
    child.start()
    child.join(30)
    assert child.exitcode == 9
    assert storage.registry.active_version() == second
    history = storage.registry.activations()
    assert [(h["version"], h["previous"]) for h in history] == [(second, first), (first, None)]
    moves = [e["version"] for e in storage.audit.all() if e["action"] == "activation"]
    assert moves == [first, second]


def test_a_history_line_written_before_the_crash_is_not_written_twice(
    tmp_path: Path, sacramento: pd.DataFrame
) -> None:
    storage = FileStorage(tmp_path / "models", tmp_path / "data")
    version = storage.registry.save(*fit_table(sacramento.head(200), folds=3, source="t"))
    storage.registry.activate(version)
    line = storage.registry.activations()[0]
    made = entry("activation", "default", version)
    check = {
        "path": str(storage.registry.pointer),
        "text": version,
        "then": {"append": str(storage.registry.root / "activations.jsonl"), "line": line},
    }
    intent(storage, made, check)  # the line and the pointer were written, not the entry
    assert [h["version"] for h in storage.registry.activations()] == [version]
    assert [e["uid"] for e in storage.audit.all()][-1] == made["uid"]


def test_a_change_that_raises_before_it_is_made_leaves_no_entry(tmp_path: Path) -> None:
    audit = FileAudit(tmp_path / "audit")
    with (
        pytest.raises(OSError),
        audit.change(entry("keep", "default", "v1"), {"exists": str(tmp_path / "never")}),
    ):
        raise OSError("disk full")
    assert audit.all() == []


@engines
def test_changes_made_at_once_each_get_one_entry_and_their_own_number(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    fitted = fit_table(sacramento.head(300), folds=3, source="t")
    versions = [storage.registry.save(*fitted) for _ in range(4)]
    before = len(storage.audit.all())

    def toggle(version: str) -> None:
        own = open_storage(settings)  # as another worker would
        try:
            for n in range(10):
                own.registry.set_kept(version, n % 2 == 0)
        finally:
            own.close()

    threads = [threading.Thread(target=toggle, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = storage.audit.all()[before:]
    assert len(made) == 40
    ids = [e["id"] for e in made]
    assert len(set(ids)) == 40 and ids == sorted(ids)
    for version in versions:
        mine = [e["action"] for e in made if e["version"] == version]
        assert mine == ["keep", "unkeep"] * 5
