"""The listing store on both engines: durable uploads, no duplicates, replace keeps history,
safe under concurrent appends from several processes."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.config import Settings
from app.domain.listings import from_records, read_table
from app.storage import ListingStore, Storage, open_storage
from tests.support import SACRAMENTO

pytestmark = pytest.mark.engines("files", "postgres")


def listings(*prices: float) -> pd.DataFrame:
    return from_records({"beds": 3, "baths": 2, "sqft": 1500, "price": p} for p in prices)


def test_first_upload_starts_a_training_set(storage: Storage) -> None:
    empty = storage.store
    accepted = empty.add(listings(1, 2), "append")
    assert not accepted.duplicate and accepted.rows == 2
    assert empty.current_set() == accepted.set_id
    assert empty.batches(accepted.set_id) == [accepted.batch]


def test_appends_are_read_back_in_order(storage: Storage) -> None:
    empty = storage.store
    empty.add(listings(1, 2), "append")
    empty.add(listings(3), "append")
    snapshot = empty.snapshot()
    assert snapshot is not None
    assert empty.read(snapshot)["price"].tolist() == [1, 2, 3]
    chunks = list(empty.chunks(snapshot))
    assert np.concatenate(chunks)[:, 3].tolist() == [1, 2, 3]


def test_the_same_upload_twice_is_stored_once(storage: Storage) -> None:
    empty = storage.store
    first = empty.add(listings(1, 2), "append")
    again = empty.add(listings(1, 2), "append")
    assert again.duplicate and again.batch == first.batch
    snapshot = empty.snapshot()
    assert snapshot is not None and len(empty.read(snapshot)) == 2


def test_replace_starts_a_new_set_and_keeps_the_old_one(storage: Storage) -> None:
    empty = storage.store
    old = empty.add(listings(1, 2), "append")
    new = empty.add(listings(3), "replace")
    assert new.set_id != old.set_id
    assert empty.current_set() == new.set_id
    assert empty.batches(old.set_id) == [old.batch]
    assert set(empty.sets()) == {old.set_id, new.set_id}
    snapshot = empty.snapshot()
    assert snapshot is not None and empty.read(snapshot)["price"].tolist() == [3]


def test_replacing_with_the_same_upload_twice_is_stored_once(storage: Storage) -> None:
    first = storage.store.add(listings(1), "replace")
    again = storage.store.add(listings(1), "replace")
    assert again.duplicate and again.set_id == first.set_id


def test_a_snapshot_keeps_reading_the_same_rows_after_later_appends(storage: Storage) -> None:
    empty = storage.store
    empty.add(listings(1), "append")
    snapshot = empty.snapshot()
    empty.add(listings(2), "append")
    assert snapshot is not None and empty.read(snapshot)["price"].tolist() == [1]


def test_sale_dates_are_kept(storage: Storage) -> None:
    frame = read_table(SACRAMENTO)
    frame["sold_at"] = "2008-05-21"
    frame.loc[3, "sold_at"] = None
    storage.store.add(frame, "replace")
    snapshot = storage.store.snapshot()
    assert snapshot is not None
    back = storage.store.read(snapshot)
    assert back["sold_at"].iloc[0] == "2008-05-21" and pd.isna(back["sold_at"].iloc[3])
    assert back["price"].tolist() == frame["price"].tolist()


def test_a_csv_upload_and_a_file_give_the_same_rows_in_chunks(
    storage: Storage, tmp_path: Path
) -> None:
    payload = SACRAMENTO.read_bytes()
    storage.store.add_bytes(payload, 932, "replace")
    one = storage.store.snapshot()
    copy = tmp_path / "again.csv"
    copy.write_bytes(payload.replace(b"\n", b"\r\n"))  # other bytes, same rows
    storage.store.add_file(copy, 932, "replace")
    two = storage.store.snapshot()
    assert one is not None and two is not None and one.set_id != two.set_id
    first = np.concatenate(list(storage.store.chunks(one, chunk_rows=100)))
    second = np.concatenate(list(storage.store.chunks(two, chunk_rows=1000)))
    expected = read_table(SACRAMENTO)[["beds", "baths", "sqft", "price"]].to_numpy()
    assert np.array_equal(first, expected) and np.array_equal(second, expected)
    assert [len(c) for c in storage.store.chunks(one, chunk_rows=300)] == [300, 300, 300, 32]


def _append_many(settings: Settings, worker: int, count: int) -> None:
    storage = open_storage(settings)
    for i in range(count):
        storage.store.add(listings(worker * 1000 + i + 1), "append")
    storage.close()


def test_concurrent_appends_from_several_processes_are_all_kept_once(
    storage: Storage, settings: Settings
) -> None:
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(settings, w, 15)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store: ListingStore = storage.store
    snapshot = store.snapshot()
    assert snapshot is not None
    prices = store.read(snapshot)["price"].tolist()
    expected = [w * 1000 + i + 1 for w in range(4) for i in range(15)]
    assert sorted(prices) == sorted(expected)
    assert len(store.batches(snapshot.set_id)) == 60
    assert len(np.concatenate(list(store.chunks(snapshot)))) == 60
