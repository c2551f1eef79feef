"""The fast /predict path answers exactly as the FastAPI route does, errors included."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api import fastpath
from app.api.factory import create_app
from app.config import Settings

JSON = {"Content-Type": "application/json"}
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": 1500}', {}),
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": 1500}', JSON),
    ("/predict", b'{"beds": 3, "baths": 2.5, "sqft": 980.5}', {"Content-Type": "application/json"}),
    ("/predict?level=0.8", b'{"beds": 3, "baths": 2, "sqft": 1500}', JSON),
    ("/predict?level=0.2", b'{"beds": 3, "baths": 2, "sqft": 1500}', JSON),
    ("/predict?level=abc", b'{"beds": 3, "baths": 2, "sqft": 1500}', JSON),
    ("/predict?level=0.8&x=1", b'{"beds": 3, "baths": 2, "sqft": 1500}', JSON),
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": 20000}', JSON),
    ("/predict", b'{"beds": 3, "baths": 2}', JSON),
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": 1500, "sqfeet": 1}', JSON),
    ("/predict", b'{"beds": true, "baths": 2, "sqft": 1500}', JSON),
    ("/predict", b'{"beds": 3, "baths": "2", "sqft": 1500}', JSON),
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": NaN}', JSON),
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": 1e400}', JSON),
    ("/predict", b'{"beds": 3,', JSON),
    ("/predict", b"", JSON),
    ("/predict", b"[1, 2, 3]", JSON),
    ("/predict", b'{"beds": 3, "baths": 2, "sqft": 1500}', {"Content-Type": "text/plain"}),
]


@pytest.fixture
def pair(settings: Settings, fitted: str) -> Iterator[tuple[TestClient, TestClient]]:
    with (
        TestClient(create_app(settings)) as fast,
        TestClient(create_app(settings, fast_predict=False)) as plain,
    ):
        yield fast, plain


@pytest.mark.parametrize(("url", "body", "headers"), REQUESTS)
def test_answers_are_identical_with_and_without_the_fast_path(
    pair: tuple[TestClient, TestClient], url: str, body: bytes, headers: dict[str, str]
) -> None:
    fast, plain = pair
    a = fast.post(url, content=body, headers=headers)
    b = plain.post(url, content=body, headers=headers)
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert a.headers.get("x-model-version") == b.headers.get("x-model-version")
    assert a.headers["content-type"] == b.headers["content-type"]


def test_a_well_formed_request_is_answered_by_the_fast_path(
    pair: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    original = fastpath.answer

    def spy(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(fastpath, "answer", spy)
    fast, _ = pair
    assert fast.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500}).status_code == 200
    assert len(calls) == 1
    assert fast.post("/predict", json={"beds": 3, "baths": 2}).status_code == 422
    assert len(calls) == 1


def test_the_fast_path_is_counted_under_its_route(pair: tuple[TestClient, TestClient]) -> None:
    fast, _ = pair
    fast.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    text = fast.get("/metrics").text
    assert 'house_price_http_requests_total{method="POST",route="/predict",status="200"}' in text


def test_without_a_model_the_fast_path_defers_to_the_503(tmp_path: Path, model_dir: Path) -> None:
    from tests.support import make_settings

    with TestClient(create_app(make_settings(model_dir, tmp_path))) as empty:
        response = empty.post("/predict", json={"beds": 3, "baths": 2, "sqft": 1500})
    assert response.status_code == 503


def test_a_fast_answer_carries_a_request_id_kept_or_made(
    pair: tuple[TestClient, TestClient],
) -> None:
    fast, _ = pair
    home = {"beds": 3, "baths": 2, "sqft": 1500}
    kept = fast.post("/predict", json=home, headers={"X-Request-ID": "abc-1"})
    made = fast.post("/predict", json=home, headers={"X-Request-ID": "no spaces"})
    assert kept.headers["x-request-id"] == "abc-1"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_a_fast_answer_writes_the_access_line_when_it_is_on(
    settings: Settings, fitted: str, caplog: pytest.LogCaptureFixture
) -> None:
    on = settings.model_copy(update={"access_log": True})
    with TestClient(create_app(on)) as client, caplog.at_level("INFO", "house_price.access"):
        answer = client.post(
            "/predict", json={"beds": 3, "baths": 2, "sqft": 1500}, headers={"X-Request-ID": "r-9"}
        )
    [line] = [r for r in caplog.records if r.name == "house_price.access"]
    assert (line.status, line.path, line.request_id) == (200, "/predict", "r-9")  # type: ignore[attr-defined]
    assert line.model_version == answer.headers["x-model-version"] == fitted  # type: ignore[attr-defined]
    assert line.getMessage().endswith(f"model {fitted}")


def test_a_failure_while_answering_goes_to_the_route_which_answers_it(
    pair: tuple[TestClient, TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(fastpath, "answer", broken)
    fast, plain = pair
    home = {"beds": 3, "baths": 2, "sqft": 1500}
    a, b = fast.post("/predict", json=home), plain.post("/predict", json=home)
    assert a.status_code == b.status_code == 200 and a.content == b.content
    assert "x-request-id" in a.headers


def test_a_body_that_comes_in_pieces_is_read_whole(pair: tuple[TestClient, TestClient]) -> None:
    fast, _ = pair
    body = b'{"beds": 3, "baths": 2, "sqft": 1500}'
    pieces = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": body[10:], "more_body": False},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pieces.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async def call() -> None:
        await fast.app(scope, receive, send)

    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "query_string": b"",
        "headers": headers,
    }
    asyncio.run(call())
    whole = fast.post("/predict", content=body, headers=JSON)
    assert sent[0]["status"] == 200 and sent[1]["body"] == whole.content
