"""What only the PostgreSQL engine has: the schema's migrations, NOTIFY, the advisory fit lock
held by a session, streaming rows, copying a file deployment, and no password anywhere."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import pickle
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app.api.factory import create_app
from app.cli.db import copy
from app.config import Settings
from app.domain.errors import ServiceError, Unavailable
from app.domain.fitting import fit_stream, fit_table
from app.domain.listings import read_chunks, read_table
from app.service.jobs import MAX_ATTEMPTS, run_pending
from app.service.runner import settings_env
from app.storage import Storage, open_storage
from app.storage.files.storage import FileStorage
from app.storage.postgres.database import database_errors, redact
from app.storage.postgres.schema import MIGRATIONS
from app.storage.postgres.storage import PostgresStorage
from app.storage.signing import Signer
from tests.api.test_planted_versions import Planted
from tests.damage import plant_artifact
from tests.support import API_KEY, ROOT, SACRAMENTO, make_settings, synthetic_listings

pytestmark = pytest.mark.engines("postgres")


def pg(storage: Storage) -> PostgresStorage:
    assert isinstance(storage, PostgresStorage)
    return storage


def _upgrade(url: str) -> None:
    storage = PostgresStorage(url)
    storage.ensure()
    storage.close()


def test_the_schema_is_created_once_when_replicas_start_together(settings: Settings) -> None:
    url = settings.database_url.get_secret_value() if settings.database_url else ""
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_upgrade, args=(url,)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(len(MIGRATIONS),)]


def test_upgrading_an_upgraded_schema_applies_nothing(storage: Storage) -> None:
    from app.storage.postgres.schema import upgrade

    with pg(storage).db.connection() as conn:
        assert upgrade(conn) == []


def test_a_listening_worker_learns_of_an_activation_at_once(
    settings: Settings, storage: Storage, sacramento: object
) -> None:
    version = storage.registry.save(*fit_table(read_table(SACRAMENTO), folds=5, source="t"))
    listener = open_storage(settings, listen=True)
    try:
        assert pg(listener).listener is not None
        assert pg(listener).listener.connected.wait(10)  # type: ignore[union-attr]
        listener.wait_for_change(0.2)  # the wake-up every new connection gives
        start = time.monotonic()
        storage.registry.activate(version)
        assert listener.wait_for_change(5) == {"default"}
        assert time.monotonic() - start < 0.4
        assert listener.registry.active_version() == version
    finally:
        listener.close()


def test_a_dropped_listening_connection_reconnects_by_itself(
    settings: Settings, storage: Storage
) -> None:
    version = storage.registry.save(*fit_table(read_table(SACRAMENTO), folds=5, source="t"))
    listener = open_storage(settings, listen=True)
    try:
        watcher = pg(listener).listener
        assert watcher is not None and watcher.connected.wait(10)
        watcher.drop()
        deadline = time.monotonic() + 10
        while not watcher.connected.is_set() or watcher._conn is None:
            assert time.monotonic() < deadline, "the listener never came back"
            time.sleep(0.05)
        time.sleep(0.3)
        listener.wait_for_change(0.1)
        storage.registry.activate(version)
        assert watcher.changed.wait(2)
    finally:
        listener.close()


def test_the_fit_lock_is_held_by_a_session_and_freed_when_its_process_dies(
    storage: Storage, settings: Settings
) -> None:
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom app.config import Settings\nfrom app.storage import open_storage\n"
            "s = open_storage(Settings())\nwith s.market('default').fit_lock():\n"
            " print('held', flush=True)\n time.sleep(60)",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert storage.market("default").fit_lock_free() is False
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not storage.market("default").fit_lock_free():
            assert time.monotonic() < deadline, "the lock outlived its process"
            time.sleep(0.05)
    finally:
        holder.kill()


def test_a_fit_killed_twice_is_run_again_once_then_failed_with_the_reason(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    synthetic_listings(1_500_000, seed=1).to_csv(big, index=False)
    storage.store.add_file(big, 1_500_000, "replace")
    job = storage.jobs.create(mode="replace", force=False)
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        child = subprocess.Popen([sys.executable, "-m", "app.service.jobs"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while storage.jobs.get(job["job_id"])["attempts"] < attempt:
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)  # mid-fit: the job is left `running`
        child.wait(10)
        assert storage.jobs.get(job["job_id"])["status"] == "running"
    run_pending(settings, storage)
    done = storage.jobs.get(job["job_id"])
    assert done["status"] == "failed" and done["attempts"] == MAX_ATTEMPTS
    assert "interrupted 2 times" in done["reason"]


def test_rows_streamed_from_the_database_fit_as_the_file_does(
    storage: Storage, tmp_path: Path
) -> None:
    path = tmp_path / "sales.csv"
    synthetic_listings(30_000, seed=7).to_csv(path, index=False)
    storage.store.add_file(path, 30_000, "replace")
    snapshot = storage.store.snapshot()
    assert snapshot is not None
    from_db, _ = fit_stream(list(storage.store.chunks(snapshot, 7_001)), folds=5, source="t")
    from_file, _ = fit_stream(list(read_chunks(path, 7_001)), folds=5, source="t")
    np.testing.assert_allclose(from_db.weights, from_file.weights, rtol=1e-9)
    assert from_db.intercept == pytest.approx(from_file.intercept, rel=1e-9)


def test_a_file_deployment_copied_serves_the_same_and_copies_nothing_twice(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    files = FileStorage(tmp_path / "files-models", tmp_path / "files-data")
    files.ensure()
    frame = read_table(SACRAMENTO)
    first = files.store.add(frame, "replace")
    files.store.add(frame.head(300), "append")
    versions = [files.registry.save(*fit_table(frame, folds=5, source="t")) for _ in range(2)]
    files.store.add(frame.tail(200), "replace")
    files.registry.activate(versions[0])
    files.jobs.create(mode="append", force=False)
    target = pg(storage)
    done = copy(files, target)
    counts = {"versions": 2, "uploads": 3, "jobs": 1}
    assert done.copied == {**counts, "active pointer": 1, "audit entries": 7}
    again = copy(files, target)
    assert again.copied == {} and again.present == {**counts, "audit entries": 7}
    # The trail as it was, then the copy's own change: the pointer it set.
    copied = target.audit.all()
    assert [e["uid"] for e in copied[:7]] == [e["uid"] for e in files.audit.all()]
    assert [(e["action"], e["version"]) for e in copied[7:]] == [("activation", versions[0])]
    assert "python -m app.db copy" in copied[7]["by"]
    assert sorted(target.registry.versions()) == sorted(versions)
    assert target.registry.active_version() == versions[0]
    for version in versions:
        assert target.registry.artifact(version) == files.registry.artifact(version)
        assert target.registry.card(version) == files.registry.card(version)
    served = target.registry.load(versions[0]).model
    assert served.explain(3, 2, 1500, 0.9) == files.registry.load(versions[0]).model.explain(
        3, 2, 1500, 0.9
    )
    assert target.store.sets() == files.store.sets()
    assert target.store.batches(first.set_id) == files.store.batches(first.set_id)
    assert target.store.current_set() == files.store.current_set()
    old = target.store.snapshot()
    assert old is not None
    assert target.store.read(old)["price"].tolist() == frame.tail(200)["price"].tolist()
    assert [j["job_id"] for j in target.jobs.all()] == [j["job_id"] for j in files.jobs.all()]


def test_an_unreachable_database_is_unavailable_and_never_shows_the_password() -> None:
    url = "postgresql://house:s3cr3t-pw@127.0.0.1:9/nowhere"
    storage = PostgresStorage(url, connect_timeout=1)
    try:
        with pytest.raises(Unavailable) as raised:
            storage.registry.active_version()
    finally:
        storage.close()
    assert raised.value.retry_after == 5
    assert "s3cr3t-pw" not in str(raised.value.detail)
    assert "s3cr3t-pw" not in redact(url) and "house@127.0.0.1:9/nowhere" in redact(url)


def test_database_errors_leave_other_errors_alone() -> None:
    with pytest.raises(ValueError), database_errors():
        raise ValueError("not a database problem")


def test_logs_of_a_failed_connection_hold_no_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    storage = PostgresStorage(
        "postgresql://house:s3cr3t-pw@127.0.0.1:9/nowhere", connect_timeout=1, listen=True
    )
    time.sleep(1.5)
    storage.close()
    # Something was logged about the failed attempts (else the check below proves nothing).
    assert "port 9" in caplog.text
    assert "s3cr3t-pw" not in caplog.text


def test_the_listings_view_shows_every_sale_exactly_as_stored(
    storage: Storage, settings: Settings
) -> None:
    rng = np.random.default_rng(3)
    frame = read_table(SACRAMENTO).head(300).copy()
    frame["price"] = rng.uniform(1, 2e6, len(frame))  # no round numbers: every bit counts
    frame["sqft"] = rng.uniform(50, 1e5, len(frame))
    frame["sold_at"] = [f"2026-01-{1 + i % 28:02d}" if i % 3 else "" for i in range(len(frame))]
    storage.store.add(frame, "replace")
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        rows = conn.execute(
            "SELECT beds, baths, sqft, price, to_char(sold_at, 'YYYY-MM-DD') FROM listings "
            "ORDER BY seq, chunk, line"
        ).fetchall()
    expected = frame[["beds", "baths", "sqft", "price"]].to_numpy()
    assert np.array_equal(np.array([r[:4] for r in rows]), expected)
    assert [r[4] or "" for r in rows] == frame["sold_at"].tolist()


def test_replicas_starting_together_on_an_empty_database_fit_the_bundled_sales_once(
    settings: Settings,
) -> None:
    # What each compose replica runs before serving.
    command = [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), "--if-no-active"]
    env = {**settings_env(settings), "PATH": "/usr/bin:/bin"}
    starts = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in starts]
    assert [p.returncode for p in starts] == [0, 0, 0]
    assert sum("nothing to fit" in out for out in outputs) == 2
    storage = open_storage(settings)
    try:
        assert len(storage.registry.versions()) == 1
        assert len(storage.store.uploads()) == 1
    finally:
        storage.close()


@pytest.fixture
def sql_ascii_url(database_server: str) -> Iterator[str]:
    """A database of its own whose encoding is SQL_ASCII, as `initdb` with no locale makes."""
    name = f"hp_ascii_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE DATABASE {} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' "
                "TEMPLATE template0"
            ).format(sql.Identifier(name))
        )
    yield make_conninfo(database_server, dbname=name)
    with psycopg.connect(database_server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_a_sql_ascii_database_stores_fits_and_serves_like_any_other(
    sql_ascii_url: str, tmp_path: Path
) -> None:
    with psycopg.connect(sql_ascii_url) as conn:
        assert conn.info.parameter_status("server_encoding") == "SQL_ASCII"
    env = {**settings_env(make_settings(tmp_path, tmp_path, database_url=sql_ascii_url))}
    train = subprocess.run(
        [sys.executable, "-m", "app.train", "--data", str(SACRAMENTO), "--plain"],
        cwd=ROOT, env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    settings = make_settings(tmp_path, tmp_path, database_url=sql_ascii_url)
    with TestClient(create_app(settings)) as client:
        card = client.get("/model").json()
        assert card["training"]["rows"] == 932
        # The card holds characters beyond ASCII (×), stored and read back as they are.
        assert any(ord(c) > 127 for c in json.dumps(card, ensure_ascii=False))
        retrain = client.post(
            "/retrain?wait=true",
            json={"listings": [{"beds": 3, "baths": 2, "sqft": 1500, "price": 249000}]},
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
        assert retrain.status_code == 200 and retrain.json()["status"] == "succeeded", retrain.text
        assert client.get("/model").json()["training"]["rows"] == 933
        answer = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
        assert answer.status_code == 200
        assert answer.headers["X-Model-Version"] == retrain.json()["version"]


def test_the_copy_refuses_a_planted_version_naming_what_it_holds(
    storage: Storage, tmp_path: Path
) -> None:
    files = FileStorage(tmp_path / "files-models", tmp_path / "files-data")
    files.ensure()
    version = files.registry.save(*fit_table(read_table(SACRAMENTO), folds=5, source="t"))
    marker = tmp_path / "created-by-the-planted-pickle"
    planted = pickle.dumps(Planted(f"touch {marker}"), protocol=4)
    plant_artifact(files, make_settings(tmp_path / "files-models", tmp_path), version, planted)
    with pytest.raises(ServiceError) as refused:
        copy(files, pg(storage))
    assert refused.value.message == (
        f"model version {version}: refused: the artifact names `posix.system`, which no model "
        "holds; not copied"
    )
    assert pg(storage).registry.versions() == [] and not marker.exists()


def test_a_signed_deployment_copied_keeps_every_signature_valid(
    storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    signer = Signer(b"k" * 32)
    files = FileStorage(tmp_path / "files-models", tmp_path / "files-data", signer)
    files.ensure()
    version = files.registry.save(*fit_table(read_table(SACRAMENTO), folds=5, source="t"))
    files.registry.activate(version)
    target = PostgresStorage(settings.database_url.get_secret_value(), signer=signer)  # type: ignore[union-attr]
    try:
        copy(files, target)
        assert (
            target.registry.load(version).card["signature"]
            == files.registry.card(version)["signature"]
        )
        assert target.load_many({"default": version})["default"].version == version  # type: ignore[union-attr]
    finally:
        target.close()


def test_a_file_deployment_of_several_markets_is_copied_market_by_market(
    storage: Storage, tmp_path: Path
) -> None:
    files = FileStorage(tmp_path / "files-models", tmp_path / "files-data")
    files.ensure()
    frame = read_table(SACRAMENTO)
    versions = {}
    for market, rows in (("ames", frame.head(300)), ("elk-grove", frame.tail(300))):
        files.market(market).store.add(rows, "replace")
        registry = files.market(market).registry
        versions[market] = registry.save(*fit_table(rows, folds=5, source=market))
        registry.activate(versions[market])
    files.retire("elk-grove")
    target = pg(storage)
    done = copy(files, target)
    assert done.copied == {
        **{"versions": 2, "uploads": 2, "active pointer": 2, "retired market": 1},
        "audit entries": 7,  # two uploads, saves and activations, and a retirement
    }
    assert target.pointers() == {"ames": versions["ames"]}
    assert target.market_of(versions["elk-grove"]) == "elk-grove"
    assert target.retired_markets() == ["elk-grove"]
    ames = target.market("ames").store
    snapshot = ames.snapshot()
    assert snapshot is not None and len(ames.read(snapshot)) == 300
    assert target.registry.versions() == []
