"""Reading and checking CSV listings: every bad row is named by line and column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.domain.errors import BadInput, TooLarge
from app.domain.listings import (
    MAX_REPORTED_ERRORS,
    Skipped,
    fingerprint,
    read_chunks,
    read_csv,
    read_table,
    without_rows,
)
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


def test_skipped_rows_of_a_file_read_in_chunks_are_named_by_their_file_lines(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sales.csv"
    rows = ["3,2,1500,200000"] * 10
    rows[2], rows[7] = "3,2,1500,x", "3,2,20,200000"
    path.write_text("beds,baths,sqft,price\n" + "\n".join(rows) + "\n")
    skipped = Skipped()
    chunks = list(read_chunks(path, chunk_rows=4, skipped=skipped))
    assert sum(len(c) for c in chunks) == 8
    assert skipped.positions == [2, 7]
    assert [r.msg for r in skipped.reasons] == [
        "line 4, column price: expected a number, got 'x'",
        "line 9, column sqft: must be at least 50, got 20",
    ]


def test_a_file_with_no_good_row_is_refused_even_when_skipping(tmp_path: Path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("beds,baths,sqft,price\n3,2,1500,0\n3,2,1500,-1\n")
    with pytest.raises(BadInput, match="every row failed a check"):
        list(read_chunks(path, skipped=Skipped()))
    with pytest.raises(BadInput, match="every row failed a check"):
        read_table(path, skipped=Skipped())


def test_without_rows_keeps_every_other_cell_as_it_was_written() -> None:
    body = b"beds,baths,sqft,price,zip\n3,2.50,1500,200000,00501\n33,2,1500,1,02134\n2,1,800,9,\n"
    assert (
        without_rows(body, [1])
        == b"beds,baths,sqft,price,zip\n3,2.50,1500,200000,00501\n2,1,800,9,\n"
    )


def test_skipped_rows_leave_the_table_and_the_values_aligned() -> None:
    body = b"beds,baths,sqft,price,city\n3,2,1500,1,A\n3,2,1500,0,B\n2,1,800,2,C\n"
    skipped = Skipped()
    frame = read_table(body, skipped=skipped)
    assert frame["city"].tolist() == ["A", "C"] and frame["price"].tolist() == [1.0, 2.0]
    assert (
        skipped.describe() == "1 row left out: line 3, column price: must be greater than 0, got 0"
    )
