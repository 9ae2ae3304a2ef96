"""Checking sentiment input rows: one bad field per row and the exact reason it earns, the
valid rows typed, and the boundaries (a score of exactly ±1, a magnitude just below the limit,
a count of 0, a symbol of exactly 20 characters, a source of exactly 50)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.rules.sentiment import check_articles


def _texts(reasons: tuple) -> list[str]:
    return [reason.text for reason in reasons]


def test_every_bad_field_earns_its_own_reason() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL", "AAPL", "AAPL", "AAPL", "AAPL", "AAPL", "A" * 21],
            "date": ["2024-05-02", "no", *["2024-05-02"] * 7],
            "sentiment_score": ["0.5", "0.1", "x", None, "1.5", "0.1", "0.1", "0.1", "0.1"],
            "sentiment_magnitude": [None, None, None, None, None, "big", "1000000", None, None],
            "article_count": [None, None, None, None, None, None, None, "2.5", None],
        }
    )
    checked = check_articles(frame, "feed")
    assert {k: _texts(v) for k, v in checked.reasons.items()} == {
        1: ["date: missing or not a date/timestamp"],
        2: ["sentiment_score: not a number"],
        3: ["sentiment_score: missing; expected a value in [-1, 1]"],
        4: ["sentiment_score: outside [-1, 1]"],
        5: ["sentiment_magnitude: not a number"],
        6: ["sentiment_magnitude: expected a finite value below 1,000,000"],
        7: ["article_count: expected a whole number >= 0"],
        8: ["symbol: longer than 20 characters"],
    }
    assert {r.rule for v in checked.reasons.values() for r in v} == {
        "bad_date",
        "bad_sentiment_score",
        "bad_sentiment_magnitude",
        "bad_article_count",
        "bad_symbol",
    }
    assert len(checked.valid) == 1
    row = checked.valid.iloc[0]
    assert (row["symbol"], row["source"], row["score"], row["count"]) == ("AAPL", "feed", 0.5, 1.0)
    assert row["date"] == pd.Timestamp("2024-05-02")
    assert np.isnan(row["magnitude"])


def test_boundaries_are_valid_and_one_past_them_is_not() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["B" * 20, None, "  ", "MSFT", "MSFT", "MSFT", "MSFT"],
            "source": ["s" * 50, "s" * 51, None, "  ", "wire", "wire", "wire"],
            "date": ["2024-05-02"] * 7,
            "sentiment_score": [1.0, -1.0, 0.0, "-1", "nan", "inf", 1.00001],
            "sentiment_magnitude": [999999.9999, -999999.0, 0.0, "", None, None, None],
            "article_count": [0, 3, "", "  ", -1, 1, 1],
        }
    )
    checked = check_articles(frame, "feed")
    assert {k: _texts(v) for k, v in checked.reasons.items()} == {
        1: ["source: longer than 50 characters"],
        4: ["sentiment_score: not a number", "article_count: expected a whole number >= 0"],
        5: ["sentiment_score: outside [-1, 1]"],
        6: ["sentiment_score: outside [-1, 1]"],
    }
    valid = checked.valid
    assert list(valid.columns) == ["symbol", "date", "source", "score", "magnitude", "count"]
    assert list(valid.index) == [0, 1, 2]
    assert valid["symbol"].tolist() == ["B" * 20, None, "MSFT"]
    # a blank source takes the feed's name
    assert valid["source"].tolist() == ["s" * 50, "feed", "feed"]
    assert valid["score"].tolist() == [1.0, 0.0, -1.0]
    assert valid["magnitude"].tolist()[:2] == [999999.9999, 0.0]
    assert np.isnan(valid["magnitude"].iloc[2])
    assert valid["count"].tolist() == [0.0, 1.0, 1.0]


def test_an_invalid_symbol_character_is_named_and_symbols_are_normalized() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AA\u200bPL", " ＭＳＦＴ "],
            "date": ["2024-05-02", "2024-05-02"],
            "sentiment_score": [0.1, 0.2],
        }
    )
    checked = check_articles(frame, "feed")
    assert list(checked.reasons) == [0]
    (reason,) = checked.reasons[0]
    assert reason.rule == "symbol_invalid"
    assert "U+200B ZERO WIDTH SPACE" in reason.text
    assert checked.valid["symbol"].tolist() == ["MSFT"]


def test_timestamps_are_taken_in_utc_and_dates_drop_their_time() -> None:
    stamps = pd.DataFrame(
        {
            "timestamp": ["2024-05-02T23:30:00-04:00", "2024-05-02 10:00", "garbage"],
            "sentiment_score": [0.1, 0.2, 0.3],
        }
    )
    checked = check_articles(stamps, "feed")
    assert checked.valid["date"].tolist() == [
        pd.Timestamp("2024-05-03"),
        pd.Timestamp("2024-05-02"),
    ]
    assert _texts(checked.reasons[2]) == ["date: missing or not a date/timestamp"]
    dated = pd.DataFrame(
        {
            "date": ["2024-05-02 18:45", dt.date(2024, 5, 3), "2024-05-04T22:00:00"],
            "timestamp": ["ignored", "ignored", "ignored"],
            "sentiment_score": [0.1, 0.2, 0.3],
        }
    )
    assert check_articles(dated, "feed").valid["date"].tolist() == [
        pd.Timestamp("2024-05-02"),
        pd.Timestamp("2024-05-03"),
        pd.Timestamp("2024-05-04"),
    ]
    # an aware date is the date in UTC
    zoned = pd.DataFrame(
        {
            "date": ["2024-05-04T22:00:00-05:00", "2024-05-04T01:00:00-05:00"],
            "sentiment_score": [0, 0],
        }
    )
    assert check_articles(zoned, "feed").valid["date"].tolist() == [
        pd.Timestamp("2024-05-05"),
        pd.Timestamp("2024-05-04"),
    ]


def test_missing_columns_are_refused_by_name() -> None:
    with pytest.raises(DataError, match=r"^columns: need 'sentiment_score'; got date, symbol$"):
        check_articles(pd.DataFrame({"date": ["2024-05-02"], "symbol": ["A"]}), "feed")
    with pytest.raises(DataError, match=r"^columns: need 'date' or 'timestamp'; got neither$"):
        check_articles(pd.DataFrame({"sentiment_score": [0.1]}), "feed")


def test_a_frame_with_another_index_is_checked_by_position() -> None:
    frame = pd.DataFrame(
        {"date": ["2024-05-02", "bad"], "sentiment_score": [0.1, 0.2], "symbol": [None, "X"]},
        index=[7, 3],
    )
    checked = check_articles(frame, "feed")
    assert list(checked.reasons) == [1]
    assert checked.valid["symbol"].tolist() == [None]
