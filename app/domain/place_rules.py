"""Where and when a home is, as inputs: the rules of area, coordinates and dates, and reading them.

A sale (training) and a home to estimate may carry an `area` (text, at most 64 characters),
`latitude` (-90 to 90) and `longitude` (-180 to 180) degrees, given together, and a date:
`sold_at` for a sale, `as_of` (the valuation date) for a home. Each may be missing on any row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from app.domain.arrays import FloatArray
from app.domain.terms import NO_KEY, Places

AREA, LATITUDE, LONGITUDE, AS_OF = "area", "latitude", "longitude", "as_of"
AREA_MAX_LENGTH = 64
LATITUDE_LIMIT = 90.0
LONGITUDE_LIMIT = 180.0
MAX_REPORTED = 10
PLACE_COLUMNS = frozenset((AREA, LATITUDE, LONGITUDE, AS_OF))


def read_places(
    frame: pd.DataFrame,
    date_column: str = AS_OF,
    first_line: int = 2,
    parsed: pd.Series[Any] | None = None,
) -> tuple[Places, list[tuple[int, str, str]], Any]:
    """The places of a table's rows, read once: area, coordinates and the month of
    `date_column`; with the first errors of its place columns, by (line, column, message), and
    a mask of the rows with any: a coordinate that is not a number or out of its range, one
    coordinate without the other, an area over 64 characters, a malformed `as_of`.

    Where a row's value is bad, its place holds what could be read (the row is refused or left
    out by the caller). `parsed`: the dates of `date_column`, where the caller has read them."""
    n = len(frame)
    errors: list[tuple[int, str, str]] = []
    bad = np.zeros(n, dtype=bool)

    def flag(mask: Any, column: str, message: Any) -> None:
        found = np.flatnonzero(np.asarray(mask))
        if not len(found):
            return
        bad[found] = True
        for i in found[:MAX_REPORTED].tolist():
            errors.append((i + first_line, column, message(i)))

    values = {}
    for column, limit in ((LATITUDE, LATITUDE_LIMIT), (LONGITUDE, LONGITUDE_LIMIT)):
        if column not in frame.columns:
            continue
        series = frame[column]
        if pd.api.types.is_float_dtype(series) or pd.api.types.is_integer_dtype(series):
            numbers = series.to_numpy(np.float64, na_value=np.nan)
            given = ~np.isnan(numbers)
        else:
            text = series.to_numpy(object)
            numbers = _numbers(series, text)
            # An empty cell is read as missing; a blank one (spaces) is not a number either.
            given = series.notna().to_numpy().copy()
            blank = np.flatnonzero(given & np.isnan(numbers))
            given[blank] = [bool(str(text[i]).strip()) for i in blank.tolist()]
            flag(
                given & ~np.isfinite(numbers),
                column,
                lambda i, t=text: f"expected a number, got {t[i]!r}",
            )
        with np.errstate(invalid="ignore"):
            flag(
                np.abs(numbers) > limit,
                column,
                lambda i, v=numbers, lim=limit: (
                    f"must be between {-lim:g} and {lim:g}, got {v[i]:g}"
                ),
            )
        values[column] = np.where(given & np.isfinite(numbers), numbers, np.nan)
    missing = np.full(n, np.nan)
    latitude, longitude = values.get(LATITUDE, missing), values.get(LONGITUDE, missing)
    if values:
        together = "latitude and longitude go together: give both or neither"
        flag(np.isnan(latitude) & ~np.isnan(longitude), LATITUDE, lambda i: together)
        flag(~np.isnan(latitude) & np.isnan(longitude), LONGITUDE, lambda i: together)
    area = np.full(n, None, dtype=object)
    if AREA in frame.columns:
        # Each distinct text cleaned once: a market has far fewer areas than rows.
        found, distinct = pd.factorize(frame[AREA])
        cleaned = [v.strip() or None if isinstance(v, str) else None for v in distinct.tolist()]
        table = np.empty(len(cleaned) + 1, dtype=object)  # the last: a missing cell (-1)
        table[:-1] = cleaned
        area = table[found]
        sizes = [0 if v is None else len(v) for v in cleaned]
        lengths = np.array([*sizes, 0], dtype=np.intp)[found]
        flag(
            lengths > AREA_MAX_LENGTH,
            AREA,
            lambda i: f"must be at most {AREA_MAX_LENGTH} characters, got {int(lengths[i])}",
        )
    month = np.full(n, NO_KEY, dtype=np.int64)
    if date_column in frame.columns:
        dates = frame[date_column]
        if parsed is None:
            parsed = pd.to_datetime(dates, format="%Y-%m-%d", errors="coerce")
        has = parsed.notna().to_numpy()
        month[has] = (parsed.dt.year * 12 + parsed.dt.month - 1).to_numpy()[has]
        if date_column == AS_OF:  # a sale's date is checked with the sale (`listings`)
            text = dates.to_numpy(object)
            written = dates.notna().to_numpy().copy()
            unread = np.flatnonzero(written & ~has)
            written[unread] = [bool(str(text[i]).strip()) for i in unread.tolist()]
            flag(
                written & ~has,
                AS_OF,
                lambda i: f"expected a date as YYYY-MM-DD, got {text[i]!r}",
            )
    return Places(area, latitude, longitude, month), errors, bad


def _numbers(series: pd.Series[Any], text: npt.NDArray[np.object_]) -> FloatArray:
    """A text column as floats, NaN where a cell is not a number: by Python's `float` at C
    speed when every cell reads (and none is written with `_`, which `float` would take),
    else by pandas, cell by cell."""
    try:
        numbers: FloatArray = text.astype(np.float64)
    except (TypeError, ValueError):
        return pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    written = text[series.notna().to_numpy()].tolist()
    if "_" in "".join(map(str, written)):
        return pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    return numbers


def check_places(
    frame: pd.DataFrame, first_line: int = 2
) -> tuple[list[tuple[int, str, str]], Any]:
    """The errors of `read_places` alone."""
    _, errors, bad = read_places(frame, AS_OF, first_line)
    return errors, bad


def places_of(
    frame: pd.DataFrame, date_column: str, parsed: pd.Series[Any] | None = None
) -> Places:
    """The area, coordinates and month (of `date_column`, YYYY-MM-DD; `parsed`, its dates where
    the caller has read them) of each row of a checked table."""
    return read_places(frame, date_column, parsed=parsed)[0]


def places_of_rows(rows: Iterable[Any]) -> Places:
    """The places of checked request rows (objects with area, latitude, longitude, as_of)."""
    rows = list(rows)
    n = len(rows)
    area = np.array([r.area for r in rows], dtype=object) if n else np.full(0, None, object)
    latitude = np.array([np.nan if r.latitude is None else r.latitude for r in rows], np.float64)
    longitude = np.array([np.nan if r.longitude is None else r.longitude for r in rows], np.float64)
    month = np.array(
        [NO_KEY if r.as_of is None else r.as_of.year * 12 + r.as_of.month - 1 for r in rows],
        np.int64,
    )
    return Places(area, latitude, longitude, month)


def has_places(places: Places) -> bool:
    """Whether any home says where or when it is."""
    return bool(
        (places.month >= 0).any()
        or np.isfinite(places.latitude).any()
        or any(a is not None for a in places.area.tolist())
    )
