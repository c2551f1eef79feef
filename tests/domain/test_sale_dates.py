"""Sale dates: read once as the check reads them, and counted for the card."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.domain.sale_dates import SOLD_AT, SaleDates, parse_dates, sale_dates

CELLS = ["2015-01-02", " 2015-03-04 ", "", None, "  ", "2015-13-01", "x", "2014-5-6", np.nan]


def test_dates_read_as_if_every_cell_were_stripped_first() -> None:
    series = pd.Series(CELLS, dtype=object, index=range(100, 100 + len(CELLS)))
    written, parsed = parse_dates(series)
    text = series.astype("string").str.strip()
    assert parsed.equals(pd.to_datetime(text, format="%Y-%m-%d", errors="coerce"))
    assert written.tolist() == (text.notna() & (text != "")).tolist()


def test_a_table_without_sale_dates_has_none() -> None:
    assert sale_dates(pd.DataFrame({"beds": [3]})) is None


def test_the_card_counts_the_dated_sales_from_dates_read_once() -> None:
    frame = pd.DataFrame({SOLD_AT: ["2015-05-01", "", " 2014-06-30"]})
    found = SaleDates.of(frame, sale_dates(frame)).describe()
    assert found == {"first": "2014-06-30", "last": "2015-05-01", "rows_with_date": 2}
    assert SaleDates.of(frame).describe() == found
