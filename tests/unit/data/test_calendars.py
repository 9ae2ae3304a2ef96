"""Trading calendars: agree with exchange_calendars and with closures we know by heart."""

from __future__ import annotations

import exchange_calendars
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.data import calendars

# The oracle calendar is built directly, with an idiom pandas 3.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Series.values returning an ndarray")

START, END = "2000-01-01", "2025-12-31"


@pytest.fixture(scope="module")
def oracle() -> exchange_calendars.ExchangeCalendar:
    return exchange_calendars.get_calendar("XNYS", start="1990-01-01", end="2026-06-30")


@pytest.mark.parametrize(
    ("exchange", "expected"),
    [
        ("NYSE", "XNYS"),
        ("nasdaq", "XNYS"),
        ("AMEX", "XNYS"),
        ("ARCA", "XNYS"),
        ("BATS", "XNYS"),
        ("NYSEARCA", "XNYS"),
        ("NYSE Arca", "XNYS"),
        (None, "XNYS"),
        ("", "XNYS"),
        ("US", "XNYS"),
        ("NMS", "XNYS"),
        ("NSE", "XBOM"),
        ("bse", "XBOM"),
        ("XNSE", "XBOM"),
        ("XBOM", "XBOM"),
    ],
)
def test_calendar_for_exchange_when_known_returns_calendar(exchange, expected):
    assert calendars.calendar_for_exchange(exchange) == expected


def test_calendar_for_exchange_when_unknown_raises_naming_exchange():
    with pytest.raises(DataError, match="'LSE'"):
        calendars.calendar_for_exchange("LSE")


def test_sessions_2000_to_2025_equal_exchange_calendars(oracle):
    ours = calendars.sessions("XNYS", START, END)
    expected = oracle.sessions_in_range(START, END)
    assert ours.tz is None
    assert list(ours) == list(expected)


@pytest.mark.parametrize(
    ("year", "count"), [(2001, 248), (2012, 250), (2018, 251), (2024, 252), (2025, 250)]
)
def test_sessions_per_year_match_published_nyse_trading_day_counts(year, count):
    assert len(calendars.sessions("XNYS", f"{year}-01-01", f"{year}-12-31")) == count


def test_holidays_2000_to_2025_equal_weekdays_exchange_calendars_closes(oracle):
    weekdays = pd.bdate_range(START, END)
    expected = [day for day in weekdays if not oracle.is_session(day)]
    assert list(calendars.holidays("XNYS", START, END)) == expected


def test_early_closes_2000_to_2025_equal_exchange_calendars(oracle):
    close = oracle.schedule["close"].loc[START:END]
    regular = close.dt.tz_convert("America/New_York").dt.hour >= 16
    expected = list(close.index[~regular])
    assert list(calendars.early_closes("XNYS", START, END)) == expected
    assert list(calendars.early_closes("XNYS", START, END)) == list(
        oracle.early_closes[(oracle.early_closes >= START) & (oracle.early_closes <= END)]
    )


# Closures and half-days written out from the NYSE's own announcements, independently of the
# library, so a wrapper that shifts dates or picks the wrong calendar fails here.
KNOWN_CLOSED = [
    "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14",  # 9/11
    "2004-06-11",  # Reagan's funeral
    "2007-01-02",  # Ford's funeral
    "2012-10-29", "2012-10-30",  # Hurricane Sandy
    "2018-12-05",  # George H. W. Bush's funeral
    "2025-01-09",  # Carter's funeral
    "2000-07-04", "2015-12-25", "2022-06-20",  # Independence Day, Christmas, Juneteenth
    "2021-11-25",  # Thanksgiving
    "2023-04-07",  # Good Friday
    "1990-01-01", "1994-04-27",  # 1990 New Year; Nixon's funeral
]  # fmt: skip
KNOWN_HALF_DAYS = [
    "2001-11-23", "2012-11-23", "2019-11-29", "2024-11-29",  # day after Thanksgiving
    "2019-07-03", "2013-07-03",  # eve of Independence Day
    "2018-12-24", "2024-12-24",  # Christmas Eve
]  # fmt: skip
KNOWN_OPEN = ["2001-09-17", "2012-10-31", "2018-12-04", "2018-12-06", "1990-01-02"]


@pytest.mark.parametrize("day", KNOWN_CLOSED)
def test_is_session_on_known_closure_is_false(day):
    assert not calendars.is_session("XNYS", day)


@pytest.mark.parametrize("day", KNOWN_OPEN)
def test_is_session_on_known_trading_day_is_true(day):
    assert calendars.is_session("XNYS", day)


def test_holidays_include_every_known_weekday_closure():
    found = set(calendars.holidays("XNYS", "1990-01-01", END))
    assert {pd.Timestamp(day) for day in KNOWN_CLOSED} <= found


def test_early_closes_include_known_half_days_closing_at_13_00_new_york():
    found = set(calendars.early_closes("XNYS", "2000-01-01", END))
    assert {pd.Timestamp(day) for day in KNOWN_HALF_DAYS} <= found
    times = calendars.session_times("XNYS", "2019-11-27", "2019-12-02")
    local_close = times["close"].dt.tz_convert("America/New_York").dt.strftime("%H:%M")
    assert list(local_close) == ["16:00", "13:00", "16:00"]
    assert list(times.index) == [
        pd.Timestamp(d) for d in ("2019-11-27", "2019-11-29", "2019-12-02")
    ]


def test_sessions_reach_back_to_1990():
    days = calendars.sessions("XNYS", "1990-01-01", "1990-01-10")
    assert list(days.strftime("%Y-%m-%d")) == [
        "1990-01-02", "1990-01-03", "1990-01-04", "1990-01-05", "1990-01-08", "1990-01-09",
        "1990-01-10",
    ]  # fmt: skip


def test_sessions_when_range_before_calendar_raises_naming_range():
    with pytest.raises(DataError, match="1989-01-01"):
        calendars.sessions("XNYS", "1989-01-01", "1990-02-01")


def test_india_calendar_starts_where_holidays_are_recorded_and_closes_on_diwali_holiday():
    assert calendars.calendar_start("XBOM") == pd.Timestamp("1997-01-01")
    assert not calendars.is_session("XBOM", "2023-11-14")  # Diwali Balipratipada
    assert not calendars.is_session("XBOM", "2024-01-26")  # Republic Day
    assert calendars.is_session("XBOM", "2024-01-25")


def test_next_and_previous_session_skip_closures():
    assert calendars.next_session("XNYS", "2012-10-26") == pd.Timestamp("2012-10-31")
    assert calendars.next_session("XNYS", "2012-10-29") == pd.Timestamp("2012-10-31")
    assert calendars.previous_session("XNYS", "2012-10-31") == pd.Timestamp("2012-10-26")
    assert calendars.previous_session("XNYS", "2018-12-05") == pd.Timestamp("2018-12-04")
    assert calendars.next_session("XNYS", "2024-12-31") == pd.Timestamp("2025-01-02")


def test_session_minutes_on_half_day_span_open_to_early_close():
    minutes = calendars.session_minutes("XNYS", "2019-11-29")
    assert len(minutes) == 210
    assert minutes[0] == pd.Timestamp("2019-11-29 14:30", tz="UTC")
    assert minutes[-1] == pd.Timestamp("2019-11-29 17:59", tz="UTC")
    assert len(calendars.session_minutes("XNYS", "2019-11-27")) == 390


def test_session_minutes_when_not_session_raises():
    with pytest.raises(DataError, match="not a session"):
        calendars.session_minutes("XNYS", "2018-12-05")


def test_get_calendar_is_cached():
    assert calendars.get_calendar("XNYS") is calendars.get_calendar("XNYS")
