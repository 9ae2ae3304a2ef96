"""Zoned and naive cells in one column, or cells with different UTC offsets, are read cell by
cell instead of failing with pandas' "Mixed timezones detected"."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from stocker.core.cells import parse_dates
from stocker.core.rules.sentiment import check_articles


def test_a_zoned_cell_in_another_form_beside_a_naive_one_keeps_each_cells_date() -> None:
    column = pd.Series(["Fri, 01 Mar 2024 23:00:00 GMT", "1st March 2024", "not a date"])
    assert parse_dates(column).tolist() == [dt.date(2024, 3, 1), dt.date(2024, 3, 1), None]


def test_sentiment_dates_with_different_offsets_are_read_in_utc() -> None:
    frame = pd.DataFrame(
        {
            "date": ["2024-03-01T23:30:00-04:00", "2024-03-02T10:00:00+05:30", "2024-03-03"],
            "symbol": ["AAPL", "MSFT", "XOM"],
            "sentiment_score": [0.1, -0.2, 0.3],
        }
    )
    checked = check_articles(frame, source="file")
    assert checked.reasons == {}
    days = [pd.Timestamp(day).date() for day in checked.valid["date"]]
    assert days == [dt.date(2024, 3, 2), dt.date(2024, 3, 2), dt.date(2024, 3, 3)]
