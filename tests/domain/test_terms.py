"""The penalised solve of a located model's terms, and the penalties chosen from the data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.domain.design import design, solve
from app.domain.terms import (
    HASHED_FROM,
    NO_KEY,
    KeyOffsets,
    Projection,
    codes,
    moment_strength,
    penalty,
    time_strength,
)


def _system(seed: int = 0) -> tuple[Any, Any, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 400
    size = rng.normal(size=(n, 4))
    areas = rng.integers(-1, 12, n)  # -1: a sale without an area
    cells = rng.integers(-1, 60, n)
    months = rng.integers(-1, 9, n)
    y = size @ [0.1, 0.2, 0.6, -0.05] + rng.normal(0, 0.3, 12)[areas] + rng.normal(size=n)
    groups = [("area", areas.astype(np.intp), 12), ("cell 0.5 km", cells.astype(np.intp), 60)]
    matrix, blocks = design(size, groups, months.astype(np.intp), 9)
    strengths = {"area": 2.5, "cell 0.5 km": 7.0, "time": 40.0}
    return matrix, penalty(blocks, strengths), y


def test_penalised_solve_equals_a_dense_numpy_solve_of_the_same_system() -> None:
    matrix, penalties, y = _system()
    beta = solve(matrix, penalties, y)
    dense = np.asarray(matrix.toarray())
    reference = np.linalg.solve(
        dense.T @ dense + np.asarray(penalties.toarray()),
        dense.T @ y,
    )
    np.testing.assert_allclose(beta, reference, rtol=1e-6, atol=1e-9)


def test_the_solution_minimises_the_penalised_sum_of_squares() -> None:
    matrix, penalties, y = _system(1)
    beta = solve(matrix, penalties, y)

    def loss(b: np.ndarray) -> float:
        r = y - matrix @ b
        return float(r @ r + b @ (penalties @ b))

    rng = np.random.default_rng(2)
    for _ in range(5):
        assert loss(beta) < loss(beta + 1e-3 * rng.normal(size=len(beta)))


def test_month_penalty_is_a_random_walk_pinned_at_the_newest_month() -> None:
    _, blocks = design(np.zeros((3, 1)), [], np.array([0, 1, 2], dtype=np.intp), 3)
    matrix = penalty(blocks, {"time": 1.0}).toarray()
    months = matrix[blocks.months[0] :, blocks.months[0] :]
    # (m0, m1, pinned 0): differences m1 - m0 and 0 - m1.
    np.testing.assert_array_equal(months, [[1.0, -1.0], [-1.0, 2.0]])


def test_a_grouping_that_explains_nothing_is_penalised_to_nil() -> None:
    rng = np.random.default_rng(0)
    residual = rng.normal(size=5000)
    groups = rng.integers(0, 50, 5000).astype(np.intp)
    assert moment_strength(residual, groups, 50) > 1e3


def test_a_grouping_with_real_effects_is_penalised_lightly() -> None:
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 50, 5000).astype(np.intp)
    residual = rng.normal(0, 1.0, 50)[groups] + rng.normal(size=5000)
    # σ² / τ² = 1 / 1: about 1.
    assert 0.5 < moment_strength(residual, groups, 50) < 2.0


def test_a_flat_price_index_gets_a_strong_smoothing_penalty() -> None:
    sizes = np.full(12, 500.0)
    flat = np.asarray(np.random.default_rng(0).normal(0, (2 / 500) ** 0.5 / 2, 12), np.float64)
    rising = np.arange(12, dtype=np.float64) * 0.1
    assert time_strength(flat, sizes, 1.0) >= 1e5
    assert time_strength(rising, sizes, 1.0) < 1e3


def test_cells_hold_homes_by_their_kilometres_from_the_centre() -> None:
    projection = Projection(47.5, -122.3)
    lat = np.array([47.5, 47.5 + 0.2 / 110.574, 47.5 + 0.6 / 110.574, np.nan])
    lon = np.array([-122.3, -122.3, -122.3, -122.3])
    keys = projection.cells(lat, lon, 0.5)
    assert keys[0] == keys[1] != keys[2]
    assert keys[3] == NO_KEY
    vocabulary = np.unique(keys[:2])
    np.testing.assert_array_equal(codes(keys, vocabulary), [0, 0, -1, -1])


@pytest.mark.parametrize("copies", [1, 4])
@pytest.mark.parametrize("span", [1 << 30, 1 << 42])
def test_sorted_key_offsets_give_the_codes_of_a_hash_table(span: int, copies: int) -> None:
    """(4 bytes a key where the keys span less than 2^32, 8 where more; a few keys are found by
    binary search, many by a hash table)"""
    rng = np.random.default_rng(6)
    vocabulary = np.unique(rng.integers(1 << 40, (1 << 40) + span, 500))
    keys = np.concatenate([rng.choice(vocabulary, 300), rng.integers(0, 1 << 43, 300)])
    keys = np.concatenate([keys, [NO_KEY, vocabulary[0], vocabulary[-1], vocabulary[-1] + 1]])
    keys = np.tile(keys, copies)
    assert (len(keys) >= HASHED_FROM) == (copies > 1)
    found = KeyOffsets.of(vocabulary)
    assert found.offsets.itemsize == (4 if span < 1 << 32 else 8)
    np.testing.assert_array_equal(found.codes(keys), codes(keys, vocabulary))
    assert [found.position(int(k)) for k in keys] == codes(keys, vocabulary).tolist()
    np.testing.assert_array_equal(found.keys, vocabulary)


def test_no_key_is_found_among_no_cells() -> None:
    empty = KeyOffsets.of(np.array([], dtype=np.int64))
    np.testing.assert_array_equal(empty.codes(np.array([0, 5, NO_KEY])), [-1, -1, -1])
    assert empty.position(5) == -1
