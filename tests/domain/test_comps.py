"""Comparable sales: the sales table, the robust combination, and comps chosen out of fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.domain import comps, located_one
from app.domain.comparables import CAUSES, comparables
from app.domain.comps_choice import neighbours, search_of
from app.domain.held_out import fold_splits
from app.domain.listings import features, target
from app.domain.located import System, Vocabulary, _geometry
from app.domain.located_fitting import fit_located_table, sale_days
from app.domain.located_model import LocatedModel
from app.domain.place_rules import places_of
from tests.support import located_listings


@pytest.fixture(scope="module")
def fitted() -> tuple[LocatedModel, dict[str, Any], pd.DataFrame]:
    frame = located_listings(3000)
    model, card = fit_located_table(frame, folds=5, source="test")
    return model, card, frame


def test_a_sale_takes_at_most_40_bytes() -> None:
    assert comps.SALE.itemsize <= 40


def test_the_sales_table_gives_back_what_it_was_given() -> None:
    X = np.array([[3.0, 2.5, 1800.0], [0.0, 1.0, 600.0]])
    day = np.array([16_500, comps.NO_DAY], dtype=np.int64)
    sales = comps.table(
        X, np.array([450_000.0, 1.5]), np.zeros(2), np.zeros(2), day, np.array([7, -1])
    )
    np.testing.assert_array_equal(comps.features_of(sales), X)
    assert comps.area_of(sales).tolist() == [7, -1]
    assert comps.month_of_day(sales["day"]).tolist() == [2015 * 12 + 2, -1]
    assert sales["price"].tolist() == [450_000.0, 1.5]


def test_one_odd_sale_cannot_drag_the_weighted_median() -> None:
    residual = np.array([[0.10, 0.12, 0.11, 0.09, 5.0]])
    median, total = comps.weighted_median(residual, np.ones((1, 5)))
    assert median[0] == pytest.approx(0.11)
    assert total[0] == 5.0


def test_few_or_far_comps_move_an_estimate_little() -> None:
    residual = np.full((2, 5), 0.2)
    near = comps.weights(np.full((1, 5), 0.1))
    far = comps.weights(np.full((1, 5), 10.0))
    moved = comps.shift(residual, np.vstack([near, far]), shrink=1.0)
    assert 0.15 < moved[0] < 0.2
    assert 0 < moved[1] < 0.05


def test_one_home_shifts_as_its_row_of_a_batch_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    residual, distance = rng.normal(size=(50, 7)), rng.uniform(0, 3, size=(50, 7))
    batch, total = comps.shift_and_weight(residual, comps.weights(distance), 0.7)
    for i in range(50):
        one = comps.shift_one(residual[i].tolist(), distance[i].tolist(), 0.7)
        assert one == (batch[i], total[i])


def test_in_a_fit_no_sale_is_its_own_comp() -> None:
    frame = located_listings(600)
    X, places = features(frame), places_of(frame, "sold_at")
    vocabulary = Vocabulary.of(X, places)
    system = System.of(vocabulary, X, np.log(target(frame)), places)
    fold = np.arange(600) % 5
    for split in fold_splits(
        system, fold, {"area": 1.0, "cell 2 km": 1.0, "cell 0.5 km": 1.0, "time": 1.0}
    ):
        assert not set(split.subjects.tolist()) & set(split.pool.tolist())
        assert len(split.subjects) + len(split.pool) == 600


def test_listed_comps_are_sales_of_the_market(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, frame = fitted
    listed = comparables(model, 3, 2, 1800, "north", 47.52, -122.25, -1, 5)
    assert len(listed) == 5
    days = sale_days(frame)
    for comp in listed:
        same = frame[
            (frame["price"] == comp["price"])
            & np.isclose(frame["latitude"], comp["latitude"], atol=1e-6)
            & np.isclose(frame["longitude"], comp["longitude"], atol=1e-6)
            & (frame["sqft"] == comp["sqft"])
        ]
        assert len(same) >= 1
        assert str(np.datetime64(int(days[same.index[0]]), "D")) == comp["sold_at"]


def test_adjustments_add_up_to_the_adjusted_price(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    for comp in comparables(model, 4, 3, 2600, "south", 47.45, -122.3, -1, 10):
        total = comp["price"]
        for cause in CAUSES:
            total += comp["adjustments"][cause]
        assert total == comp["adjusted_price"]


def test_comps_are_listed_alike_with_or_without_the_compiled_terms(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _, _ = fitted
    homes = [(3, 2, 1800, "north", 47.52, -122.25, -1), (4, 3, 2600, None, 47.45, -122.3, 24170)]
    compiled = [comparables(model, *home, 8) for home in homes]
    monkeypatch.setattr(located_one, "quick_terms", lambda model: None)
    assert [comparables(model, *home, 8) for home in homes] == compiled


def test_a_home_like_its_comps_is_adjusted_by_time_and_place_alone(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    comp = comparables(model, 3, 2, 1800, "north", 47.52, -122.25, -1, 1)[0]
    same = comparables(
        model, comp["beds"], comp["baths"], comp["sqft"], comp["area"],
        comp["latitude"], comp["longitude"], -1, 1,
    )[0]  # fmt: skip
    assert same["adjustments"]["beds"] == same["adjustments"]["sqft"] == 0.0
    assert same["adjustments"]["area"] == 0.0


def test_comps_take_the_estimate_closer_to_the_sales_out_of_fold(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    _, card, _ = fitted
    assert card["terms"]["comps"]["k"] >= 1
    assert card["metrics"]["cv"]["median_ape"] < 0.2


def test_a_market_of_areas_alone_has_no_comps() -> None:
    frame = located_listings(400).drop(columns=["latitude", "longitude"])
    model, card = fit_located_table(frame, folds=3, source="test")
    assert model.similarity is None and "comps" not in card["terms"]
    assert comparables(model, 3, 2, 1800, "north", 47.5, -122.3, -1, 5) == []


def test_a_compact_model_reads_its_cells_and_comps_from_its_versions_pack(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    """A worker among thousands of markets holds neither the sales nor the cells of a market:
    it reads both where the machine's pack of the version is, and answers as the whole model."""
    model, _, frame = fitted
    compact = model.keeping([0.9])
    assert compact.cells == () and compact.sales == b"" and compact.needs_comps
    with pytest.raises(RuntimeError, match="before its pack"):
        compact.predict(features(frame[:3]))
    compact.use_comps(model.pack_comps())
    homes = frame.sample(200, random_state=0)
    X, places = features(homes), places_of(homes, "sold_at")
    np.testing.assert_array_equal(compact.predict(X, places), model.predict(X, places))
    one = compact.explain(3, 2, 1800, 0.9, places_of(homes[:1], "sold_at"))
    assert one == model.explain(3, 2, 1800, 0.9, places_of(homes[:1], "sold_at"))
    listed = comparables(compact, 3, 2, 1800, "north", 47.52, -122.25, -1, 5)
    assert listed == comparables(model, 3, 2, 1800, "north", 47.52, -122.25, -1, 5)


def test_a_splits_comps_found_in_one_tree_of_every_sale_are_those_of_a_tree_of_its_pool() -> None:
    frame = located_listings(3000)
    frame.loc[frame.index[::11], ["latitude", "longitude"]] = np.nan  # some sales not located
    X, places = features(frame), places_of(frame, "sold_at")
    vocabulary = Vocabulary.of(X, places)
    system = System.of(vocabulary, X, np.log(target(frame)), places)
    geometry = _geometry(vocabulary, X, places)
    assert geometry is not None
    similarity = comps.Similarity(size_km=2.0, year_km=1.0, k=10, shrink=1.0)
    search = search_of(geometry, similarity)
    strengths = {"area": 1.0, "cell 2 km": 1.0, "cell 0.5 km": 1.0, "time": 1.0}
    for split in fold_splits(system, np.arange(3000) % 4, strengths):
        alone = neighbours(geometry, split, similarity, 10)
        shared = neighbours(geometry, split, similarity, 10, search)
        np.testing.assert_allclose(shared[0], alone[0], rtol=1e-12)
        np.testing.assert_array_equal(shared[1], alone[1])
        np.testing.assert_array_equal(shared[2], alone[2])
        assert not set(split.pool[shared[1]].ravel().tolist()) & set(split.subjects.tolist())
