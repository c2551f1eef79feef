"""POST /retrain and GET /jobs/{id}: checked, stored before the answer, fitted in the background."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.factory import create_app
from app.config import Settings
from app.storage.files.registry import FileRegistry as Registry
from app.storage.files.store import FileStore as Store

NEW_SALES = [
    {"beds": 3, "baths": 2, "sqft": 1500, "price": 249000, "sold_at": "2026-11-02"},
    {"beds": 2, "baths": 1, "sqft": 836, "price": 139000},
]
CSV = {"Content-Type": "text/csv"}

pytestmark = pytest.mark.engines("files", "postgres")


def stored_rows(store: Store) -> int:
    snapshot = store.snapshot()
    return 0 if snapshot is None else len(store.read(snapshot))


def poll(client: TestClient, job_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise TimeoutError(job_id)


def test_retrain_needs_the_bearer_key(client: TestClient, store: Store) -> None:
    assert client.post("/retrain", json={"listings": NEW_SALES}).status_code == 401
    assert stored_rows(store) == 932


def test_append_answers_202_with_the_job_and_fits_in_the_background(
    client: TestClient, store: Store, registry: Registry, fitted: str, auth: dict[str, str]
) -> None:
    response = client.post("/retrain", json={"listings": NEW_SALES}, headers=auth)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] in ("queued", "running", "succeeded")
    assert response.headers["Location"] == f"/jobs/{job['job_id']}"
    assert stored_rows(store) == 934  # on disk before the answer
    done = poll(client, job["job_id"])
    assert done["status"] == "succeeded", done
    assert done["n_train"] == 934
    assert done["version"] in registry.versions()


def test_wait_answers_200_with_the_finished_job(
    client: TestClient, store: Store, fitted: str, auth: dict[str, str]
) -> None:
    response = client.post("/retrain?wait=true", json={"listings": NEW_SALES}, headers=auth)
    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "succeeded"
    for field in ("version", "promoted", "reason", "active_version", "n_train", "metrics"):
        assert field in job, field
    assert job["promoted"] is True and job["active_version"] == job["version"]
    served = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert served.json()["model_version"] == job["version"]


def test_a_client_that_sees_its_job_promoted_is_served_the_new_version_next(
    settings: Settings, store: Store, fitted: str, auth: dict[str, str]
) -> None:
    # Pointers followed once a second: the answer to the job must not wait for the next look.
    slow = settings.model_copy(update={"poll_interval": 1.0})
    with TestClient(create_app(slow)) as client:
        queued = client.post("/retrain", json={"listings": NEW_SALES}, headers=auth).json()
        deadline = time.monotonic() + 60
        while (job := client.get(f"/jobs/{queued['job_id']}").json())["status"] not in (
            "succeeded",
            "failed",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        served = client.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert job["promoted"] and served.json()["model_version"] == job["version"]


def test_a_csv_body_takes_mode_and_force_from_the_query(
    client: TestClient, store: Store, fitted: str, auth: dict[str, str]
) -> None:
    body = "beds,baths,sqft,price,sold_at\n3,2,1500,249000,2026-11-02\n" + "".join(
        f"{2 + i % 3},2,{1200 + 10 * i},{180000 + 900 * i},2026-11-03\n" for i in range(20)
    )
    response = client.post(
        "/retrain?wait=true&mode=replace&force=true", content=body, headers={**CSV, **auth}
    )
    assert response.status_code == 200
    job = response.json()
    assert job["n_train"] == 21 and job["mode"] == "replace" and job["force"] is True
    assert stored_rows(store) == 21


def test_a_bad_row_is_a_422_naming_row_and_field_and_nothing_is_stored(
    client: TestClient, store: Store, settings: Any, auth: dict[str, str]
) -> None:
    rows = [*NEW_SALES, {"beds": 3, "baths": 2, "sqft": 1500, "price": 0}]
    response = client.post("/retrain", json={"listings": rows}, headers=auth)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "listings", 2, "price"]
    assert stored_rows(store) == 932
    assert list((settings.data_dir / "jobs").glob("*.json")) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("beds,baths,sqft,price\n3,2,1500,249000\n3,2,1500,-1\n", "line 3, column price"),
        ("beds,baths,sqft,price,sold_at\n3,2,1500,249000,May 2\n", "line 2, column sold_at"),
        ("beds,baths,sqft\n3,2,1500\n", "lacks the column(s) price"),
    ],
)
def test_a_bad_csv_is_a_422_naming_line_and_column_and_nothing_is_stored(
    client: TestClient, store: Store, auth: dict[str, str], body: str, message: str
) -> None:
    response = client.post("/retrain", content=body, headers={**CSV, **auth})
    assert response.status_code == 422
    assert message in str(response.json()["detail"])
    assert stored_rows(store) == 932


def test_a_bad_sale_date_in_json_is_a_422(
    client: TestClient, store: Store, auth: dict[str, str]
) -> None:
    rows = [{"beds": 3, "baths": 2, "sqft": 1500, "price": 1e5, "sold_at": "yesterday"}]
    response = client.post("/retrain", json={"listings": rows}, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "listings", 0, "sold_at"]


def test_the_same_upload_twice_is_stored_once(
    client: TestClient, store: Store, auth: dict[str, str]
) -> None:
    first = client.post("/retrain", json={"listings": NEW_SALES}, headers=auth).json()
    again = client.post("/retrain", json={"listings": NEW_SALES}, headers=auth).json()
    assert first["duplicate"] is False and again["duplicate"] is True
    assert stored_rows(store) == 934
    poll(client, again["job_id"])


def test_mode_in_the_query_with_a_json_body_is_refused(
    client: TestClient, auth: dict[str, str]
) -> None:
    response = client.post("/retrain?mode=replace", json={"listings": NEW_SALES}, headers=auth)
    assert response.status_code == 422
    assert "fields of the body" in response.json()["detail"][0]["msg"]


def test_an_empty_list_and_an_unknown_mode_are_refused(
    client: TestClient, auth: dict[str, str]
) -> None:
    empty = client.post("/retrain", json={"listings": []}, headers=auth)
    assert empty.status_code == 422
    odd = client.post("/retrain", json={"listings": NEW_SALES, "mode": "merge"}, headers=auth)
    assert odd.status_code == 422
    assert odd.json()["detail"][0]["loc"] == ["body", "mode"]


def test_a_retrain_that_the_gate_holds_back_keeps_the_active_version(
    client: TestClient, fitted: str, auth: dict[str, str]
) -> None:
    few = [{"beds": 3, "baths": 2, "sqft": 1000 + i, "price": 1e5 + i} for i in range(5)]
    response = client.post(
        "/retrain?wait=true", json={"listings": few, "mode": "replace"}, headers=auth
    )
    job = response.json()
    assert job["status"] == "succeeded" and job["promoted"] is False
    assert job["active_version"] == fitted
    assert "force" in job["reason"]
    assert client.get("/model").json()["version"] == fitted


def test_an_unknown_job_is_a_404(client: TestClient) -> None:
    assert client.get(f"/jobs/{'0' * 32}").status_code == 404


def test_skip_leaves_out_bad_csv_rows_stores_the_rest_and_the_job_names_them(
    client: TestClient, store: Store, registry: Registry, fitted: str, auth: dict[str, str]
) -> None:
    body = (
        "beds,baths,sqft,price,note\n3,2,1500,249000,a\n33,2,1500,250000,b\n"
        "2,1,836,139000,c\n3,2,1500,0,d\n"
    )
    response = client.post("/retrain?invalid=skip&wait=true", content=body, headers={**CSV, **auth})
    assert response.status_code == 200
    job = response.json()
    assert job["status"] == "succeeded" and job["rows_received"] == 2
    assert job["skipped"] == {
        "rows": 2,
        "reasons": [
            "line 3, column beds: must be at most 20, got 33",
            "line 5, column price: must be greater than 0, got 0",
        ],
    }
    assert stored_rows(store) == 934
    assert registry.card(job["version"])["training"]["skipped"] == job["skipped"]


def test_skip_leaves_out_bad_json_rows_by_index_and_field(
    client: TestClient, store: Store, fitted: str, auth: dict[str, str]
) -> None:
    rows = [*NEW_SALES, {"beds": 3, "baths": 2, "sqft": 1500, "price": 0}, {"beds": "x"}]
    response = client.post("/retrain?invalid=skip", json={"listings": rows}, headers=auth)
    assert response.status_code == 202
    skipped = response.json()["skipped"]
    assert skipped["rows"] == 2
    assert skipped["reasons"][0].startswith("listings[2].price: ")
    assert skipped["reasons"][1].startswith("listings[3].")
    assert stored_rows(store) == 934


def test_skip_with_every_row_bad_is_a_422_and_stores_nothing(
    client: TestClient, store: Store, auth: dict[str, str]
) -> None:
    body = "beds,baths,sqft,price\n3,2,1500,0\n"
    response = client.post("/retrain?invalid=skip", content=body, headers={**CSV, **auth})
    assert response.status_code == 422
    assert "every row failed a check" in str(response.json()["detail"])
    assert "line 2, column price" in str(response.json()["detail"])
    assert stored_rows(store) == 932


def test_an_unknown_invalid_policy_is_a_422_naming_it(
    client: TestClient, store: Store, auth: dict[str, str]
) -> None:
    response = client.post("/retrain?invalid=ignore", json={"listings": NEW_SALES}, headers=auth)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "invalid"]
    assert stored_rows(store) == 932
