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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.liquidity import top_by_dollar_volume
from stocker.data.counts import WriteCounts
from stocker.data.ranges import RangeTable, check_range, refresh_range

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

SOURCE = "prices_daily"
TABLE = RangeTable("trading_universe", ("as_of_date", "symbol", "source"))


@dataclass(kw_only=True)
class TradingUniverseResult(WriteCounts):
    """What a computation wrote: sessions ranked, rows upserted, stale rows deleted."""

    start: dt.date
    end: dt.date
    sessions: int

    @property
    def rows(self) -> int:
        return self.received


def _ranking(
    uow: SqlUnitOfWork,
    start: dt.date,
    end: dt.date,
    top: int,
    lookback_days: int,
    min_periods: int | None,
) -> pd.DataFrame:
    """The ranking of sessions in [start, end], read in an open unit of work."""
    check_range(start, end)
    window_start = uow.derived.lookback_start(start, lookback_days - 1) or start
    panels = uow.derived.panels(["close", "volume"], start=window_start, end=end)
    ranking = top_by_dollar_volume(
        panels["close"],
        panels["volume"],
        top=top,
        lookback_days=lookback_days,
        min_periods=min_periods,
    )
    in_range = ranking["as_of_date"] >= pd.Timestamp(start)
    return ranking[in_range].reset_index(drop=True)


def compute_trading_universe(
    uow: SqlUnitOfWork,
    *,
    start: dt.date,
    end: dt.date,
    top: int = 100,
    lookback_days: int = 20,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """Rank sessions in [start, end]; rows ``as_of_date, symbol, rank, avg_dollar_volume``."""
    with uow:
        return _ranking(uow, start, end, top, lookback_days, min_periods)


def refresh_trading_universe(
    uow: SqlUnitOfWork,
    *,
    start: dt.date,
    end: dt.date,
    top: int = 100,
    lookback_days: int = 20,
    min_periods: int | None = None,
) -> TradingUniverseResult:
    """Compute the ranking for [start, end] and store it in `trading_universe` (one transaction)."""

    def rows(open_uow: SqlUnitOfWork) -> tuple[pd.DataFrame, int]:
        ranking = _ranking(open_uow, start, end, top, lookback_days, min_periods)
        frame = pd.DataFrame(
            {
                "as_of_date": ranking["as_of_date"].dt.date,
                "symbol": ranking["symbol"],
                "rank": ranking["rank"].astype(np.int64),
                "avg_dollar_volume": ranking["avg_dollar_volume"].round(2),
                "source": SOURCE,
                "lookback_days": lookback_days,
            }
        )
        return frame, int(ranking["as_of_date"].nunique())

    counts, sessions = refresh_range(
        uow, TABLE, partition=SOURCE, start=start, end=end, compute=rows
    )
    return TradingUniverseResult(start=start, end=end, sessions=sessions, **vars(counts))


def trading_universe_on(uow: SqlUnitOfWork, as_of_date: dt.date) -> pd.DataFrame:
    """The stored ranking of one session: ``symbol, rank, avg_dollar_volume, lookback_days``."""
    with uow:
        return uow.derived.trading_universe_on(as_of_date, SOURCE)
