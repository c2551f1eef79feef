"""What `/markets` says of a market: the concerns, and the order of the table's columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.service.markets import concerns, ordered

TODAY = dt.date(2026, 12, 2)


def line(
    name: str, median: float | None = 0.1, last_sale: str | None = "2026-11-01"
) -> dict[str, Any]:
    return {
        "market": name,
        "n_train": 100,
        "last_sale": last_sale,
        "accuracy": {
            "median_ape": median,
            "within_10": None,
            "within_20": None,
            "coverage_90": None,
        },
    }


def test_a_median_error_over_20_percent_is_poor_accuracy() -> None:
    assert concerns(line("a", median=0.2001), TODAY) == ["poor_accuracy"]
    assert concerns(line("a", median=0.20), TODAY) == []


def test_a_newest_sale_over_180_days_old_is_old_sales() -> None:
    assert concerns(line("a", last_sale="2026-06-05"), TODAY) == []  # 180 days
    assert concerns(line("a", last_sale="2026-06-04"), TODAY) == ["old_sales"]


def test_sales_without_dates_say_so() -> None:
    assert concerns(line("a", last_sale=None), TODAY) == ["no_sale_dates"]


def test_a_version_without_the_figure_has_no_accuracy_concern() -> None:
    assert concerns(line("a", median=None), TODAY) == []


def test_ordering_by_a_column_breaks_ties_by_name_and_puts_missing_figures_last() -> None:
    lines = [line("c", 0.2), line("b", None), line("a", 0.2), line("d", 0.1)]
    assert [x["market"] for x in ordered(lines, "median_ape", False)] == ["d", "a", "c", "b"]
    assert [x["market"] for x in ordered(lines, "median_ape", True)] == ["a", "c", "d", "b"]
