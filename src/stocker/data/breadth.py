"""Compute and store `market_breadth` for a scope: 'US_ALL' or the name of a universe.

Scopes:
- ``US_ALL``: every US equity in `instrument_info` (asset class US_EQUITY, currency USD),
  inactive ones included: a symbol delisted today still counted on the days it traded, so
  breadth has no survivorship bias.
- a universe name: its live members (universes have no membership history, so this is
  today's membership applied to the whole range).

Definitions are in `stocker.core.breadth`; every value at D uses bars up to D only. Sector
rotation groups symbols by `instrument_info.sector` (the current classification).
Recomputing a range replaces its rows for the scope: values are upserted and metrics that no
longer have a value there (e.g. a sector that emptied) are deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from stocker.core.breadth import (
    HIGH_LOW_WINDOW_SESSIONS,
    MOVING_AVERAGE_SESSIONS,
    ROTATION_SESSIONS,
    breadth_metrics,
)
from stocker.core.errors import DataError
from stocker.data.counts import WriteCounts
from stocker.data.ranges import RangeTable, check_range, refresh_range
from stocker.data.universes import found_universe

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

ALL_US = "US_ALL"
SCOPE_CHARACTERS = 50
VALUE_DECIMALS = 4
LOOKBACK_SESSIONS = max(HIGH_LOW_WINDOW_SESSIONS, MOVING_AVERAGE_SESSIONS, ROTATION_SESSIONS)
TABLE = RangeTable("market_breadth", ("date", "metric", "scope"))


@dataclass(kw_only=True)
class BreadthResult(WriteCounts):
    """What a refresh wrote for one scope."""

    scope: str
    symbols: int
    dates: int

    @property
    def rows(self) -> int:
        return self.received


def _scope_symbols(uow: SqlUnitOfWork, scope: str) -> list[str]:
    if len(scope) > SCOPE_CHARACTERS:
        raise DataError(
            f"scope: {scope!r} is {len(scope)} characters; market_breadth.scope holds "
            f"{SCOPE_CHARACTERS}"
        )
    if scope == ALL_US:
        return uow.derived.us_equity_symbols()
    universe = found_universe(uow, scope)
    return sorted(member.symbol for member in uow.universes.members(universe.id))


def scope_symbols(uow: SqlUnitOfWork, scope: str) -> list[str]:
    """The symbols a scope covers (see module doc); unknown scopes raise `DataError`."""
    with uow:
        return _scope_symbols(uow, scope)


def _computed(
    uow: SqlUnitOfWork, scope: str, start: dt.date, end: dt.date
) -> tuple[pd.DataFrame, int]:
    """Long breadth rows of [start, end] and the number of symbols with prices, in an open uow."""
    check_range(start, end)
    symbols = _scope_symbols(uow, scope)
    if not symbols:
        return pd.DataFrame({"date": pd.to_datetime([]), "metric": [], "value": []}), 0
    window_start = uow.derived.lookback_start(start, LOOKBACK_SESSIONS) or start
    prices = uow.derived.panel("adj_close", symbols=symbols, start=window_start, end=end)
    prices = prices.loc[:, prices.notna().any()]
    long = breadth_metrics(prices, uow.derived.sectors(list(prices.columns)))
    return long[long["date"] >= pd.Timestamp(start)].reset_index(drop=True), prices.shape[1]


def compute_breadth(
    uow: SqlUnitOfWork, *, scope: str = ALL_US, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Breadth of `scope` for every session in [start, end]: rows ``date, metric, value``."""
    with uow:
        return _computed(uow, scope, start, end)[0]


def refresh_breadth(
    uow: SqlUnitOfWork, *, scope: str = ALL_US, start: dt.date, end: dt.date
) -> BreadthResult:
    """Compute breadth for [start, end] and store it in `market_breadth` (one transaction)."""

    def rows(open_uow: SqlUnitOfWork) -> tuple[pd.DataFrame, tuple[int, int]]:
        long, symbols = _computed(open_uow, scope, start, end)
        frame = pd.DataFrame(
            {
                "date": long["date"].dt.date,
                "metric": long["metric"],
                "scope": scope,
                "value": long["value"].round(VALUE_DECIMALS),
            }
        )
        return frame, (symbols, int(frame["date"].nunique()))

    counts, (symbols, dates) = refresh_range(
        uow, TABLE, partition=scope, start=start, end=end, compute=rows
    )
    return BreadthResult(scope=scope, symbols=symbols, dates=dates, **vars(counts))


def read_breadth(
    uow: SqlUnitOfWork,
    *,
    scope: str = ALL_US,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Stored breadth as a (dates × metric) float64 frame."""
    with uow:
        long = uow.derived.breadth(scope, start, end)
    if long.empty:
        return pd.DataFrame(dtype="float64")
    long["date"] = pd.to_datetime(long["date"]).astype("datetime64[ns]")
    return long.pivot(index="date", columns="metric", values="value")
