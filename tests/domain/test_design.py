"""The design of a located fit held as codes: its products equal those of the matrix it is."""

from __future__ import annotations

import numpy as np
import pytest

from app.domain import design as design_module
from app.domain.design import Design, design
from app.domain.listings import target
from app.domain.located import System, Vocabulary
from app.domain.place_rules import places_of
from tests.support import located_listings


def _design(seed: int = 0, n: int = 500) -> tuple[Design, np.ndarray]:
    rng = np.random.default_rng(seed)
    size = rng.normal(size=(n, 4))
    groups = [
        ("area", rng.integers(-1, 12, n).astype(np.intp), 12),  # -1: a sale without an area
        ("cell 2 km", rng.integers(-1, 30, n).astype(np.intp), 30),
        ("cell 0.5 km", rng.integers(-1, 300, n).astype(np.intp), 300),
    ]
    matrix, _ = design(size, groups, rng.integers(-1, 9, n).astype(np.intp), 9)
    return matrix, rng.normal(size=n)


def test_a_row_holds_its_intercept_size_and_a_one_in_each_block_it_has_a_code_in() -> None:
    size = np.array([[0.5, -1.0], [2.0, 3.0]])
    groups = [("area", np.array([1, -1], dtype=np.intp), 2)]
    matrix, blocks = design(size, groups, np.array([0, 2], dtype=np.intp), 3)
    # Columns: intercept, 2 size, 2 areas, 2 free months (the newest, 2, is pinned).
    expected = [[1, 0.5, -1, 0, 1, 1, 0], [1, 2, 3, 0, 0, 0, 0]]
    np.testing.assert_array_equal(matrix.toarray(), expected)
    assert blocks.width == matrix.width == 7 and blocks.months == (5, 7)


@pytest.mark.parametrize("table_most", [design_module.TABLE_MOST, 0], ids=["table", "sorted"])
def test_the_normal_equations_equal_the_products_of_the_matrix(
    table_most: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(design_module, "TABLE_MOST", table_most)
    matrix, y = _design()
    gram, rhs = matrix.normal(y)
    dense = matrix.toarray()
    np.testing.assert_allclose(gram.toarray(), dense.T @ dense, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(rhs, dense.T @ y, rtol=1e-12, atol=1e-9)


def test_the_product_with_coefficients_equals_the_matrixs() -> None:
    matrix, _ = _design(1)
    beta = np.random.default_rng(2).normal(size=matrix.width)
    np.testing.assert_allclose(matrix @ beta, matrix.toarray() @ beta, rtol=1e-12, atol=1e-12)


def test_some_rows_are_those_rows_of_the_matrix() -> None:
    matrix, _ = _design(3)
    some = np.arange(len(matrix)) % 3 == 1
    np.testing.assert_array_equal(matrix[some].toarray(), matrix.toarray()[some])
    assert matrix[some].shape == (int(some.sum()), matrix.width)


def test_a_located_fits_normal_equations_equal_the_products_of_its_matrix() -> None:
    frame = located_listings(2000)
    frame.loc[frame.index[::7], ["latitude", "longitude"]] = np.nan  # rows without cells
    frame.loc[frame.index[::5], "area"] = None  # and without an area
    X = frame[["beds", "baths", "sqft"]].to_numpy(dtype=np.float64)
    places = places_of(frame, "sold_at")
    system = System.of(Vocabulary.of(X, places), X, np.log(target(frame)), places)
    some = np.arange(len(frame)) % 3 == 1
    for matrix, y in ((system.matrix, system.y), (system.matrix[some], system.y[some])):
        gram, rhs = matrix.normal(y)
        dense = matrix.toarray()
        np.testing.assert_allclose(gram.toarray(), dense.T @ dense, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(rhs, dense.T @ y, rtol=1e-12, atol=1e-9)
