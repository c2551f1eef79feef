"""Binary COPY of listing rows: arrays to PostgreSQL's wire format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from app.domain.listings import check_frame
from app.domain.place_rules import AREA, LATITUDE, LONGITUDE
from app.domain.sale_dates import SOLD_AT

# PostgreSQL's binary formats, written with numpy: COPY's file header, and a date[] (a header
# of ndim, has-nulls flag, element type, length and lower bound; then per element its length,
# -1 for NULL, and its bytes). Numbers are stored as little-endian doubles in bytea.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8

_DOUBLES = np.dtype("<f8")

_DATE = 1082

_DATE_ELEMENT = np.dtype([("len", ">i4"), ("v", ">i4")])

_EPOCH = np.datetime64("2000-01-01", "D")  # PostgreSQL's dates count days from here


def _date_array_bytes(dates: pd.Series[Any]) -> bytes | None:
    """A date[] of checked YYYY-MM-DD text (NULL where empty); None when no row has a date."""
    text = dates.astype("string").str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    has_date = np.asarray(parsed.notna())
    if not has_date.any():
        return None
    elements = np.empty(len(dates), dtype=_DATE_ELEMENT)
    days = (parsed.to_numpy(dtype="datetime64[D]") - _EPOCH).astype(np.int64)
    elements["len"] = np.where(has_date, 4, -1)
    elements["v"] = np.where(has_date, days, 0)
    table = elements.view(np.uint8).reshape(len(dates), _DATE_ELEMENT.itemsize)
    keep = np.ones(table.shape, dtype=bool)
    keep[~has_date, 4:] = False  # a NULL is its length alone
    header = np.array([1, int(not has_date.all()), _DATE, len(dates), 1], dtype=">i4").tobytes()
    return header + table[keep].tobytes()


_TEXT = 25


def _text_array_bytes(values: pd.Series[Any]) -> bytes | None:
    """A text[] of the values, stripped (NULL where empty); None when no row has one."""
    text = [v.strip() if isinstance(v, str) else None for v in values.tolist()]
    text = [v if v else None for v in text]
    if all(v is None for v in text):
        return None
    header = np.array([1, int(None in text), _TEXT, len(text), 1], dtype=">i4").tobytes()
    elements = [
        b"\xff\xff\xff\xff" if v is None else len(b := v.encode()).to_bytes(4, "big") + b
        for v in text
    ]
    return header + b"".join(elements)


def _coordinates(frame: pd.DataFrame) -> tuple[bytes | None, bytes | None]:
    """Latitude and longitude as doubles (NaN where none), or None when no row has them."""
    if LATITUDE not in frame.columns or LONGITUDE not in frame.columns:
        return None, None
    found = []
    for column in (LATITUDE, LONGITUDE):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(np.float64)
        found.append(values)
    if np.isnan(found[0]).all():
        return None, None
    return found[0].astype(_DOUBLES).tobytes(), found[1].astype(_DOUBLES).tobytes()


def _field(value: bytes | None) -> bytes:
    if value is None:
        return b"\xff\xff\xff\xff"
    return len(value).to_bytes(4, "big", signed=True) + value


def _copy_chunks(
    conn: psycopg.Connection[Any],
    upload: int,
    frames: Iterator[pd.DataFrame] | list[pd.DataFrame],
) -> int:
    """COPY checked listings into `listing_chunks`, a row of arrays per frame; the row count."""
    rows = 0
    statement = (
        "COPY listing_chunks (upload_id, chunk, rows, beds, baths, sqft, price, sold_at, area, "
        "latitude, longitude) FROM STDIN (FORMAT binary)"
    )
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(_COPY_HEADER)
        for chunk, frame in enumerate(frames):
            values = check_frame(frame, with_price=True)
            if not len(values):
                continue
            dates = _date_array_bytes(frame[SOLD_AT]) if SOLD_AT in frame.columns else None
            areas = _text_array_bytes(frame[AREA]) if AREA in frame.columns else None
            latitude, longitude = _coordinates(frame)
            fields = [
                upload.to_bytes(8, "big"),
                chunk.to_bytes(4, "big"),
                len(values).to_bytes(4, "big"),
                *(values[:, i].astype(_DOUBLES).tobytes() for i in range(4)),
                dates,
                areas,
                latitude,
                longitude,
            ]
            copy.write((11).to_bytes(2, "big") + b"".join(_field(f) for f in fields))
            rows += len(values)
        copy.write(b"\xff\xff")
    return rows
