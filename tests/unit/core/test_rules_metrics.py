"""Fundamentals rows: the as-of date's own reasons, period types compared in upper case,
symbols compared normalized, and a frame on any index checked by position."""

from __future__ import annotations

from datetime import date

import pandas as pd

from stocker.core.rules.metrics import check_metrics

TODAY = date(2024, 6, 28)


def _texts(result, position: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [reason.text for reason in result.reasons[position]]


def test_as_of_date_reasons_name_the_column() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL"],
            "as_of_date": ["2024-03-31", "soon", None],
            "period_type": ["TTM", "TTM", "TTM"],
            "source": ["x", "y", "z"],
        },
        index=[10, 20, 30],
    )
    result = check_metrics(frame, today=TODAY)
    assert result.bad.tolist() == [False, True, True]
    assert _texts(result, 1) == ["bad_as_of_date: as_of_date 'soon' is not a valid as_of_date"]
    assert _texts(result, 2) == ["bad_as_of_date: as_of_date is missing"]
    assert list(result.frame.index) == [0, 1, 2]
    assert "index" not in result.frame.columns
    assert result.frame["as_of_date"].iloc[0] == pd.Timestamp("2024-03-31")


def test_period_types_and_symbols_are_compared_as_stored() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", " AAPL", "MSFT", "MSFT"],
            "as_of_date": ["2024-03-31"] * 4,
            "period_type": ["ttm", "TTM", "fq", "FY"],
            "source": ["s", "s", "s", "s"],
        }
    )
    result = check_metrics(frame, today=TODAY)
    assert result.frame["period_type"].tolist() == ["TTM", "TTM", "FQ", "FY"]
    assert result.frame["symbol"].tolist() == ["AAPL", "AAPL", "MSFT", "MSFT"]
    assert result.bad.tolist() == [True, True, False, False]
    expected = (
        "duplicate_key: key (symbol, as_of_date, period_type, source) = "
        "(AAPL, 2024-03-31, TTM, s) appears 2 times in the batch"
    )
    assert _texts(result, 0) == [expected]
    assert list(result.valid["period_type"]) == ["FQ", "FY"]


def test_future_dates_bad_period_types_and_missing_sources() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL"],
            "as_of_date": ["2024-06-29", "2024-06-28", "2024-06-27"],
            "period_type": ["TTM", "weekly", "FQ"],
            "source": ["s", "s", " "],
        }
    )
    result = check_metrics(frame, today=TODAY)
    assert _texts(result, 0) == ["future_date: date 2024-06-29 is after today 2024-06-28"]
    assert _texts(result, 1) == [
        "bad_period_type: period_type 'weekly' is not one of DAILY, TTM, FQ, FY"
    ]
    assert _texts(result, 2) == ["missing_source: source is missing"]
