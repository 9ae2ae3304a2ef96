"""Single cells and whole columns: headers, blanks, numbers, ratios, booleans and timestamps in
columns that mix zones (each cell read on its own)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from stocker.core.cells import (
    SQL_FALSE_WORDS,
    SQL_TRUE_WORDS,
    NumberFormat,
    blank_mask,
    cleaned_text,
    finite_numbers,
    is_blank,
    normalize_header,
    number_format,
    parse_booleans,
    parse_dates,
    parse_instants,
    parse_number,
    parse_numbers,
    parse_ratio,
    read_number,
    whole_numbers,
)
from stocker.core.date_forms import CellFormatError


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (" Adj Close ", "adj_close"),
        ("Adj. Close (USD)", "adj_close_usd"),
        ("__Volume__", "volume"),
        ("date", "date"),
        (7, "7"),
        ("P/E-Ratio", "p_e_ratio"),
        ("ÄBC", "bc"),
    ],
)
def test_normalize_header(header: object, expected: str) -> None:
    assert normalize_header(header) == expected


@pytest.mark.parametrize(
    ("value", "blank"),
    [
        (None, True),
        (float("nan"), True),
        ("", True),
        ("  \t", True),
        ("x", False),
        (0, False),
        (0.0, False),
        (" 0 ", False),
        (math.inf, False),
    ],
)
def test_is_blank(value: object, blank: bool) -> None:
    assert is_blank(value) is blank


def test_cleaned_text_strips_and_blanks_become_none() -> None:
    cleaned = cleaned_text(pd.Series([" a ", "", "  ", None, "b", 5], index=[3, 4, 5, 6, 7, 8]))
    assert cleaned.tolist() == ["a", None, None, None, "b", "5"]
    assert cleaned.dtype == object
    assert list(cleaned.index) == [3, 4, 5, 6, 7, 8]
    assert cleaned.iloc[1] is None


def test_parse_numbers_by_dtype_and_separators() -> None:
    flags = parse_numbers(pd.Series([True, False]))
    assert flags.dtype == np.float64
    assert flags.tolist() == [1.0, 0.0]
    ints = pd.Series([1, 2], dtype="int64")
    assert parse_numbers(ints) is ints
    text = parse_numbers(pd.Series([" 1,234.5 ", "x", "inf", None]), separators=",")
    assert text.iloc[0] == 1234.5
    assert pd.isna(text.iloc[1])
    assert text.iloc[2] == math.inf
    assert pd.isna(text.iloc[3])
    # without separators the grouped number is no number
    assert math.isnan(parse_numbers(pd.Series(["1,234.5"])).iloc[0])
    # a separator that is a regex character is taken literally
    assert parse_numbers(pd.Series(["1.234"]), separators=".").iloc[0] == 1234.0


def test_finite_and_whole_numbers() -> None:
    cells = pd.Series(["1.5", "-inf", "2", "x", None, " 3 "], dtype=object)
    finite = finite_numbers(cells)
    assert finite.iloc[0] == 1.5
    assert math.isnan(finite.iloc[1])
    assert finite.iloc[2] == 2.0
    assert finite.iloc[5] == 3.0
    whole = whole_numbers(cells)
    assert math.isnan(whole.iloc[0])
    assert whole.iloc[2] == 2.0
    assert finite_numbers(pd.Series([True, False])).isna().all()
    european = finite_numbers(pd.Series(["1.234,5", "1.5"]), NumberFormat(",", "."))
    assert european.iloc[0] == 1234.5


def test_read_number_one_cell() -> None:
    assert read_number(None) is None
    assert read_number("  ") is None
    assert read_number(" 12.5 ") == 12.5
    assert read_number("1 234,5", NumberFormat(",", " ")) == 1234.5
    assert read_number(7) == 7.0
    with pytest.raises(ValueError, match=r"^'abc' is not a number$"):
        read_number("abc")
    with pytest.raises(ValueError, match=r"^'inf' is not a number$"):
        read_number("inf")


def test_parse_number_one_cell() -> None:
    assert parse_number(None) is None
    assert parse_number(float("nan")) is None
    assert parse_number(3) == 3.0
    assert isinstance(parse_number(3), float)
    assert parse_number(2.5) == 2.5
    assert parse_number(" 1,23,456.7 ") == 123456.7
    assert parse_number("12.5%", strip=",%") == 12.5
    assert parse_number(" % ", strip="%") is None
    assert parse_number("") is None
    assert parse_number("N/A", missing_words={"N/A"}) is None
    assert parse_number("1 000", strip=" ") == 1000.0
    with pytest.raises(ValueError, match=r"^a boolean is not a number$"):
        parse_number(True)
    with pytest.raises(ValueError):
        parse_number("N/A")
    with pytest.raises(ValueError):
        parse_number("12.5%")


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("2", 2.0), ("2:1", 2.0), ("2/1", 2.0), ("1:10", 0.1), (" 3 : 2 ", 1.5), ("1/4", 0.25)],
)
def test_parse_ratio(text: str, ratio: float) -> None:
    assert parse_ratio(text) == pytest.approx(ratio)


def test_parse_ratio_refuses() -> None:
    with pytest.raises(ZeroDivisionError):
        parse_ratio("1:0")
    with pytest.raises(ValueError):
        parse_ratio("1:2:3")
    with pytest.raises(ValueError):
        parse_ratio("two")
    assert parse_ratio(4) == 4.0


def test_parse_booleans_words_any_case_and_na_elsewhere() -> None:
    cells = pd.Series([" Yes", "n", "TRUE", "0", "maybe", None, "on", "T"], index=range(10, 18))
    parsed = parse_booleans(cells)
    assert parsed.tolist()[:5] == [True, False, True, False, pd.NA]
    assert parsed.iloc[5] is pd.NA
    assert parsed.iloc[6] is pd.NA
    assert parsed.iloc[7] is True
    assert list(parsed.index) == list(range(10, 18))
    sql = parse_booleans(cells, true_words=SQL_TRUE_WORDS, false_words=SQL_FALSE_WORDS)
    assert sql.iloc[6] is True
    assert parse_booleans(pd.Series(["off"]), false_words=SQL_FALSE_WORDS).iloc[0] is False
    custom = parse_booleans(pd.Series(["si", "no"]), true_words={"si"}, false_words={"no"})
    assert custom.tolist() == [True, False]


def test_instants_mixing_zones_are_read_cell_by_cell() -> None:
    cells = pd.Series(
        ["2024-03-01 09:30:00-05:00", " 2024-03-01 15:00:00+01:00 ", "2024-03-01 10:00", "nope"]
    )
    parsed = parse_instants(cells, timezone="America/New_York")
    assert parsed.iloc[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert parsed.iloc[1] == pd.Timestamp("2024-03-01 14:00", tz="UTC")
    assert parsed.iloc[2] == pd.Timestamp("2024-03-01 15:00", tz="UTC")
    assert pd.isna(parsed.iloc[3])
    assert str(parsed.dt.tz) == "UTC"


def test_instants_mixing_zones_with_a_given_format() -> None:
    cells = pd.Series(["01/03/2024 09:30 -0500", "01/03/2024 15:00 +0100", None, "bad"])
    parsed = parse_instants(cells, timezone="UTC", date_format="%d/%m/%Y %H:%M %z")
    assert parsed.iloc[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert parsed.iloc[1] == pd.Timestamp("2024-03-01 14:00", tz="UTC")
    assert pd.isna(parsed.iloc[2])
    assert pd.isna(parsed.iloc[3])


def test_instants_of_typed_columns_are_converted_not_parsed() -> None:
    aware = pd.Series(pd.to_datetime(["2024-03-01 09:30"]).tz_localize("America/New_York"))
    assert parse_instants(aware).iloc[0] == pd.Timestamp("2024-03-01 14:30", tz="UTC")
    assert str(parse_instants(aware).dt.tz) == "UTC"
    naive = pd.Series(pd.to_datetime(["2024-03-01 09:30"]))
    assert parse_instants(naive).iloc[0] == pd.Timestamp("2024-03-01 09:30", tz="UTC")
    assert str(parse_instants(naive).dt.tz) == "UTC"
    local = parse_instants(naive, timezone="Asia/Kolkata")
    assert local.iloc[0] == pd.Timestamp("2024-03-01 04:00", tz="UTC")
    assert str(local.dt.tz) == "UTC"


def test_instants_of_text_default_to_utc_and_read_other_forms() -> None:
    cells = pd.Series([" 2024-03-01T09:30:00 ", "2024-03-01 10:00:00+01:00", "", None])
    parsed = parse_instants(cells)
    assert parsed.iloc[0] == pd.Timestamp("2024-03-01 09:30", tz="UTC")
    assert parsed.iloc[1] == pd.Timestamp("2024-03-01 09:00", tz="UTC")
    assert pd.isna(parsed.iloc[2]) and pd.isna(parsed.iloc[3])
    assert str(parsed.dt.tz) == "UTC"
    # not ISO: the column's one date format, then any form pandas reads
    written = pd.Series(["13/03/2024 09:30", "01/03/2024 16:00", "garbage"])
    read = parse_instants(written, timezone="America/New_York")
    assert read.iloc[0] == pd.Timestamp("2024-03-13 13:30", tz="UTC")
    assert read.iloc[1] == pd.Timestamp("2024-03-01 21:00", tz="UTC")
    assert pd.isna(read.iloc[2])
    words = parse_instants(pd.Series(["March 1, 2024 9:30 AM", "March 2, 2024 10:00 PM"]))
    assert words.tolist() == [
        pd.Timestamp("2024-03-01 09:30", tz="UTC"),
        pd.Timestamp("2024-03-02 22:00", tz="UTC"),
    ]


def test_instants_with_a_given_format_take_no_other() -> None:
    cells = pd.Series(["01/03/2024 09:30", "2024-03-01 09:30", " 02/03/2024 10:00 "])
    parsed = parse_instants(cells, timezone="Europe/London", date_format="%d/%m/%Y %H:%M")
    assert parsed.iloc[0] == pd.Timestamp("2024-03-01 09:30", tz="UTC")
    assert pd.isna(parsed.iloc[1])
    assert parsed.iloc[2] == pd.Timestamp("2024-03-02 10:00", tz="UTC")


def test_instants_in_a_clock_change_gap_are_missing() -> None:
    cells = pd.Series(["2024-03-10 02:30:00", "2024-03-10 03:30:00"])
    parsed = parse_instants(cells, timezone="America/New_York")
    assert pd.isna(parsed.iloc[0])
    assert parsed.iloc[1] == pd.Timestamp("2024-03-10 07:30", tz="UTC")


def _cells(*texts: str) -> pd.Series:
    return pd.Series(list(texts), dtype=object)


def test_number_format_refusals_name_the_option_and_its_choices() -> None:
    with pytest.raises(CellFormatError) as bad_decimal:
        number_format([_cells("1")], decimal=";")
    assert str(bad_decimal.value) == "decimal separator ';' is not . or ,"
    assert (bad_decimal.value.option, bad_decimal.value.choices) == ("decimal", (".", ","))
    with pytest.raises(CellFormatError) as bad_thousands:
        number_format([_cells("1")], thousands="x")
    assert str(bad_thousands.value) == "thousands separator 'x' is not one of , . _ ' space or none"
    assert bad_thousands.value.option == "thousands"
    assert bad_thousands.value.choices == (",", ".", "_", "'", " ", "\u00a0", "\u202f", "")
    with pytest.raises(CellFormatError) as misfit:
        number_format([_cells("132,42", "1,5", "2,25", "3,125")], decimal=".")
    assert str(misfit.value) == "numbers such as '132,42' do not fit decimal '.'"
    assert (misfit.value.option, misfit.value.choices) == ("decimal", (",",))
    with pytest.raises(CellFormatError) as both_given:
        number_format([_cells("1.234,5")], decimal=".", thousands=",")
    assert str(both_given.value).endswith("do not fit decimal '.', thousands ','")
    with pytest.raises(CellFormatError) as only_thousands:
        number_format([_cells("1,5", "2.5")], thousands="_")
    assert str(only_thousands.value).endswith("do not fit thousands '_'")
    assert only_thousands.value.choices == (".", ",")
    with pytest.raises(CellFormatError) as mixed:
        number_format([_cells("132.42"), _cells("132,42")])
    assert str(mixed.value) == (
        "numbers are written in more than one format (e.g. '132,42' and '132.42')"
    )
    assert (mixed.value.option, mixed.value.choices) == ("decimal", (".", ","))
    with pytest.raises(CellFormatError) as two_ways:
        number_format([_cells("1,234")])
    assert str(two_ways.value) == (
        "numbers such as '1,234' read two ways (the separator may be a decimal point or a "
        "thousands separator)"
    )


def test_number_format_grouping_rules_out_a_separator() -> None:
    assert number_format([_cells("1.234.567")]) == NumberFormat(",", ".")
    assert number_format([_cells("1,234,567")]) == NumberFormat(".", ",")
    assert number_format([_cells("1.234,5")]) == NumberFormat(",", ".")
    assert number_format([_cells("12", "7")]) == NumberFormat(".", "")
    assert number_format([_cells("1 234.5", "1'234")]) == NumberFormat(".", " '")
    assert number_format([_cells("1,5")], thousands=" ") == NumberFormat(",", " ")


def test_dates_from_typed_columns_keep_missing_as_none() -> None:
    typed = pd.Series(pd.to_datetime(["2024-03-01 10:00", None]))
    assert parse_dates(typed).tolist() == [dt.date(2024, 3, 1), None]
    assert parse_dates(typed).iloc[1] is None
    aware = pd.Series(pd.to_datetime(["2024-03-01 23:30"]).tz_localize("America/New_York"))
    assert parse_dates(aware).tolist() == [dt.date(2024, 3, 1)]


def test_dates_in_mixed_offsets_keep_each_cells_own_date() -> None:
    cells = pd.Series(["2024-03-01T23:00:00-05:00", "2024-03-02T01:00:00+02:00", " ", None])
    assert parse_dates(cells).tolist() == [dt.date(2024, 3, 1), dt.date(2024, 3, 2), None, None]
    spaced = pd.Series(["2024-03-01 23:00:00-05:00", "2024-03-02 01:00:00+02:00"])
    assert parse_dates(spaced).tolist() == [dt.date(2024, 3, 1), dt.date(2024, 3, 2)]


def test_dates_in_no_known_format_fall_back_to_any_form_pandas_reads() -> None:
    zoned = parse_dates(pd.Series(["Fri, 01 Mar 2024 23:00:00 -0500", "junk", ""]))
    assert zoned.tolist() == [dt.date(2024, 3, 1), None, None]
    assert zoned.dtype == object
    naive = parse_dates(pd.Series(["1st March 2024", "junk", "2nd March 2024 10:00"]))
    assert naive.tolist() == [dt.date(2024, 3, 1), None, dt.date(2024, 3, 2)]


def test_a_given_date_format_is_the_only_one_read() -> None:
    cells = pd.Series(["01/03/2024", "2024-03-05", "junk"])
    assert parse_dates(cells, date_format="%d/%m/%Y").tolist() == [dt.date(2024, 3, 1), None, None]
    iso = pd.Series(["2024-03-01", "junk", ""])
    assert parse_dates(iso).tolist() == [dt.date(2024, 3, 1), None, None]


def test_blank_mask_of_text_mixed_and_typed_columns() -> None:
    text = pd.Series([" ", "", None, "x", " y ", "\t"], index=list("abcdef"))
    assert blank_mask(text).tolist() == [True, True, True, False, False, True]
    assert list(blank_mask(text).index) == list("abcdef")
    assert blank_mask(text).dtype == bool
    strings = pd.Series([" ", None, "z"], dtype="string", index=[7, 8, 9])
    assert blank_mask(strings).tolist() == [True, True, False]
    assert list(blank_mask(strings).index) == [7, 8, 9]
    mixed = pd.Series([" ", None, "x", 5, 0.0], dtype=object, index=[5, 4, 3, 2, 1])
    assert blank_mask(mixed).tolist() == [True, True, False, False, False]
    assert list(blank_mask(mixed).index) == [5, 4, 3, 2, 1]
    numbers = pd.Series([1.0, np.nan, 0.0])
    assert blank_mask(numbers).tolist() == [False, True, False]


def test_numbers_of_mixed_columns_take_the_pandas_path_with_the_separators() -> None:
    mixed = pd.Series(["1 234,5", 7, None, "x"], dtype=object, index=[4, 3, 2, 1])
    read = finite_numbers(mixed, NumberFormat(",", " "))
    assert list(read.index) == [4, 3, 2, 1]
    assert read.iloc[1] == 7.0
    assert read.isna().iloc[2:].all()
    grouped = finite_numbers(pd.Series(["1,234", 5], dtype=object), NumberFormat(".", ","))
    assert grouped.tolist() == [1234.0, 5.0]
    comma = finite_numbers(pd.Series(["1,5", "1.5", "2"], index=[3, 2, 1]), NumberFormat(",", ""))
    assert comma.iloc[0] == 1.5
    assert np.isnan(comma.iloc[1])  # a point in a decimal-comma file is no number's point
    assert comma.iloc[2] == 2.0
    assert list(comma.index) == [3, 2, 1]
    assert comma.dtype == np.float64
