"""The intraday session rule with several calendars (one holding none of the rows), a grid
whose step does not divide the open's time of day (4 hours from 9:30 ET), a bar without a
timestamp, and a symbol no calendar knows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from stocker.core.rules.common import CalendarSessions
from stocker.core.rules.intraday import check_intraday_bars
from stocker.data.calendars import get_calendar

_XNYS = get_calendar("XNYS").schedule.loc["2024-01-02":"2024-01-31"]
XNYS = CalendarSessions(
    "XNYS",
    pd.DatetimeIndex(_XNYS.index),
    pd.DatetimeIndex(_XNYS["open"]),
    pd.DatetimeIndex(_XNYS["close"]),
)
OTHER = CalendarSessions("OTHER", XNYS.dates, XNYS.opens, XNYS.closes)


def _bars(stamps: list[str | None], interval: str, symbols: list[str]) -> pd.DataFrame:
    count = len(stamps)
    return pd.DataFrame(
        {
            "symbol": symbols,
            "timestamp": pd.to_datetime(stamps, utc=True),
            "interval": interval,
            "open": np.full(count, 10.0),
            "high": np.full(count, 10.5),
            "low": np.full(count, 9.5),
            "close": np.full(count, 10.2),
            "volume": np.arange(count) + 100,
        }
    )


def test_four_hour_grid_counts_from_the_open_under_the_second_calendar() -> None:
    frame = _bars(
        ["2024-01-08 14:30", "2024-01-08 18:30", "2024-01-08 16:30", "2024-01-08 15:30"],
        "4h",
        ["AAPL", "AAPL", "AAPL", "ZZZ"],
    )
    result = check_intraday_bars(
        frame, today=date(2024, 1, 31), calendars={"MSFT": OTHER, "AAPL": XNYS}
    )
    assert result.bad.tolist() == [False, False, True, False]
    assert [r.text for r in result.reasons[2]] == [
        "off_grid: timestamp 2024-01-08 16:30:00+00:00 is not on the 4h grid counted from the "
        "XNYS session open"
    ]


def test_a_bar_without_a_timestamp_is_judged_by_its_own_rule_only() -> None:
    frame = _bars(["2024-01-08 14:30", None], "5m", ["AAPL", "AAPL"])
    result = check_intraday_bars(frame, today=date(2024, 1, 31), calendars={"AAPL": XNYS})
    assert result.bad.tolist() == [False, True]
    rules = {r.rule for r in result.reasons[1]}
    assert "outside_session" not in rules
    assert "off_grid" not in rules
