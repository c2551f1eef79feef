"""Retrain jobs on both engines: stored state, one fit at a time, interrupted jobs finished or
failed."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.domain.errors import NotFound
from app.domain.listings import fingerprint, from_records
from app.service.jobs import MAX_ATTEMPTS, run_pending
from app.service.runner import settings_env
from app.storage import JobStore, ListingStore, Registry, Storage
from tests.support import ROOT

pytestmark = pytest.mark.engines("files", "postgres")


@pytest.fixture
def jobs(storage: Storage) -> JobStore:
    return storage.jobs


def test_a_queued_job_is_fitted_and_promoted(
    storage: Storage,
    settings: Settings,
    store: ListingStore,
    registry: Registry,
    fitted: str,
    jobs: JobStore,
) -> None:
    job = jobs.create(mode="append", force=False)
    assert run_pending(settings, storage) == 1
    done = jobs.get(job["job_id"])
    assert done["status"] == "succeeded"
    assert done["promoted"] is True and done["active_version"] == done["version"] != fitted
    assert done["n_train"] == 932
    assert done["metrics"]["r2"] == pytest.approx(0.594, abs=0.0005)
    card = registry.card(done["version"])
    snapshot = store.snapshot()
    assert snapshot is not None
    assert card["training"]["set"] == snapshot.set_id
    assert card["training"]["batches"] == list(snapshot.batches)
    assert card["training"]["method"] == "sufficient statistics, read in chunks"
    assert card["training"]["fingerprint"] == fingerprint(store.read(snapshot))
    assert jobs.pending() == []


def test_a_job_with_an_empty_store_fails_with_the_reason(
    storage: Storage, settings: Settings, jobs: JobStore
) -> None:
    job = jobs.create(mode="append", force=False)
    run_pending(settings, storage)
    done = jobs.get(job["job_id"])
    assert done["status"] == "failed"
    assert "listing store is empty" in done["reason"]


def test_a_job_interrupted_once_is_run_again(
    storage: Storage, settings: Settings, store: ListingStore, fitted: str, jobs: JobStore
) -> None:
    job = jobs.update(jobs.create(mode="append", force=False), status="running", attempts=1)
    run_pending(settings, storage)
    done = jobs.get(job["job_id"])
    assert done["status"] == "succeeded" and done["attempts"] == 2


def test_a_job_interrupted_too_often_is_failed_with_the_reason(
    storage: Storage, settings: Settings, store: ListingStore, jobs: JobStore
) -> None:
    job = jobs.create(mode="append", force=False)
    jobs.update(job, status="running", attempts=MAX_ATTEMPTS)
    run_pending(settings, storage)
    done = jobs.get(job["job_id"])
    assert done["status"] == "failed"
    assert "interrupted" in done["reason"] and "next fit includes them" in done["reason"]


def test_force_promotes_what_the_gate_holds_back(
    storage: Storage, settings: Settings, registry: Registry, fitted: str, jobs: JobStore
) -> None:
    store = storage.store
    few = from_records(
        {"beds": 3, "baths": 2, "sqft": 1000 + i, "price": 1e5 + i} for i in range(6)
    )
    store.add(few, "replace")
    held = jobs.create(mode="replace", force=False)
    run_pending(settings, storage)
    assert jobs.get(held["job_id"])["promoted"] is False
    assert registry.active_version() == fitted
    forced = jobs.create(mode="replace", force=True)
    run_pending(settings, storage)
    done = jobs.get(forced["job_id"])
    assert done["promoted"] is True and done["reason"].startswith("forced")
    assert registry.active_version() == done["version"]


def test_unknown_and_malformed_job_ids_are_not_found(jobs: JobStore) -> None:
    with pytest.raises(NotFound):
        jobs.get("0" * 32)
    with pytest.raises(NotFound):
        jobs.get("../../etc/passwd")


def test_a_fitting_process_passes_over_a_market_another_process_is_fitting(
    storage: Storage, settings: Settings, store: ListingStore, fitted: str, jobs: JobStore
) -> None:
    job = jobs.create(mode="append", force=False)
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    with storage.market("default").fit_lock():
        child = subprocess.run([sys.executable, "-m", "app.service.jobs"], cwd=ROOT, env=env)
        assert child.returncode == 0
        assert jobs.get(job["job_id"])["status"] == "queued"  # left to the lock's holder
    child = subprocess.run([sys.executable, "-m", "app.service.jobs"], cwd=ROOT, env=env)
    assert child.returncode == 0
    assert jobs.get(job["job_id"])["status"] == "succeeded"


def test_the_child_environment_carries_the_settings_but_not_the_key(settings: Settings) -> None:
    env = settings_env(settings)
    assert env["HOUSE_PRICE_MODEL_DIR"] == str(settings.model_dir)
    assert env["HOUSE_PRICE_DATA_DIR"] == str(settings.data_dir)
    assert env["HOUSE_PRICE_POLL_INTERVAL"] == str(settings.poll_interval)
    assert "HOUSE_PRICE_API_KEY" not in env


def test_settings_are_written_so_that_the_child_reads_them_back(
    settings: Settings, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from app.config import Settings; print(Settings().model_dir)"],
        cwd=tmp_path,
        env={**settings_env(settings), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == str(settings.model_dir)


def test_the_training_window_setting_limits_a_retrain_to_recent_sales(
    storage: Storage, settings: Settings, fitted: str
) -> None:
    settings = settings.model_copy(update={"training_window_days": 30})
    store = storage.store
    rows = [
        {
            "beds": 2 + i % 3,
            "baths": 2,
            "sqft": 900 + 9 * i,
            "price": 1e5 + 700 * i,
            "sold_at": f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}",
        }
        for i in range(200)
    ]
    store.add(from_records(rows), "replace")
    jobs = storage.jobs
    job = jobs.create(mode="replace", force=True)
    run_pending(settings, storage)
    done = jobs.get(job["job_id"])
    assert done["status"] == "succeeded", done
    window = storage.registry.card(done["version"])["training"]["window"]
    assert window["days"] == 30 and done["n_train"] == window["rows_in_window"] < 200


def test_a_retrain_card_gives_the_first_and_last_sale_date(
    storage: Storage, settings: Settings, fitted: str
) -> None:
    rows = [
        {"beds": 2 + i % 3, "baths": 2, "sqft": 900 + 9 * i, "price": 1e5 + 700 * i}
        | ({"sold_at": f"2026-{3 + i % 5:02d}-{10 + i % 9:02d}"} if i % 4 else {})
        for i in range(120)
    ]
    storage.store.add(from_records(rows), "replace")
    job = storage.jobs.create(mode="replace", force=True)
    run_pending(settings, storage)
    done = storage.jobs.get(job["job_id"])
    assert done["status"] == "succeeded", done
    sold = storage.registry.card(done["version"])["training"]["sold_at"]
    assert sold == {"first": "2026-03-10", "last": "2026-07-18", "rows_with_date": 90}


def test_a_fit_the_user_can_fix_is_logged_in_one_line_without_a_traceback(
    storage: Storage, settings: Settings, jobs: JobStore, caplog: pytest.LogCaptureFixture
) -> None:
    storage.store.add(
        from_records({"beds": 3, "baths": 2, "sqft": 1000 + i, "price": 1e5 + i} for i in range(2)),
        "replace",
    )
    job = jobs.create(mode="replace", force=False)
    with caplog.at_level(logging.INFO, logger="app.service.jobs"):
        run_pending(settings, storage)
    done = jobs.get(job["job_id"])
    assert done["status"] == "failed"
    assert done["reason"].startswith("need at least 4 listings to fit a model, got 2")
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage() == f"job {job['job_id']} failed: {done['reason']}"


def test_a_fit_that_fails_by_a_bug_is_logged_with_its_traceback(
    storage: Storage,
    settings: Settings,
    store: ListingStore,
    jobs: JobStore,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("app.service.training.fit_stream", broken)
    monkeypatch.setattr("app.service.training.fit_located_table", broken)
    job = jobs.create(mode="append", force=False)
    run_pending(settings, storage)
    assert jobs.get(job["job_id"])["reason"] == "ZeroDivisionError: a bug"
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_the_fitting_process_says_in_one_json_line_that_the_storage_is_gone() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.service.jobs"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "HOUSE_PRICE_DATABASE_URL": "postgresql://house:pw-9f1c@127.0.0.1:9/nowhere",
            "HOUSE_PRICE_DB_CONNECT_TIMEOUT": "1",
            "HOUSE_PRICE_LOG_FORMAT": "json",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [line["level"] for line in lines] == ["warning"], lines
    assert "the fitting process stops" in lines[0]["message"] and "pw-9f1c" not in done.stderr
