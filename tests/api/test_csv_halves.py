"""A large plain CSV batch read and estimated in two halves at once: the answer of one whole."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api import csv_halves
from app.domain import comps
from tests.support import located_listings

CSV = {"Content-Type": "text/csv"}
COLUMNS = ["beds", "baths", "sqft", "area", "latitude", "longitude"]


def batch(rows: int = 40) -> bytes:
    frame = located_listings(rows, seed=11)[COLUMNS]
    frame.loc[::7, ["latitude", "longitude"]] = None  # some without coordinates
    return frame.to_csv(index=False).encode()


@pytest.fixture(autouse=True)
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 10 rows or more are halved, as on two cores."""
    monkeypatch.setattr(csv_halves, "HALVED_FROM", 10)
    monkeypatch.setattr(comps, "_CORES", 2)


@pytest.fixture
def halved(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """The halves made from here on."""
    made: list[tuple[bytes, bytes]] = []
    split = csv_halves.halves

    def recording(
        body: bytes, max_rows: int, outputs: tuple[str, ...]
    ) -> tuple[bytes, bytes] | None:
        found = split(body, max_rows, outputs)
        if found is not None:
            made.append(found)
        return found

    monkeypatch.setattr(csv_halves, "halves", recording)
    return made


def whole(
    monkeypatch: pytest.MonkeyPatch, client: TestClient, body: bytes, path: str = "/predict/batch"
) -> tuple[int, bytes]:
    with monkeypatch.context() as whole_batch:
        whole_batch.setattr(csv_halves, "halves", lambda *args: None)
        answer = client.post(path, content=body, headers=CSV)
    return answer.status_code, answer.content


def test_halves_hold_the_header_and_every_line_once() -> None:
    body = batch(41)
    first, second = csv_halves.halves(body, 1_000, ("price",)) or (b"", b"")
    header = body[: body.index(b"\n") + 1]
    assert first.startswith(header) and second.startswith(header)
    assert first + second[len(header) :] == body
    assert abs(first.count(b"\n") - second.count(b"\n")) <= 2


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda b: b.replace(b"\n", b"\r\n"), "carriage returns"),
        (lambda b: b.replace(b"98", b'"98', 1).replace(b",", b'",', 1), "quotes"),
        (lambda b: b.replace(b"area", b"market", 1), "a market column"),
        (lambda b: b.replace(b"area", b"price", 1), "a column the answer adds"),
        (lambda b: b[: b.index(b"\n", 200) + 1], "few rows"),
    ],
)
def test_a_batch_is_read_whole_unless_plain_and_large(change: object, why: str) -> None:
    assert csv_halves.halves(batch(), 1_000, ("price",)) is not None
    assert csv_halves.halves(change(batch()), 1_000, ("price",)) is None, why  # type: ignore[operator]


def test_a_batch_over_the_row_limit_is_read_whole() -> None:
    assert csv_halves.halves(batch(40), 39, ("price",)) is None


def test_a_batch_is_read_whole_on_one_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comps, "_CORES", 1)
    assert csv_halves.halves(batch(), 1_000, ("price",)) is None


@pytest.mark.engines("files")
def test_a_located_batch_in_halves_is_answered_as_one_whole(
    located_client: TestClient, halved: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = batch()
    answer = located_client.post("/predict/batch", content=body, headers=CSV)
    assert len(halved) == 1
    assert (answer.status_code, answer.content) == whole(monkeypatch, located_client, body)
    assert answer.content.count(b"\n") == 41


@pytest.mark.engines("files")
def test_a_plain_batch_in_halves_is_answered_as_one_whole(
    client: TestClient, halved: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    body = batch()
    answer = client.post("/predict/batch", content=body, headers=CSV)
    assert len(halved) == 1 and answer.status_code == 200
    assert (answer.status_code, answer.content) == whole(monkeypatch, client, body)
    assert b"are not used" in answer.content  # each half's rows are told their place is not


@pytest.mark.engines("files")
def test_a_bad_line_in_the_second_half_is_named_as_in_one_whole(
    located_client: TestClient, halved: list[tuple[bytes, bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = batch().split(b"\n")
    lines[35] = b"3,2,abc,98103,47.6,-122.3"
    body = b"\n".join(lines)
    answer = located_client.post("/predict/batch", content=body, headers=CSV)
    assert len(halved) == 1 and answer.status_code == 422
    assert "line 36, column sqft" in answer.text
    assert (answer.status_code, answer.content) == whole(monkeypatch, located_client, body)


@pytest.mark.engines("files")
@pytest.mark.parametrize(
    "skipped",
    [(30, b"   "), (30, b""), (41, b"")],  # pandas skips a blank line, or one of spaces alone
    ids=["spaces", "blank", "blank at the end"],
)
def test_a_half_read_as_fewer_rows_than_its_lines_sends_the_batch_whole(
    located_client: TestClient,
    halved: list[tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    skipped: tuple[int, bytes],
) -> None:
    lines = batch().split(b"\n")
    lines.insert(*skipped)  # line i + 1 is no longer row i
    body = b"\n".join(lines)
    answer = located_client.post("/predict/batch", content=body, headers=CSV)
    assert len(halved) == 1
    assert (answer.status_code, answer.content) == whole(monkeypatch, located_client, body)


@pytest.mark.engines("files")
@pytest.mark.parametrize("bad_row", [False, True])
def test_a_batch_for_a_market_not_served_is_answered_as_one_whole(
    located_client: TestClient,
    halved: list[tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    bad_row: bool,
) -> None:
    lines = batch().split(b"\n")
    if bad_row:  # the row's error comes first, as for a whole batch
        lines[35] = b"3,2,abc,98103,47.6,-122.3"
    body = b"\n".join(lines)
    path = "/predict/batch?market=nowhere"
    answer = located_client.post(path, content=body, headers=CSV)
    assert len(halved) == 1 and answer.status_code == (422 if bad_row else 404)
    assert (answer.status_code, answer.content) == whole(monkeypatch, located_client, body, path)
