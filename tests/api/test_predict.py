"""POST /predict: one estimate, exactly the model's, with the version; bad input is a clear 422."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LinearRegression

pytestmark = pytest.mark.engines("files", "postgres")


def test_answers_the_model_estimate_and_version(
    client: TestClient, fitted: str, sacramento: pd.DataFrame
) -> None:
    response = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert response.status_code == 200
    body = response.json()
    reference = LinearRegression().fit(sacramento[["beds", "baths", "sqft"]], sacramento["price"])
    expected = reference.predict(pd.DataFrame([[3, 2, 1500]], columns=["beds", "baths", "sqft"]))
    assert body["price"] == pytest.approx(float(expected[0]), rel=1e-12)
    assert body["model_version"] == fitted
    assert response.headers["X-Model-Version"] == fitted


def test_accepts_half_baths_and_fractional_square_feet(client: TestClient) -> None:
    response = client.post("/predict", json={"beds": 2, "baths": 1.5, "sqft": 980.5})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ({"beds": 3, "baths": 2}, "sqft", "missing"),
        ({"beds": 3, "baths": 2, "sqfeet": 1500, "sqft": 1500}, "sqfeet", "extra_forbidden"),
        ({"beds": True, "baths": 2, "sqft": 1500}, "beds", "int_type"),
        ({"beds": 3, "baths": "2", "sqft": 1500}, "baths", "float_type"),
        ({"beds": 3.5, "baths": 2, "sqft": 1500}, "beds", "int_type"),
        ({"beds": 21, "baths": 2, "sqft": 1500}, "beds", "less_than_equal"),
        ({"beds": -1, "baths": 2, "sqft": 1500}, "beds", "greater_than_equal"),
        ({"beds": 3, "baths": 20.5, "sqft": 1500}, "baths", "less_than_equal"),
        ({"beds": 3, "baths": 2, "sqft": 0}, "sqft", "greater_than_equal"),
        ({"beds": 3, "baths": 2, "sqft": 100_001}, "sqft", "less_than_equal"),
        ({"beds": 3, "baths": 2, "sqft": None}, "sqft", "float_type"),
    ],
)
def test_bad_fields_are_named_in_a_422(
    client: TestClient, body: dict[str, Any], field: str, kind: str
) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"] == ["body", field] and e["type"] == kind for e in errors), errors


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_are_refused(client: TestClient, literal: str) -> None:
    content = f'{{"beds": 3, "baths": 2, "sqft": {literal}}}'
    response = client.post(
        "/predict", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sqft"]


def test_malformed_json_is_a_422(client: TestClient) -> None:
    response = client.post(
        "/predict", content=b'{"beds": 3,', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_without_an_active_model_the_answer_is_503_with_the_reason(
    tmp_path: Any, model_dir: Any
) -> None:
    from app.api.factory import create_app
    from tests.support import make_settings

    with TestClient(create_app(make_settings(model_dir, tmp_path))) as empty:
        response = empty.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert response.status_code == 503
    assert "python -m app.train" in response.json()["detail"]


def test_the_answer_carries_range_parts_and_price_per_square_foot(client: TestClient) -> None:
    body = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500}).json()
    assert body["price_low"] < body["price"] < body["price_high"]
    assert body["level"] == 0.9
    assert body["price_per_sqft"] == body["price"] / 1500
    c = body["contributions"]
    assert c["intercept"] + c["beds"] + c["baths"] + c["sqft"] == body["price"]
    assert body["warnings"] == []


def test_a_level_can_be_asked_for(client: TestClient) -> None:
    house = {"beds": 3, "baths": 2, "sqft": 1500}
    default = client.post("/predict", json=house).json()
    wide = client.post("/predict?level=0.99", json=house).json()
    assert wide["level"] == 0.99
    assert wide["price_high"] - wide["price_low"] > default["price_high"] - default["price_low"]


@pytest.mark.parametrize("level", ["0.3", "1", "0.995", "high"])
def test_a_level_outside_half_to_99_percent_is_a_422(client: TestClient, level: str) -> None:
    response = client.post(f"/predict?level={level}", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "level"]


def test_an_extrapolation_comes_with_a_warning(client: TestClient) -> None:
    body = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 20000}).json()
    [warning] = body["warnings"]
    assert warning["code"] == "outside_training_range" and warning["field"] == "sqft"


def test_a_non_positive_estimate_is_answered_with_a_warning(client: TestClient) -> None:
    body = client.post("/predict", json={"beds": 8, "baths": 1, "sqft": 500}).json()
    assert body["price"] <= 0
    assert "non_positive_estimate" in [w["code"] for w in body["warnings"]]
    assert body["price_low"] == 0.0


@pytest.mark.parametrize("sqft", [5e-324, 1e-300, 0.5, 49.99])
def test_an_area_below_fifty_square_feet_is_refused_naming_the_field(
    client: TestClient, sqft: float
) -> None:
    response = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": sqft})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "sqft"] and error["type"] == "greater_than_equal"


def test_the_smallest_accepted_area_has_a_finite_price_per_square_foot(
    client: TestClient,
) -> None:
    body = client.post("/predict", json={"beds": 0, "baths": 0, "sqft": 50}).json()
    assert body["price_per_sqft"] == body["price"] / 50
