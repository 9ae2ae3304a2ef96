"""Resample intraday bars into coarser bars and daily bars, aligned to each exchange session.

Bins are counted from the session open, not from midnight: with the NYSE opening at 9:30 New York
time, hourly bars are 9:30–10:30, …, 15:30–16:00, and a half day simply ends early. A bar belongs
to the bin its start time falls in. open = first, high = max, low = min, close = last,
volume = sum. Bars outside session hours are left out (validation quarantines them anyway).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rules.common import CalendarSessions, symbols_by_calendar, utc_nanoseconds
from stocker.core.rules.intraday import interval_length, session_positions

OHLCV_AGGREGATION = {
    "open": "first",
    "high": "max",
    "low": "min",
    "close": "last",
    "volume": "sum",
}


def _assign_sessions(
    frame: pd.DataFrame, calendars: Mapping[str, CalendarSessions]
) -> pd.DataFrame:
    """Add `_session` (session date) and `_open_ns` (session open) to bars inside a session."""
    unknown = sorted(set(frame["symbol"].unique()) - set(calendars))
    if unknown:
        raise DataError(f"symbols {unknown} have no calendar; pass sessions for every symbol")
    pieces: list[pd.DataFrame] = []
    for sessions, symbols in symbols_by_calendar(calendars).values():
        subset = frame.loc[frame["symbol"].isin(symbols)]
        if subset.empty:
            continue
        assert sessions.opens is not None
        position, inside = session_positions(subset["timestamp"], sessions)
        opens = utc_nanoseconds(sessions.opens)
        subset = subset.assign(
            _session=sessions.dates[position].to_numpy(),
            _open_ns=opens[position] if len(opens) else 0,
        )
        pieces.append(subset.loc[inside])
    if not pieces:
        return frame.iloc[0:0].assign(
            _session=pd.Series(dtype="datetime64[ns]"), _open_ns=pd.Series(dtype="int64")
        )
    return pd.concat(pieces)


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    missing = {"symbol", "timestamp", *OHLCV_AGGREGATION} - set(frame.columns)
    if missing:
        raise DataError(f"intraday bars lack columns {sorted(missing)}")
    prepared = frame[["symbol", "timestamp", *OHLCV_AGGREGATION]].copy()
    prepared["timestamp"] = pd.to_datetime(prepared["timestamp"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    for column in OHLCV_AGGREGATION:
        prepared[column] = pd.to_numeric(prepared[column]).astype("float64")
    return prepared.sort_values(["symbol", "timestamp"], kind="stable")


def resample_bars(
    frame: pd.DataFrame, calendars: Mapping[str, CalendarSessions], interval: str
) -> pd.DataFrame:
    """Intraday bars → bars of `interval` ('5m', '1h', …) counted from each session's open.

    Parameters
    ----------
    frame : bars with columns symbol, timestamp (bar start, UTC), open, high, low, close, volume.
    calendars : symbol → sessions of its exchange, with open/close times.

    Returns columns symbol, timestamp, interval, open, high, low, close, volume, sorted by symbol
    and timestamp.
    """
    step_ns = interval_length(interval).value
    prepared = _assign_sessions(_prepare(frame), calendars)
    elapsed = utc_nanoseconds(prepared["timestamp"]) - prepared["_open_ns"].to_numpy()
    bin_ns = prepared["_open_ns"].to_numpy() + (elapsed // step_ns) * step_ns
    prepared["timestamp"] = pd.to_datetime(bin_ns, utc=True).as_unit("ns")
    result = (
        prepared.groupby(["symbol", "timestamp"], sort=True)
        .agg(OHLCV_AGGREGATION)
        .reset_index()
        .assign(interval=interval)
    )
    return result[["symbol", "timestamp", "interval", *OHLCV_AGGREGATION]]


def daily_bars(frame: pd.DataFrame, calendars: Mapping[str, CalendarSessions]) -> pd.DataFrame:
    """Intraday bars → one bar per symbol and session date (columns symbol, date, OHLCV)."""
    prepared = _assign_sessions(_prepare(frame), calendars)
    result = (
        prepared.groupby(["symbol", "_session"], sort=True)
        .agg(OHLCV_AGGREGATION)
        .reset_index()
        .rename(columns={"_session": "date"})
    )
    result["date"] = pd.to_datetime(result["date"]).astype("datetime64[ns]")
    result["volume"] = result["volume"].astype(np.float64)
    return result[["symbol", "date", *OHLCV_AGGREGATION]]
