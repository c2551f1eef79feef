"""The registry: immutable checksummed versions, an atomic pointer, and workers that follow it."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import stat
import time
from pathlib import Path

import pandas as pd
import pytest

from app.errors import NotFound
from app.fitting import fit_table
from app.registry import (
    ARTIFACT,
    CARD,
    CHECKSUM,
    ActiveModel,
    CorruptVersion,
    Registry,
)


def store(registry: Registry, frame: pd.DataFrame) -> str:
    model, card = fit_table(frame, folds=5, source="test")
    return registry.save(model, card)


def corrupt(registry: Registry, version: str) -> None:
    artifact = registry.versions_dir / version / ARTIFACT
    os.chmod(artifact, 0o644)
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))


def test_a_version_is_a_folder_with_artifact_card_and_checksum(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    version = store(registry, sacramento)
    folder = registry.versions_dir / version
    assert sorted(p.name for p in folder.iterdir()) == sorted([ARTIFACT, CARD, CHECKSUM])
    digest = hashlib.sha256((folder / ARTIFACT).read_bytes()).hexdigest()
    assert (folder / CHECKSUM).read_text() == f"{digest}  {ARTIFACT}\n"
    assert registry.card(version)["artifact_sha256"] == digest


def test_version_files_are_read_only(registry: Registry, sacramento: pd.DataFrame) -> None:
    folder = registry.versions_dir / store(registry, sacramento)
    for path in folder.iterdir():
        assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def test_saving_does_not_activate(registry: Registry, sacramento: pd.DataFrame) -> None:
    store(registry, sacramento)
    assert registry.active_version() is None


def test_versions_saved_in_the_same_second_get_distinct_names(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    names = {store(registry, sacramento) for _ in range(5)}
    assert len(names) == 5
    assert set(registry.versions()) == names


def test_card_records_training_data_and_libraries(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    card = registry.card(store(registry, sacramento))
    assert card["training"]["rows"] == 932
    assert len(card["training"]["fingerprint"]) == 64
    assert card["coefficients"]["sqft"]["unit"] == "$ per sq ft"
    assert card["feature_ranges"]["sqft"] == {"min": 484.0, "max": 4878.0}
    assert {"python", "numpy", "scikit-learn", "pandas", "joblib"} <= set(card["libraries"])


def test_load_returns_the_saved_model(registry: Registry, sacramento: pd.DataFrame) -> None:
    model, card = fit_table(sacramento, folds=5, source="test")
    loaded = registry.load(registry.save(model, card))
    assert loaded.model.weights == model.weights
    assert loaded.model.intercept == model.intercept


def test_load_refuses_an_artifact_whose_checksum_fails(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    version = store(registry, sacramento)
    corrupt(registry, version)
    with pytest.raises(CorruptVersion, match="checksum mismatch"):
        registry.load(version)


def test_load_refuses_a_version_with_a_missing_checksum(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    version = store(registry, sacramento)
    (registry.versions_dir / version / CHECKSUM).unlink()
    with pytest.raises(CorruptVersion, match="unreadable"):
        registry.load(version)


@pytest.mark.parametrize("name", ["../../etc", "v1", "", "v20261126-231752-3f9a1c/.."])
def test_names_outside_the_version_pattern_are_not_found(registry: Registry, name: str) -> None:
    with pytest.raises(NotFound):
        registry.load(name)


def test_activate_points_at_the_version_and_returns_the_previous(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    first, second = store(registry, sacramento), store(registry, sacramento)
    assert registry.activate(first) is None
    assert registry.activate(second) == first
    assert registry.pointer.read_text() == f"{second}\n"


def test_activate_refuses_a_corrupt_version_and_leaves_the_pointer(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    good, bad = store(registry, sacramento), store(registry, sacramento)
    registry.activate(good)
    corrupt(registry, bad)
    with pytest.raises(CorruptVersion):
        registry.activate(bad)
    assert registry.active_version() == good


def test_activate_refuses_an_unknown_version(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.activate("v20000101-000000-abcdef")
    assert registry.active_version() is None


def test_cards_are_listed_newest_first(registry: Registry, sacramento: pd.DataFrame) -> None:
    names = [store(registry, sacramento) for _ in range(3)]
    assert [c["version"] for c in registry.cards()] == names[::-1]


def test_leftover_staging_folders_are_swept_once_stale(registry: Registry) -> None:
    stale = registry.root / ".staging-old"
    fresh = registry.root / ".staging-new"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    registry.ensure()
    assert not stale.exists()
    assert fresh.exists()


def test_active_model_follows_the_pointer(registry: Registry, sacramento: pd.DataFrame) -> None:
    first, second = store(registry, sacramento), store(registry, sacramento)
    active = ActiveModel(registry)
    assert active.refresh() is False
    assert active.current is None and "no active model" in (active.error or "")
    registry.activate(first)
    assert active.refresh() is True and active.current is not None
    assert active.current.version == first
    assert active.refresh() is False
    registry.activate(second)
    assert active.refresh() is True
    assert active.current.version == second


def test_active_model_keeps_the_last_good_version_when_the_pointer_names_a_corrupt_one(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    good, bad = store(registry, sacramento), store(registry, sacramento)
    registry.activate(good)
    active = ActiveModel(registry)
    active.refresh()
    corrupt(registry, bad)
    registry.pointer.write_text(bad)  # as a hand edit or a faulty tool would
    assert active.refresh() is False
    assert active.current is not None and active.current.version == good
    assert active.error is not None and "checksum mismatch" in active.error
    registry.activate(good)
    active.refresh()
    assert active.error is None


# -- real processes ------------------------------------------------------------------------


def _flip_pointer(root: str, versions: list[str], rounds: int) -> None:
    registry = Registry(Path(root))
    for i in range(rounds):
        registry.activate(versions[i % len(versions)])


def _read_pointer(root: str, seconds: float, seen: mp.Queue[str]) -> None:
    pointer = Path(root) / "ACTIVE"
    deadline = time.monotonic() + seconds
    observed: set[str] = set()
    while time.monotonic() < deadline:
        observed.add(pointer.read_text())
    for value in observed:
        seen.put(value)


def test_concurrent_activations_never_expose_a_partial_pointer(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    versions = [store(registry, sacramento) for _ in range(3)]
    registry.activate(versions[0])
    ctx = mp.get_context("spawn")
    seen: mp.Queue[str] = ctx.Queue()
    reader = ctx.Process(target=_read_pointer, args=(str(registry.root), 3.0, seen))
    writers = [
        ctx.Process(
            target=_flip_pointer, args=(str(registry.root), versions[i:] + versions[:i], 150)
        )
        for i in range(3)
    ]
    reader.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    reader.join(60)
    assert reader.exitcode == 0
    observed = set()
    while not seen.empty():
        observed.add(seen.get())
    assert observed, "the reader saw nothing"
    assert observed <= {f"{v}\n" for v in versions}
    assert registry.active_version() in versions
    assert not list(registry.root.glob(".ACTIVE.*.tmp"))


def _save_versions(root: str, csv: str, count: int, out: mp.Queue[str]) -> None:
    from app.listings import read_table

    registry = Registry(Path(root))
    frame = read_table(Path(csv))
    for _ in range(count):
        out.put(store(registry, frame))


def test_concurrent_saves_from_several_processes_give_complete_distinct_versions(
    registry: Registry,
) -> None:
    from tests.conftest import SACRAMENTO

    ctx = mp.get_context("spawn")
    out: mp.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=_save_versions, args=(str(registry.root), str(SACRAMENTO), 4, out))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    names = [out.get(timeout=120) for _ in range(12)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(set(names)) == 12
    assert sorted(registry.versions()) == sorted(names)
    for name in names:
        registry.load(name)  # every one verifies


def test_an_artifact_of_an_older_format_is_refused_with_the_reason(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    version = store(registry, sacramento)
    card_path = registry.versions_dir / version / CARD
    card = json.loads(card_path.read_text())
    card["artifact_format"] = 1
    card_path.chmod(0o644)
    card_path.write_text(json.dumps(card))
    with pytest.raises(CorruptVersion, match="refit it with this release"):
        registry.load(version)


def test_the_same_fit_gives_the_same_artifact_bytes_after_use(sacramento: pd.DataFrame) -> None:
    import pickle

    model, _ = fit_table(sacramento, folds=5, source="t")
    before = pickle.dumps(model)
    model.explain(3, 2, 20000, 0.8)  # fills the caches
    assert pickle.dumps(model) == before
    assert pickle.loads(before).explain(3, 2, 20000, 0.8) == model.explain(3, 2, 20000, 0.8)
