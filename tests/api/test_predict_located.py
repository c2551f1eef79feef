"""POST /predict and /predict/batch of a located market: where and when in, dollar parts out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings

pytestmark = pytest.mark.engines("files", "postgres")

HOME = {"beds": 3, "baths": 2, "sqft": 1800}
PLACED = {**HOME, "area": "north", "latitude": 47.52, "longitude": -122.25, "as_of": "2015-02-10"}
LOCATED_PARTS = [
    *("intercept", "beds", "baths", "sqft", "area", "location", "time", "comps", "equity")
]


def test_a_located_home_gets_parts_that_add_up_to_its_price(located_client: TestClient) -> None:
    body = located_client.post("/predict", json=PLACED).json()
    parts = body["contributions"]
    assert list(parts) == LOCATED_PARTS
    total = 0.0
    for name in LOCATED_PARTS:
        total += parts[name]
    assert total == body["price"]
    assert parts["area"] != 0 and parts["location"] != 0 and parts["time"] != 0
    assert body["warnings"] == []


def test_a_home_without_a_place_is_valued_at_the_market_level(located_client: TestClient) -> None:
    body = located_client.post("/predict", json=HOME).json()
    assert [body["contributions"][k] for k in ("area", "location", "time")] == [0.0, 0.0, 0.0]


def test_a_batch_of_located_and_unlocated_rows_answers_each_as_one_home_would(
    located_client: TestClient,
) -> None:
    one = [located_client.post("/predict", json=h).json() for h in (PLACED, HOME)]
    batch = located_client.post("/predict/batch", json={"listings": [PLACED, HOME]}).json()
    for single, row in zip(one, batch["predictions"], strict=True):
        assert row["price"] == single["price"]
        assert row["contributions"] == single["contributions"]


def test_a_csv_batch_reads_area_coordinates_and_as_of(located_client: TestClient) -> None:
    csv = (
        "beds,baths,sqft,area,latitude,longitude,as_of\n"
        "3,2,1800,north,47.52,-122.25,2015-02-10\n"
        "3,2,1800,,,,\n"
    )
    response = located_client.post(
        "/predict/batch", content=csv.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200
    lines = response.text.splitlines()
    one = located_client.post("/predict", json=PLACED).json()
    assert lines[1].split(",")[7] == repr(one["price"])


def test_a_quoted_csv_batch_gives_its_coordinates_back_as_they_were_written(
    located_client: TestClient,
) -> None:
    csv = b'beds,baths,sqft,area,latitude,longitude\n3,2,1800,"north",47.520,-122.2500\n'
    response = located_client.post(
        "/predict/batch", content=csv, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200
    row = response.text.splitlines()[1].split(",")
    assert row[3:6] == ["north", "47.520", "-122.2500"]
    assert (
        float(row[6])
        == located_client.post("/predict", json=PLACED | {"as_of": None}).json()["price"]
    )


def test_an_unknown_area_is_answered_with_a_warning(located_client: TestClient) -> None:
    body = located_client.post("/predict", json={**HOME, "area": "elsewhere"}).json()
    assert [w["code"] for w in body["warnings"]] == ["unknown_area"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"latitude": 90.5, "longitude": 0}, "latitude"),
        ({"latitude": 0, "longitude": 181}, "longitude"),
        ({"as_of": "2015-02-30"}, "as_of"),
        ({"area": "x" * 65}, "area"),
        ({"area": ""}, "area"),
    ],
)
def test_bad_places_are_named_in_a_422(
    located_client: TestClient, extra: dict[str, Any], field: str
) -> None:
    response = located_client.post("/predict", json={**HOME, **extra})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field


def test_a_latitude_without_a_longitude_is_a_422_naming_both(located_client: TestClient) -> None:
    response = located_client.post("/predict", json={**HOME, "latitude": 47.5})
    assert response.status_code == 422
    assert "latitude and longitude go together" in response.json()["detail"][0]["msg"]


def test_nan_coordinates_are_a_422(located_client: TestClient) -> None:
    response = located_client.post(
        "/predict",
        content=b'{"beds": 3, "baths": 2, "sqft": 1800, "latitude": NaN, "longitude": 0}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


def test_a_bad_csv_coordinate_is_a_422_naming_its_line(located_client: TestClient) -> None:
    csv = b"beds,baths,sqft,latitude,longitude\n3,2,1800,47.5,-122.3\n3,2,1800,95,-122.3\n"
    response = located_client.post(
        "/predict/batch", content=csv, headers={"content-type": "text/csv"}
    )
    assert response.status_code == 422
    assert "line 3, column latitude" in response.json()["detail"][0]["msg"]


def test_markets_show_a_located_markets_ratio_statistics_out_of_time(
    located_client: TestClient,
) -> None:
    [line] = located_client.get("/markets").json()["markets"]
    assert line["accuracy"]["cod"] > 0 and line["accuracy"]["prd"] > 0
    assert set(line["out_of_time"]) >= {"median_ape", "cod", "prd", "prb", "coverage_90"}


def test_a_plain_market_says_it_does_not_use_a_homes_place(client: TestClient) -> None:
    one = client.post("/predict", json=PLACED).json()
    assert [w["code"] for w in one["warnings"]] == ["place_not_used"]
    assert list(one["contributions"]) == ["intercept", "beds", "baths", "sqft"]
    batch = client.post("/predict/batch", json={"listings": [PLACED, HOME]}).json()
    assert [w["code"] for w in batch["predictions"][0]["warnings"]] == ["place_not_used"]
    assert batch["predictions"][1]["warnings"] == []


def test_comps_are_listed_most_similar_first_with_adjustments_that_add_up(
    located_client: TestClient,
) -> None:
    body = located_client.post("/predict?comps=5", json=PLACED).json()
    comps = body["comps"]
    assert len(comps) == 5
    assert [c["weight"] for c in comps] == sorted((c["weight"] for c in comps), reverse=True)
    for comp in comps:
        total = comp["price"]
        for cause in ("beds", "baths", "sqft", "area", "location", "time"):
            total += comp["adjustments"][cause]
        assert total == comp["adjusted_price"]
    plain = located_client.post("/predict", json=PLACED).json()
    assert body["price"] == plain["price"]
    assert "comps" not in plain


@pytest.mark.parametrize("n", [-1, 21, "x"])
def test_comps_out_of_range_is_a_422_naming_it(located_client: TestClient, n: object) -> None:
    response = located_client.post(f"/predict?comps={n}", json=PLACED)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "comps"]


def test_a_home_without_coordinates_is_told_comps_need_them(located_client: TestClient) -> None:
    body = located_client.post("/predict?comps=3", json=HOME).json()
    assert body["comps"] == []
    assert [w["code"] for w in body["warnings"]] == ["no_comps"]


def test_an_operator_may_turn_the_listing_of_comps_off(settings: Settings, located: str) -> None:
    with TestClient(create_app(settings.model_copy(update={"list_comps": False}))) as client:
        body = client.post("/predict?comps=5", json=PLACED).json()
        plain = client.post("/predict", json=PLACED).json()
    assert body["comps"] == []
    assert [w["code"] for w in body["warnings"]] == ["comps_not_listed"]
    assert body["contributions"]["comps"] == plain["contributions"]["comps"] != 0


def test_comps_are_answered_alike_on_the_fast_path_and_by_the_route(
    located_client: TestClient,
) -> None:
    fast = located_client.post("/predict?comps=3&level=0.8", json=PLACED)
    # A trailing `&` is not the fast path's to read: the FastAPI route answers it.
    routed = located_client.post("/predict?comps=3&level=0.8&", json=PLACED)
    assert fast.status_code == routed.status_code == 200
    assert fast.json() == routed.json()
    assert len(fast.json()["comps"]) == 3
