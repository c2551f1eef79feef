"""Estimates of many homes: a large located batch is estimated in two halves at once, with the
numbers of one whole batch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.domain import comps
from app.domain.arrays import FloatArray
from app.domain.errors import BadInput
from app.domain.located_fitting import fit_located_table
from app.domain.located_model import LocatedModel
from app.domain.place_rules import places_of
from app.domain.terms import Places
from app.observability import metrics
from app.service import estimating
from app.storage.artifact import LoadedModel
from tests.support import located_listings


@pytest.fixture(scope="module")
def located() -> LoadedModel:
    model, card = fit_located_table(located_listings(2000), folds=3, source="test")
    return LoadedModel("v1", model, card)


def homes(n: int) -> tuple[FloatArray, Places]:
    frame = located_listings(n, seed=7)
    frame.loc[::9, ["latitude", "longitude"]] = np.nan  # some without coordinates
    frame.loc[::13, "area"] = "nowhere"  # some in an area without sales
    X = frame[["beds", "baths", "sqft"]].to_numpy(dtype=np.float64)
    return X, places_of(frame, "as_of")


def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The rows of each call of LocatedModel.explain_many from here on."""
    calls: list[int] = []
    explain = LocatedModel.explain_many

    def counting(self: LocatedModel, X: FloatArray, *rest: Any) -> Any:
        calls.append(len(X))
        return explain(self, X, *rest)

    monkeypatch.setattr(LocatedModel, "explain_many", counting)
    return calls


@pytest.mark.parametrize("rows", [1, 2, 301])
def test_a_batch_in_halves_has_the_numbers_and_warnings_of_one_whole(
    located: LoadedModel, rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    X, places = homes(rows)
    assert isinstance(located.model, LocatedModel)
    whole = located.model.explain_many(X, 0.9, places)
    monkeypatch.setattr(estimating, "HALVED_FROM", 1)
    monkeypatch.setattr(comps, "_CORES", 2)
    halves = estimating.estimate_many(located, X, 0.9, places=places)
    for name in ("price", "low", "high", "contributions"):
        np.testing.assert_array_equal(getattr(halves, name), getattr(whole, name))
    assert halves.warnings == whole.warnings and halves.parts == whole.parts
    assert whole.warnings or rows < 9


@pytest.mark.parametrize(
    ("cores", "calls"),
    [(2, [1, 25, 25]), (1, [50])],  # on two: the first row readies the model's tables
)
def test_a_batch_is_estimated_in_halves_on_two_cores_and_whole_on_one(
    located: LoadedModel, cores: int, calls: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    X, places = homes(50)
    monkeypatch.setattr(estimating, "HALVED_FROM", 1)
    monkeypatch.setattr(comps, "_CORES", cores)
    made = counted(monkeypatch)
    estimating.estimate_many(located, X, 0.9, places=places)
    assert sorted(made) == calls


def test_a_batch_read_in_halves_is_estimated_as_one_whole_and_counted_once(
    located: LoadedModel,
) -> None:
    X, places = homes(61)
    whole = estimating.estimate_many(located, X, 0.9, places=places)
    before = metrics.TALLY.estimates.get("read-in-halves", 0)
    found = estimating.estimate_read(
        located,
        lambda: (X[:30], places.take(slice(0, 30))),
        lambda: (X[30:], places.take(slice(30, None))),
        0.9,
        "read-in-halves",
    )
    for name in ("price", "low", "high", "contributions"):
        np.testing.assert_array_equal(getattr(found, name), getattr(whole, name))
    assert found.warnings == whole.warnings and whole.warnings
    assert metrics.TALLY.estimates["read-in-halves"] - before == 61


@pytest.mark.parametrize("refused", [0, 1])
def test_a_half_that_cannot_be_read_is_raised_and_nothing_is_counted(
    located: LoadedModel, refused: int
) -> None:
    X, places = homes(20)

    def read(half: int) -> tuple[FloatArray, Places]:
        if half == refused:
            raise BadInput("line 3, column sqft: expected a number")
        return X, places

    with pytest.raises(BadInput, match="line 3"):
        estimating.estimate_read(located, lambda: read(0), lambda: read(1), 0.9, "refused")
    assert "refused" not in metrics.TALLY.estimates
