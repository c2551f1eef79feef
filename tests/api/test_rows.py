"""Rows of text from columns: the compiled writer and the Python one give the same bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.api import rows
from app.api.rows import Column, interleave_python

field = st.binary(max_size=6).filter(lambda b: b"," not in b and b"\n" not in b)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[bytes], list[Column], int]:
    n = draw(st.integers(0, 12))
    k = draw(st.integers(1, 5))
    columns: list[Column] = []
    for _ in range(k):
        values = draw(st.lists(field, min_size=n, max_size=n))
        # As text, one empty field would read as none: such a column is given as a list.
        kind = draw(st.sampled_from(["list", "commas", "lines"]))
        if kind == "list" or n == 0 or values == [b""]:
            columns.append(values)
        elif kind == "commas":
            columns.append(b",".join(values))
        else:
            columns.append((b"\n".join(values), b"\n"))
    pieces = draw(st.lists(st.binary(max_size=5), min_size=k + 1, max_size=k + 1))
    return pieces, columns, n


def test_the_compiled_writer_is_built_in_this_install() -> None:
    assert rows.COMPILED, (
        "app/api/_rows.c was not built (no C compiler?): batch answers are written by the Python "
        "fallback, several times slower"
    )


def test_python_rows_put_pieces_around_each_rows_fields() -> None:
    columns: list[Column] = [b"1,22,333", [b"a", b"b", b"c"]]
    answer = interleave_python([b"{", b":", b"}"], columns, 3, b",", b"[", b"]")
    assert answer == b"[{1:a},{22:b},{333:c}]"


def test_python_rows_read_a_column_of_lines_by_its_separator() -> None:
    columns: list[Column] = [(b"a,1\nb,2", b"\n"), b"7,8"]
    answer = interleave_python([b"", b",", b""], columns, 2, b"\n", b"h,n,p\n", b"\n")
    assert answer == b"h,n,p\na,1,7\nb,2,8\n"


def test_python_rows_of_no_rows_are_before_and_after() -> None:
    assert interleave_python([b"<", b">"], [b""], 0, b",", b"[", b"]") == b"[]"


def test_python_rows_keep_percent_signs_of_the_pieces() -> None:
    assert interleave_python([b"%", b"%b"], [[b"x"]], 1, b"", b"", b"") == b"%x%b"


@given(tables(), st.binary(max_size=3), st.binary(max_size=4), st.binary(max_size=4))
def test_compiled_rows_equal_python_rows(
    table: tuple[list[bytes], list[Column], int], sep: bytes, before: bytes, after: bytes
) -> None:
    pieces, columns, n = table
    expected = interleave_python(pieces, columns, n, sep, before, after)
    assert rows.interleave(pieces, columns, n, sep, before, after) == expected


def test_compiled_rows_of_no_columns_repeat_the_one_piece() -> None:
    assert rows.interleave([b"x"], [], 3, b",", b"[", b"]") == b"[x,x,x]"
    assert interleave_python([b"x"], [], 3, b",", b"[", b"]") == b"[x,x,x]"


@pytest.mark.parametrize("write", [rows.interleave, interleave_python], ids=["compiled", "python"])
@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ([b"1,2"], "column 0 holds 2 fields, not 3"),
        ([[b"a", b"b"]], "column 0 holds 2 rows, not 3"),
        ([(b"a\nb", b"\n")], "column 0 holds 2 fields, not 3"),
        ([(b"a\nb\nc", b"\n\n")], r"column 0 must be \(text, one byte\)"),
    ],
)
def test_a_column_of_the_wrong_length_is_refused(
    write: rows.Interleave, columns: list[Column], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write([b"", b""], columns, 3, b",", b"", b"")


@pytest.mark.parametrize("write", [rows.interleave, interleave_python], ids=["compiled", "python"])
def test_pieces_must_be_one_more_than_the_columns(write: rows.Interleave) -> None:
    with pytest.raises(ValueError, match="columns need"):
        write([b""], [[b"a"]], 1, b",", b"", b"")
