"""The fast batch encoders give the same answers as encoding one dict per row."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from app.api import encode
from app.domain.fitting import fit_table
from app.domain.model import PriceModel, explain_many


@pytest.fixture(scope="module")
def model(sacramento: pd.DataFrame) -> PriceModel:
    return fit_table(sacramento, folds=5, source="t")[0]


X = np.array([[3, 2, 1500], [2, 1, 836], [3, 2, 20000], [8, 1, 500], [6, 1, 700]], dtype=float)


def by_dicts(model: PriceModel, level: float) -> list[dict[str, Any]]:
    rows = []
    for beds, baths, sqft in X.tolist():
        e = model.explain(beds, baths, sqft, level)
        rows.append(
            {
                "price": e.price,
                "price_low": e.low,
                "price_high": e.high,
                "price_per_sqft": e.price / sqft,
                "contributions": e.contributions,
                "warnings": e.warnings,
            }
        )
    return rows


def test_json_rows_equal_one_dict_per_row(model: PriceModel) -> None:
    found = explain_many(model, X, 0.9)
    answer = orjson.loads(encode.json_batch("v1", 0.9, found, X[:, 2]))
    assert answer == {"model_version": "v1", "level": 0.9, "predictions": by_dicts(model, 0.9)}
    assert any(row["warnings"] for row in answer["predictions"])


def test_a_json_batch_is_byte_for_byte_what_orjson_writes_of_the_dicts(
    model: PriceModel,
) -> None:
    found = explain_many(model, X, 0.9)
    expected = {"model_version": "v1", "level": 0.9, "predictions": by_dicts(model, 0.9)}
    assert encode.json_batch("v1", 0.9, found, X[:, 2]) == orjson.dumps(expected)


def test_rows_of_several_intercepts_are_each_written_with_their_own(model: PriceModel) -> None:
    found = explain_many(model, X, 0.9)
    parts = found.contributions.copy()
    parts[1::2, 0] += 1000.5  # as rows of two markets
    mixed = dataclasses.replace(found, contributions=parts)
    rows = orjson.loads(encode.json_rows(mixed, X[:, 2]))
    assert [r["contributions"]["intercept"] for r in rows] == parts[:, 0].tolist()
    expected = [
        {**r, "contributions": {**r["contributions"], "intercept": float(parts[i, 0])}}
        for i, r in enumerate(by_dicts(model, 0.9))
    ]
    assert encode.json_rows(mixed, X[:, 2]) == orjson.dumps(expected)


def test_an_empty_batch_is_an_empty_list(model: PriceModel) -> None:
    found = explain_many(model, X[:0], 0.9)
    assert orjson.loads(encode.json_batch("v1", 0.9, found, X[:0, 2]))["predictions"] == []


def test_numbers_round_trip_exactly() -> None:
    values = np.array([0.1, 1 / 3, 225312.2899883757, -81105.85357481161, 1e-7, 123456789.0])
    assert [float(b) for b in encode.numbers(values).split(b",")] == values.tolist()


def test_numbers_of_no_values_are_no_text() -> None:
    assert encode.numbers(np.empty(0)) == b""


def test_csv_lines_keep_the_request_lines_and_add_the_columns(model: PriceModel) -> None:
    body = b"beds,baths,sqft,note\n" + b"".join(
        f"{int(b)},{a:g},{s:g},row {i}\n".encode() for i, (b, a, s) in enumerate(X.tolist())
    )
    header, lines = encode.split_lines(body, len(X)) or (b"", [])
    found = explain_many(model, X, 0.9)
    answer = pd.read_csv(io.BytesIO(encode.csv_lines(lines, found, header)), keep_default_na=False)
    assert answer["note"].tolist() == [f"row {i}" for i in range(len(X))]
    expected = by_dicts(model, 0.9)
    assert answer["price"].tolist() == [r["price"] for r in expected]
    assert answer["price_low"].tolist() == [r["price_low"] for r in expected]
    assert answer["warnings"].tolist() == [
        "; ".join(w["message"] for w in r["warnings"]) for r in expected
    ]


def test_a_csv_answer_is_each_line_with_the_numbers_as_orjson_writes_them_byte_for_byte(
    model: PriceModel,
) -> None:
    lines = [f"{int(b)},{a:g},{s:g}".encode() for b, a, s in X.tolist()]
    versions = [f"v{i}".encode() for i in range(len(X))]
    expected = b"beds,baths,sqft,price,price_low,price_high,warnings,model_version\n"
    for line, row, version in zip(lines, by_dicts(model, 0.9), versions, strict=True):
        numbers = [orjson.dumps(row[k]) for k in ("price", "price_low", "price_high")]
        text = "; ".join(w["message"] for w in row["warnings"]).replace('"', '""')
        warnings = f'"{text}"'.encode() if row["warnings"] else b""
        expected += b",".join([line, *numbers, warnings, version]) + b"\n"
    found = explain_many(model, X, 0.9)
    assert encode.csv_lines(lines, found, b"beds,baths,sqft", versions) == expected


def test_a_csv_answer_of_no_rows_is_its_header_alone(model: PriceModel) -> None:
    found = explain_many(model, np.empty((0, 3)), 0.9)
    assert encode.csv_lines([], found, b"beds,baths,sqft") == (
        b"beds,baths,sqft,price,price_low,price_high,warnings\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        b'beds,baths,sqft,note\n3,2,1500,"a, b"\n',
        b"beds,baths,sqft\n3,2,1500\n\n2,1,800\n",
    ],
)
def test_csv_that_is_not_plain_is_left_to_pandas(body: bytes) -> None:
    assert encode.split_lines(body, 2 if b"\n\n" in body else 1) is None


def test_windows_line_endings_are_plain() -> None:
    assert encode.split_lines(b"beds,baths,sqft\r\n3,2,1500\r\n", 1) == (
        b"beds,baths,sqft",
        [b"3,2,1500"],
    )
