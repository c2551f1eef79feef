"""One located home's quick path: the same floats as `explain_home`, or none where a warning is
due."""

from __future__ import annotations

import math
import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.domain import comps
from app.domain.located_fitting import fit_located_table
from app.domain.located_model import LocatedModel
from app.domain.located_one import (
    QUICK_LEVELS,
    QuickHome,
    explain_home,
    quick_home,
    quick_terms,
)
from app.domain.model import Explanation
from app.domain.place_rules import places_of
from app.domain.terms import month_of
from tests.support import located_listings

LEVELS = (0.5, 0.8, 0.9, 0.95)
NAN = math.nan
Home = tuple[float, float, float, Any, float, float, int]


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return located_listings(3000)


@pytest.fixture(scope="module")
def model(sales: pd.DataFrame) -> LocatedModel:
    fitted, _ = fit_located_table(sales, folds=5, source="test")
    assert fitted.similarity is not None and fitted.spread is not None
    return fitted


def same(a: Explanation | None, b: Explanation) -> bool:
    """Equal to the bit: `repr` of a float round-trips, and tells -0.0 from 0.0."""
    return repr(a) == repr(b)


def full(model: LocatedModel, home: Home, level: float) -> Explanation:
    """The model's own answer, every warning checked."""
    beds, baths, sqft, area, latitude, longitude, month = home
    return model.explain_home(beds, baths, sqft, level, area, latitude, longitude, month)


def homes_like(sales: pd.DataFrame, count: int, seed: int = 0) -> list[Home]:
    """Homes of the market's sales, moved a little, some without an area or a valuation month,
    some without coordinates."""
    rng = np.random.default_rng(seed)
    picked = sales.sample(count, random_state=seed)
    places = places_of(picked, "sold_at")
    found: list[Home] = []
    for i, (beds, baths, sqft) in enumerate(picked[["beds", "baths", "sqft"]].to_numpy().tolist()):
        area = None if i % 5 == 0 else places.area[i]
        month = -1 if i % 3 == 0 else int(places.month[i])
        latitude = float(places.latitude[i]) + rng.normal(0, 0.002)
        longitude = float(places.longitude[i]) + rng.normal(0, 0.002)
        if i % 7 == 0:
            latitude = longitude = NAN
        found.append((beds, baths, sqft + rng.uniform(-50, 50), area, latitude, longitude, month))
    return found


def test_every_home_like_the_sales_is_answered_as_explain_home_bit_for_bit(
    model: LocatedModel, sales: pd.DataFrame
) -> None:
    for level in LEVELS:
        quick = quick_home(model, level)
        assert quick is not None
        answered = 0
        for home in homes_like(sales, 400, seed=int(level * 100)):
            found = quick(*home)
            if found is not None:
                answered += 1
                assert same(found, full(model, home, level)), home
        assert answered > 300  # the common case takes the quick path


def test_explain_home_answers_every_home_as_the_model_does(
    model: LocatedModel, sales: pd.DataFrame
) -> None:
    homes = [*homes_like(sales, 200), *WARNED]
    for home in homes:
        beds, baths, sqft, area, latitude, longitude, month = home
        found = explain_home(model, beds, baths, sqft, 0.9, area, latitude, longitude, month)
        assert same(found, full(model, home, 0.9)), home


# Homes a warning is due for: sizes and prices unlike the sales, an area without sales, a home
# far from every sale, a valuation month beyond and before the index, half a position.
WARNED: list[Home] = [
    (12.0, 2.0, 1800.0, None, 47.5, -122.3, -1),
    (3.0, 0.5, 1800.0, None, 47.5, -122.3, -1),
    (3.0, 2.0, 90_000.0, None, 47.5, -122.3, -1),
    (3.0, 2.0, 1800.0, "nowhere", 47.5, -122.3, -1),
    (3.0, 2.0, 1800.0, None, 48.4, -121.0, -1),
    (3.0, 2.0, 1800.0, None, 47.5, -122.3, month_of(2016, 2)),
    (3.0, 2.0, 1800.0, None, 47.5, -122.3, month_of(2013, 1)),
    (3.0, 2.0, 1800.0, None, 47.5, NAN, -1),
]


@pytest.mark.parametrize("home", WARNED, ids=lambda home: str(home))
def test_the_quick_path_gives_up_where_a_warning_may_be_due(
    model: LocatedModel, home: Home
) -> None:
    quick = quick_home(model, 0.9)
    assert quick is not None
    assert quick(*home) is None


def test_the_quick_terms_are_home_terms_bit_for_bit(
    model: LocatedModel, sales: pd.DataFrame
) -> None:
    terms = quick_terms(model)
    assert terms is not None
    for home in [*homes_like(sales, 300, seed=3), *WARNED]:
        assert repr(terms.terms(*home)) == repr(model.home_terms(*home)[:4]), home


def test_a_home_like_the_sales_takes_the_quick_path(model: LocatedModel) -> None:
    quick = quick_home(model, 0.9)
    assert quick is not None
    found = quick(3.0, 2.0, 1800.0, "north", 47.52, -122.25, -1)
    assert found is not None and found.warnings == []
    assert list(found.contributions) == list(model.names)


def test_without_the_compiled_search_there_is_no_quick_path(
    model: LocatedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comps, "_knn", None)
    fresh = replace(model, _lookup={})
    assert quick_terms(fresh) is None
    assert quick_home(fresh, 0.9) is None


def test_a_model_without_calibration_has_no_quick_path(model: LocatedModel) -> None:
    assert QuickHome.of(replace(model, calibration=None, _lookup={}), 0.9) is None


def test_a_compact_model_has_no_quick_path_until_its_comps_are_read(model: LocatedModel) -> None:
    kept = model.keeping([0.9])
    assert quick_home(kept, 0.9) is None
    kept.use_comps(model.pack_comps())
    quick = quick_home(kept, 0.9)
    assert quick is not None
    home = (3.0, 2.0, 1800.0, "north", 47.52, -122.25, -1)
    assert same(quick(*home), full(model, home, 0.9))


def test_new_comps_make_a_new_quick_path(model: LocatedModel) -> None:
    fresh = replace(model, _lookup={})
    first = quick_home(fresh, 0.9)
    fresh.use_comps(fresh.pack_comps())
    again = quick_home(fresh, 0.9)
    assert first is not None and again is not None and again is not first


def test_a_model_keeps_the_quick_paths_of_a_few_levels_only(model: LocatedModel) -> None:
    fresh = replace(model, _lookup={})
    for k in range(QUICK_LEVELS + 3):
        quick_home(fresh, 0.5 + k / 100)
        assert len(fresh._lookup["quick"]) <= QUICK_LEVELS


def test_the_quick_paths_are_not_part_of_the_artifact(model: LocatedModel) -> None:
    fresh = replace(model, _lookup={})
    quick_home(fresh, 0.9)
    assert "quick" not in pickle.loads(pickle.dumps(fresh))._lookup


def test_a_model_without_comps_or_equity_is_answered_as_explain_home(
    sales: pd.DataFrame,
) -> None:
    plain_places = sales.drop(columns=["latitude", "longitude"])
    fitted, _ = fit_located_table(plain_places, folds=5, source="test")
    assert fitted.similarity is None
    bare = replace(fitted, spread=None, spread_unplaced=None, _lookup={})
    for candidate in (fitted, bare):
        quick = quick_home(candidate, 0.9)
        assert quick is not None
        for home in [
            (3.0, 2.0, 1800.0, "north", NAN, NAN, -1),
            (2.0, 1.0, 900.0, None, NAN, NAN, month_of(2014, 9)),
        ]:
            found = quick(*home)
            assert found is not None
            assert same(found, full(candidate, home, 0.9))
