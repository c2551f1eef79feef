"""A located model: fitted on where and when, its dollar parts, its warnings, its accuracy."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.domain import located_model
from app.domain.listings import features
from app.domain.located_fitting import fit_located_table, located
from app.domain.located_model import (
    COMPS_PARTS,
    EQUITY,
    LocatedModel,
)
from app.domain.place_rules import places_of
from app.domain.ratios import spread_about
from app.domain.terms import Places, Projection, month_of, pack_keys, unpack_keys
from tests.support import AREA_EFFECTS, located_listings


@pytest.fixture(scope="module")
def fitted() -> tuple[LocatedModel, dict[str, Any], pd.DataFrame]:
    frame = located_listings(3000)
    model, card = fit_located_table(frame, folds=5, source="test")
    return model, card, frame


def _home(**place: object) -> Places:
    return Places(
        np.array([place.get("area")], dtype=object),
        np.array([place.get("latitude", np.nan)], dtype=np.float64),
        np.array([place.get("longitude", np.nan)], dtype=np.float64),
        np.array([place.get("month", -1)], dtype=np.int64),
    )


def _unplaced(frame: pd.DataFrame) -> pd.DataFrame:
    """The same homes sent with their area and without coordinates."""
    return frame.assign(latitude=np.nan, longitude=np.nan)


def test_a_table_with_areas_or_coordinates_is_located() -> None:
    frame = located_listings(10)
    assert located(frame)
    assert located(frame.drop(columns=["area"]))
    assert not located(frame.drop(columns=["area", "latitude", "longitude"]))


def test_parts_add_up_to_the_price_exactly(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, frame = fitted
    found = model.explain_many(features(frame), 0.9, places_of(frame, "sold_at"))
    total = found.contributions[:, 0].copy()
    for k in range(1, len(found.parts)):
        total += found.contributions[:, k]
    np.testing.assert_array_equal(total, found.price)
    assert found.parts == (*COMPS_PARTS, EQUITY)


@pytest.mark.parametrize("placed", [True, False], ids=["placed", "sent without coordinates"])
def test_one_home_is_answered_as_its_row_of_a_batch(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame], placed: bool
) -> None:
    model, _, frame = fitted
    places = places_of(frame if placed else _unplaced(frame), "sold_at")
    X = features(frame)
    batch = model.explain_many(X, 0.9, places)
    for i in (0, 17, 2999):
        beds, baths, sqft = X[i].tolist()
        one = model.explain(beds, baths, sqft, 0.9, places.take(np.array([i])))
        assert one.price == batch.price[i]
        assert (one.low, one.high) == (batch.low[i], batch.high[i])
        assert list(one.contributions.values()) == batch.contributions[i].tolist()


def test_area_effects_are_recovered_in_order(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    effects = dict(zip(model.areas, model.area_effects, strict=True))
    assert sorted(effects, key=effects.__getitem__) == sorted(
        AREA_EFFECTS, key=AREA_EFFECTS.__getitem__
    )


def test_the_price_index_rises_as_the_market_did(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, card, _ = fitted
    months = np.asarray(model.month_effects)
    assert months[-1] == 0.0
    # 1 % a month for 11 months: the first month about 10 % below the newest.
    assert -0.14 < months[0] < -0.07
    index = card["terms"]["time"]["index"]
    assert index[-1] == {"month": "2015-05", "level": 1.0}


def test_an_area_without_sales_is_valued_at_the_market_level_with_a_warning(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    one = model.explain(3, 2, 1800, 0.9, _home(area="nowhere"))
    assert one.contributions["area"] == 0.0
    assert [w["code"] for w in one.warnings] == ["unknown_area"]
    assert "nowhere" in one.warnings[0]["message"]


def test_a_home_far_from_every_sale_is_warned_about(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    near = model.explain(3, 2, 1800, 0.9, _home(latitude=47.5, longitude=-122.3))
    far = model.explain(3, 2, 1800, 0.9, _home(latitude=48.0, longitude=-122.3))
    assert near.warnings == []
    assert [w["code"] for w in far.warnings] == ["far_from_sales"]
    assert far.contributions["location"] == 0.0


def test_as_of_inside_the_index_values_the_home_at_that_month(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    newest = model.explain(3, 2, 1800, 0.9, _home())
    earlier = model.explain(3, 2, 1800, 0.9, _home(month=month_of(2014, 8)))
    assert newest.contributions["time"] == 0.0
    assert earlier.price < newest.price
    assert earlier.contributions["time"] < 0
    assert earlier.warnings == []


def test_as_of_beyond_the_index_takes_its_last_level_with_a_warning(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    newest = model.explain(3, 2, 1800, 0.9, _home())
    later = model.explain(3, 2, 1800, 0.9, _home(month=month_of(2016, 1)))
    assert later.price == newest.price
    assert [w["code"] for w in later.warnings] == ["as_of_beyond_index"]


def test_outliers_are_left_out_and_counted() -> None:
    frame = located_listings(2000, seed=3)
    frame.loc[:19, "price"] = (frame.loc[:19, "price"] / 20).round(0)  # family transfers
    _, card = fit_located_table(frame, folds=5, source="test")
    assert card["training"]["outliers"]["rows"] >= 20
    _, kept = fit_located_table(frame, folds=5, source="test", trim=False)
    assert kept["training"]["outliers"]["rows"] == 0


def test_the_card_reports_accuracy_in_assessors_terms(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    _, card, _ = fitted
    metrics = card["metrics"]
    for name in ("cv", "out_of_time"):
        found = metrics[name]
        for key in ("median_ape", "within_10", "within_20", "cod", "prd", "prb", "coverage_90"):
            assert np.isfinite(found[key])
        assert len(found["coverage_90_by_third"]) == 3
    # Noise of 8 % in log price: a median error near 5 %, a range holding about 90 %.
    assert metrics["cv"]["median_ape"] < 0.08
    assert 0.85 < metrics["cv"]["coverage_90"] < 0.95
    assert 0.95 < metrics["out_of_time"]["prd"] < 1.05


def test_a_market_of_coordinates_only_has_no_area_term() -> None:
    frame = located_listings(1500).drop(columns=["area"])
    model, card = fit_located_table(frame, folds=5, source="test")
    assert model.areas == ()
    assert card["metrics"]["cv"]["median_ape"] < 0.09


def test_a_market_of_area_names_only_has_no_cells() -> None:
    frame = located_listings(1500).drop(columns=["latitude", "longitude", "sold_at"])
    model, _ = fit_located_table(frame, folds=5, source="test")
    assert model.projection is None and model.cells == ()
    assert model.first_month == -1
    one = model.explain(3, 2, 1800, 0.9, _home(latitude=47.5, longitude=-122.3))
    assert one.contributions["location"] == 0.0


def test_one_home_with_warnings_is_answered_as_its_row_of_a_batch(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, _ = fitted
    homes = [
        (3.0, 2.0, 1800.0, None, np.nan, np.nan, -1),
        (9.0, 0.5, 60.0, "north", 47.52, -122.25, month_of(2014, 9)),
        (2.0, 1.0, 900.0, "nowhere", 48.2, -121.0, month_of(2016, 2)),
        (4.0, 3.0, 3000.0, "south", 47.47, -122.35, month_of(2013, 1)),
    ]
    X = np.array([h[:3] for h in homes])
    places = Places(
        np.array([h[3] for h in homes], dtype=object),
        np.array([h[4] for h in homes]),
        np.array([h[5] for h in homes]),
        np.array([h[6] for h in homes], dtype=np.int64),
    )
    batch = model.explain_many(X, 0.8, places)
    for i, home in enumerate(homes):
        one = model.explain(*home[:3], 0.8, places.take(np.array([i])))
        assert (one.price, one.low, one.high) == (batch.price[i], batch.low[i], batch.high[i])
        assert list(one.contributions.values()) == batch.contributions[i].tolist()
        assert one.warnings == batch.warnings.get(i, [])
    assert {w["code"] for w in batch.warnings[2]} >= {
        "unknown_area",
        "far_from_sales",
        "as_of_beyond_index",
    }
    assert "as_of_before_index" in {w["code"] for w in batch.warnings[3]}


def test_packed_cell_keys_unpack_to_the_same_keys() -> None:
    keys = np.array([-(1 << 40), -5, 0, 7, (1 << 41) + 3], dtype=np.int64)
    assert np.array_equal(unpack_keys(pack_keys(keys)), keys)
    assert unpack_keys(pack_keys(keys[:0])).size == 0


def test_a_model_stored_with_plain_cell_keys_answers_as_the_packed_one(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, frame = fitted
    state = model.__getstate__()
    del state["keys_packed"]  # as an artifact made before keys were packed
    state["cells"] = tuple(unpack_keys(c).astype("<i8").tobytes() for c in model.cells)
    before = LocatedModel.__new__(LocatedModel)
    before.__setstate__(state)
    X, places = features(frame)[:200], places_of(frame, "sold_at").take(slice(0, 200))
    assert not before.keys_packed
    assert np.array_equal(before.predict(X, places), model.predict(X, places))


def test_the_estimates_out_of_fold_are_neither_regressive_nor_progressive(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, card, _ = fitted
    assert model.spread is not None
    assert abs(card["metrics"]["cv"]["prb"]) < 1e-6
    assert 0.8 <= card["terms"]["equity"]["factor"] <= 1.25


def test_homes_sent_without_coordinates_are_spread_by_their_own_equity_spread(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, card, frame = fitted
    assert model.spread is not None and model.spread_unplaced is not None
    assert model.spread_unplaced != model.spread
    assert 0.8 <= card["terms"]["equity"]["without_coordinates"]["factor"] <= 1.25
    X = features(frame)
    logs = model.logs(X, places_of(_unplaced(frame), "sold_at"))
    np.testing.assert_array_equal(logs[:, -1], spread_about(logs[:, -2], model.spread_unplaced))
    placed = model.logs(X, places_of(frame, "sold_at"))
    np.testing.assert_array_equal(placed[:, -1], spread_about(placed[:, -2], model.spread))


def test_a_model_stored_before_the_spread_without_coordinates_values_such_homes_as_before(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, _, frame = fitted
    state = model.__getstate__()
    del state["spread_unplaced"]  # an artifact of the release before
    before = LocatedModel.__new__(LocatedModel)
    before.__setstate__(state)
    assert before.spread_unplaced is None
    logs = before.logs(features(frame), places_of(_unplaced(frame), "sold_at"))
    assert model.spread is not None
    np.testing.assert_array_equal(logs[:, -1], spread_about(logs[:, -2], model.spread))


def test_a_home_sent_without_coordinates_gets_a_range_of_its_own(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    model, card, frame = fitted
    assert model.range_unplaced is not None and model.calibration is not None
    assert card["terms"]["range_without_coordinates"]["factor"] == model.range_unplaced
    X = features(frame)
    found = model.explain_many(X, 0.9, places_of(_unplaced(frame), "sold_at"))
    q_low, q_high = model.calibration.quantiles_many(found.price, 0.9)
    scale = model.calibration.scale(found.price) * model.range_unplaced
    np.testing.assert_array_equal(found.high, found.price + q_high * scale)
    np.testing.assert_array_equal(found.low, np.maximum(found.price + q_low * scale, 0.0))
    for i in (0, 17, 2999):
        beds, baths, sqft = X[i].tolist()
        home = _unplaced(frame).iloc[[i]]
        one = model.explain(beds, baths, sqft, 0.9, places_of(home, "sold_at"))
        assert (one.low, one.high) == (found.low[i], found.high[i])


def test_sales_estimated_as_homes_without_coordinates_are_held_by_their_range_as_often(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame],
) -> None:
    from app.domain.listings import target
    from app.domain.located import fit_located
    from app.domain.located_fitting import range_unplaced

    model, _, frame = fitted
    X, price = features(frame), target(frame)
    found = fit_located(X, price, places_of(frame, "sold_at"), folds=5, held_out=False)
    assert found.unplaced_out_of_fold is not None
    judged = price[found.kept][found.judged]
    assert range_unplaced(model, judged, found) == model.range_unplaced
    low, high = model.interval(found.unplaced_out_of_fold, 0.9, np.full(len(judged), -1.0))
    held = float(np.mean((low <= judged) & (judged <= high)))
    assert 0.85 <= held <= 0.95


def test_a_model_valued_on_two_threads_at_once_finds_its_tables_whole(
    fitted: tuple[LocatedModel, dict[str, Any], pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, _, frame = fitted
    fresh = LocatedModel(**model.__getstate__())  # its tables not made yet
    X, places = features(frame)[:5], places_of(frame.iloc[:5], "sold_at")
    found: list[Any] = []
    make = Projection

    def slowly(*args: Any) -> Any:
        # While the first thread makes the tables, a second values the same homes.
        if not found:
            found.append(None)
            other = threading.Thread(target=lambda: found.append(fresh.predict(X, places)))
            other.start()
            other.join()
        return make(*args)

    monkeypatch.setattr(located_model, "Projection", slowly)
    first = fresh.predict(X, places)
    np.testing.assert_array_equal(found[1], first)
    np.testing.assert_array_equal(first, model.predict(X, places))
