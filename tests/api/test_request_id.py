"""Request ids: kept when well-formed, made otherwise, on every answer and in the job made."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.support import SACRAMENTO

HOUSE = {"beds": 3, "baths": 2, "sqft": 1500}


def test_an_answer_without_one_gets_a_new_id(client: TestClient) -> None:
    first = client.post("/predict", json=HOUSE).headers["X-Request-ID"]
    second = client.post("/predict", json=HOUSE).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_a_well_formed_id_is_kept_on_the_fast_path_and_on_errors(client: TestClient) -> None:
    given = {"X-Request-ID": "client-7:a.b_c"}
    for answer in (
        client.post("/predict", json=HOUSE, headers=given),
        client.post("/predict", json={**HOUSE, "sqft": 0}, headers=given),
        client.get("/models/v20000101-000000-abcdef", headers=given),
        client.get("/nowhere", headers=given),
        client.post("/predict/batch", json={"listings": [HOUSE]}, headers=given),
    ):
        assert answer.headers["X-Request-ID"] == "client-7:a.b_c", answer.status_code


@pytest.mark.parametrize("bad", ["x" * 129, "has space", "semi;colon", "<script>", 'quo"te'])
def test_a_malformed_id_is_replaced_and_never_echoed(client: TestClient, bad: str) -> None:
    answer = client.post("/predict", json=HOUSE, headers={"X-Request-ID": bad})
    made = answer.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made) and bad not in answer.text


def test_the_job_a_retrain_makes_carries_its_request_id(
    client: TestClient, auth: dict[str, str]
) -> None:
    answer = client.post(
        "/retrain",
        content=SACRAMENTO.read_bytes(),
        headers={**auth, "Content-Type": "text/csv", "X-Request-ID": "upload-42"},
    )
    assert answer.json()["request_id"] == "upload-42"
    job = client.get(answer.headers["Location"]).json()
    assert job["request_id"] == "upload-42"
