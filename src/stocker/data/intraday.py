"""Stored intraday bars resampled to coarser bars or daily bars, and checked against daily bars.

Resampling is `stocker.core.resample` over the bars in `prices_intraday`, aligned to each
symbol's exchange sessions (XNYS: 9:30–16:00 America/New_York, half days included). A daily bar
built from minute bars should match the vendor's daily bar; `check_daily_agreement` lists the
days where it does not, which catches gaps in minute data and bad daily prints alike.

Each public function takes a unit of work and reads in one transaction of its own (it writes
nothing); the bars come through `uow.bars`, the exchange of each symbol through
`stocker.data.validation.sessions_for`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core import resample
from stocker.core.bar_rules import CalendarSessions, session_positions
from stocker.core.errors import DataError
from stocker.data.ranges import check_range
from stocker.data.symbols import checked_symbols
from stocker.data.validation import sessions_for

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

DEFAULT_TOLERANCE = 1e-4
AGREEMENT_COLUMNS = ("symbol", "date", "field", "intraday", "daily", "relative_difference")


def load_intraday(
    uow: SqlUnitOfWork, symbols: Sequence[str], start: date, end: date, interval: str = "1m"
) -> pd.DataFrame:
    """Stored bars of `interval` whose start falls on a UTC date from start-1 to end+1.

    The margin covers every session of start..end whatever the exchange's time zone; the
    resampling keeps only bars inside sessions from start to end.
    """
    check_range(start, end)
    chosen = checked_symbols(symbols, required=True)
    with uow:
        return _stored_intraday(uow, chosen, start, end, interval)


def _stored_intraday(
    uow: SqlUnitOfWork, symbols: Sequence[str], start: date, end: date, interval: str
) -> pd.DataFrame:
    return uow.bars.intraday_bars(
        checked_symbols(symbols, required=True),
        interval,
        pd.Timestamp(start - timedelta(days=1), tz="UTC").to_pydatetime(),
        pd.Timestamp(end + timedelta(days=2), tz="UTC").to_pydatetime(),
    )


def _calendars(
    uow: SqlUnitOfWork, symbols: Sequence[str], start: date, end: date
) -> dict[str, CalendarSessions]:
    return sessions_for(
        uow,
        checked_symbols(symbols, required=True),
        pd.Timestamp(start) - pd.Timedelta(days=1),
        pd.Timestamp(end) + pd.Timedelta(days=1),
        with_times=True,
    )


def resample_intraday(
    uow: SqlUnitOfWork,
    symbols: Sequence[str],
    start: date,
    end: date,
    interval: str,
    *,
    from_interval: str = "1m",
) -> pd.DataFrame:
    """Stored `from_interval` bars → `interval` bars ('5m', '1h', …) for sessions start..end."""
    check_range(start, end)
    with uow:
        bars = _stored_intraday(uow, symbols, start, end, from_interval)
        if bars.empty:
            return pd.DataFrame(
                columns=["symbol", "timestamp", "interval", *resample.OHLCV_AGGREGATION]
            )
        calendars = _calendars(uow, symbols, start, end)
    result = resample.resample_bars(bars, calendars, interval)
    session_dates = _session_dates(result, calendars)
    keep = (session_dates >= pd.Timestamp(start)) & (session_dates <= pd.Timestamp(end))
    return result.loc[keep.to_numpy()].reset_index(drop=True)


def _session_dates(bars: pd.DataFrame, calendars: dict[str, CalendarSessions]) -> pd.Series:
    dates = pd.Series(pd.NaT, index=bars.index, dtype="datetime64[ns]")
    for symbol, sessions in calendars.items():
        rows = (bars["symbol"] == symbol).to_numpy()
        if rows.any():
            position, _ = session_positions(bars.loc[rows, "timestamp"], sessions)
            dates.loc[rows] = sessions.dates[position].to_numpy()
    return dates


def daily_from_intraday(
    uow: SqlUnitOfWork,
    symbols: Sequence[str],
    start: date,
    end: date,
    *,
    from_interval: str = "1m",
) -> pd.DataFrame:
    """One bar per symbol and session from start to end, built from stored intraday bars."""
    check_range(start, end)
    with uow:
        return _daily_from_intraday(uow, symbols, start, end, from_interval)


def _daily_from_intraday(
    uow: SqlUnitOfWork, symbols: Sequence[str], start: date, end: date, from_interval: str
) -> pd.DataFrame:
    bars = _stored_intraday(uow, symbols, start, end, from_interval)
    if bars.empty:
        return pd.DataFrame(columns=["symbol", "date", *resample.OHLCV_AGGREGATION])
    daily = resample.daily_bars(bars, _calendars(uow, symbols, start, end))
    keep = (daily["date"] >= pd.Timestamp(start)) & (daily["date"] <= pd.Timestamp(end))
    return daily.loc[keep].reset_index(drop=True)


def check_daily_agreement(
    uow: SqlUnitOfWork,
    symbols: Sequence[str],
    start: date,
    end: date,
    tolerance: float = DEFAULT_TOLERANCE,
    *,
    volume_tolerance: float | None = None,
    from_interval: str = "1m",
) -> pd.DataFrame:
    """Days where the daily bar built from intraday bars disagrees with `prices_daily`.

    A price disagrees when ``|intraday - daily| / |daily| > tolerance`` (relative; the default
    1e-4 absorbs the 4-decimal storage of both), volume likewise with `volume_tolerance`
    (default: `tolerance`; vendors often leave auction prints out of minute volume). A session
    with intraday bars but no daily bar is reported with field ``missing_daily``, a symbol
    without any intraday bar in the range with ``missing_intraday`` (no date). Returns columns
    symbol, date, field, intraday, daily, relative_difference. No intraday bars at all in the
    range is a `DataError`, never an empty (agreeing) report.
    """
    if tolerance < 0 or (volume_tolerance is not None and volume_tolerance < 0):
        raise DataError(f"tolerance must be >= 0, got {tolerance} / {volume_tolerance}")
    check_range(start, end)
    chosen = checked_symbols(symbols, required=True)
    with uow:
        derived = _daily_from_intraday(uow, chosen, start, end, from_interval)
        if derived.empty:
            # Nothing compared is not agreement: say so rather than report a clean check.
            raise DataError(
                f"no {from_interval} intraday bars stored for {', '.join(chosen)} from {start} "
                f"to {end}: nothing to check (ingest them first, or choose the interval stored)"
            )
        stored = uow.bars.daily_bars_between(chosen, start, end)
    stored["date"] = pd.to_datetime(stored["date"]).astype("datetime64[ns]")
    merged = derived.merge(stored, on=["symbol", "date"], how="left", suffixes=("", "_daily"))
    found: list[pd.DataFrame] = []
    without = sorted(set(chosen) - set(derived["symbol"]))
    if without:
        found.append(
            pd.DataFrame({"symbol": without, "date": pd.NaT}).assign(
                field="missing_intraday", intraday=np.nan, daily=np.nan, relative_difference=np.nan
            )
        )
    missing = merged["close_daily"].isna()
    if missing.any():
        found.append(
            merged.loc[missing, ["symbol", "date"]].assign(
                field="missing_daily", intraday=np.nan, daily=np.nan, relative_difference=np.nan
            )
        )
    present = merged.loc[~missing]
    for column in resample.OHLCV_AGGREGATION:
        limit = (
            volume_tolerance if column == "volume" and volume_tolerance is not None else tolerance
        )
        intraday = present[column].to_numpy(dtype="float64")
        daily = pd.to_numeric(present[f"{column}_daily"]).to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.abs(intraday - daily) / np.abs(daily)
        relative = np.where(daily == 0, np.where(intraday == 0, 0.0, np.inf), relative)
        bad = relative > limit
        if bad.any():
            found.append(
                pd.DataFrame(
                    {
                        "symbol": present["symbol"].to_numpy()[bad],
                        "date": present["date"].to_numpy()[bad],
                        "field": column,
                        "intraday": intraday[bad],
                        "daily": daily[bad],
                        "relative_difference": relative[bad],
                    }
                )
            )
    if not found:
        return pd.DataFrame(columns=list(AGREEMENT_COLUMNS))
    report = pd.concat(found, ignore_index=True)[list(AGREEMENT_COLUMNS)]
    return report.sort_values(["symbol", "date", "field"], ignore_index=True)
