"""Rows of text put together from columns: compiled where the extension is built, else Python.

`interleave(pieces, columns, rows, sep, before, after)` writes row i as
`pieces[0] + columns[0][i] + pieces[1] + ... + columns[k-1][i] + pieces[k]`, the rows joined by
`sep`, between `before` and `after`. A column is a list of `rows` bytes, or one bytes object of
`rows` comma-separated fields (the inside of an orjson array of numbers: no field holds a comma),
or a tuple (text, separator) of `rows` fields separated by that one byte (a CSV body's lines).

The compiled version (`app/api/_rows.c`) sizes the answer and writes it in one pass; the Python
one makes an object per field and per row, several times slower for a batch of 100,000 rows.
Both give the same bytes (tests/api/test_rows.py).
"""

from __future__ import annotations

from collections.abc import Callable

Column = bytes | list[bytes] | tuple[bytes, bytes]
Interleave = Callable[[list[bytes], list[Column], int, bytes, bytes, bytes], bytes]


def interleave_python(
    pieces: list[bytes], columns: list[Column], rows: int, sep: bytes, before: bytes, after: bytes
) -> bytes:
    if len(pieces) != len(columns) + 1:
        raise ValueError(f"{len(columns)} columns need {len(columns) + 1} pieces")
    fields = [_fields(c, rows, k) for k, c in enumerate(columns)]
    if rows == 0:
        return before + after
    if not fields:
        return before + sep.join([pieces[0]] * rows) + after
    template = b"%b".join(p.replace(b"%", b"%%") for p in pieces)
    return before + sep.join(map(template.__mod__, zip(*fields, strict=True))) + after


def _fields(column: Column, rows: int, k: int) -> list[bytes]:
    if isinstance(column, list):
        if len(column) != rows:
            raise ValueError(f"column {k} holds {len(column)} rows, not {rows}")
        return column
    text, separator = column if isinstance(column, tuple) else (column, b",")
    if len(separator) != 1:
        raise ValueError(f"column {k} must be (text, one byte)")
    found = text.split(separator) if text else []
    if len(found) != rows:
        raise ValueError(f"column {k} holds {len(found)} fields, not {rows}")
    return found


interleave: Interleave
try:
    from app.api._rows import interleave as _compiled
except ImportError:  # built without a C compiler: the same bytes, slower
    COMPILED = False
    interleave = interleave_python
else:
    COMPILED = True
    interleave = _compiled
