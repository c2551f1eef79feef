"""Years of versions, on both engines: paging newest first, marking versions kept, and pruning
old versions, jobs and uploads by the rules, safely while the service runs."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from app.config import Settings
from app.domain.errors import Conflict
from app.domain.fitting import fit_table
from app.domain.listings import from_records
from app.domain.model import PriceModel
from app.service import retention
from app.service.runner import settings_env
from app.storage import Registry, Storage
from tests.support import ROOT

Fitted = tuple[PriceModel, dict[str, Any]]

pytestmark = pytest.mark.engines("files", "postgres")


@pytest.fixture(scope="module")
def fitted_model(sacramento: pd.DataFrame) -> Fitted:
    return fit_table(sacramento, folds=5, source="test")


def save_many(registry: Registry, fitted: Fitted, n: int) -> list[str]:
    model, card = fitted
    return [registry.save(model, dict(card)) for _ in range(n)]


def visit_all(registry: Registry, limit: int, between: object = None) -> list[str]:
    seen: list[str] = []
    before = None
    while True:
        page = registry.page(limit, before)
        seen += [v["version"] for v in page]
        if len(page) < limit:
            return seen
        before = page[-1]["version"]
        if callable(between):
            between()


@pytest.mark.slow
def test_paging_over_2500_versions_visits_each_once_newest_first(
    registry: Registry, fitted_model: Fitted
) -> None:
    saved = save_many(registry, fitted_model, 2500)
    seen = visit_all(registry, 100)
    assert seen == sorted(saved, reverse=True)


def test_versions_added_while_paging_never_repeat_or_hide_an_older_one(
    registry: Registry, fitted_model: Fitted
) -> None:
    saved = save_many(registry, fitted_model, 300)
    added: list[str] = []
    seen = visit_all(registry, 40, lambda: added.extend(save_many(registry, fitted_model, 3)))
    assert len(seen) == len(set(seen))
    assert set(saved) <= set(seen)
    assert seen == sorted(seen, reverse=True)
    assert set(seen) - set(saved) <= set(added)


def test_a_page_says_which_versions_are_kept(registry: Registry, fitted_model: Fitted) -> None:
    first, second = save_many(registry, fitted_model, 2)
    registry.set_kept(first, True)
    assert {v["version"]: v["kept"] for v in registry.page(10)} == {first: True, second: False}
    registry.set_kept(first, False)
    assert registry.kept() == set()


def test_prune_keeps_the_newest_the_active_the_previous_and_the_kept(
    storage: Storage, fitted_model: Fitted
) -> None:
    registry = storage.registry
    names = save_many(registry, fitted_model, 10)  # oldest first
    registry.activate(names[1])
    registry.activate(names[2])  # active; names[1] is the rollback target
    registry.set_kept(names[4], True)
    chosen = retention.plan(storage, keep=3)
    expected_kept = {*names[-3:], names[1], names[2], names[4]}
    assert set(chosen.versions) == set(names) - expected_kept
    done = retention.carry_out(storage, chosen)
    assert done.skipped == []
    assert set(registry.versions()) == expected_kept
    for name in expected_kept:
        registry.load(name)


def test_the_active_version_and_its_predecessor_can_never_be_removed(
    storage: Storage, fitted_model: Fitted
) -> None:
    registry = storage.registry
    first, second = save_many(registry, fitted_model, 2)
    registry.activate(first)
    registry.activate(second)
    for name in (first, second):
        with pytest.raises(Conflict):
            registry.delete(name)
    assert set(registry.versions()) == {first, second}


def test_prune_removes_only_jobs_that_finished_long_ago(storage: Storage) -> None:
    jobs = storage.jobs
    old = jobs.update(
        jobs.create(mode="append"),
        status="succeeded",
        finished_at=(datetime.now(UTC) - timedelta(days=40)).isoformat(),
    )
    recent = jobs.update(
        jobs.create(mode="append"), status="failed", finished_at=datetime.now(UTC).isoformat()
    )
    waiting = jobs.create(mode="append")
    chosen = retention.plan(storage, keep=100, jobs_days=30)
    assert chosen.jobs == [old["job_id"]]
    retention.carry_out(storage, chosen)
    assert {j["job_id"] for j in jobs.all()} == {recent["job_id"], waiting["job_id"]}


def test_prune_removes_uploads_only_when_asked_and_only_unused_ones(
    storage: Storage, fitted_model: Fitted
) -> None:
    def rows(price: float) -> pd.DataFrame:
        return from_records(
            {"beds": 3, "baths": 2, "sqft": 1500, "price": price + i} for i in range(5)
        )

    store, registry = storage.store, storage.registry
    used = store.add(rows(1), "replace")
    model, card = fitted_model
    fitted_on = registry.save(
        model,
        {**card, "training": {**card["training"], "set": used.set_id, "batches": [used.batch]}},
    )
    registry.activate(fitted_on)
    unused = store.add(rows(100), "replace")  # a set replaced before any fit...
    current = store.add(rows(200), "replace")  # ...and the current set, not fitted yet
    assert retention.plan(storage, keep=1).uploads == []
    chosen = retention.plan(storage, keep=1, listings=True)
    assert chosen.uploads == [(unused.set_id, unused.batch)]
    retention.carry_out(storage, chosen)
    assert set(store.uploads()) == {(used.set_id, used.batch), (current.set_id, current.batch)}
    appended = store.add(rows(300), "append")  # numbering goes on past removed uploads
    assert store.batches(current.set_id) == [current.batch, appended.batch]


def test_a_prune_killed_at_any_moment_leaves_only_whole_loadable_versions(
    storage: Storage, settings: Settings, fitted_model: Fitted
) -> None:
    registry = storage.registry
    names = save_many(registry, fitted_model, 60)
    registry.activate(names[-1])
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    rng = random.Random(5)
    for _ in range(4):
        prune = subprocess.Popen(
            [sys.executable, "-m", "app.db", "prune", "--keep", "5", "--yes"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.0))
        prune.send_signal(signal.SIGKILL)
        prune.wait(10)
        remaining = registry.versions()
        assert names[-1] in remaining
        for name in remaining:  # every version listed is whole
            assert registry.load(name).version == name
        storage.ensure()  # a restart sweeps what a removal left behind
    assert len(registry.versions()) >= 5


def test_each_market_is_pruned_on_its_own(storage: Storage, sacramento: pd.DataFrame) -> None:
    model, card = fit_table(sacramento.head(200), folds=3, source="t")
    ames = storage.market("ames").registry
    names = [ames.save(model, card) for _ in range(4)]
    ames.activate(names[-1])
    default = storage.registry.save(model, card)
    chosen = retention.plan(storage, keep=1, market="ames")
    assert sorted(chosen.versions) == sorted(names[:3])  # all but the active one
    retention.carry_out(storage, chosen)
    assert ames.versions() == [names[3]]
    assert storage.registry.versions() == [default]


def test_pruning_a_retired_market_removes_it_whole(
    storage: Storage, settings: Settings, sacramento: pd.DataFrame
) -> None:
    model, card = fit_table(sacramento.head(200), folds=3, source="t")
    ames = storage.market("ames")
    ames.store.add(sacramento.head(200), "replace")
    ames.registry.activate(ames.registry.save(model, card))
    storage.retire("ames")
    pruned = subprocess.run(
        [sys.executable, "-m", "app.db", "prune", "--market", "ames", "--keep", "0", "--yes"],
        cwd=ROOT,
        env={**settings_env(settings), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert pruned.returncode == 0, pruned.stderr
    assert "removed retired market ames" in pruned.stdout
    assert storage.market("ames").registry.versions() == []
    assert storage.market("ames").store.uploads() == []
    assert storage.retired_markets() == []
