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

import pandas as pd
from sqlalchemy import Connection, text

from stocker.core.breadth import (
    HIGH_LOW_WINDOW_SESSIONS,
    MOVING_AVERAGE_SESSIONS,
    ROTATION_SESSIONS,
    breadth_metrics,
)
from stocker.core.errors import DataError
from stocker.data.universes import get_universe, member_symbols
from stocker.store.bulk import replace_range
from stocker.store.panel import load_panel, lookback_start

ALL_US = "US_ALL"
SCOPE_CHARACTERS = 50
VALUE_DECIMALS = 4
LOOKBACK_SESSIONS = max(HIGH_LOW_WINDOW_SESSIONS, MOVING_AVERAGE_SESSIONS, ROTATION_SESSIONS)


@dataclass(frozen=True)
class BreadthResult:
    """What a refresh wrote for one scope."""

    scope: str
    symbols: int
    dates: int
    rows: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int


def scope_symbols(conn: Connection, scope: str) -> list[str]:
    """The symbols a scope covers (see module doc); unknown scopes raise `DataError`."""
    if len(scope) > SCOPE_CHARACTERS:
        raise DataError(
            f"scope: {scope!r} is {len(scope)} characters; market_breadth.scope holds "
            f"{SCOPE_CHARACTERS}"
        )
    if scope == ALL_US:
        rows = conn.execute(
            text(
                "SELECT symbol FROM instrument_info WHERE COALESCE(asset_class, 'US_EQUITY') = "
                "'US_EQUITY' AND COALESCE(currency, 'USD') = 'USD' ORDER BY symbol"
            )
        )
        return [row[0] for row in rows]
    get_universe(conn, scope)
    return sorted(member_symbols(conn, scope))


def _sectors(conn: Connection, symbols: list[str]) -> dict[str, str | None]:
    rows = conn.execute(
        text("SELECT symbol, sector FROM instrument_info WHERE symbol = ANY(:symbols)"),
        {"symbols": symbols},
    )
    return {row.symbol: row.sector for row in rows}


def _computed(
    conn: Connection, scope: str, start: dt.date, end: dt.date
) -> tuple[pd.DataFrame, int]:
    if end < start:
        raise DataError(f"end: {end} is before start {start}; expected end on or after start")
    symbols = scope_symbols(conn, scope)
    if not symbols:
        return pd.DataFrame({"date": pd.to_datetime([]), "metric": [], "value": []}), 0
    window_start = lookback_start(conn, start, LOOKBACK_SESSIONS) or start
    prices = load_panel(conn, "adj_close", symbols=symbols, start=window_start, end=end)
    prices = prices.loc[:, prices.notna().any()]
    long = breadth_metrics(prices, _sectors(conn, list(prices.columns)))
    return long[long["date"] >= pd.Timestamp(start)].reset_index(drop=True), prices.shape[1]


def compute_breadth(
    conn: Connection, *, scope: str = ALL_US, start: dt.date, end: dt.date
) -> pd.DataFrame:
    """Breadth of `scope` for every session in [start, end]: rows ``date, metric, value``."""
    return _computed(conn, scope, start, end)[0]


def refresh_breadth(
    conn: Connection, *, scope: str = ALL_US, start: dt.date, end: dt.date
) -> BreadthResult:
    """Compute breadth for [start, end] and store it in `market_breadth` (caller's transaction)."""
    long, symbols = _computed(conn, scope, start, end)
    rows = pd.DataFrame(
        {
            "date": long["date"].dt.date,
            "metric": long["metric"],
            "scope": scope,
            "value": long["value"].round(VALUE_DECIMALS),
        }
    )
    result, deleted = replace_range(
        conn,
        "market_breadth",
        rows,
        key=("date", "metric", "scope"),
        partition=scope,
        start=start,
        end=end,
    )
    return BreadthResult(
        scope=scope,
        symbols=symbols,
        dates=int(rows["date"].nunique()),
        rows=len(rows),
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        deleted=deleted,
    )


def read_breadth(
    conn: Connection,
    *,
    scope: str = ALL_US,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> pd.DataFrame:
    """Stored breadth as a (dates × metric) float64 frame."""
    rows = conn.execute(
        text(
            "SELECT date, metric, value::float8 AS value FROM market_breadth WHERE scope = :scope "
            "AND (CAST(:start AS date) IS NULL OR date >= :start) "
            "AND (CAST(:end AS date) IS NULL OR date <= :end) ORDER BY date, metric"
        ),
        {"scope": scope, "start": start, "end": end},
    ).fetchall()
    long = pd.DataFrame(rows, columns=["date", "metric", "value"])
    if long.empty:
        return pd.DataFrame(dtype="float64")
    long["date"] = pd.to_datetime(long["date"]).astype("datetime64[ns]")
    return long.pivot(index="date", columns="metric", values="value")
