"""Reading and checking CSV listings: every bad row is named by line and column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.domain.errors import BadInput, TooLarge
from app.domain.listings import MAX_REPORTED_ERRORS, fingerprint, read_csv, read_table
from tests.support import SACRAMENTO

HEADER = "beds,baths,sqft,price\n"


def messages(exc: pytest.ExceptionInfo[BadInput]) -> list[str]:
    detail: Any = exc.value.detail
    return [e.msg for e in detail] if isinstance(detail, list) else [detail]


def bad(text: str, *, with_price: bool = True) -> list[str]:
    with pytest.raises(BadInput) as exc:
        read_csv(text.encode(), with_price=with_price)
    return messages(exc)


def test_reads_the_bundled_data_set() -> None:
    frame = read_table(SACRAMENTO)
    assert len(frame) == 932
    assert frame["sqft"].dtype == np.float64
    assert {"city", "zip", "type"} <= set(frame.columns)


def test_returns_required_columns_in_contract_order() -> None:
    _, values = read_csv(b"sqft,price,beds,baths\n1500,200000,3,2\n", with_price=True)
    assert values.tolist() == [[3.0, 2.0, 1500.0, 200000.0]]


def test_keeps_other_columns_as_text() -> None:
    frame, _ = read_csv(b"beds,baths,sqft,zip\n3,2,1500,01234\n", with_price=False)
    assert frame["zip"].tolist() == ["01234"]


def test_missing_column_is_named() -> None:
    [msg] = bad("beds,baths,price\n3,2,100000\n")
    assert "sqft" in msg and "lacks" in msg


def test_misspelt_column_is_not_silently_ignored() -> None:
    [msg] = bad("beds,baths,sqfeet\n3,2,1500\n", with_price=False)
    assert "sqft" in msg and "'sqfeet'" in msg


def test_non_numeric_cell_names_line_and_column() -> None:
    assert bad(HEADER + "3,2,1500,200000\n3,2,big,200000\n") == [
        "line 3, column sqft: expected a number, got 'big'"
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("3,2,1500,0", "line 2, column price: must be greater than 0, got 0"),
        ("3,2,1500,-5", "line 2, column price: must be greater than 0, got -5"),
        ("3,2,0,200000", "line 2, column sqft: must be at least 50, got 0"),
        ("3,2,100001,200000", "line 2, column sqft: must be at most 100000, got 100001"),
        ("21,2,1500,200000", "line 2, column beds: must be at most 20, got 21"),
        ("-1,2,1500,200000", "line 2, column beds: must be at least 0, got -1"),
        ("2.5,2,1500,200000", "line 2, column beds: must be a whole number, got 2.5"),
        ("3,-0.5,1500,200000", "line 2, column baths: must be at least 0, got -0.5"),
        ("3,2,,200000", "line 2, column sqft: missing value (empty or NaN)"),
        ("3,2,NaN,200000", "line 2, column sqft: missing value (empty or NaN)"),
        ("3,2,inf,200000", "line 2, column sqft: must be finite, got inf"),
        ("True,2,1500,200000", "line 2, column beds: expected a number, got True"),
    ],
)
def test_rule_violations_are_reported(row: str, expected: str) -> None:
    assert bad(HEADER + row + "\n") == [expected]


def test_errors_are_sorted_by_line_and_capped() -> None:
    rows = "".join(f"3,2,{-i},100\n" for i in range(1, 30))
    found = bad(HEADER + "3,2,1500,x\n" + rows)
    assert len(found) == MAX_REPORTED_ERRORS
    assert found[0] == "line 2, column price: expected a number, got 'x'"
    assert found[1].startswith("line 3, column sqft")


def test_empty_file_is_refused() -> None:
    assert bad("") == ["the CSV is empty: expected a header line and at least one row"]


def test_header_without_rows_is_refused() -> None:
    assert bad(HEADER) == ["the CSV has a header but no rows"]


def test_binary_file_is_refused() -> None:
    with pytest.raises(BadInput):
        read_csv(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", with_price=True)


def test_more_rows_than_the_limit_is_too_large() -> None:
    body = (HEADER + "3,2,1500,200000\n" * 11).encode()
    with pytest.raises(TooLarge, match="more than 10 rows"):
        read_csv(body, with_price=True, max_rows=10)


def test_fingerprint_changes_with_any_value_and_with_order() -> None:
    frame = read_table(SACRAMENTO)
    base = fingerprint(frame)
    assert fingerprint(frame.copy()) == base
    changed = frame.copy()
    changed["price"] = changed["price"] + (changed.index == 5)
    assert fingerprint(changed) != base
    assert fingerprint(frame.iloc[::-1].reset_index(drop=True)) != base
