"""The compiled search for comps (app/domain/_knn.c): a k-d tree that finds the k nearest sales
exactly, and what they move an estimate by."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from app.domain import comps, comps_pack
from app.domain.comps import Index, Similarity, Tree
from app.domain.terms import KM_PER_DEGREE_LATITUDE

pytestmark = pytest.mark.skipif(comps.compiled() is None, reason="checked by the test of the build")
SIMILARITY = Similarity(size_km=2.0, year_km=1.0, k=10, shrink=1.0)
KM_EAST = 75.0


def sales(n: int, seed: int = 0) -> np.ndarray:
    """Points of n sales: towns of houses (km), log sizes and months, in kilometre-equivalents."""
    rng = np.random.default_rng(seed)
    towns = rng.uniform(-30, 30, size=(12, 2))
    xy = towns[rng.integers(0, 12, n)] + rng.normal(scale=2.0, size=(n, 2))
    return np.column_stack([xy, 2.0 * rng.normal(7.5, 0.4, n), rng.uniform(0, 2, n)])


def homes(n: int, seed: int = 1) -> np.ndarray:
    """Homes among the sales, and some away from them: far, very far, at a corner."""
    found = sales(n, seed)
    odd = np.array([[0, 0], [400, -300], [-5000, 0], [29.9, 30.1], [1e-9, -1e-9]])
    found[: min(n, 5), :2] = odd[: min(n, 5)]
    return found


def search(points: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    return comps.nearest(points, queries, k)


def residuals(n: int, seed: int = 2) -> np.ndarray:
    """The sales' residuals under a model, drawn at random."""
    return np.random.default_rng(seed).normal(scale=0.2, size=n)


def packed(points: np.ndarray) -> bytes:
    """These points as a market's sales, with `residuals`, packed: their first two coordinates
    as degrees, the third as a size, the fourth as a day (about two years of them)."""
    n = len(points)
    table = np.zeros(n, dtype=comps.SALE)
    table["north"] = points[:, 1] / KM_PER_DEGREE_LATITUDE
    table["east"] = points[:, 0] / KM_EAST
    table["sqft"] = np.exp(points[:, 2] / SIMILARITY.size_km)
    table["price"] = 250_000.0
    table["day"] = 16_000 + (points[:, 3] * 365).astype(np.int32)
    table["day"][::50] = comps.NO_DAY
    return comps_pack.pack(table, residuals(n), SIMILARITY, KM_EAST, 16_000 // 30 + 23_640)


def index(points: np.ndarray) -> Index:
    """An Index over these points as a market's sales (`packed`)."""
    return Index(comps_pack.read(packed(points)), SIMILARITY)


def residual_of(found: Index) -> np.ndarray:
    """Each packed sale's residual, by position."""
    return found.packed.records["residual"].astype(np.float64)


def test_the_compiled_search_is_built_in_this_install() -> None:
    assert comps.compiled() is not None, (
        "app/domain/_knn.c was not built (no C compiler?): comps are found by scipy's k-d tree, "
        "at ten times a request's cost"
    )


@pytest.mark.parametrize("k", [1, 10, 20])
def test_the_tree_finds_the_same_comps_as_scipys_k_d_tree(k: int) -> None:
    points, queries = sales(5000), homes(500)
    distance, found = search(points, queries, k)
    expected_distance, expected = cKDTree(points).query(queries, k=k)
    np.testing.assert_allclose(distance, np.reshape(expected_distance, distance.shape), rtol=1e-12)
    np.testing.assert_array_equal(found, np.reshape(expected, found.shape))


def test_sales_at_one_point_are_taken_in_order_of_position() -> None:
    points = np.repeat(sales(40), 3, axis=0)  # each sale three times
    distance, found = search(points, points[::3], 5)
    assert (distance[:, 0] == 0).all() and (distance[:, 1] == 0).all()
    positions = np.argsort(Tree(points).order)  # where each sale sits in the tree
    assert (np.diff(positions[found[:, :3]], axis=1) > 0).all()


def test_the_compiled_shift_equals_numpys_on_the_same_comps() -> None:
    points, queries = sales(3000), homes(400)
    found = index(points)
    distance, at = found.query(
        queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12, 10
    )
    expected = comps.shift_and_weight(
        residual_of(found)[at], comps.weights(distance), SIMILARITY.shrink
    )
    moved = found.shift(queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12)
    np.testing.assert_array_equal(moved[0], expected[0])
    np.testing.assert_array_equal(moved[1], expected[1])


def test_one_home_shifts_as_its_row_of_a_batch_bit_for_bit() -> None:
    found, queries = index(sales(3000)), homes(300)
    x, y, log_sqft, month = queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12
    batch, total = found.shift(x, y, log_sqft, month)
    for i in range(len(queries)):
        assert found.shift_one(x[i], y[i], log_sqft[i], month[i]) == (batch[i], total[i])


def test_without_the_compiled_search_the_same_estimates_are_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    points, queries = sales(2000), homes(200)
    args = (queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12)
    compiled = index(points).shift(*args)
    monkeypatch.setattr(comps, "_knn", None)
    fallback = index(points)
    assert hasattr(fallback, "tree")
    for found, expected in zip(fallback.shift(*args), compiled, strict=True):
        np.testing.assert_array_equal(found, expected)


def test_sales_along_one_road_are_found_as_scipys_tree_finds_them() -> None:
    points = sales(10_000)
    points[:, 1] = 0.0
    distance, found = search(points, homes(50), 10)
    expected, _ = cKDTree(points).query(homes(50), k=10)
    np.testing.assert_allclose(distance, expected, rtol=1e-12)
    assert found.shape == (50, 10)


def test_a_dense_town_of_equal_homes_is_searched_exactly() -> None:
    """Hundreds of sales at one point of one size beside a spread market: ties by position."""
    points = sales(3000)
    points[:600] = points[0]
    distance, found = search(points, points[:3], 20)
    assert (distance == 0).all() and (found < 600).all()
    np.testing.assert_array_equal(found, np.tile(found[0], (3, 1)))
    positions = np.argsort(Tree(points).order)  # where each sale sits in the tree
    assert (np.diff(positions[found], axis=1) > 0).all()


def test_sales_of_one_time_coordinate_are_searched_exactly() -> None:
    """A similarity without time (year_km 0): every sale's fourth coordinate is 0."""
    points, queries = sales(4000), homes(300)
    points[:, 3], queries[:, 3] = 0.0, 0.0
    distance, found = search(points, queries, 20)
    expected_distance, expected = cKDTree(points).query(queries, k=20)
    np.testing.assert_allclose(distance, expected_distance, rtol=1e-12)
    np.testing.assert_array_equal(found, expected)


def test_fewer_sales_than_k_give_the_rest_as_the_k_d_tree_does() -> None:
    points, queries = sales(4), homes(6)
    distance, found = search(points, queries, 6)
    expected_distance, expected = cKDTree(points).query(queries, k=6)
    np.testing.assert_array_equal(distance, expected_distance)
    np.testing.assert_array_equal(found, expected)
    assert np.isinf(distance[:, 4:]).all() and (found[:, 4:] == 4).all()


@pytest.mark.parametrize("built", [True, False])
def test_each_node_splits_its_points_at_its_value(
    built: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """None of a node's first half above its split along its coordinate, none of its second
    below; without the compiled module numpy builds such a tree too."""
    if not built:
        monkeypatch.setattr(comps, "_knn", None)
    points = sales(3001)
    made = Tree(points)
    assert sorted(made.order.tolist()) == list(range(3001))
    assert len(made.split) == comps.tree_nodes(3001) == 511
    todo = [(0, 0, 3001)]
    while todo:
        node, lo, hi = todo.pop()
        if node >= len(made.split):
            assert hi - lo <= comps.LEAF
            continue
        mid, d = lo + (hi - lo) // 2, made.dim[node]
        assert (made.points[lo:mid, d] <= made.split[node]).all()
        assert (made.points[mid:hi, d] >= made.split[node]).all()
        todo += [(2 * node + 1, lo, mid), (2 * node + 2, mid, hi)]


def test_the_search_is_exact_over_a_tree_numpy_built(monkeypatch: pytest.MonkeyPatch) -> None:
    points, queries = sales(3000), homes(200)
    monkeypatch.setattr(comps, "_knn", None)
    made = Tree(points)
    monkeypatch.undo()
    compiled = comps.compiled()
    assert compiled is not None
    distance, position = np.empty((200, 10)), np.empty((200, 10), dtype=np.int64)
    compiled.knn(made.points, made.split, made.dim, made.shape, queries, 10, distance, position, 1)
    expected_distance, expected = cKDTree(points).query(queries, k=10)
    np.testing.assert_allclose(distance, expected_distance, rtol=1e-12)
    np.testing.assert_array_equal(made.order[position], expected)


def test_a_tree_that_does_not_match_its_points_is_refused() -> None:
    made, compiled = Tree(sales(100)), comps.compiled()
    assert compiled is not None
    distance, position = np.empty((2, 5)), np.empty((2, 5), dtype=np.int64)
    with pytest.raises(ValueError, match="nodes do not match"):
        compiled.knn(
            made.points,
            made.split[:-1],
            made.dim[:-1],
            made.shape,
            homes(2),
            5,
            distance,
            position,
            1,
        )


def test_a_batch_of_many_homes_for_its_sales_shifts_as_its_homes_one_by_one() -> None:
    # 300 homes of 800 sales: the batch reads the sales' points unpacked from their records
    # once (from an eighth as many homes as sales), each single home reads the records.
    found, queries = index(sales(800)), homes(300)
    x, y, log_sqft, month = queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12
    batch, total = found.shift(x, y, log_sqft, month)
    for i in range(len(queries)):
        alone = found.shift(x[i : i + 1], y[i : i + 1], log_sqft[i : i + 1], month[i : i + 1])
        assert (alone[0][0], alone[1][0]) == (batch[i], total[i])
        assert found.shift_one(x[i], y[i], log_sqft[i], month[i]) == (batch[i], total[i])


def test_a_batch_with_a_home_that_is_not_a_finite_point_is_refused_by_its_row() -> None:
    queries = homes(200)
    queries[7, 2] = np.inf
    with pytest.raises(ValueError, match="query 7"):
        index(sales(100)).shift(queries[:, 0], queries[:, 1], queries[:, 2], queries[:, 3])


def test_a_point_that_is_not_finite_is_refused() -> None:
    queries = homes(3)
    queries[1, 0] = np.nan
    with pytest.raises(ValueError, match="query 1"):
        search(sales(100), queries, 5)


def test_the_compiled_search_refuses_more_comps_than_sales() -> None:
    made, compiled = Tree(sales(4)), comps.compiled()
    assert compiled is not None
    distance, position = np.empty((2, 5)), np.empty((2, 5), dtype=np.int64)
    with pytest.raises(ValueError, match="at most the 4 sales"):
        compiled.knn(
            made.points, made.split, made.dim, made.shape, homes(2), 5, distance, position, 1
        )


@pytest.mark.parametrize("built", [True, False])
def test_one_homes_comps_are_its_row_of_a_batch(
    built: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not built:
        monkeypatch.setattr(comps, "_knn", None)
    found, queries = index(sales(2000)), homes(100)
    x, y, log_sqft, month = queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12
    distance, rows = found.query(x, y, log_sqft, month, 7)
    for i in range(len(queries)):
        one = found.nearest_one(float(x[i]), float(y[i]), float(log_sqft[i]), float(month[i]), 7)
        assert one == (distance[i].tolist(), rows[i].tolist())


def test_a_pack_holds_at_most_40_bytes_a_sale() -> None:
    assert len(packed(sales(5000))) / 5000 <= 40


def test_an_index_reads_its_pack_in_place() -> None:
    """What a worker holds of a market's comps is the pack it maps, nothing a sale beside."""
    buffer = bytearray(packed(sales(2000)))
    found = Index(comps_pack.read(buffer), SIMILARITY)
    assert np.shares_memory(found.packed.records, np.frombuffer(buffer, np.uint8))
    assert np.shares_memory(found.packed.split, np.frombuffer(buffer, np.uint8))
    held = [getattr(found, name, None) for name in Index.__slots__]
    assert not any(isinstance(value, np.ndarray) for value in held)


def test_the_search_of_a_pack_finds_the_comps_of_a_k_d_tree_of_its_points() -> None:
    """The compiled search makes each record's point (degrees to km, months to years) as
    `Packed.points` does with numpy."""
    found, queries = index(sales(4000)), homes(300)
    x, y, log_sqft, month = queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12
    distance, at = found.query(x, y, log_sqft, month, 10)
    asked = comps.points(x, y, log_sqft, month, SIMILARITY)
    expected_distance, expected = cKDTree(found.packed.points()).query(asked, k=10)
    np.testing.assert_allclose(distance, expected_distance, rtol=1e-12)
    np.testing.assert_array_equal(at, expected)


@pytest.mark.parametrize("threads", [2, 3, 16])
def test_a_batch_shared_among_threads_is_answered_as_on_one(threads: int) -> None:
    points, queries = sales(3000), homes(2000)
    made, compiled = Tree(points), comps.compiled()
    assert compiled is not None
    found = []
    for count in (1, threads):
        distance, position = np.empty((2000, 10)), np.empty((2000, 10), dtype=np.int64)
        compiled.knn(
            made.points, made.split, made.dim, made.shape, queries, 10, distance, position, count
        )
        found.append((distance, position))
    np.testing.assert_array_equal(found[0][0], found[1][0])
    np.testing.assert_array_equal(found[0][1], found[1][1])


def test_a_batch_of_shifts_shared_among_threads_is_answered_as_on_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found, queries = index(sales(3000)), homes(3000)
    args = (queries[:, 0], queries[:, 1], queries[:, 2] / 2.0, queries[:, 3] * 12)
    monkeypatch.setattr(comps, "SHARED_FROM", 1 << 40)
    alone = found.shift(*args)
    monkeypatch.setattr(comps, "SHARED_FROM", 1)
    monkeypatch.setattr(comps, "_CORES", 3)
    assert comps.threads_for(len(queries)) == 3
    shared = found.shift(*args)
    np.testing.assert_array_equal(alone[0], shared[0])
    np.testing.assert_array_equal(alone[1], shared[1])


def test_a_tree_built_on_threads_is_the_tree_built_on_one() -> None:
    points, compiled = sales(20_000), comps.compiled()
    assert compiled is not None
    nodes = comps.tree_nodes(len(points))
    built = []
    for threads in (1, 4):
        order, split = np.empty(len(points), dtype=np.int64), np.empty(nodes)
        dim, reordered = np.empty(nodes, dtype=np.uint8), points.copy()
        compiled.tree(reordered, comps.LEAF, order, split, dim, threads)
        built.append((order, split, dim, reordered))
    for one, shared in zip(*built, strict=True):
        np.testing.assert_array_equal(one, shared)


def test_a_tree_reorders_the_points_given_only_where_asked() -> None:
    points = sales(3000)
    kept = points.copy()
    made = Tree(points)
    np.testing.assert_array_equal(points, kept)
    np.testing.assert_array_equal(made.points, kept[made.order])
    spared = Tree(points, in_place=True)
    assert np.shares_memory(spared.points, points)
    np.testing.assert_array_equal(points, kept[spared.order])


@pytest.mark.parametrize(
    ("files", "most"),
    [
        ({"cpu.max": "150000 100000\n"}, 1),  # cgroup v2, --cpus 1.5: one whole core
        ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity's cores
        ({"cpu/cpu.cfs_quota_us": "100000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),  # no control group files
    ],
)
def test_a_batch_uses_no_more_cores_than_the_cpu_quota_allows(
    files: dict[str, str], most: int | None, tmp_path: Path
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    affinity = len(os.sched_getaffinity(0))
    assert comps.allowed_cores(tmp_path) == (affinity if most is None else min(most, affinity))


@pytest.mark.parametrize(("cores", "each"), [(4, 2), (3, 1), (2, 1), (1, 1)])
def test_a_batch_shared_by_two_threads_searches_on_half_the_cores_each(
    cores: int, each: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comps, "_CORES", cores)
    assert comps.threads_for(comps.SHARED_FROM) == cores
    with comps.shared_by(2):
        assert comps.threads_for(comps.SHARED_FROM) == each
        assert comps.threads_for(comps.SHARED_FROM - 1) == 1
    assert comps.threads_for(comps.SHARED_FROM) == cores


def test_a_share_of_the_cores_is_this_threads_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comps, "_CORES", 4)
    seen: list[int] = []
    with comps.shared_by(2):
        other = threading.Thread(target=lambda: seen.append(comps.threads_for(1 << 20)))
        other.start()
        other.join()
    assert seen == [4]


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy tree, scipy search"])
def test_a_search_among_some_points_finds_what_a_tree_of_those_alone_finds(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    points, queries = sales(3000), homes(300)
    allowed = np.random.default_rng(5).random(3000) < 0.7
    if not compiled:
        monkeypatch.setattr(comps, "_knn", None)
    distance, rows = Tree(points).nearest(queries, 10, allowed)
    expected_distance, index = cKDTree(points[allowed]).query(queries, k=10)
    np.testing.assert_allclose(distance, expected_distance, rtol=1e-12)
    np.testing.assert_array_equal(rows, np.flatnonzero(allowed)[index])


def test_a_search_among_fewer_points_than_k_gives_the_rest_as_inf_at_row_n() -> None:
    points, queries = sales(500), homes(20)
    allowed = np.zeros(500, dtype=bool)
    allowed[[3, 77, 401]] = True
    distance, rows = Tree(points).nearest(queries, 5, allowed)
    assert np.isfinite(distance[:, :3]).all() and np.isinf(distance[:, 3:]).all()
    assert set(rows[:, :3].ravel().tolist()) <= {3, 77, 401}
    assert (rows[:, 3:] == 500).all()


def test_a_mask_of_another_length_than_the_points_is_refused() -> None:
    made, queries = Tree(sales(100)), homes(3)
    found = (made.points, made.split, made.dim, made.shape, queries, 5)
    out = (np.empty((3, 5)), np.empty((3, 5), dtype=np.int64), 1)
    compiled = comps.compiled()
    assert compiled is not None
    with pytest.raises(ValueError, match="allowed must hold one byte a point"):
        compiled.knn(*found, *out, np.ones(99, dtype=np.uint8))
