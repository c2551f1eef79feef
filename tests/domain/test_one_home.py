"""One home's quick estimate: the same floats as the full explanation, or none where a warning
is due."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from app.domain.calibration import Calibration, calibrate
from app.domain.fitting import fit_table
from app.domain.least_squares import fit, out_of_fold
from app.domain.model import QUICK_LEVELS, Explanation, PriceModel
from app.domain.one_home import quick_estimate

LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)


@pytest.fixture(scope="module")
def model(sacramento: pd.DataFrame) -> PriceModel:
    fitted, _ = fit_table(sacramento, folds=5, source="test")
    return fitted


def homes(count: int, seed: int = 0) -> list[tuple[float, float, float]]:
    """Homes inside the bundled sales' ranges and around and beyond them."""
    rng = np.random.default_rng(seed)
    beds = rng.integers(0, 11, count).astype(float)
    baths = rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0], count)
    sqft = rng.uniform(100, 9000, count)
    return list(zip(beds.tolist(), baths.tolist(), sqft.tolist(), strict=True))


def same(a: Explanation, b: Explanation) -> bool:
    """Equal to the bit: `repr` of a float round-trips, and tells -0.0 from 0.0."""
    return repr(a) == repr(b)


def without_centres(calibration: Calibration, *names: str) -> Calibration:
    """The calibration as an earlier artifact format without `names` read it."""
    state = calibration.__getstate__()
    for name in names:
        del state[name]
    old = object.__new__(Calibration)
    old.__setstate__(state)
    return old


def test_every_explanation_equals_the_full_one_bit_for_bit(model: PriceModel) -> None:
    for level in LEVELS:
        for home in homes(3000, seed=int(level * 100)):
            assert same(model.explain(*home, level), model.explain_fully(*home, level)), home


def test_a_home_like_the_sales_takes_the_quick_path(model: PriceModel) -> None:
    quick = quick_estimate(model, 0.9)
    found = quick(3, 2, 1500)
    assert found is not None
    price, low, high, *parts = found
    full = model.explain_fully(3, 2, 1500, 0.9)
    assert (price, low, high) == (full.price, full.low, full.high) and full.warnings == []
    assert parts == [full.contributions[name] for name in ("beds", "baths", "sqft")]


@pytest.mark.parametrize("home", [(0, 2, 1500), (3, 9, 1500), (3, 2, 9000), (1, 1, 100)], ids=str)
def test_the_quick_path_gives_up_where_a_warning_is_due(
    model: PriceModel, home: tuple[float, float, float]
) -> None:
    assert model.explain_fully(*home, 0.9).warnings != []
    assert quick_estimate(model, 0.9)(*home) is None


def test_a_level_whose_range_is_pooled_always_takes_the_full_path() -> None:
    from tests.domain.test_estimates import heteroscedastic

    X, y = heteroscedastic(300, seed=5)
    small = replace(fit(X, y), calibration=calibrate(y, out_of_fold(X, y)))
    assert quick_estimate(small, 0.99)(3, 2, 1500) is None
    assert same(small.explain(3, 2, 1500, 0.99), small.explain_fully(3, 2, 1500, 0.99))


@pytest.mark.parametrize(
    "dropped",
    [("band_centres",), ("band_edges", "band_sizes", "band_quantiles", "band_centres")],
    ids=["steps by band", "one band"],
)
def test_earlier_artifact_formats_give_the_same_floats_both_ways(
    model: PriceModel, dropped: tuple[str, ...]
) -> None:
    assert model.calibration is not None
    earlier = replace(model, calibration=without_centres(model.calibration, *dropped))
    assert quick_estimate(earlier, 0.9)(3, 2, 1500) is not None
    for home in homes(2000, seed=3):
        assert same(earlier.explain(*home, 0.9), earlier.explain_fully(*home, 0.9)), home


def test_a_model_keeps_the_quick_estimates_of_a_few_levels_only(model: PriceModel) -> None:
    fresh = replace(model)
    for level in np.linspace(0.5, 0.99, 40).tolist():
        fresh.explain(3, 2, 1500, level)
        assert len(fresh._quick) <= QUICK_LEVELS


def test_the_quick_estimates_are_not_part_of_the_artifact(model: PriceModel) -> None:
    model.explain(3, 2, 1500, 0.9)
    assert "_quick" not in model.__getstate__()
