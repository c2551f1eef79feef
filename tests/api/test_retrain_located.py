"""/retrain of a located market: sales with places stored on both engines, fitted located, and
judged on the newest sales."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings
from app.storage import ListingStore
from tests.api.test_retrain import poll
from tests.support import located_listings

pytestmark = pytest.mark.engines("files", "postgres")
CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def empty_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_the_store_gives_back_areas_and_coordinates(store: ListingStore) -> None:
    frame = located_listings(50)
    frame.loc[3, "area"] = None
    frame.loc[4, ["latitude", "longitude"]] = None
    store.add(frame, "replace")
    snapshot = store.snapshot()
    assert snapshot is not None
    back = store.read(snapshot)
    assert [a if isinstance(a, str) and a else None for a in back["area"]] == [
        a if isinstance(a, str) else None for a in frame["area"]
    ]
    np.testing.assert_array_equal(
        back["latitude"].astype(float).to_numpy(), frame["latitude"].astype(float).to_numpy()
    )


def test_located_sales_retrain_a_located_model_judged_on_the_newest(
    empty_client: TestClient, auth: dict[str, str]
) -> None:
    sales = located_listings(1200, seed=5)
    first = empty_client.post(
        "/retrain?wait=true&mode=replace",
        content=sales.to_csv(index=False),
        headers={**CSV, **auth},
    )
    assert first.status_code == 200 and first.json()["status"] == "succeeded", first.text
    card = empty_client.get("/model").json()
    assert card["kind"] == "located"
    newer = located_listings(300, seed=6)
    newer["sold_at"] = "2015-06-20"
    second = empty_client.post(
        "/retrain?wait=true", content=newer.to_csv(index=False), headers={**CSV, **auth}
    )
    job = (
        poll(empty_client, second.json()["job_id"]) if second.status_code == 202 else second.json()
    )
    assert job["status"] == "succeeded", job
    assert "the newest 150 sales" in job["reason"]
    answer = empty_client.post(
        "/predict", json={"beds": 3, "baths": 2, "sqft": 1800, "area": "north"}
    ).json()
    assert answer["contributions"]["area"] > 0
