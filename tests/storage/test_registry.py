"""Model versions on both engines: immutable, checksummed, one active pointer, change detection."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import time

import numpy as np
import pandas as pd
import pytest

from app.config import Settings
from app.domain.errors import NotFound
from app.domain.fitting import fit_table
from app.domain.located_fitting import fit_located_table
from app.domain.located_model import LocatedModel
from app.domain.model import PriceModel
from app.domain.terms import Places
from app.service.serving import ServedModels
from app.storage import CorruptVersion, Registry, Storage, open_storage
from tests.damage import damage_artifact, point_at, remove_checksum, set_artifact_format
from tests.support import located_listings

pytestmark = pytest.mark.engines("files", "postgres")


def store(registry: Registry, frame: pd.DataFrame) -> str:
    model, card = fit_table(frame, folds=5, source="test")
    return registry.save(model, card)


def test_saving_does_not_activate(registry: Registry, sacramento: pd.DataFrame) -> None:
    store(registry, sacramento)
    assert registry.active_version() is None


def test_versions_saved_in_the_same_second_get_distinct_names(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    names = {store(registry, sacramento) for _ in range(5)}
    assert len(names) == 5
    assert set(registry.versions()) == names


def test_card_records_training_data_libraries_and_checksum(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    version = store(registry, sacramento)
    card = registry.card(version)
    assert card["training"]["rows"] == 932
    assert len(card["training"]["fingerprint"]) == 64
    assert card["coefficients"]["sqft"]["unit"] == "$ per sq ft"
    assert card["feature_ranges"]["sqft"] == {"min": 484.0, "max": 4878.0}
    assert {"python", "numpy", "scikit-learn", "pandas", "joblib"} <= set(card["libraries"])
    artifact, digest = registry.artifact(version)
    assert card["artifact_sha256"] == digest == hashlib.sha256(artifact).hexdigest()


def test_load_returns_the_saved_model(registry: Registry, sacramento: pd.DataFrame) -> None:
    model, card = fit_table(sacramento, folds=5, source="test")
    loaded = registry.load(registry.save(model, card))
    assert isinstance(loaded.model, PriceModel)
    assert loaded.model.weights == model.weights
    assert loaded.model.intercept == model.intercept


def test_load_refuses_an_artifact_whose_checksum_fails(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    version = store(storage.registry, sacramento)
    damage_artifact(storage, settings, version)
    with pytest.raises(CorruptVersion, match="checksum mismatch"):
        storage.registry.load(version)


def test_load_refuses_a_version_whose_checksum_is_missing(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    version = store(storage.registry, sacramento)
    remove_checksum(storage, settings, version)
    with pytest.raises(CorruptVersion):
        storage.registry.load(version)


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
    assert registry.active_version() == second


def test_every_activation_is_recorded_with_who_and_when(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    first, second = store(registry, sacramento), store(registry, sacramento)
    registry.activate(first, by="a test")
    registry.activate(second, by="a rollback")
    latest, earlier = registry.activations()
    assert (latest["version"], latest["previous"]) == (second, first)
    assert (earlier["version"], earlier["previous"]) == (first, None)
    assert latest["by"].startswith("a rollback on ") and "pid" in latest["by"]
    assert latest["at"] >= earlier["at"]


def test_activate_refuses_a_corrupt_version_and_leaves_the_pointer(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    registry = storage.registry
    good, bad = store(registry, sacramento), store(registry, sacramento)
    registry.activate(good)
    damage_artifact(storage, settings, bad)
    with pytest.raises(CorruptVersion):
        registry.activate(bad)
    assert registry.active_version() == good


def test_activate_refuses_an_unknown_version(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.activate("v20000101-000000-abcdef")
    assert registry.active_version() is None


def test_a_page_lists_versions_newest_first(registry: Registry, sacramento: pd.DataFrame) -> None:
    names = [store(registry, sacramento) for _ in range(3)]
    assert [c["version"] for c in registry.page(10)] == names[::-1]


def test_served_models_follow_the_pointer(storage: Storage, sacramento: pd.DataFrame) -> None:
    registry = storage.registry
    first, second = store(registry, sacramento), store(registry, sacramento)
    active = ServedModels(storage, "default")
    assert active.refresh() == set()
    assert active.current is None and "no active model" in (active.error or "")
    registry.activate(first)
    assert active.refresh() == {"default"} and active.current is not None
    assert active.current.version == first
    assert active.refresh() == set()
    registry.activate(second)
    assert active.refresh({"default"}) == {"default"}
    assert active.current.version == second


def test_a_compact_market_reads_its_comps_sales_when_a_home_is_first_valued(
    storage: Storage,
) -> None:
    other = storage.market("elsewhere").registry
    model, card = fit_located_table(located_listings(600), folds=3, source="test")
    other.activate(other.save(model, card))
    served = ServedModels(storage, "default")
    served.refresh()
    held = served.models["elsewhere"].model
    assert isinstance(held, LocatedModel) and held.needs_comps
    assert served.ready("elsewhere", 0.9) is None  # the fast path leaves it to `get`
    loaded = served.get("elsewhere", 0.9)
    assert not held.needs_comps and loaded.model is held
    X, places = (
        np.array([[3.0, 2.0, 1800.0]]),
        Places(np.array(["north"], object), np.array([47.52]), np.array([-122.25]), np.array([-1])),
    )
    assert held.predict(X, places)[0] == model.predict(X, places)[0]


def test_served_models_keep_the_last_good_version_when_the_pointer_names_a_corrupt_one(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    registry = storage.registry
    good, bad = store(registry, sacramento), store(registry, sacramento)
    registry.activate(good)
    active = ServedModels(storage, "default")
    active.refresh()
    damage_artifact(storage, settings, bad)
    point_at(storage, settings, bad)
    assert active.refresh() == set()
    assert active.current is not None and active.current.version == good
    assert active.error is not None and "checksum mismatch" in active.error
    registry.activate(good)
    active.refresh()
    assert active.error is None


def test_an_artifact_of_an_older_format_is_refused_with_the_reason(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    version = store(storage.registry, sacramento)
    set_artifact_format(storage, settings, version, 1)
    with pytest.raises(CorruptVersion, match="refit it with this release"):
        storage.registry.load(version)


def test_the_same_fit_gives_the_same_artifact_bytes_after_use(sacramento: pd.DataFrame) -> None:
    import pickle

    model, _ = fit_table(sacramento, folds=5, source="t")
    before = pickle.dumps(model)
    model.explain(3, 2, 20000, 0.8)  # fills the caches
    assert pickle.dumps(model) == before
    assert pickle.loads(before).explain(3, 2, 20000, 0.8) == model.explain(3, 2, 20000, 0.8)


def test_an_artifact_is_the_file_joblib_writes_and_joblib_reads_it(
    registry: Registry, sacramento: pd.DataFrame
) -> None:
    import io

    import joblib

    model, card = fit_table(sacramento, folds=5, source="t")
    version = registry.save(model, card)
    artifact, _ = registry.artifact(version)
    written = io.BytesIO()
    joblib.dump(model, written)
    assert artifact == written.getvalue()
    assert joblib.load(io.BytesIO(artifact)).explain(3, 2, 1500, 0.9) == model.explain(
        3, 2, 1500, 0.9
    )


# -- real processes ------------------------------------------------------------------------


def _flip_pointer(settings: Settings, versions: list[str], rounds: int) -> None:
    storage = open_storage(settings)
    for i in range(rounds):
        storage.registry.activate(versions[i % len(versions)])
    storage.close()


def _read_pointer(settings: Settings, seconds: float, seen: mp.Queue[str]) -> None:
    storage = open_storage(settings)
    deadline = time.monotonic() + seconds
    observed: set[str] = set()
    while time.monotonic() < deadline:
        observed.add(str(storage.registry.active_version()))
    for value in observed:
        seen.put(value)
    storage.close()


def test_concurrent_activations_never_expose_a_partial_pointer(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    registry = storage.registry
    versions = [store(registry, sacramento) for _ in range(3)]
    registry.activate(versions[0])
    ctx = mp.get_context("spawn")
    seen: mp.Queue[str] = ctx.Queue()
    reader = ctx.Process(target=_read_pointer, args=(settings, 3.0, seen))
    writers = [
        ctx.Process(target=_flip_pointer, args=(settings, versions[i:] + versions[:i], 60))
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
    assert observed <= set(versions)
    assert registry.active_version() in versions
    assert len(registry.activations(limit=1000)) == 1 + 3 * 60


def _save_versions(settings: Settings, csv: str, count: int, out: mp.Queue[str]) -> None:
    from pathlib import Path

    from app.domain.listings import read_table

    storage = open_storage(settings)
    frame = read_table(Path(csv))
    for _ in range(count):
        out.put(store(storage.registry, frame))
    storage.close()


def test_concurrent_saves_from_several_processes_give_complete_distinct_versions(
    registry: Registry, settings: Settings
) -> None:
    from tests.support import SACRAMENTO

    ctx = mp.get_context("spawn")
    out: mp.Queue[str] = ctx.Queue()
    procs = [
        ctx.Process(target=_save_versions, args=(settings, str(SACRAMENTO), 4, out))
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
