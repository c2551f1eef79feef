"""Fast encoders of batch answers: JSON rows and CSV columns built from arrays in C-speed steps.

Building one Python dict per row and serialising it costs several times more than the
estimates. Here numbers are formatted a column at a time by orjson (shortest round-trip repr,
the digits Python's own repr gives), and the rows are put together from those columns and the
template's pieces in one pass (`rows.interleave`).
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from app.api.rows import Column, interleave
from app.domain.arrays import FloatArray
from app.domain.model import PARTS, Explanations


def numbers(values: FloatArray) -> bytes:
    """Each float of an array as JSON/CSV text, separated by commas (a column for `interleave`)."""
    text = orjson.dumps(np.ascontiguousarray(values), option=orjson.OPT_SERIALIZE_NUMPY)
    return text[1:-1]


def _row(parts: tuple[str, ...]) -> bytes:
    """The template of one answer row whose contributions are `parts`, in order."""
    contributions = b",".join(b'"%b":%%b' % name.encode() for name in parts)
    return (
        b'{"price":%b,"price_low":%b,"price_high":%b,"price_per_sqft":%b,'
        b'"contributions":{' + contributions + b'},"warnings":%b}'
    )


_ROW = _row(PARTS)


def json_rows(
    found: Explanations,
    sqft: FloatArray,
    routed: list[list[bytes]] | None = None,
    before: bytes = b"",
    after: bytes = b"",
) -> bytes:
    """The `predictions` array of a batch answer, in row order, between `before` and `after`.

    `routed`, for a batch that names markets, is each row's market and version as JSON text.
    The answer is written once, `before` and `after` included (`rows.interleave`).
    """
    warnings = [b"[]"] * len(found.price)
    # Rows share warnings (the same dicts: an area outside the range, a band's caveat): each
    # distinct list is written once.
    written: dict[tuple[int, ...], bytes] = {}
    for i, items in found.warnings.items():
        key = tuple(map(id, items))
        text = written.get(key)
        if text is None:
            text = written[key] = orjson.dumps(items)
        warnings[i] = text
    parts = found.contributions
    row = _ROW if found.parts == PARTS else _row(found.parts)
    if routed is not None:
        row = row[:-1] + b',"market":%b,"model_version":%b}'
    # One model's rows share its intercept: written once into the row's template, as the same
    # text its column would give every row (checked to the bit, so -0.0 is never taken for 0.0).
    intercepts = np.ascontiguousarray(parts[:, 0]).view(np.uint64)
    shared = len(intercepts) > 0 and bool((intercepts == intercepts[0]).all())
    if shared:
        row = row.replace(b'"intercept":%b', b'"intercept":' + numbers(parts[:1, 0]))
    columns: list[Column] = [
        numbers(found.price),
        numbers(found.low),
        numbers(found.high),
        numbers(found.price / sqft),
        *(numbers(parts[:, k]) for k in range(1 if shared else 0, len(found.parts))),
        warnings,
        *(routed or []),
    ]
    return interleave(row.split(b"%b"), columns, len(warnings), b",", before + b"[", b"]" + after)


def json_batch(version: str, level: float, found: Explanations, sqft: FloatArray) -> bytes:
    head = orjson.dumps({"model_version": version, "level": level})
    return json_rows(found, sqft, before=head[:-1] + b',"predictions":', after=b"}")


def split_lines(body: bytes, rows: int) -> tuple[bytes, list[bytes]] | None:
    """Header and data lines of a plain CSV body with `rows` rows; None when it is not plain.

    Plain means no quotes (so no field holds a line break) and no blank lines: then line i + 1
    is row i. Anything else is written back by pandas instead.
    """
    if b'"' in body:
        return None
    lines = (body.replace(b"\r\n", b"\n") if b"\r" in body else body).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if len(lines) != rows + 1 or b"" in lines:
        return None
    return lines[0], lines[1:]


def csv_lines(
    lines: Column, found: Explanations, header: bytes, versions: list[bytes] | None = None
) -> bytes:
    """The request's own lines, each with price, price_low, price_high and warnings added.

    `lines`: a list of them, or (text, b"\n") of their text (`rows.interleave`'s columns).
    `versions`, for a batch that names markets, adds each row's model version as a column.
    """
    warnings = [b""] * len(found.price)
    for i, items in found.warnings.items():
        text = "; ".join(w["message"] for w in items).replace('"', '""')
        warnings[i] = f'"{text}"'.encode()
    columns: list[Column] = [
        lines,
        numbers(found.price),
        numbers(found.low),
        numbers(found.high),
        warnings,
        *([versions] if versions is not None else []),
    ]
    names = b",price,price_low,price_high,warnings" + (
        b",model_version" if versions is not None else b""
    )
    pieces = [b"", *[b","] * (len(columns) - 1), b""]
    rows = len(found.price)
    end = b"\n" if rows else b""
    return interleave(pieces, columns, rows, b"\n", header + names + b"\n", end)


def csv_frame(frame: pd.DataFrame, found: Explanations, versions: list[str] | None = None) -> bytes:
    """The CSV answer through pandas: the table as read, with the four (or five) columns added."""
    frame["price"] = found.price
    frame["price_low"] = found.low
    frame["price_high"] = found.high
    frame["warnings"] = [
        "; ".join(w["message"] for w in found.warnings.get(i, [])) for i in range(len(frame))
    ]
    if versions is not None:
        frame["model_version"] = versions
    return frame.to_csv(index=False).encode()
