"""The one cell parser: a file's number format and date format are decided once, from every cell,
or refused naming the option that settles them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from stocker.core.cells import (
    CellFormatError,
    NumberFormat,
    finite_numbers,
    infer_date_format,
    number_format,
    parse_dates,
    parse_instants,
    whole_numbers,
)


def _text(*cells: str) -> pd.Series:
    return pd.Series(list(cells), dtype=object)


# -- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ([["132,42", "130,9"], ["112.117.500", "9"]], NumberFormat(",", ".")),
        ([["1.234,5"]], NumberFormat(",", ".")),
        ([["132.42", "10"], ["1,234,567"]], NumberFormat(".", ",")),
        ([["1,234.5"]], NumberFormat(".", ",")),
        ([["132.42"], ["1,234"]], NumberFormat(".", ",")),
        ([["132", "7"], ["100"]], NumberFormat(".", "")),
        ([["1 234,5", "0,25"]], NumberFormat(",", " ")),
        ([["1_234.5"]], NumberFormat(".", "_")),
    ],
)
def test_number_format_is_inferred_when_every_cell_agrees(columns, expected) -> None:
    assert number_format([_text(*column) for column in columns]) == expected


@pytest.mark.parametrize(
    "cells",
    [
        ["1,234", "12"],  # 1234 or 1.234
        ["132.420", "1.500"],  # 132.42 or 132420
    ],
)
def test_number_format_refuses_cells_that_read_two_ways(cells) -> None:
    with pytest.raises(CellFormatError) as raised:
        number_format([_text(*cells)])
    assert raised.value.option == "decimal"
    assert set(raised.value.choices) == {",", "."}


def test_number_format_refuses_a_file_mixing_decimal_points_and_commas() -> None:
    with pytest.raises(CellFormatError, match=r"'132\.42'.*'132,42'|'132,42'.*'132\.42'"):
        number_format([_text("132.42", "133.1"), _text("132,42")])


def test_given_number_format_is_checked_against_the_cells() -> None:
    assert number_format([_text("1,234")], decimal=",") == NumberFormat(",", "")
    assert number_format([_text("1,234")], decimal=".") == NumberFormat(".", ",")
    assert number_format([_text("1.234")], thousands=".") == NumberFormat(",", ".")
    with pytest.raises(CellFormatError, match="132,42"):
        number_format([_text("132,42")], decimal=".")
    with pytest.raises(CellFormatError):
        number_format([_text("1")], decimal=";")


def test_numbers_are_read_in_the_files_format() -> None:
    german = NumberFormat(",", ".")
    values = finite_numbers(_text("132,42", "1.234,5", "-0,5", "7", "x", "inf", ""), german)
    assert values.tolist()[:4] == [132.42, 1234.5, -0.5, 7.0]
    assert values.iloc[4:].isna().all()
    assert whole_numbers(_text("112.117.500", "1,5"), german).tolist()[0] == 112117500
    assert pd.isna(whole_numbers(_text("1,5"), german).iloc[0])
    assert finite_numbers(_text("1,234.5", "10"), NumberFormat(".", ",")).tolist() == [1234.5, 10]
    assert finite_numbers(pd.Series([1.5, 2.0])).tolist() == [1.5, 2.0]


# -- dates -----------------------------------------------------------------------------------


def test_day_first_dates_are_read_day_first_when_one_cell_says_so() -> None:
    cells = _text("03/01/2023", "04/01/2023", "13/01/2023")
    assert infer_date_format(cells) == "%d/%m/%Y"
    assert parse_dates(cells).tolist() == [date(2023, 1, 3), date(2023, 1, 4), date(2023, 1, 13)]


def test_month_first_dates_are_read_month_first_when_one_cell_says_so() -> None:
    cells = _text("01/03/2023", "01/13/2023")
    assert infer_date_format(cells) == "%m/%d/%Y"
    assert parse_dates(cells).tolist() == [date(2023, 1, 3), date(2023, 1, 13)]


def test_dates_that_read_two_ways_are_refused_naming_both_formats() -> None:
    with pytest.raises(CellFormatError) as raised:
        parse_dates(_text("03/01/2023", "04/01/2023"))
    assert raised.value.option == "date_format"
    assert set(raised.value.choices) == {"%d/%m/%Y", "%m/%d/%Y"}
    assert "03/01/2023" in str(raised.value)


def test_dates_whose_readings_agree_need_no_format() -> None:
    assert parse_dates(_text("01/01/2023", "02/02/2023")).tolist() == [
        date(2023, 1, 1),
        date(2023, 2, 2),
    ]


def test_a_column_mixing_date_formats_is_refused() -> None:
    with pytest.raises(CellFormatError, match="more than one"):
        parse_dates(_text("2023-01-03", "13/01/2023"))


def test_iso_dates_stay_fast_and_a_cell_in_no_format_is_left_to_the_row_checks() -> None:
    parsed = parse_dates(_text("2024-01-02", "2024-13-45", "2024-01-03 00:00:00+05:30", ""))
    assert parsed.tolist() == [date(2024, 1, 2), None, date(2024, 1, 3), None]


def test_other_unambiguous_date_forms() -> None:
    assert parse_dates(_text("Jan 3, 2023", "Feb 13, 2023")).tolist() == [
        date(2023, 1, 3),
        date(2023, 2, 13),
    ]
    assert parse_dates(_text("03-Jan-2023", "13-Feb-2023")).tolist() == [
        date(2023, 1, 3),
        date(2023, 2, 13),
    ]
    assert parse_dates(_text("13.01.2023", "03.02.2023")).tolist() == [
        date(2023, 1, 13),
        date(2023, 2, 3),
    ]


def test_a_given_date_format_decides() -> None:
    cells = _text("03/01/2023", "04/01/2023")
    assert parse_dates(cells, "%d/%m/%Y").tolist() == [date(2023, 1, 3), date(2023, 1, 4)]
    assert parse_dates(cells, "%m/%d/%Y").tolist() == [date(2023, 3, 1), date(2023, 4, 1)]


def test_timestamps_with_day_first_dates_follow_the_same_rule() -> None:
    stamps = parse_instants(_text("13/01/2023 09:30", "03/01/2023 09:35"), "America/New_York")
    assert [stamp.isoformat() for stamp in stamps] == [
        "2023-01-13T14:30:00+00:00",
        "2023-01-03T14:35:00+00:00",
    ]
    with pytest.raises(CellFormatError):
        parse_instants(_text("03/01/2023 09:30", "04/01/2023 09:35"))


def test_no_thousands_separator_given_makes_the_one_seen_the_decimal() -> None:
    assert number_format([_text("1,234")], thousands="") == NumberFormat(",", "")
    assert number_format([_text("1.234")], thousands="") == NumberFormat(".", "")
    with pytest.raises(CellFormatError, match="do not fit thousands ''"):
        number_format([_text("1,234.5")], thousands="")


def test_month_names_short_or_long_are_one_format() -> None:
    assert parse_dates(_text("Jan 3, 2023", "January 13, 2023", "Sept 1, 2023")).tolist() == [
        date(2023, 1, 3),
        date(2023, 1, 13),
        date(2023, 9, 1),
    ]
