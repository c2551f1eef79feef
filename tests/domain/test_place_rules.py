"""The rules of where and when as inputs: coordinates, areas and valuation dates in a table."""

from __future__ import annotations

import pandas as pd

from app.domain.place_rules import check_places, places_of


def _errors(**columns: list[object]) -> list[tuple[int, str, str]]:
    errors, _ = check_places(pd.DataFrame(columns))
    return errors


def test_good_places_pass_and_may_be_missing_on_any_row() -> None:
    errors, bad = check_places(
        pd.DataFrame(
            {
                "area": ["98103", None],
                "latitude": ["47.6", ""],
                "longitude": ["-122.3", None],
                "as_of": ["2015-01-31", ""],
            }
        )
    )
    assert errors == [] and not bad.any()


def test_a_latitude_beyond_90_is_named_with_its_line() -> None:
    assert _errors(latitude=["91"], longitude=["0"]) == [
        (2, "latitude", "must be between -90 and 90, got 91")
    ]


def test_a_longitude_beyond_180_is_named() -> None:
    assert _errors(latitude=["0"], longitude=["-180.5"])[0][1:] == (
        "longitude",
        "must be between -180 and 180, got -180.5",
    )


def test_a_coordinate_that_is_not_a_number_is_named() -> None:
    assert _errors(latitude=["north"], longitude=["0"])[0][1:] == (
        "latitude",
        "expected a number, got 'north'",
    )


def test_nan_is_not_a_coordinate() -> None:
    assert _errors(latitude=["NaN"], longitude=["0"])[0][1] == "latitude"


def test_a_latitude_without_a_longitude_is_refused() -> None:
    errors = _errors(latitude=["47.6"], longitude=[""])
    assert errors == [(2, "longitude", "latitude and longitude go together: give both or neither")]


def test_an_area_over_64_characters_is_refused() -> None:
    assert _errors(area=["x" * 65])[0][1:] == ("area", "must be at most 64 characters, got 65")


def test_a_malformed_as_of_is_refused() -> None:
    assert _errors(as_of=["2015-13-01"])[0][1:] == (
        "as_of",
        "expected a date as YYYY-MM-DD, got '2015-13-01'",
    )


def test_places_of_a_table_read_areas_coordinates_and_months() -> None:
    found = places_of(
        pd.DataFrame(
            {
                "area": [" 98103 ", ""],
                "latitude": ["47.6", None],
                "longitude": ["-122", None],
                "sold_at": ["2015-02-03", None],
            }
        ),
        "sold_at",
    )
    assert found.area.tolist() == ["98103", None]
    assert found.latitude[0] == 47.6 and found.longitude[0] == -122.0
    assert found.month.tolist() == [2015 * 12 + 1, -1]


def test_a_coordinate_written_with_an_underscore_is_not_a_number() -> None:
    assert _errors(latitude=["4_7"], longitude=["0"])[0][1:] == (
        "latitude",
        "expected a number, got '4_7'",
    )
