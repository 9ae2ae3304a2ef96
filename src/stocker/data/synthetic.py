"""Generate a synthetic market on an exchange calendar and store it.

`stocker.sample.generate_market` makes the rows; this module picks the sessions from the
exchange calendar, writes the four tables through the unit of work in chunks (one transaction
per chunk, instruments first for the foreign keys), and reports what happened. The same
parameters give the same rows, so loading again writes nothing.

Symbols are always `SYN0001`…; a database already holding a synthetic market made with other
parameters is refused unless `replace=True`, which first deletes that market's bars, actions,
fundamentals and returns (mixing two markets' rows under the same symbols would make
adjusted closes disagree with the stored actions).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from stocker.core.errors import DataError
from stocker.data.calendars import sessions as calendar_sessions
from stocker.data.counts import WriteCounts
from stocker.sample import SyntheticMarket, generate_market

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

DEFAULT_START = date(2000, 1, 3)
DEFAULT_CALENDAR = "XNYS"
CHUNK_ROWS = 250_000
SYNTHETIC_SOURCE_PREFIX = "synthetic:"
# Where the listings of each calendar's synthetic stocks say they trade, and in what currency.
_LISTING_BY_CALENDAR = {"XNYS": ("NYSE", "USD"), "XBOM": ("BSE", "INR")}
_DERIVED_TABLES = ("price_returns", "instrument_metrics", "corporate_actions", "prices_daily")

ProgressCallback = Callable[[str, int, int], None]
"""progress(table, rows_done, rows_total), called after every chunk."""


@dataclass
class SyntheticLoadReport:
    """What `load_synthetic_market` generated and stored, and how long each part took."""

    symbols: int
    sessions: int
    first_date: date
    last_date: date
    seed: int
    source: str
    tables: dict[str, WriteCounts] = field(default_factory=dict)
    replaced_rows: int = 0
    generate_s: float = 0.0
    load_s: float = 0.0


def synthetic_sessions(calendar: str, start: date, years: int) -> pd.DatetimeIndex:
    """The calendar's sessions from `start` over `years` years (end exclusive)."""
    if years < 1:
        raise DataError(f"years: got {years}, expected at least 1")
    end = (pd.Timestamp(start) + pd.DateOffset(years=years) - pd.Timedelta(days=1)).date()
    found = calendar_sessions(calendar, start, end)
    if len(found) < 2:
        raise DataError(
            f"calendar {calendar} has {len(found)} session(s) from {start} to {end}; expected 2+"
        )
    return found


def _check_or_replace(uow: SqlUnitOfWork, market: SyntheticMarket, replace: bool) -> int:
    """Refuse (or, with `replace`, delete) a stored synthetic market made with other parameters."""
    with uow:
        existing = uow.derived.instruments_from_source(SYNTHETIC_SOURCE_PREFIX)
        other = existing[existing["source_hash"] != market.source_hash]
        if other.empty:
            return 0
        if not replace:
            sources = ", ".join(sorted(other["source"].unique()))
            raise DataError(
                f"the database holds a synthetic market made with other parameters ({sources}, "
                f"{len(other)} symbols from {other['symbol'].iloc[0]}); expected none: "
                f"replace it (--replace) or keep it and use another database"
            )
        removed = uow.derived.remove_market_data(existing["symbol"].tolist(), _DERIVED_TABLES)
        uow.commit()
    return removed


def _chunks(frame: pd.DataFrame, rows: int) -> list[pd.DataFrame]:
    return [frame.iloc[start : start + rows] for start in range(0, len(frame), rows)] or [frame]


def write_market(
    uow: SqlUnitOfWork,
    market: SyntheticMarket,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: ProgressCallback | None = None,
) -> dict[str, WriteCounts]:
    """Upsert every table of `market`, committing after each chunk, instruments first."""
    counts: dict[str, WriteCounts] = {}
    with uow:
        for table, frame in market.tables().items():
            counts[table] = WriteCounts()
            done = 0
            for chunk in _chunks(frame.reset_index(drop=True), chunk_rows):
                counts[table].add(uow.derived.upsert(table, chunk.reset_index(drop=True)))
                uow.commit()
                done += len(chunk)
                if progress is not None:
                    progress(table, done, len(frame))
    return counts


def load_synthetic_market(
    uow: SqlUnitOfWork,
    *,
    symbols: int,
    years: int,
    seed: int,
    start: date = DEFAULT_START,
    calendar: str = DEFAULT_CALENDAR,
    replace: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: ProgressCallback | None = None,
) -> SyntheticLoadReport:
    """Generate `symbols` stocks over `years` years of `calendar` sessions and store them."""
    if calendar not in _LISTING_BY_CALENDAR:
        raise DataError(
            f"calendar: got {calendar!r}, expected one of {sorted(_LISTING_BY_CALENDAR)}"
        )
    exchange, currency = _LISTING_BY_CALENDAR[calendar]
    started = time.perf_counter()
    session_index = synthetic_sessions(calendar, start, years)
    market = generate_market(symbols, session_index, seed, exchange=exchange, currency=currency)
    generated = time.perf_counter()
    replaced = _check_or_replace(uow, market, replace)
    tables = write_market(uow, market, chunk_rows=chunk_rows, progress=progress)
    return SyntheticLoadReport(
        symbols=symbols,
        sessions=len(session_index),
        first_date=session_index[0].date(),
        last_date=session_index[-1].date(),
        seed=seed,
        source=market.source,
        tables=tables,
        replaced_rows=replaced,
        generate_s=generated - started,
        load_s=time.perf_counter() - generated,
    )
