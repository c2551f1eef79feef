"""Over the whole input range the schema accepts, every answer is finite and matches its schema."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Any

import jsonschema
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.rules import BATHS_MAX, BEDS_MAX, SQFT_MAX, SQFT_MIN

houses = st.fixed_dictionaries(
    {
        "beds": st.integers(0, BEDS_MAX),
        "baths": st.floats(0, BATHS_MAX, allow_nan=False),
        "sqft": st.floats(SQFT_MIN, SQFT_MAX, allow_nan=False),
    }
)
levels = st.none() | st.floats(0.5, 0.99, allow_nan=False)
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

pytestmark = pytest.mark.engines("files", "postgres")


def numbers(node: Any) -> Iterator[float]:
    if isinstance(node, bool):
        return
    if isinstance(node, int | float):
        yield float(node)
    elif isinstance(node, dict):
        for value in node.values():
            yield from numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from numbers(value)


@pytest.fixture
def validator(client: TestClient) -> Any:
    document = client.get("/openapi.json").json()

    def check(body: Any, schema: str) -> None:
        root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
        jsonschema.Draft202012Validator(root).validate(body)

    return check


def query(level: float | None) -> str:
    return "" if level is None else f"?level={level!r}"


@SETTINGS
@given(house=houses, level=levels)
def test_every_single_answer_is_finite_and_matches_its_schema(
    client: TestClient, validator: Any, house: dict[str, float], level: float | None
) -> None:
    response = client.post(f"/predict{query(level)}", json=house)
    assert response.status_code == 200, response.text
    body = response.json()
    validator(body, "Prediction")
    assert all(math.isfinite(v) for v in numbers(body)), body


@SETTINGS
@given(batch=st.lists(houses, max_size=20), level=levels)
def test_every_batch_answer_is_finite_and_matches_its_schema(
    client: TestClient, validator: Any, batch: list[dict[str, float]], level: float | None
) -> None:
    response = client.post(f"/predict/batch{query(level)}", json={"listings": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    validator(body, "BatchPrediction")
    assert len(body["predictions"]) == len(batch)
    assert all(math.isfinite(v) for v in numbers(body)), body


@SETTINGS
@given(batch=st.lists(houses, max_size=20), level=levels)
def test_every_csv_answer_holds_finite_numbers(
    client: TestClient, batch: list[dict[str, float]], level: float | None
) -> None:
    text = "beds,baths,sqft\n" + "".join(
        f"{h['beds']},{h['baths']!r},{h['sqft']!r}\n" for h in batch
    )
    response = client.post(
        f"/predict/batch{query(level)}", content=text, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    answer = pd.read_csv(io.StringIO(response.text))
    assert len(answer) == len(batch)
    for column in ("price", "price_low", "price_high"):
        values = pd.to_numeric(answer[column], errors="raise")
        assert values.map(math.isfinite).all(), answer[column]
