"""GET /model/areas: a market's areas, matched as someone types one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.areas import matching
from tests.support import AREA_EFFECTS

pytestmark = pytest.mark.engines("files", "postgres")


def test_every_area_of_a_located_market_is_listed_in_order(located_client: TestClient) -> None:
    body = located_client.get("/model/areas").json()
    assert body["areas"] == sorted(AREA_EFFECTS)
    assert body["total"] == len(AREA_EFFECTS)
    assert body["market"] == "default"


def test_the_answer_names_the_version_that_knows_the_areas(
    located_client: TestClient, located: str
) -> None:
    response = located_client.get("/model/areas")
    assert response.json()["model_version"] == located
    assert response.headers["X-Model-Version"] == located


def test_areas_are_matched_in_any_case_those_starting_with_the_text_first(
    located_client: TestClient,
) -> None:
    assert located_client.get("/model/areas?contains=TH").json()["areas"] == ["north", "south"]
    assert located_client.get("/model/areas?contains=e").json()["areas"] == [
        "east",
        "centre",
    ]


def test_a_limit_keeps_the_first_areas_and_the_total_counts_them_all(
    located_client: TestClient,
) -> None:
    body = located_client.get("/model/areas?limit=2").json()
    assert body["areas"] == ["centre", "east"]
    assert body["total"] == 4


def test_a_plain_model_has_no_areas(client: TestClient) -> None:
    body = client.get("/model/areas").json()
    assert body["areas"] == [] and body["total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=1001", "limit"), ("contains=" + "x" * 65, "contains")],
)
def test_a_bad_query_is_a_422_naming_its_field(
    located_client: TestClient, query: str, field: str
) -> None:
    response = located_client.get(f"/model/areas?{query}")
    assert response.status_code == 422
    assert field in response.text


def test_an_unknown_market_is_a_404(located_client: TestClient) -> None:
    assert located_client.get("/model/areas?market=nowhere").status_code == 404


def test_matching_puts_prefix_matches_before_other_matches() -> None:
    assert matching(("98105", "98115", "19810"), "981", 10) == (["98105", "98115", "19810"], 3)
