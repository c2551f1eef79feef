"""Markets in the storage: each its own versions, pointer, listings and lock, on both engines."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from app.config import Settings
from app.domain.errors import Busy, Conflict, NotFound
from app.domain.fitting import fit_table
from app.storage import Storage, open_storage
from tests.support import synthetic_listings

pytestmark = pytest.mark.engines("files", "postgres")


def fit_in(storage: Storage, market: str, frame: pd.DataFrame, activate: bool = True) -> str:
    registry = storage.market(market).registry
    version = registry.save(*fit_table(frame, folds=3, source=market))
    if activate:
        registry.activate(version)
    return version


@pytest.fixture
def towns() -> dict[str, pd.DataFrame]:
    return {"ames": synthetic_listings(60, seed=1), "elk-grove": synthetic_listings(80, seed=2)}


def test_a_market_keeps_its_own_versions_and_pointer(
    storage: Storage, towns: dict[str, pd.DataFrame]
) -> None:
    ames = fit_in(storage, "ames", towns["ames"])
    elk = fit_in(storage, "elk-grove", towns["elk-grove"])
    assert storage.market("ames").registry.versions() == [ames]
    assert storage.market("elk-grove").registry.active_version() == elk
    assert storage.registry.versions() == [] and storage.registry.active_version() is None


def test_pointers_name_every_live_market_in_one_read(
    storage: Storage, towns: dict[str, pd.DataFrame], fitted: str
) -> None:
    ames = fit_in(storage, "ames", towns["ames"])
    fit_in(storage, "elk-grove", towns["elk-grove"], activate=False)
    assert storage.pointers() == {"default": fitted, "ames": ames}
    assert storage.pointers(["ames", "nowhere"]) == {"ames": ames}


def test_load_many_verifies_each_and_gives_the_reason_for_one_it_cannot_load(
    storage: Storage, towns: dict[str, pd.DataFrame]
) -> None:
    ames = fit_in(storage, "ames", towns["ames"])
    loaded = storage.load_many({"ames": ames, "elk-grove": "v20000101-000000-abcdef"})
    assert not isinstance(loaded["ames"], str) and loaded["ames"].version == ames
    assert isinstance(loaded["elk-grove"], str) and "v20000101-000000-abcdef" in loaded["elk-grove"]


def test_a_version_belongs_to_one_market_and_is_found_by_name(
    storage: Storage, towns: dict[str, pd.DataFrame]
) -> None:
    ames = fit_in(storage, "ames", towns["ames"])
    assert storage.market_of(ames) == "ames"
    with pytest.raises(NotFound):
        storage.market("elk-grove").registry.activate(ames)
    with pytest.raises(NotFound):
        storage.market_of("v20000101-000000-abcdef")


def test_version_names_stay_unique_across_markets(
    storage: Storage, towns: dict[str, pd.DataFrame]
) -> None:
    names = [fit_in(storage, m, towns["ames"], activate=False) for m in ("ames", "elk-grove") * 5]
    assert len(set(names)) == len(names)


def test_listings_are_stored_per_market(
    storage: Storage, towns: dict[str, pd.DataFrame], sacramento: pd.DataFrame
) -> None:
    storage.market("ames").store.add(towns["ames"], "replace")
    storage.store.add(sacramento, "replace")
    ames = storage.market("ames").store
    snapshot = ames.snapshot()
    assert snapshot is not None and len(ames.read(snapshot)) == 60
    assert storage.market("elk-grove").store.snapshot() is None
    assert len(ames.uploads()) == 1 and len(storage.store.uploads()) == 1


def test_a_retired_market_serves_nothing_and_takes_no_activation(
    storage: Storage, towns: dict[str, pd.DataFrame], fitted: str
) -> None:
    ames = fit_in(storage, "ames", towns["ames"])
    storage.retire("ames")
    assert storage.pointers() == {"default": fitted}
    assert storage.market("ames").retired() and storage.retired_markets() == ["ames"]
    with pytest.raises(Conflict, match="retired"):
        storage.market("ames").registry.activate(ames)
    with pytest.raises(NotFound):
        storage.retire("ames")


def test_only_a_market_with_an_active_version_can_be_retired(storage: Storage) -> None:
    with pytest.raises(NotFound, match="nowhere"):
        storage.retire("nowhere")


def test_removing_a_retired_market_deletes_its_data_and_frees_its_name(
    storage: Storage, towns: dict[str, pd.DataFrame], fitted: str
) -> None:
    storage.market("ames").store.add(towns["ames"], "replace")
    fit_in(storage, "ames", towns["ames"])
    with pytest.raises(Conflict, match="not retired"):
        storage.remove_market("ames")
    storage.retire("ames")
    storage.remove_market("ames")
    market = storage.market("ames")
    assert not market.retired() and market.registry.versions() == []
    assert market.store.uploads() == [] and market.store.snapshot() is None
    assert storage.pointers() == {"default": fitted}
    again = fit_in(storage, "ames", towns["elk-grove"])
    assert storage.pointers()["ames"] == again


def test_fit_locks_are_per_market(storage: Storage) -> None:
    with storage.market("ames").fit_lock():
        assert storage.market("ames").fit_lock_free() is False
        assert storage.market("elk-grove").fit_lock_free() is True
        with pytest.raises(Busy), storage.market("ames").fit_lock(wait=False):
            pass
        with storage.market("elk-grove").fit_lock(wait=False):
            pass
    assert storage.market("ames").fit_lock_free() is True


def test_the_next_pending_job_passes_over_busy_markets(storage: Storage) -> None:
    first = storage.jobs.create(market="ames", mode="append", force=False)
    time.sleep(0.002)
    second = storage.jobs.create(market="elk-grove", mode="append", force=False)
    found = storage.jobs.next_pending()
    assert found is not None and found["job_id"] == first["job_id"]
    found = storage.jobs.next_pending(skip={"ames"})
    assert found is not None and found["job_id"] == second["job_id"]
    assert storage.jobs.next_pending(skip={"ames", "elk-grove"}) is None


def test_a_market_name_that_breaks_the_rule_is_no_market(storage: Storage) -> None:
    for name in ("Ames", "-ames", "a" * 64, "../default", ""):
        with pytest.raises(NotFound):
            storage.market(name)


def test_a_watching_worker_learns_which_market_moved(
    settings: Settings, storage: Storage, towns: dict[str, pd.DataFrame]
) -> None:
    ames = fit_in(storage, "ames", towns["ames"], activate=False)
    fit_in(storage, "elk-grove", towns["elk-grove"])
    watcher = open_storage(settings, listen=True)
    try:
        watcher.wait_for_change(0.01)  # the first look: every market
        storage.market("ames").registry.activate(ames)
        deadline = time.monotonic() + 5
        while not isinstance(changed := watcher.wait_for_change(0.05), set) or not changed:
            assert time.monotonic() < deadline, "no change was reported"
        assert "ames" in changed and "elk-grove" not in changed
    finally:
        watcher.close()
