"""Date forms at their edges: two-digit years split at 69 as strptime's %y does, month names
full or three letters (and "Sept"), impossible days, and the screener's field catalogue."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from stocker.core import screener
from stocker.core.date_forms import CellFormatError, date_readings, one_date_format
from stocker.core.sentiment import lm_polarities


def test_two_digit_years_split_at_69_like_strptime() -> None:
    readings = date_readings(["31/12/68", "31/12/69", "13/01/70", "13/02/00", "13/03/99"])
    day_first = readings["%d/%m/%y"]
    assert {cell: reading[0] for cell, reading in day_first.items()} == {
        "31/12/68": date(2068, 12, 31),
        "31/12/69": date(1969, 12, 31),
        "13/01/70": date(1970, 1, 13),
        "13/02/00": date(2000, 2, 13),
        "13/03/99": date(1999, 3, 13),
    }
    assert "%m/%d/%y" not in readings  # 31 and 13 are no months
    four = date_readings(["13/01/1968"])["%d/%m/%Y"]
    assert four["13/01/1968"] == (date(1968, 1, 13), "")


def test_month_names_full_or_three_letters() -> None:
    readings = date_readings(["5 Sept 2024", "5 Marc 2024", "5 March 2024", "5 sep 2024"])
    assert readings == {
        "%d %b %Y": {
            "5 Sept 2024": (date(2024, 9, 5), ""),
            "5 March 2024": (date(2024, 3, 5), ""),
            "5 sep 2024": (date(2024, 9, 5), ""),
        }
    }
    assert date_readings(["31 Feb 2024", "30/02/2024"]) == {}


def test_the_field_catalogue_is_read_line_by_line() -> None:
    fields = screener._fields()
    assert fields == screener.FIELDS
    market_cap = fields["market_cap"]
    assert (market_cap.name, market_cap.source, market_cap.type) == (
        "market_cap",
        "fundamentals",
        "number",
    )
    assert market_cap.description == "market capitalization"
    assert fields["pe"].description == "price to earnings (TTM)"
    assert all(name == info.name for name, info in fields.items())


def test_a_column_in_two_formats_names_a_cell_of_each_and_both_formats() -> None:
    most_iso = date_readings(["2024-03-01", "2024-03-02", "13/01/2024"])
    with pytest.raises(CellFormatError) as iso_first:
        one_date_format(most_iso)
    assert str(iso_first.value) == (
        "dates are written in more than one format (e.g. '2024-03-01' and '13/01/2024')"
    )
    assert iso_first.value.option == "date_format"
    assert iso_first.value.choices == ("%Y-%m-%d", "%d/%m/%Y")
    most_day_first = date_readings(["13/01/2024", "14/01/2024", "2024-03-01"])
    with pytest.raises(CellFormatError) as day_first:
        one_date_format(most_day_first)
    assert day_first.value.choices == ("%d/%m/%Y", "%Y-%m-%d")
    assert "(e.g. '13/01/2024' and '2024-03-01')" in str(day_first.value)


def test_an_ambiguous_column_spells_both_readings() -> None:
    with pytest.raises(CellFormatError) as caught:
        one_date_format(date_readings(["01/02/2024"]))
    assert str(caught.value) == (
        "dates such as '01/02/2024' read two ways (2 January 2024 or 1 February 2024), and no "
        "date in the column settles which"
    )
    assert caught.value.choices == ("%d/%m/%Y", "%m/%d/%Y")
    assert one_date_format({}) is None
    assert one_date_format(date_readings(["2024-03-01"])) == "%Y-%m-%d"


def test_lm_polarity_of_counts() -> None:
    got = lm_polarities(np.array([1, 0, 0, 3, 0.5]), np.array([0, 1, 0, 1, 0]))
    assert got.tolist() == [1.0, -1.0, 0.0, 0.5, 1.0]
