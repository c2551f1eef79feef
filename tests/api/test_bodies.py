"""The quick check of JSON batches accepts exactly what pydantic accepts, or defers to it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from app.api.bodies import houses_fast
from app.api.schemas import HouseBatch

VALID: list[Any] = [
    {"listings": [{"beds": 3, "baths": 2, "sqft": 1500}]},
    {
        "listings": [
            {"sqft": 980.5, "beds": 0, "baths": 1.5},
            {"beds": 20, "baths": 20, "sqft": 1e5},
        ]
    },
    {"listings": []},
]
IRREGULAR: list[Any] = [
    [],
    {"listings": [{"beds": 3, "baths": 2}]},
    {"listings": [{"beds": 3, "baths": 2, "sqft": 1500, "x": 1}]},
    {"listings": [{"beds": 3.0, "baths": 2, "sqft": 1500}]},
    {"listings": [{"beds": True, "baths": 2, "sqft": 1500}]},
    {"listings": [{"beds": 3, "baths": False, "sqft": 1500}]},
    {"listings": [{"beds": 3, "baths": "2", "sqft": 1500}]},
    {"listings": [{"beds": 21, "baths": 2, "sqft": 1500}]},
    {"listings": [{"beds": 3, "baths": 2, "sqft": 0}]},
    {"listings": [{"beds": 3, "baths": -0.5, "sqft": 10}]},
    {"listings": [{"beds": 10**400, "baths": 2, "sqft": 10}]},
    {"listings": [{"beds": 3, "baths": 2, "sqft": float("inf")}]},
    {"listings": [None]},
    {"listings": {"beds": 3}},
    {"listings": [], "extra": 1},
]


@pytest.mark.parametrize("document", VALID)
def test_valid_batches_give_the_same_numbers_as_pydantic(document: Any) -> None:
    X = houses_fast(document)
    assert X is not None
    rows = HouseBatch.model_validate(document).listings
    assert X.tolist() == [[r.beds, r.baths, r.sqft] for r in rows]
    assert X.dtype == np.float64 and X.flags.c_contiguous


@pytest.mark.parametrize("document", IRREGULAR)
def test_anything_pydantic_refuses_is_deferred_to_it(document: Any) -> None:
    assert houses_fast(document) is None
    with pytest.raises(ValidationError):
        HouseBatch.model_validate(document)
