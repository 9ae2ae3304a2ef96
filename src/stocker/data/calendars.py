"""Trading calendars: which days an exchange trades and when, over `exchange_calendars`.

Every daily-bar check (missing sessions, stale prices, next trading day for orders) asks this
module, so one place decides how a listing's exchange maps to a calendar and how far back the
calendar reaches. `exchange_calendars` builds calendars spanning only ~20 years by default; the
sample data starts in 1990, so calendars are built from 1990 (or the earliest year the library
records holidays for, 1997 for XBOM) and cached, since building one takes about half a second.

Dates in and out are session dates: tz-naive midnight timestamps. Open and close times are UTC.
"""

from __future__ import annotations

import functools
import warnings
from datetime import date, datetime

import pandas as pd
from exchange_calendars import ExchangeCalendar
from exchange_calendars.exchange_calendar_xbom import XBOMExchangeCalendar
from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar

from stocker.core.errors import DataError

CALENDAR_START = pd.Timestamp("1990-01-01")
"""The earliest date every calendar reaches back to (where the library has the holidays)."""

US_CALENDAR = "XNYS"
INDIA_CALENDAR = "XBOM"

_US_EXCHANGES = frozenset(
    {
        "US", "USA", "NYSE", "XNYS", "NASDAQ", "XNAS", "NMS", "NGM", "NCM", "NAS", "NYQ", "AMEX",
        "XASE", "ASE", "NYSEAMERICAN", "NYSEMKT", "ARCA", "ARCX", "NYSEARCA", "PCX", "BATS", "BTS",
        "CBOE", "IEX", "OTC",
    }
)  # fmt: skip
# NSE and BSE close on the same holidays; exchange_calendars models them as XBOM.
_INDIA_EXCHANGES = frozenset({"IN", "INDIA", "NSE", "XNSE", "NSI", "BSE", "XBOM", "BOM"})
_CALENDAR_CLASSES: dict[str, type[ExchangeCalendar]] = {
    US_CALENDAR: XNYSExchangeCalendar,
    INDIA_CALENDAR: XBOMExchangeCalendar,
}

DateLike = date | datetime | pd.Timestamp | str


def calendar_for_exchange(exchange: str | None) -> str:
    """The calendar code for a listing's exchange; no exchange means a US listing.

    Raises
    ------
    DataError
        When the exchange is not one Stocker knows a calendar for.
    """
    if exchange is None or not exchange.strip():
        return US_CALENDAR
    code = exchange.strip().upper().replace(" ", "").replace("_", "").replace("-", "")
    if code in _US_EXCHANGES:
        return US_CALENDAR
    if code in _INDIA_EXCHANGES:
        return INDIA_CALENDAR
    raise DataError(
        f"exchange {exchange!r} has no known trading calendar; expected a US exchange "
        f"(e.g. NYSE, NASDAQ, AMEX, ARCA, BATS) or an Indian one (NSE, BSE)"
    )


@functools.cache
def get_calendar(calendar: str) -> ExchangeCalendar:
    """The cached `ExchangeCalendar` for a code, reaching back to 1990 where recorded."""
    start = calendar_start(calendar)
    with warnings.catch_warnings():
        # exchange_calendars 4.x builds its schedule with an idiom pandas 3.1 deprecates.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return _CALENDAR_CLASSES[calendar](start=start)


def calendar_start(calendar: str) -> pd.Timestamp:
    """The first date a calendar covers: 1990, or later where the library has no holidays."""
    factory = _CALENDAR_CLASSES.get(calendar)
    if factory is None:
        raise DataError(
            f"calendar {calendar!r} is not supported; expected one of {sorted(_CALENDAR_CLASSES)}"
        )
    earliest = factory.bound_min()
    return CALENDAR_START if earliest is None else max(CALENDAR_START, pd.Timestamp(earliest))


def _session_date(value: DateLike, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} {value!r} is not a date: {error}") from error
    if stamp.tz is not None:
        stamp = stamp.tz_convert(None)
    return stamp.normalize()


def _bounded_range(calendar: str, start: DateLike, end: DateLike) -> tuple[pd.Timestamp, ...]:
    first = _session_date(start, "start")
    last = _session_date(end, "end")
    if first > last:
        raise DataError(f"start {first.date()} is after end {last.date()}; expected start <= end")
    exchange = get_calendar(calendar)
    if first < calendar_start(calendar) or last > exchange.last_session:
        raise DataError(
            f"date range {first.date()}..{last.date()} is outside calendar {calendar}'s range "
            f"{calendar_start(calendar).date()}..{exchange.last_session.date()}"
        )
    return first, last


def sessions(calendar: str, start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Session dates from start to end inclusive, tz-naive."""
    first, last = _bounded_range(calendar, start, end)
    exchange = get_calendar(calendar)
    first = max(first, exchange.first_session)
    if first > last:
        return pd.DatetimeIndex([], name="session")
    result = exchange.sessions_in_range(first, last)
    return pd.DatetimeIndex(result.tz_localize(None) if result.tz else result, name="session")


def is_session(calendar: str, day: DateLike) -> bool:
    """Whether the exchange trades on this date."""
    stamp = _session_date(day, "day")
    _bounded_range(calendar, stamp, stamp)
    return stamp in get_calendar(calendar).sessions


def holidays(calendar: str, start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Weekdays from start to end on which the exchange does not trade."""
    first, last = _bounded_range(calendar, start, end)
    weekdays = pd.bdate_range(first, last).as_unit("ns")
    closed = weekdays.difference(sessions(calendar, first, last).as_unit("ns"))
    return pd.DatetimeIndex(closed, name="holiday")


def early_closes(calendar: str, start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Sessions from start to end that close before the regular time (half-days)."""
    first, last = _bounded_range(calendar, start, end)
    closes = get_calendar(calendar).early_closes
    return pd.DatetimeIndex(closes[(closes >= first) & (closes <= last)], name="session")


def next_session(calendar: str, day: DateLike) -> pd.Timestamp:
    """The first session strictly after `day` (which need not be a session)."""
    stamp = _session_date(day, "day")
    exchange = get_calendar(calendar)
    position = exchange.sessions.searchsorted(stamp, side="right")
    if position >= len(exchange.sessions):
        raise DataError(
            f"day {stamp.date()} has no following session in calendar {calendar}, which ends "
            f"{exchange.last_session.date()}"
        )
    return pd.Timestamp(exchange.sessions[position])


def previous_session(calendar: str, day: DateLike) -> pd.Timestamp:
    """The last session strictly before `day` (which need not be a session)."""
    stamp = _session_date(day, "day")
    exchange = get_calendar(calendar)
    position = exchange.sessions.searchsorted(stamp, side="left")
    if position == 0:
        raise DataError(
            f"day {stamp.date()} has no earlier session in calendar {calendar}, which starts "
            f"{exchange.first_session.date()}"
        )
    return pd.Timestamp(exchange.sessions[position - 1])


def session_times(calendar: str, start: DateLike, end: DateLike) -> pd.DataFrame:
    """Open and close (UTC) of every session from start to end, indexed by session date.

    Intraday bars of a session must fall in ``[open, close)``; an early close shows as an
    earlier `close`.
    """
    days = sessions(calendar, start, end)
    schedule = get_calendar(calendar).schedule.loc[days, ["open", "close"]]
    schedule.index = days
    return schedule


def session_minutes(calendar: str, day: DateLike) -> pd.DatetimeIndex:
    """Every trading minute (UTC) of one session, from the open up to the minute before close."""
    stamp = _session_date(day, "day")
    times = session_times(calendar, stamp, stamp)
    if times.empty:
        raise DataError(f"day {stamp.date()} is not a session of calendar {calendar}")
    session_open, session_close = times.iloc[0]["open"], times.iloc[0]["close"]
    return pd.date_range(session_open, session_close, freq="min", inclusive="left", name="minute")
