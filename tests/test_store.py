"""The listing store: durable uploads, no duplicates, replace keeps history, concurrency-safe."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pandas as pd
import pytest

from app.errors import BadInput
from app.listings import from_records, read_table
from app.store import Store
from tests.conftest import SACRAMENTO


def listings(*prices: float) -> pd.DataFrame:
    return from_records({"beds": 3, "baths": 2, "sqft": 1500, "price": p} for p in prices)


@pytest.fixture
def empty(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")


def test_first_upload_starts_a_training_set(empty: Store) -> None:
    accepted = empty.add(listings(1, 2), "append")
    assert not accepted.duplicate and accepted.rows == 2
    assert empty.current_set() == accepted.set_id
    assert empty.batches(accepted.set_id) == [accepted.batch]


def test_appends_are_read_back_in_order(empty: Store) -> None:
    empty.add(listings(1, 2), "append")
    empty.add(listings(3), "append")
    snapshot = empty.snapshot()
    assert snapshot is not None
    assert empty.read(snapshot)["price"].tolist() == [1, 2, 3]


def test_the_same_upload_twice_is_stored_once(empty: Store) -> None:
    first = empty.add(listings(1, 2), "append")
    again = empty.add(listings(1, 2), "append")
    assert again.duplicate and again.batch == first.batch
    snapshot = empty.snapshot()
    assert snapshot is not None and len(empty.read(snapshot)) == 2


def test_replace_starts_a_new_set_and_keeps_the_old_one(empty: Store) -> None:
    old = empty.add(listings(1, 2), "append")
    new = empty.add(listings(3), "replace")
    assert new.set_id != old.set_id
    assert empty.current_set() == new.set_id
    assert empty.batches(old.set_id) == [old.batch]
    snapshot = empty.snapshot()
    assert snapshot is not None and empty.read(snapshot)["price"].tolist() == [3]


def test_replacing_with_the_same_upload_twice_is_stored_once(empty: Store) -> None:
    first = empty.add(listings(1), "replace")
    again = empty.add(listings(1), "replace")
    assert again.duplicate and again.set_id == first.set_id


def test_a_snapshot_keeps_reading_the_same_rows_after_later_appends(empty: Store) -> None:
    empty.add(listings(1), "append")
    snapshot = empty.snapshot()
    empty.add(listings(2), "append")
    assert snapshot is not None and empty.read(snapshot)["price"].tolist() == [1]


def test_other_columns_and_sale_dates_are_kept(empty: Store) -> None:
    frame = read_table(SACRAMENTO)
    frame["sold_at"] = "2008-05-21"
    empty.add(frame, "replace")
    snapshot = empty.snapshot()
    assert snapshot is not None
    back = empty.read(snapshot)
    assert back["city"].tolist() == frame["city"].tolist()
    assert set(back["sold_at"]) == {"2008-05-21"}
    assert back["price"].tolist() == frame["price"].tolist()


def test_a_tampered_file_is_refused_on_read(empty: Store) -> None:
    accepted = empty.add(listings(1, 2), "append")
    (empty.sets_dir / accepted.set_id / accepted.batch).write_text(
        "beds,baths,sqft,price\n3,2,x,1\n"
    )
    snapshot = empty.snapshot()
    assert snapshot is not None
    with pytest.raises(BadInput):
        empty.read(snapshot)


def test_no_temporary_files_are_left_behind(empty: Store) -> None:
    empty.add(listings(1), "append")
    empty.add(listings(2), "replace")
    assert not [p for p in empty.root.rglob("*") if p.name.endswith(".tmp")]


def _append_many(data_dir: str, worker: int, count: int) -> None:
    store = Store(Path(data_dir))
    for i in range(count):
        store.add(listings(worker * 1000 + i + 1), "append")


def test_concurrent_appends_from_several_processes_are_all_kept_once(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_append_many, args=(str(tmp_path / "data"), w, 15)) for w in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = Store(tmp_path / "data")
    snapshot = store.snapshot()
    assert snapshot is not None
    prices = store.read(snapshot)["price"].tolist()
    expected = [w * 1000 + i + 1 for w in range(4) for i in range(15)]
    assert sorted(prices) == sorted(expected)
    assert len(store.batches(snapshot.set_id)) == 60
