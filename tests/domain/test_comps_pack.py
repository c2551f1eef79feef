"""A market's comps packed in one buffer: what a listing reads back, and damage refused."""

from __future__ import annotations

import numpy as np
import pytest

from app.domain import comps, comps_pack
from app.domain.comps import Similarity
from app.domain.comps_pack import DamagedPack

SIMILARITY = Similarity(size_km=2.0, year_km=1.0, k=10, shrink=1.0)
KM_EAST = 75.0


def sales(n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(4)
    X = np.column_stack(
        [rng.integers(0, 6, n), rng.choice([1.0, 1.75, 2.5], n), rng.uniform(600, 4000, n)]
    )
    price = rng.integers(100_000, 2_000_000, n).astype(np.float64)
    price[:3] = [123_456.78, 25_000_001.0, 0.1]  # a float32 holds none of them exactly
    day = rng.integers(16_000, 16_400, n)
    day[3] = comps.NO_DAY
    area = rng.integers(-1, 40, n)
    north, east = rng.normal(0, 0.1, n), rng.normal(0, 0.1, n)
    return comps.table(X, price, north, east, day, area)


def packed(table: np.ndarray) -> bytes:
    residual = np.random.default_rng(5).normal(0, 0.2, len(table))
    return comps_pack.pack(table, residual, SIMILARITY, KM_EAST, 24_200)


def listed_sale(table: np.ndarray, i: int) -> tuple[object, ...]:
    names = ["north", "east", "price", "sqft", "baths", "day", "area_beds"]
    found: tuple[object, ...] = table[names][i].tolist()
    return found


def test_a_listing_reads_back_each_sale_as_it_was_given() -> None:
    table = sales()
    found = comps_pack.read(packed(table))
    listed = found.listed(list(range(len(found))))
    assert sorted(listed) == sorted(listed_sale(table, i) for i in range(len(table)))


def test_prices_a_float32_rounds_are_listed_exactly() -> None:
    table = sales()
    found = comps_pack.read(packed(table))
    prices = {row[2] for row in found.listed(list(range(len(found))))}
    assert {123_456.78, 25_000_001.0, 0.1} <= prices
    assert len(found.prices) >= 3


def test_the_records_are_in_the_order_of_their_k_d_tree() -> None:
    found = comps_pack.read(packed(sales()))
    points, leaf = found.points(), found.shape[0]
    assert len(found.split) == comps.tree_nodes(len(found), leaf)
    todo = [(0, 0, len(found))]
    while todo:
        node, lo, hi = todo.pop()
        if node >= len(found.split):
            assert hi - lo <= leaf
            continue
        mid, d = lo + (hi - lo) // 2, found.dim[node]
        assert (points[lo:mid, d] <= found.split[node]).all()
        assert (points[mid:hi, d] >= found.split[node]).all()
        todo += [(2 * node + 1, lo, mid), (2 * node + 2, mid, hi)]


def test_a_tree_of_a_coordinate_the_sales_do_not_have_is_refused() -> None:
    buffer = bytearray(packed(sales()))
    found = comps_pack.read(buffer)
    at = comps_pack.HEADER.itemsize + 8 * len(found.split)  # the first node's coordinate
    buffer[at] = 4
    with pytest.raises(DamagedPack, match="coordinate"):
        comps_pack.read(buffer, verify=False)


def test_an_undated_sale_is_searched_at_the_newest_month() -> None:
    found = comps_pack.read(packed(sales()))
    undated = found.records["day"] == 0
    assert undated.sum() == 1
    assert found.points()[undated, 3][0] == SIMILARITY.year_km / 12.0 * 24_200


@pytest.mark.parametrize("at", [0, 200, -1])
def test_a_changed_byte_is_refused(at: int) -> None:
    buffer = bytearray(packed(sales()))
    buffer[at] ^= 0x10
    with pytest.raises(DamagedPack):
        comps_pack.read(buffer)


def test_a_pack_cut_short_is_refused() -> None:
    buffer = packed(sales())
    with pytest.raises(DamagedPack, match="bytes"):
        comps_pack.read(buffer[:-8], verify=False)
    with pytest.raises(DamagedPack, match="header"):
        comps_pack.read(buffer[:20])


def test_a_pack_whose_digest_ends_in_zeros_is_read() -> None:
    """(numpy's fixed-size bytes drop trailing zeros: the digest is compared as bytes)"""
    table = sales(20)
    at = comps_pack.HEADER.fields["digest"][1] + 15 if comps_pack.HEADER.fields else 0
    for seed in range(5000):
        residual = np.random.default_rng(seed).normal(0, 0.2, len(table))
        buffer = comps_pack.pack(table, residual, SIMILARITY, KM_EAST, 24_200)
        if buffer[at] == 0:
            break
    assert buffer[at] == 0
    assert len(comps_pack.read(buffer)) == 20
