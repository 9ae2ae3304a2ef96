"""Compute and store the dynamic `trading_universe`: top N by average dollar volume per session.

For each session D in [start, end] the ranking uses raw ``close × volume`` over the
`lookback_days` sessions ending at D, D's own bar included (see `stocker.core.liquidity`): it is
known after D's close and meant for trading from the next session. Sessions are the dates on
which `prices_daily` has any bar up to `end`; only bars up to D enter D's window, so later data
(new bars, corrected later bars, symbols listed later) never changes D's rows.

Recomputing a date replaces that date's snapshot for the source: rows are upserted, and symbols
that fell out of the top N are deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from stocker.core.errors import DataError
from stocker.core.liquidity import top_by_dollar_volume
from stocker.store.bulk import replace_range
from stocker.store.panel import load_panels, lookback_start

SOURCE = "prices_daily"


@dataclass(frozen=True)
class TradingUniverseResult:
    """What a computation wrote: sessions ranked, rows upserted, stale rows deleted."""

    start: dt.date
    end: dt.date
    sessions: int
    rows: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int


def compute_trading_universe(
    conn: Connection,
    *,
    start: dt.date,
    end: dt.date,
    top: int = 100,
    lookback_days: int = 20,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """Rank sessions in [start, end]; rows ``as_of_date, symbol, rank, avg_dollar_volume``."""
    if end < start:
        raise DataError(f"end: {end} is before start {start}; expected end on or after start")
    window_start = lookback_start(conn, start, lookback_days - 1) or start
    panels = load_panels(conn, ["close", "volume"], start=window_start, end=end)
    ranking = top_by_dollar_volume(
        panels["close"],
        panels["volume"],
        top=top,
        lookback_days=lookback_days,
        min_periods=min_periods,
    )
    in_range = ranking["as_of_date"] >= pd.Timestamp(start)
    return ranking[in_range].reset_index(drop=True)


def refresh_trading_universe(
    conn: Connection,
    *,
    start: dt.date,
    end: dt.date,
    top: int = 100,
    lookback_days: int = 20,
    min_periods: int | None = None,
) -> TradingUniverseResult:
    """Compute the ranking for [start, end] and store it in `trading_universe` (one transaction)."""
    ranking = compute_trading_universe(
        conn, start=start, end=end, top=top, lookback_days=lookback_days, min_periods=min_periods
    )
    rows = pd.DataFrame(
        {
            "as_of_date": ranking["as_of_date"].dt.date,
            "symbol": ranking["symbol"],
            "rank": ranking["rank"].astype(np.int64),
            "avg_dollar_volume": ranking["avg_dollar_volume"].round(2),
            "source": SOURCE,
            "lookback_days": lookback_days,
        }
    )
    result, deleted = replace_range(
        conn,
        "trading_universe",
        rows,
        key=("as_of_date", "symbol", "source"),
        partition=SOURCE,
        start=start,
        end=end,
    )
    return TradingUniverseResult(
        start=start,
        end=end,
        sessions=int(ranking["as_of_date"].nunique()),
        rows=len(rows),
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        deleted=deleted,
    )


def trading_universe_on(conn: Connection, as_of_date: dt.date) -> pd.DataFrame:
    """The stored ranking of one session: ``symbol, rank, avg_dollar_volume, lookback_days``."""
    rows = conn.execute(
        text(
            "SELECT symbol, rank, avg_dollar_volume::float8 AS avg_dollar_volume, lookback_days "
            "FROM trading_universe WHERE as_of_date = :day AND source = :source ORDER BY rank"
        ),
        {"day": as_of_date, "source": SOURCE},
    ).fetchall()
    return pd.DataFrame(rows, columns=["symbol", "rank", "avg_dollar_volume", "lookback_days"])
