"""Fast encoders of batch answers: JSON rows and CSV columns built from arrays in C-speed steps.

Building one Python dict per row and serialising them costs several times more than the
estimates. Here every column is formatted once by orjson (shortest round-trip repr, the digits
Python's own repr gives), split into pieces, and the pieces are interleaved with constant
fragments by slice assignment and joined once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from .model import Explanations, FloatArray


def numbers(values: FloatArray) -> list[bytes]:
    """Each float of an array as JSON/CSV text."""
    text = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)
    return text[1:-1].split(b",") if len(values) else []


def interleave(columns: list[list[bytes]], separators: list[bytes]) -> list[bytes]:
    """sep0 col0[i] sep1 col1[i] … for every row i, as one flat list to join."""
    width = len(columns) + len(separators)
    rows = len(columns[0]) if columns else 0
    pieces: list[bytes] = [b""] * (rows * width)
    for k, separator in enumerate(separators):
        pieces[2 * k :: width] = [separator] * rows
    for k, column in enumerate(columns):
        pieces[2 * k + 1 :: width] = column
    return pieces


def json_rows(found: Explanations, sqft: FloatArray) -> bytes:
    """The `predictions` array of a batch answer, in row order."""
    n = len(found.price)
    warnings = [b"[]"] * n
    for i, items in found.warnings.items():
        warnings[i] = orjson.dumps(items)
    parts = found.contributions
    columns = [
        numbers(found.price),
        numbers(found.low),
        numbers(found.high),
        numbers(found.price / sqft),
        numbers(parts[:, 0]),
        numbers(parts[:, 1]),
        numbers(parts[:, 2]),
        numbers(parts[:, 3]),
        warnings,
    ]
    separators = [
        b'},{"price":',
        b',"price_low":',
        b',"price_high":',
        b',"price_per_sqft":',
        b',"contributions":{"intercept":',
        b',"beds":',
        b',"baths":',
        b',"sqft":',
        b'},"warnings":',
    ]
    if n == 0:
        return b"[]"
    body = b"".join(interleave(columns, separators))
    return b"[" + body[2:] + b"}]"  # the first row has no object before it to close


def json_batch(version: str, level: float, found: Explanations, sqft: FloatArray) -> bytes:
    head = orjson.dumps({"model_version": version, "level": level})
    return head[:-1] + b',"predictions":' + json_rows(found, sqft) + b"}"


def split_lines(body: bytes, rows: int) -> tuple[bytes, list[bytes]] | None:
    """Header and data lines of a plain CSV body with `rows` rows; None when it is not plain.

    Plain means no quotes (so no field holds a line break) and no blank lines: then line i + 1
    is row i. Anything else is written back by pandas instead.
    """
    if b'"' in body:
        return None
    lines = body.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) != rows + 1 or b"" in lines:
        return None
    return lines[0], lines[1:]


def csv_lines(lines: list[bytes], found: Explanations, header: bytes) -> bytes:
    """The request's own lines, each with price, price_low, price_high and warnings added."""
    n = len(found.price)
    warnings = [b""] * n
    for i, items in found.warnings.items():
        text = "; ".join(w["message"] for w in items).replace('"', '""')
        warnings[i] = f'"{text}"'.encode()
    columns = [lines, numbers(found.price), numbers(found.low), numbers(found.high), warnings]
    separators = [b"\n", b",", b",", b",", b","]
    out: list[Any] = [header + b",price,price_low,price_high,warnings"]
    out.extend(interleave(columns, separators))
    out.append(b"\n")
    return b"".join(out)
