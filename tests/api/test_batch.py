"""POST /predict/batch: JSON and CSV, in order, equal to single answers, with limits."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings
from tests.support import SACRAMENTO

HOUSES: list[dict[str, float]] = [
    {"beds": 3, "baths": 2, "sqft": 1500},
    {"beds": 2, "baths": 1, "sqft": 836},
    {"beds": 5, "baths": 3.5, "sqft": 3200},
]
CSV = {"Content-Type": "text/csv"}

pytestmark = pytest.mark.engines("files", "postgres")


def single(client: TestClient, house: dict[str, float]) -> float:
    price: float = client.post("/predict", json=house).json()["price"]
    return price


def test_json_batch_answers_in_order_and_equals_single_answers(
    client: TestClient, fitted: str
) -> None:
    response = client.post("/predict/batch", json={"listings": HOUSES})
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == fitted == response.headers["X-Model-Version"]
    assert [p["price"] for p in body["predictions"]] == [single(client, h) for h in HOUSES]


def test_json_batch_names_the_bad_row_and_field(client: TestClient) -> None:
    rows = [*HOUSES, {"beds": 3, "baths": 2, "sqfeet": 1500}]
    response = client.post("/predict/batch", json={"listings": rows})
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert ["body", "listings", 3, "sqft"] in locs
    assert ["body", "listings", 3, "sqfeet"] in locs


def test_json_batch_reports_at_most_ten_errors(client: TestClient) -> None:
    rows = [{"beds": 3, "baths": 2, "sqft": -i} for i in range(50)]
    response = client.post("/predict/batch", json={"listings": rows})
    assert response.status_code == 422
    assert len(response.json()["detail"]) == 10


def test_csv_batch_adds_price_and_range_columns_and_keeps_the_others(client: TestClient) -> None:
    body = "beds,baths,sqft,address,zip\n3,2,1500,12 Oak St,01234\n2,1,836,4 Elm Ct,95838\n"
    response = client.post("/predict/batch", content=body, headers=CSV)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    answer = pd.read_csv(io.StringIO(response.text), dtype={"zip": str})
    assert answer.columns.tolist() == [
        *["beds", "baths", "sqft", "address", "zip"],
        *["price", "price_low", "price_high", "warnings"],
    ]
    assert answer["zip"].tolist() == ["01234", "95838"]
    assert answer["price"].tolist() == [single(client, h) for h in HOUSES[:2]]


def test_csv_batch_of_the_bundled_data_equals_json_batch(client: TestClient) -> None:
    frame = pd.read_csv(SACRAMENTO).drop(columns="price")
    csv_answer = client.post("/predict/batch", content=frame.to_csv(index=False), headers=CSV)
    assert csv_answer.status_code == 200
    rows = frame[["beds", "baths", "sqft"]].to_dict("records")
    json_answer = client.post("/predict/batch", json={"listings": rows}).json()
    assert pd.read_csv(io.StringIO(csv_answer.text))["price"].tolist() == [
        p["price"] for p in json_answer["predictions"]
    ]


def test_csv_batch_names_the_bad_line_and_column(client: TestClient) -> None:
    body = "beds,baths,sqft\n3,2,1500\n3,2,-4\n"
    response = client.post("/predict/batch", content=body, headers=CSV)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["msg"] == "line 3, column sqft: must be at least 50, got -4"
    assert error["loc"] == ["body", "line 3", "sqft"]


def test_csv_batch_with_a_price_column_is_refused_rather_than_overwritten(
    client: TestClient,
) -> None:
    response = client.post(
        "/predict/batch", content="beds,baths,sqft,price\n3,2,1500,1\n", headers=CSV
    )
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert "already has the column(s) price" in error["msg"] and error["loc"] == ["body"]


def test_other_content_types_are_a_415(client: TestClient) -> None:
    response = client.post(
        "/predict/batch", content=b"beds=3", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415


@pytest.fixture
def small_limits(settings: Settings, fitted: str) -> Iterator[TestClient]:
    limits = {"max_batch_rows": 5, "max_csv_rows": 7, "max_body_bytes": 2000}
    with TestClient(create_app(settings.model_copy(update=limits))) as test_client:
        yield test_client


def test_json_batch_over_the_row_limit_is_a_413_naming_the_limit(small_limits: TestClient) -> None:
    response = small_limits.post("/predict/batch", json={"listings": HOUSES * 2})
    assert response.status_code == 413
    assert "limit of 5 rows" in response.json()["detail"]


def test_csv_batch_over_the_row_limit_is_a_413_naming_the_limit(small_limits: TestClient) -> None:
    body = "beds,baths,sqft\n" + "3,2,1500\n" * 8
    response = small_limits.post("/predict/batch", content=body, headers=CSV)
    assert response.status_code == 413
    assert "more than 7 rows" in response.json()["detail"]


def test_a_body_over_the_size_limit_is_a_413(small_limits: TestClient) -> None:
    body = "beds,baths,sqft\n" + "3,2,1500\n" * 300
    response = small_limits.post("/predict/batch", content=body, headers=CSV)
    assert response.status_code == 413
    assert "2,000 bytes" in response.json()["detail"]


def test_a_streamed_body_over_the_size_limit_is_a_413(small_limits: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"beds,baths,sqft\n"
        for _ in range(300):
            yield b"3,2,1500\n"

    response = small_limits.post("/predict/batch", content=chunks(), headers=CSV)
    assert response.status_code == 413


def test_a_streamed_body_under_the_limit_is_answered(small_limits: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"beds,baths,sqft\n"
        yield b"3,2,1500\n"

    response = small_limits.post("/predict/batch", content=chunks(), headers=CSV)
    assert response.status_code == 200


def test_json_batch_rows_carry_the_same_range_parts_and_warnings_as_single_answers(
    client: TestClient,
) -> None:
    houses = [*HOUSES, {"beds": 3, "baths": 2, "sqft": 20000}]
    batch = client.post("/predict/batch?level=0.8", json={"listings": houses}).json()
    assert batch["level"] == 0.8
    for house, row in zip(houses, batch["predictions"], strict=True):
        one = client.post("/predict?level=0.8", json=house).json()
        for field in ("price", "price_low", "price_high", "price_per_sqft", "contributions"):
            assert row[field] == one[field], field
        assert row["warnings"] == one["warnings"]
    assert batch["predictions"][-1]["warnings"][0]["field"] == "sqft"


def test_csv_batch_carries_the_range_and_the_warnings(client: TestClient) -> None:
    body = "beds,baths,sqft\n3,2,1500\n3,2,20000\n"
    response = client.post("/predict/batch?level=0.8", content=body, headers=CSV)
    answer = pd.read_csv(io.StringIO(response.text), keep_default_na=False)
    one = client.post("/predict?level=0.8", json={"beds": 3, "baths": 2, "sqft": 1500}).json()
    assert answer.loc[0, "price_low"] == one["price_low"]
    assert answer.loc[0, "price_high"] == one["price_high"]
    assert answer.loc[0, "warnings"] == ""
    assert "sqft 20000 is outside the range" in str(answer.loc[1, "warnings"])


def test_a_csv_with_quoted_fields_is_answered_the_same_way(client: TestClient) -> None:
    body = 'beds,baths,sqft,address\n3,2,1500,"12 Oak St, Apt 4"\n3,2,20000,"1 Elm, Unit ""B"""\n'
    response = client.post("/predict/batch", content=body, headers=CSV)
    assert response.status_code == 200
    answer = pd.read_csv(io.StringIO(response.text), keep_default_na=False)
    assert answer["address"].tolist() == ["12 Oak St, Apt 4", '1 Elm, Unit "B"']
    one = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500}).json()
    assert answer.loc[0, "price"] == one["price"]
    assert answer.loc[0, "price_high"] == one["price_high"]
    assert "sqft 20000 is outside the range" in str(answer.loc[1, "warnings"])


def test_an_area_below_fifty_square_feet_is_refused_in_json_and_csv(client: TestClient) -> None:
    json_batch = client.post(
        "/predict/batch", json={"listings": [*HOUSES, {"beds": 1, "baths": 1, "sqft": 1e-300}]}
    )
    assert json_batch.status_code == 422
    assert json_batch.json()["detail"][0]["loc"] == ["body", "listings", 3, "sqft"]
    csv_batch = client.post(
        "/predict/batch", content=b"beds,baths,sqft\n3,2,1500\n1,1,5e-324\n", headers=CSV
    )
    assert csv_batch.status_code == 422
    [error] = csv_batch.json()["detail"]
    assert error["msg"] == "line 3, column sqft: must be at least 50, got 4.94066e-324"


def test_an_empty_json_batch_is_answered_with_no_predictions(
    client: TestClient, fitted: str
) -> None:
    response = client.post("/predict/batch", json={"listings": []})
    assert response.status_code == 200
    assert response.json() == {"model_version": fitted, "level": 0.9, "predictions": []}


def test_an_empty_csv_batch_is_answered_with_the_header_and_the_added_columns(
    client: TestClient, fitted: str
) -> None:
    response = client.post("/predict/batch", content=b"beds,baths,sqft,address\n", headers=CSV)
    assert response.status_code == 200
    assert response.headers["X-Model-Version"] == fitted
    assert response.text == "beds,baths,sqft,address,price,price_low,price_high,warnings\n"


def test_a_csv_without_a_header_is_still_refused(client: TestClient) -> None:
    response = client.post("/predict/batch", content=b"", headers=CSV)
    assert response.status_code == 422
    assert "empty" in str(response.json()["detail"])
