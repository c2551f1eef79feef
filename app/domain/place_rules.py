"""Where and when a home is, as inputs: the rules of area, coordinates and dates, and reading them.

A sale (training) and a home to estimate may carry an `area` (text, at most 64 characters),
`latitude` (-90 to 90) and `longitude` (-180 to 180) degrees, given together, and a date:
`sold_at` for a sale, `as_of` (the valuation date) for a home. Each may be missing on any row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from app.domain.terms import NO_KEY, Places

AREA, LATITUDE, LONGITUDE, AS_OF = "area", "latitude", "longitude", "as_of"
AREA_MAX_LENGTH = 64
LATITUDE_LIMIT = 90.0
LONGITUDE_LIMIT = 180.0
MAX_REPORTED = 10
PLACE_COLUMNS = frozenset((AREA, LATITUDE, LONGITUDE, AS_OF))


def check_places(
    frame: pd.DataFrame, first_line: int = 2
) -> tuple[list[tuple[int, str, str]], Any]:
    """The first errors of the place columns a table has, by (line, column, message), and a
    mask of the rows with any: a coordinate that is not a number or out of its range, one
    coordinate without the other, an area over 64 characters."""
    errors: list[tuple[int, str, str]] = []
    bad = np.zeros(len(frame), dtype=bool)

    def flag(mask: Any, column: str, message: Any) -> None:
        found = np.flatnonzero(np.asarray(mask))
        bad[found] = True
        for i in found[:MAX_REPORTED].tolist():
            errors.append((i + first_line, column, message(i)))

    values = {}
    for column, limit in ((LATITUDE, LATITUDE_LIMIT), (LONGITUDE, LONGITUDE_LIMIT)):
        if column not in frame.columns:
            continue
        series = frame[column]
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(np.float64, na_value=np.nan)
        given = np.asarray(series.notna() & (series.astype("string").str.strip() != ""))
        flag(
            given & ~np.isfinite(numbers),
            column,
            lambda i, s=series: f"expected a number, got {s.iloc[i]!r}",
        )
        with np.errstate(invalid="ignore"):
            flag(
                np.abs(numbers) > limit,
                column,
                lambda i, v=numbers, lim=limit: (
                    f"must be between {-lim:g} and {lim:g}, got {v[i]:g}"
                ),
            )
        values[column] = np.where(given, numbers, np.nan)
    if values:
        missing = np.full(len(frame), np.nan)
        latitude, longitude = values.get(LATITUDE, missing), values.get(LONGITUDE, missing)
        together = "latitude and longitude go together: give both or neither"
        flag(np.isnan(latitude) & ~np.isnan(longitude), LATITUDE, lambda i: together)
        flag(~np.isnan(latitude) & np.isnan(longitude), LONGITUDE, lambda i: together)
    if AREA in frame.columns:
        lengths = frame[AREA].astype("string").str.strip().str.len().fillna(0).to_numpy()
        flag(
            lengths > AREA_MAX_LENGTH,
            AREA,
            lambda i: f"must be at most {AREA_MAX_LENGTH} characters, got {int(lengths[i])}",
        )
    if AS_OF in frame.columns:
        text = frame[AS_OF].astype("string").str.strip()
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        malformed = np.asarray(text.notna() & (text != "") & parsed.isna())
        flag(malformed, AS_OF, lambda i: f"expected a date as YYYY-MM-DD, got {text.iloc[i]!r}")
    return errors, bad


def places_of(frame: pd.DataFrame, date_column: str) -> Places:
    """The area, coordinates and month (of `date_column`, YYYY-MM-DD) of each row of a checked
    table."""
    n = len(frame)
    area = np.full(n, None, dtype=object)
    if AREA in frame.columns:
        text = frame[AREA].astype("string").str.strip()
        area = np.array([a if isinstance(a, str) and a else None for a in text.tolist()], object)
    latitude = longitude = np.full(n, np.nan)
    if LATITUDE in frame.columns and LONGITUDE in frame.columns:
        latitude = pd.to_numeric(frame[LATITUDE], errors="coerce").to_numpy(np.float64)
        longitude = pd.to_numeric(frame[LONGITUDE], errors="coerce").to_numpy(np.float64)
    month = np.full(n, NO_KEY, dtype=np.int64)
    if date_column in frame.columns:
        dates = pd.to_datetime(frame[date_column], format="%Y-%m-%d", errors="coerce")
        has = dates.notna().to_numpy()
        month[has] = (dates.dt.year * 12 + dates.dt.month - 1).to_numpy()[has]
    return Places(area, latitude, longitude, month)


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
