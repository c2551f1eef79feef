"""Markets over HTTP: estimates routed to each town's model, /markets, retiring, isolation."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings
from app.domain.fitting import fit_table
from app.domain.listings import read_table
from app.domain.located_fitting import fit_located_table
from app.storage import Storage
from tests.support import SACRAMENTO, located_listings

pytestmark = pytest.mark.engines("files", "postgres")

# Four towns of the bundled sales, each with enough sales of its own to fit.
TOWNS = {
    "sacramento": "SACRAMENTO",
    "elk-grove": "ELK_GROVE",
    "roseville": "ROSEVILLE",
    "citrus-heights": "CITRUS_HEIGHTS",
}
HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def town_sales(city: str) -> pd.DataFrame:
    sales = read_table(SACRAMENTO)
    return sales[sales["city"] == city].reset_index(drop=True)


@pytest.fixture
def towns(storage: Storage, fitted: str) -> dict[str, str]:
    """The four towns fitted as markets next to the default one; each market's version."""
    versions = {}
    for market, city in TOWNS.items():
        registry = storage.market(market).registry
        versions[market] = registry.save(*fit_table(town_sales(city), folds=5, source=city))
        registry.activate(versions[market])
    return versions


@pytest.fixture
def market_client(settings: Settings, towns: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def lstsq(city: str) -> np.ndarray:
    sales = town_sales(city)
    X = np.column_stack([sales[["beds", "baths", "sqft"]].to_numpy(), np.ones(len(sales))])
    solution, *_ = np.linalg.lstsq(X, sales["price"].to_numpy(), rcond=None)
    return np.asarray(solution)


def test_each_market_answers_with_its_own_least_squares_fit(market_client: TestClient) -> None:
    for market, city in TOWNS.items():
        answer = market_client.post("/predict", json={**HOUSE, "market": market}).json()
        b = lstsq(city)
        expected = b[0] * 3 + b[1] * 2 + b[2] * 1500 + b[3]
        assert answer["market"] == market
        assert answer["price"] == pytest.approx(expected, rel=1e-6)
        card = market_client.get(f"/model?market={market}").json()
        fitted = [card["coefficients"][f]["value"] for f in ("beds", "baths", "sqft")]
        assert np.allclose([*fitted, card["intercept"]], b, rtol=1e-6, atol=0)


def test_a_request_that_names_no_market_is_answered_by_the_default_one(
    market_client: TestClient, fitted: str
) -> None:
    answer = market_client.post("/predict", json=HOUSE)
    assert answer.json()["market"] == "default" and answer.json()["model_version"] == fitted


def test_an_unknown_market_is_a_404_that_names_it(market_client: TestClient) -> None:
    answer = market_client.post("/predict", json={**HOUSE, "market": "ames"})
    assert answer.status_code == 404 and "'ames'" in answer.json()["detail"]


@pytest.mark.parametrize("name", ["Ames", "-ames", "ames!", "a" * 64, ""])
def test_a_malformed_market_is_a_422_naming_the_field(market_client: TestClient, name: str) -> None:
    answer = market_client.post("/predict", json={**HOUSE, "market": name})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "market"]


def test_a_json_batch_routes_each_row_to_its_market(
    market_client: TestClient, towns: dict[str, str], fitted: str
) -> None:
    rows = [{**HOUSE, "market": m} for m in TOWNS] + [HOUSE]
    answer = market_client.post("/predict/batch", json={"listings": rows}).json()
    assert answer["model_version"] is None
    assert answer["markets"] == {**towns, "default": fitted}
    for row, prediction in zip(rows, answer["predictions"], strict=True):
        one = market_client.post("/predict", json=row).json()
        assert prediction["market"] == one["market"]
        assert prediction["model_version"] == one["model_version"]
        assert prediction["price"] == one["price"]
        assert (prediction["price_low"], prediction["price_high"]) == (
            one["price_low"],
            one["price_high"],
        )


def test_a_batch_with_an_unknown_market_is_a_422_naming_rows_and_market(
    market_client: TestClient,
) -> None:
    rows = [{**HOUSE, "market": "roseville"}, {**HOUSE, "market": "ames"}, HOUSE]
    answer = market_client.post("/predict/batch", json={"listings": rows})
    assert answer.status_code == 422
    (error,) = answer.json()["detail"]
    assert error["loc"] == ["body", "listings", 1, "market"] and "'ames'" in error["msg"]


def test_a_batch_that_names_no_market_is_answered_as_before(
    market_client: TestClient, fitted: str
) -> None:
    answer = market_client.post("/predict/batch", json={"listings": [HOUSE]}).json()
    assert answer.keys() == {"model_version", "level", "predictions"}
    assert answer["model_version"] == fitted
    assert "market" not in answer["predictions"][0]


def test_a_mixed_csv_routes_every_row_to_its_market(
    market_client: TestClient, towns: dict[str, str], fitted: str
) -> None:
    body = "beds,baths,sqft,market\n3,2,1500,roseville\n2,1,900,\n4,3,2200,elk-grove\n"
    answer = market_client.post(
        "/predict/batch", content=body, headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    table = pd.read_csv(io.StringIO(answer.text))
    assert table["model_version"].tolist() == [towns["roseville"], fitted, towns["elk-grove"]]
    for _, row in table.iterrows():
        market = row["market"] if isinstance(row["market"], str) else None
        one = market_client.post(
            "/predict",
            json={"beds": int(row["beds"]), "baths": row["baths"], "sqft": row["sqft"]}
            | ({"market": market} if market else {}),
        ).json()
        assert row["price"] == pytest.approx(one["price"], rel=1e-12)


def test_a_csv_row_with_an_unknown_market_is_a_422_naming_its_line(
    market_client: TestClient,
) -> None:
    body = "beds,baths,sqft,market\n3,2,1500,roseville\n2,1,900,ames\n2,1,900,Bad Town\n"
    answer = market_client.post(
        "/predict/batch", content=body, headers={"Content-Type": "text/csv"}
    )
    assert answer.status_code == 422
    messages = [e["msg"] for e in answer.json()["detail"]]
    assert any(m.startswith("line 3, column market") and "'ames'" in m for m in messages)
    assert any(m.startswith("line 4, column market") and "'Bad Town'" in m for m in messages)


def test_markets_lists_each_market_with_its_sales_and_accuracy(
    market_client: TestClient, towns: dict[str, str]
) -> None:
    body = market_client.get("/markets").json()
    assert body["default_market"] == "default"
    names = [m["market"] for m in body["markets"]]
    assert names == sorted([*TOWNS, "default"])
    roseville = next(m for m in body["markets"] if m["market"] == "roseville")
    assert roseville["active_version"] == towns["roseville"]
    assert roseville["n_train"] == len(town_sales("ROSEVILLE"))
    accuracy = roseville["accuracy"]
    assert 0 < accuracy["median_ape"] < 1 and 0 <= accuracy["within_10"] <= accuracy["within_20"]
    assert 0 < accuracy["coverage_90"] <= 1


def test_markets_come_a_page_at_a_time(market_client: TestClient) -> None:
    seen: list[str] = []
    token = None
    while True:
        query = "/markets?limit=2" + (f"&page_token={token}" if token else "")
        page = market_client.get(query).json()
        seen += [m["market"] for m in page["markets"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == sorted([*TOWNS, "default"])


def test_markets_whose_name_contains_the_text_are_listed_alone(
    market_client: TestClient,
) -> None:
    body = market_client.get("/markets?contains=ROSE").json()
    assert [m["market"] for m in body["markets"]] == ["roseville"]
    assert body["total"] == 1 and body["next_page_token"] is None
    assert market_client.get("/markets?contains=-").json()["total"] == 2
    assert market_client.get("/markets?contains=ames").json() | {"default_market": ""} == {
        "default_market": "",
        "total": 0,
        "markets": [],
        "next_page_token": None,
    }


def test_markets_contains_refuses_what_no_name_holds(market_client: TestClient) -> None:
    answer = market_client.get("/markets?contains=elk%20grove")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == [
        "query",
        "contains",
    ]


@pytest.mark.parametrize("column", ["median_ape", "within_20", "n_train", "fitted_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_markets_sort_by_a_column_in_either_order(
    market_client: TestClient, column: str, order: str
) -> None:
    lines = market_client.get(f"/markets?sort={column}&order={order}").json()["markets"]
    values = [m["accuracy"][column] if column in m["accuracy"] else m[column] for m in lines]
    assert len(values) == 5 and values == sorted(values, reverse=order == "desc")


@pytest.mark.parametrize("column", ["cod", "prd"])
def test_markets_sort_by_the_ratio_statistics_of_located_markets_the_others_last(
    settings: Settings, storage: Storage, fitted: str, column: str
) -> None:
    for seed, market in enumerate(("east-town", "west-town", "north-town")):
        registry = storage.market(market).registry
        sales = located_listings(600 + 300 * seed, seed=seed)
        registry.activate(registry.save(*fit_located_table(sales, folds=5, source=market)))
    with TestClient(create_app(settings)) as client:
        lines = client.get(f"/markets?sort={column}&order=desc").json()["markets"]
    values = [m["accuracy"][column] for m in lines]
    assert values[-1] is None and [m["market"] for m in lines][-1] == "default"
    assert values[:3] == sorted(values[:3], reverse=True) and None not in values[:3]


def test_markets_sorted_by_a_column_come_a_page_at_a_time_in_that_order(
    market_client: TestClient,
) -> None:
    whole = market_client.get("/markets?sort=within_10&order=desc").json()["markets"]
    seen: list[str] = []
    token = None
    while True:
        query = "/markets?sort=within_10&order=desc&limit=2"
        page = market_client.get(query + (f"&page_token={token}" if token else "")).json()
        assert page["total"] == 5
        seen += [m["market"] for m in page["markets"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [m["market"] for m in whole]


def test_an_unknown_sort_column_is_a_422_naming_it(market_client: TestClient) -> None:
    answer = market_client.get("/markets?sort=price")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "sort"]


def test_each_market_says_it_is_ready_and_what_needs_attention(
    market_client: TestClient,
) -> None:
    lines = {m["market"]: m for m in market_client.get("/markets").json()["markets"]}
    assert all(line["ready"] for line in lines.values())
    # The bundled sales carry no dates; Sacramento's median error is above 20 %, Elk Grove's not.
    assert lines["sacramento"]["concerns"] == ["poor_accuracy", "no_sale_dates"]
    assert lines["elk-grove"]["concerns"] == ["no_sale_dates"]
    assert lines["sacramento"]["accuracy"]["median_ape"] > 0.2
    assert lines["elk-grove"]["accuracy"]["median_ape"] <= 0.2
    assert lines["elk-grove"]["fitted_at"] == lines["elk-grove"]["last_fit"]


def test_sales_older_than_180_days_are_a_concern_and_recent_ones_are_not(
    market_client: TestClient, auth: dict[str, str]
) -> None:
    sales = town_sales("ANTELOPE")
    for market, year in (("antelope-old", 2020), ("antelope-new", None)):
        dated = sales.assign(
            sold_at=[f"{year}-01-15" if year else dt.date.today().isoformat()] * len(sales)
        )
        job = market_client.post(
            f"/retrain?market={market}&wait=true&mode=replace",
            content=dated.to_csv(index=False).encode(),
            headers={**auth, "Content-Type": "text/csv"},
        ).json()
        assert job["status"] == "succeeded", job
    lines = {
        m["market"]: m for m in market_client.get("/markets?contains=antelope").json()["markets"]
    }
    assert "old_sales" in lines["antelope-old"]["concerns"]
    assert lines["antelope-old"]["last_sale"] == "2020-01-15"
    assert not {"old_sales", "no_sale_dates"} & set(lines["antelope-new"]["concerns"])


def test_a_newer_fit_that_was_not_promoted_shows_as_the_last_fit(
    market_client: TestClient, storage: Storage, towns: dict[str, str]
) -> None:
    registry = storage.market("roseville").registry
    newer = registry.save(*fit_table(town_sales("ANTELOPE"), folds=5, source="antelope"))
    line = market_client.get("/markets?contains=roseville").json()["markets"][0]
    assert line["active_version"] == towns["roseville"]
    assert line["last_fit"] == registry.card(newer)["created_at"] > line["fitted_at"]


def test_a_batch_estimates_rows_naming_no_market_in_the_market_of_the_query(
    market_client: TestClient, towns: dict[str, str]
) -> None:
    one = market_client.post("/predict", json={**HOUSE, "market": "elk-grove"}).json()
    json_batch = market_client.post(
        "/predict/batch?market=elk-grove", json={"listings": [HOUSE]}
    ).json()
    assert json_batch["model_version"] == towns["elk-grove"]
    assert json_batch["predictions"][0]["price"] == one["price"]
    csv_batch = market_client.post(
        "/predict/batch?market=elk-grove",
        content="beds,baths,sqft\n3,2,1500\n",
        headers={"Content-Type": "text/csv"},
    )
    assert csv_batch.headers["X-Model-Version"] == towns["elk-grove"]
    assert float(pd.read_csv(io.StringIO(csv_batch.text))["price"][0]) == pytest.approx(
        one["price"], rel=1e-12
    )
    mixed = market_client.post(
        "/predict/batch?market=elk-grove",
        content="beds,baths,sqft,market\n3,2,1500,\n3,2,1500,roseville\n",
        headers={"Content-Type": "text/csv"},
    )
    assert pd.read_csv(io.StringIO(mixed.text))["model_version"].tolist() == [
        towns["elk-grove"],
        towns["roseville"],
    ]
    rows = [HOUSE, {**HOUSE, "market": "roseville"}]
    routed = market_client.post("/predict/batch?market=elk-grove", json={"listings": rows})
    assert [p["market"] for p in routed.json()["predictions"]] == ["elk-grove", "roseville"]


def test_a_batch_naming_an_unknown_market_in_the_query_is_a_404(
    market_client: TestClient,
) -> None:
    answer = market_client.post("/predict/batch?market=ames", json={"listings": [HOUSE]})
    assert answer.status_code == 404 and "'ames'" in answer.json()["detail"]


def test_one_market_shows_its_active_card(market_client: TestClient, towns: dict[str, str]) -> None:
    body = market_client.get("/markets/elk-grove").json()
    assert body["card"]["version"] == towns["elk-grove"] == body["active_version"]
    assert market_client.get("/markets/ames").status_code == 404


def test_a_retired_market_stops_serving_and_the_others_do_not_move(
    market_client: TestClient, auth: dict[str, str]
) -> None:
    before = market_client.post("/predict", json={**HOUSE, "market": "roseville"}).content
    retired = market_client.delete("/markets/elk-grove", headers=auth)
    assert retired.status_code == 200 and retired.json() == {"market": "elk-grove", "retired": True}
    gone = market_client.post("/predict", json={**HOUSE, "market": "elk-grove"})
    assert gone.status_code == 404
    assert market_client.post("/predict", json={**HOUSE, "market": "roseville"}).content == before
    assert "elk-grove" not in [m["market"] for m in market_client.get("/markets").json()["markets"]]
    again = market_client.post(
        "/retrain?market=elk-grove",
        content=SACRAMENTO.read_bytes(),
        headers={**auth, "Content-Type": "text/csv"},
    )
    assert again.status_code == 409 and "retired" in again.json()["detail"]


def test_retiring_needs_the_key_and_never_takes_the_default_market(
    market_client: TestClient, auth: dict[str, str]
) -> None:
    assert market_client.delete("/markets/roseville").status_code == 401
    refused = market_client.delete("/markets/default", headers=auth)
    assert refused.status_code == 409 and "default" in refused.json()["detail"]
    assert market_client.delete("/markets/ames", headers=auth).status_code == 404


def test_activation_acts_in_the_versions_own_market(
    market_client: TestClient, storage: Storage, towns: dict[str, str], auth: dict[str, str]
) -> None:
    registry = storage.market("roseville").registry
    newer = registry.save(*fit_table(town_sales("ANTELOPE"), folds=5, source="antelope"))
    default_before = market_client.post("/predict", json=HOUSE).content
    answer = market_client.post(f"/models/{newer}/activate", headers=auth)
    assert answer.json() == {
        "market": "roseville",
        "active_version": newer,
        "previous_version": towns["roseville"],
    }
    served = market_client.post("/predict", json={**HOUSE, "market": "roseville"}).json()
    assert served["model_version"] == newer
    assert market_client.post("/predict", json=HOUSE).content == default_before


def test_models_of_a_market_list_its_versions_alone(
    market_client: TestClient, towns: dict[str, str]
) -> None:
    body = market_client.get("/models?market=citrus-heights").json()
    assert body["market"] == "citrus-heights"
    assert [v["version"] for v in body["versions"]] == [towns["citrus-heights"]]
    assert market_client.get("/models?market=ames").status_code == 404


def test_a_retrain_with_a_new_market_name_creates_the_market(
    market_client: TestClient, auth: dict[str, str]
) -> None:
    sales = town_sales("ANTELOPE")
    job = market_client.post(
        "/retrain?market=antelope&wait=true",
        content=sales.to_csv(index=False).encode(),
        headers={**auth, "Content-Type": "text/csv"},
    ).json()
    assert job["status"] == "succeeded" and job["market"] == "antelope" and job["promoted"]
    answer = market_client.post("/predict", json={**HOUSE, "market": "antelope"}).json()
    assert answer["model_version"] == job["version"]
    assert "antelope" in [m["market"] for m in market_client.get("/markets").json()["markets"]]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/retrain?markt=ames"),
        ("POST", "/predict?markt=ames"),
        ("POST", "/predict/batch?markt=ames"),
        ("GET", "/models?markt=ames"),
        ("GET", "/markets?markt=ames"),
        ("GET", "/health/ready?markt=ames"),
    ],
)
def test_an_unknown_query_parameter_is_a_422_naming_it(
    market_client: TestClient, auth: dict[str, str], method: str, path: str
) -> None:
    answer = market_client.request(method, path, json=HOUSE, headers=auth)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "markt"]


def test_a_malformed_market_in_the_query_is_a_422(
    market_client: TestClient, auth: dict[str, str]
) -> None:
    answer = market_client.get("/models?market=Ames")
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", "market"]


def test_a_market_answers_at_any_level_with_its_whole_model(
    market_client: TestClient, storage: Storage, towns: dict[str, str]
) -> None:
    whole = storage.market("roseville").registry.load(towns["roseville"]).model
    for level in (0.9, 0.8, 0.95):
        answer = market_client.post(
            f"/predict?level={level}", json={**HOUSE, "market": "roseville"}
        ).json()
        explained = whole.explain(3, 2, 1500, level)
        assert (answer["price_low"], answer["price_high"]) == (explained.low, explained.high)


def test_the_card_of_a_market_is_its_active_versions(
    market_client: TestClient, storage: Storage, towns: dict[str, str]
) -> None:
    card = market_client.get("/model?market=roseville").json()
    assert card == storage.market("roseville").registry.card(towns["roseville"])
