"""Tables of listings: reading CSV, checking every row against the input rules, fingerprinting."""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from app.domain.arrays import FloatArray
from app.domain.errors import BadInput, RowError, TooLarge
from app.domain.place_rules import AREA, AS_OF, LATITUDE, LONGITUDE, PLACE_COLUMNS, read_places
from app.domain.rules import FEATURES, LIMITS, TARGET
from app.domain.sale_dates import SOLD_AT, SaleDates, parse_dates
from app.domain.terms import Places

MAX_REPORTED_ERRORS = 10


@dataclass
class Skipped:
    """Rows left out of a file or an upload because they failed a check (`--skip-invalid`,
    `?invalid=skip`): how many, where, and the first reasons by line."""

    positions: list[int] = field(default_factory=list)  # 0-based rows of the source, in order
    reasons: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS

    @property
    def count(self) -> int:
        return len(self.positions)

    def add(self, positions: Iterable[int], errors: list[tuple[int, str, str]]) -> None:
        self.positions.extend(positions)
        room = MAX_REPORTED_ERRORS - len(self.reasons)
        self.reasons.extend(_row_errors(sorted(errors)[: max(room, 0)]))

    def add_row(self, position: int, message: str) -> None:
        """One row left out, with its reason in words (a JSON row: its index and field)."""
        self.positions.append(position)
        if len(self.reasons) < MAX_REPORTED_ERRORS:
            self.reasons.append(RowError(f"row {position}", "", message))

    def describe(self) -> str:
        """One line: "2 rows left out: line 4, column beds: …; line 9, column sqft: …"."""
        return self.described(self.count, [r.msg for r in self.reasons])

    @staticmethod
    def described(count: int, reasons: list[str]) -> str:
        if count == 0:
            return "no rows left out"
        rows = "1 row" if count == 1 else f"{count:,} rows"
        more = "; …" if count > len(reasons) else ""
        return f"{rows} left out: " + "; ".join(reasons) + more

    def nothing_left(self) -> BadInput:
        """The error of a file or upload whose every row was left out."""
        return BadInput(f"every row failed a check, none is left to use: {self.describe()}")

    def for_card(self) -> dict[str, Any]:
        """For a card or a job: the count and the first reasons."""
        return {"rows": self.count, "reasons": [r.msg for r in self.reasons]}


def _row_errors(errors: Iterable[tuple[int, str, str]]) -> list[RowError]:
    return [
        RowError(f"line {line}", column, f"line {line}, column {column}: {msg}")
        for line, column, msg in errors
    ]


# column: (lower bound, whether the bound itself is allowed, upper bound inclusive)
_RULES: dict[str, tuple[float, bool, float]] = {
    **{name: (low, True, high) for name, (low, high) in LIMITS.items()},
    "price": (0.0, False, float("inf")),
}


def _line(index: int, first_line: int = 2) -> int:
    # Data row i (0-based) sits on line i + 2 of the file: line 1 is the header.
    return index + first_line


def read_csv(
    source: bytes | Path,
    *,
    with_price: bool,
    max_rows: int | None = None,
    allow_empty: bool = False,
    skipped: Skipped | None = None,
    places: list[Places] | None = None,
) -> tuple[pd.DataFrame, FloatArray]:
    """Read a CSV of listings and check it; raises BadInput naming line and column, or TooLarge.

    A header with no rows is an error unless `allow_empty` (a batch to estimate may be empty;
    a training set may not). With `skipped`, rows that fail a check are left out of both and
    recorded there instead (a file whose every row fails is still an error).

    Returns the table as read (`read_frame`: latitude and longitude as numbers, the columns
    the service does not use as text) and a float64 array of the required columns in contract order:
    beds, baths, sqft (and price, when `with_price`).
    """
    frame = read_frame(source, with_price=with_price, max_rows=max_rows, numbers=COORDINATES)
    if max_rows is not None and len(frame) > max_rows:
        raise TooLarge(f"the CSV has more than {max_rows:,} rows, the limit of one request")
    left = 0 if skipped is None else skipped.count
    values = check_frame(
        frame, with_price=with_price, allow_empty=allow_empty, skipped=skipped, places=places
    )
    if skipped is not None and skipped.count > left:
        frame = frame.drop(index=frame.index[skipped.positions[left:]]).reset_index(drop=True)
    return frame, values


def read_table(
    source: bytes | Path, *, max_rows: int | None = None, skipped: Skipped | None = None
) -> pd.DataFrame:
    """Read a CSV of sold listings for training: the required columns come back as float64.

    With `skipped`, rows that fail a check are left out and recorded there."""
    frame, values = read_csv(source, with_price=True, max_rows=max_rows, skipped=skipped)
    for i, column in enumerate(required_columns(True)):
        frame[column] = values[:, i]
    return frame


COORDINATES = frozenset((LATITUDE, LONGITUDE))


def read_frame(
    source: bytes | Path,
    *,
    with_price: bool,
    max_rows: int | None = None,
    numbers: frozenset[str] = frozenset(),
) -> pd.DataFrame:
    """A CSV as pandas reads it, before any check. The required columns and those named in
    `numbers` are read as numbers where every cell is one (else as text, which the checks
    then refuse cell by cell); the other columns stay text, so that an answer can give them
    back as they were sent."""
    required = required_columns(with_price)
    with _csv_errors():
        with _open(source) as handle:
            header = pd.read_csv(handle, nrows=0, encoding="utf-8").columns
        text_columns = {
            c: str
            for c in header
            if str(c).strip() not in required and str(c).strip() not in numbers
        }
        with _open(source) as handle:
            return pd.read_csv(
                handle,
                nrows=None if max_rows is None else max_rows + 1,
                skipinitialspace=True,
                encoding="utf-8",
                dtype=text_columns,
            )


@contextlib.contextmanager
def _csv_errors() -> Iterator[None]:
    """pandas' reading errors, as BadInput a client can act on."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise BadInput("the CSV is empty: expected a header line and at least one row") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"the CSV is not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise BadInput(f"the CSV could not be parsed: {str(exc).strip()}") from None


def _require(columns: list[str], required: tuple[str, ...]) -> None:
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(repr(c) for c in columns[:20]) or "none"
        raise BadInput(
            f"the CSV lacks the column(s) {', '.join(missing)}; "
            f"the header must name {', '.join(required)} (found: {found})"
        )


def _open(source: bytes | Path) -> IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def required_columns(with_price: bool) -> tuple[str, ...]:
    return (*FEATURES, TARGET) if with_price else FEATURES


def check_frame(
    frame: pd.DataFrame,
    *,
    with_price: bool,
    first_line: int = 2,
    allow_empty: bool = False,
    dates: SaleDates | None = None,
    skipped: Skipped | None = None,
    places: list[Places] | None = None,
) -> FloatArray:
    """Validate the required columns of a table row by row; return them as an (n, k) array.

    `first_line` is the file line of the table's first row (2 for a whole file, more for a
    chunk of one), so that errors name the line a person finds in the file. `dates`, when
    given, gathers the first and last `sold_at` from the dates parsed for the check. With
    `skipped`, a row that fails a check is left out of the array and recorded there, instead
    of failing the table; only a table left with no row at all fails. A table with place
    columns has them checked too (`place_rules.read_places`), and `places`, when given, gets
    the places read (valuation dates from `as_of`) of the rows kept.
    """
    frame.columns = [str(c).strip() for c in frame.columns]
    required = required_columns(with_price)
    _require(list(frame.columns), required)
    if len(frame) == 0 and not allow_empty:
        raise BadInput("the CSV has a header but no rows")

    errors: list[tuple[int, str, str]] = []
    bad = np.zeros(len(frame), dtype=bool)
    out = np.empty((len(frame), len(required)), dtype=np.float64)
    for i, column in enumerate(required):
        values, column_errors, column_bad = _check_column(frame[column], column, first_line)
        errors.extend(column_errors)
        bad |= column_bad
        out[:, i] = values
    found_places: Places | None = None
    place_errors: list[tuple[int, str, str]] = []
    place_bad: Any = None
    if PLACE_COLUMNS & set(frame.columns):
        found_places, place_errors, place_bad = read_places(frame, AS_OF, first_line)
    if place_errors:
        errors.extend(place_errors)
        bad |= place_bad
    parsed = None
    if SOLD_AT in frame.columns:
        date_errors, date_bad, parsed = _check_dates(frame[SOLD_AT], first_line)
        errors.extend(date_errors)
        bad |= date_bad
    if errors and skipped is None:
        raise BadInput(_row_errors(sorted(errors)[:MAX_REPORTED_ERRORS]))
    if errors:
        assert skipped is not None
        skipped.add((np.flatnonzero(bad) + (first_line - 2)).tolist(), errors)
        if bad.all() and not allow_empty:
            raise skipped.nothing_left()
        out = out[~bad]
        parsed = None if parsed is None else parsed[~bad]
        found_places = None if found_places is None else found_places.take(~bad)
    if dates is not None and parsed is not None:
        dates.add_parsed(parsed)
    if places is not None and found_places is not None:
        places.append(found_places)
    return out


def _check_column(
    series: pd.Series[Any], column: str, first_line: int = 2
) -> tuple[FloatArray, list[tuple[int, str, str]], Any]:
    """The column as floats, the first errors of each kind by line, and every bad row."""
    errors: list[tuple[int, str, str]] = []
    bad = np.zeros(len(series), dtype=bool)

    def flag(mask: Any, message: Any) -> None:
        found = np.flatnonzero(np.asarray(mask))
        if len(found):  # rare: a table of good rows pays for no mask of bad ones
            bad[found] = True
        for index in found[:MAX_REPORTED_ERRORS]:
            errors.append((_line(int(index), first_line), column, message(int(index))))

    def not_a_number_message(i: int) -> str:
        return f"expected a number, got {_show(series.iloc[i])}"

    if pd.api.types.is_bool_dtype(series):
        flag(np.ones(len(series), bool), not_a_number_message)
        return np.full(len(series), np.nan), errors, bad
    not_a_number = np.zeros(len(series), dtype=bool)
    if not pd.api.types.is_numeric_dtype(series):
        numbers = pd.to_numeric(series, errors="coerce")
        # A column of mixed blocks (a run of true/false cells, then numbers) holds Python
        # bools, which to_numeric would take for 1 and 0.
        booleans = series.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        not_a_number = np.asarray(numbers.isna() & series.notna()) | booleans
        flag(not_a_number, not_a_number_message)
        series = numbers
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    flag(np.isnan(values) & ~not_a_number, lambda i: "missing value (empty or NaN)")
    flag(np.isinf(values), lambda i: f"must be finite, got {values[i]}")
    low, low_inclusive, high = _RULES[column]
    with np.errstate(invalid="ignore"):
        too_low = values < low if low_inclusive else values <= low
        relation = "at least" if low_inclusive else "greater than"
        flag(too_low, lambda i: f"must be {relation} {low:g}, got {values[i]:g}")
        too_high = np.isfinite(values) & (values > high)
        flag(too_high, lambda i: f"must be at most {high:g}, got {values[i]:g}")
        if column == "beds":
            fractional = np.isfinite(values) & (values != np.round(values))
            flag(fractional, lambda i: f"must be a whole number, got {values[i]:g}")
    return values, errors, bad


def _check_dates(
    series: pd.Series[Any], first_line: int = 2
) -> tuple[list[tuple[int, str, str]], Any, pd.Series[Any]]:
    """The first errors by line, every row with a malformed date, and the dates parsed."""
    written, parsed = parse_dates(series)
    bad = written & parsed.isna().to_numpy()
    errors = [
        (
            _line(int(i), first_line),
            SOLD_AT,
            f"expected a date as YYYY-MM-DD, got {_show(series.iloc[i])}",
        )
        for i in np.flatnonzero(bad)[:MAX_REPORTED_ERRORS]
    ]
    return errors, bad, parsed


def _show(value: Any) -> str:
    # numpy scalars print as np.True_ and the like; the client wrote True.
    return repr(value.item() if isinstance(value, np.generic) else value)


def features(frame: pd.DataFrame) -> FloatArray:
    """The (n, 3) float64 array of beds, baths, sqft of a checked table."""
    return np.ascontiguousarray(frame[list(FEATURES)].to_numpy(dtype=np.float64))


def target(frame: pd.DataFrame) -> FloatArray:
    return np.ascontiguousarray(frame[TARGET].to_numpy(dtype=np.float64))


def from_records(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A table from already-validated rows (for example pydantic models dumped to dicts)."""
    frame = pd.DataFrame.from_records(list(records))
    for column in (*FEATURES, TARGET):
        if column in frame.columns:
            frame[column] = frame[column].astype(np.float64)
    return frame


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of the float64 values of beds, baths, sqft and price, row by row, in order."""
    values = np.ascontiguousarray(frame[[*FEATURES, TARGET]].to_numpy(dtype=np.float64))
    return hashlib.sha256(values.data).hexdigest()


def features_of(rows: Iterable[Any]) -> FloatArray:
    """The (n, 3) float64 array of beds, baths, sqft from validated request objects."""
    values = [(r.beds, r.baths, r.sqft) for r in rows]
    return np.array(values, dtype=np.float64).reshape(-1, len(FEATURES))


def read_chunks(
    path: Path,
    chunk_rows: int = 1_000_000,
    dates: SaleDates | None = None,
    skipped: Skipped | None = None,
) -> Iterator[FloatArray]:
    """The checked (m, 4) arrays of beds, baths, sqft, price of a CSV, a chunk at a time.

    A file of up to WHOLE_READ_BYTES is read at once (pandas then parses it on every core),
    a larger one `chunk_rows` rows at a time, so memory stays that of one chunk whatever the
    file's size; either way each chunk of `chunk_rows` rows is checked in turn. A bad row raises
    BadInput naming its line, as `read_csv` does; so does a row with more fields than the
    header. `dates`, when given, gathers the first and last sale date. With `skipped`, bad
    rows are left out and recorded there (a file with no good row left is still an error).
    """
    with _csv_errors(), _open(path) as handle:
        header = [str(c).strip() for c in pd.read_csv(handle, nrows=0).columns]
    _require(header, required_columns(True))
    first_line, rows = 2, 0
    with _csv_errors():
        for frame in training_frames(path, chunk_rows):
            values = check_frame(
                frame,
                with_price=True,
                first_line=first_line,
                dates=dates,
                skipped=skipped,
                allow_empty=skipped is not None,
            )
            first_line += len(frame)
            rows += len(values)
            yield values
    if rows == 0 and skipped is not None and skipped.count:
        raise skipped.nothing_left()
    if rows == 0:
        raise BadInput("the CSV has a header but no rows")


# Read whole up to this size: a 1,000,000-sale file is about 22 MB, and the table read takes
# a few times the file's size in memory.
WHOLE_READ_BYTES = 64 * 1024 * 1024

PLACES = (AREA, LATITUDE, LONGITUDE)


def training_frames(
    source: Path | IO[bytes], chunk_rows: int = 1_000_000
) -> Iterator[pd.DataFrame]:
    """The training columns of a CSV (sold_at and area as text, and the coordinates), `chunk_rows`
    rows at a time, unchecked.

    Column names come back stripped of surrounding spaces; other columns are read and left
    out. A file is read as bytes, whatever its name (no decompression).
    """
    wanted = {*required_columns(True), SOLD_AT, *PLACES}
    options: dict[str, Any] = {"skipinitialspace": True, "dtype": {SOLD_AT: str, "area": str}}
    with contextlib.ExitStack() as stack:
        frames: Iterable[pd.DataFrame]
        if isinstance(source, Path) and source.stat().st_size <= WHOLE_READ_BYTES:
            frame = pd.read_csv(str(source), compression=None, **options)
            frames = (
                frame.iloc[start : start + chunk_rows] for start in range(0, len(frame), chunk_rows)
            )
        else:
            # A larger file through a handle of bytes: read by path in chunks, a freshly written
            # file of 10,000,000 sales peaked at 826 MB, against 681 MB this way.
            handle = stack.enter_context(_open(source)) if isinstance(source, Path) else source
            frames = pd.read_csv(handle, chunksize=chunk_rows, **options)
        for part in frames:
            names = [str(c).strip() for c in part.columns]
            part = part.iloc[:, [i for i, name in enumerate(names) if name in wanted]]
            part.columns = [name for name in names if name in wanted]
            yield part


def fingerprint_chunks(chunks: Iterable[FloatArray]) -> str:
    """`fingerprint` of the table the chunks make up, in order."""
    digest = hashlib.sha256()
    for chunk in chunks:
        # The array's own buffer: the same bytes as .tobytes(), without copying them first.
        digest.update(np.ascontiguousarray(chunk, dtype=np.float64).data)
    return digest.hexdigest()


def without_rows(source: bytes | Path, positions: Collection[int]) -> bytes:
    """A CSV as it was sent, less the rows at `positions` (0-based): what is stored of a file
    whose bad rows were left out. Every cell is kept as its text."""
    with _csv_errors(), _open(source) as handle:
        frame = pd.read_csv(
            handle, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8"
        )
    kept = frame.drop(index=frame.index[list(positions)])
    return kept.to_csv(index=False).encode()
