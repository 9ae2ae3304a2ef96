"""Date forms at their edges: two-digit years split at 69 as strptime's %y does, month names
full or three letters (and "Sept"), impossible days, and the screener's field catalogue."""

from __future__ import annotations

from datetime import date

from stocker.core import screener
from stocker.core.date_forms import date_readings


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
