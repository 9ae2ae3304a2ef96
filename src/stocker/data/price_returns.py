"""Keep `price_returns` (SigmaQLab 11.3.3) in step with `prices_daily.adj_close`.

A stored return is ``adj_close[t] / adj_close[previous stored bar] - 1`` per symbol. Refreshing
is incremental: for each symbol only bars after its last stored return are computed, unless the
database shows that the stored returns no longer match the adjusted closes (a readjustment after
a new dividend or split, a backfilled or corrected bar). That check runs inside PostgreSQL over
the whole history (a window function, no rows leave the server) and sends such symbols to a full
recompute, which also deletes returns whose bar is gone. The arithmetic is the same float64
division in both places, so a match is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from stocker.core.errors import DataError
from stocker.core.returns import simple_returns
from stocker.store.bulk import upsert

SYMBOLS_PER_CHUNK = 250
MATCH_TOLERANCE = 1e-12
"""Largest difference between a stored and a recomputed return still taken as equal."""

_ALL_PRICE_SYMBOLS_SQL = text("SELECT DISTINCT symbol FROM prices_daily ORDER BY symbol")

# Per symbol: the last stored return, and whether any stored return up to it disagrees with
# the adjusted closes (a different value, a missing one, or one without its bar).
_STATE_SQL = text(
    f"""
WITH implied AS (
    SELECT symbol, date,
           adj_close::float8 / LAG(adj_close::float8) OVER (PARTITION BY symbol ORDER BY date)
           - 1 AS value
    FROM prices_daily
    WHERE symbol = ANY(:symbols)
),
stored AS (
    SELECT symbol, date, "return" AS value FROM price_returns WHERE symbol = ANY(:symbols)
),
last_stored AS (
    SELECT symbol, max(date) AS last_date FROM stored GROUP BY symbol
),
mismatched AS (
    SELECT DISTINCT coalesce(implied.symbol, stored.symbol) AS symbol
    FROM implied
    FULL JOIN stored ON stored.symbol = implied.symbol AND stored.date = implied.date
    JOIN last_stored
      ON last_stored.symbol = coalesce(implied.symbol, stored.symbol)
     AND coalesce(implied.date, stored.date) <= last_stored.last_date
    WHERE (implied.value IS NULL) <> (stored.value IS NULL)
       OR abs(implied.value - stored.value) > {MATCH_TOLERANCE!r}
)
SELECT last_stored.symbol, last_stored.last_date, mismatched.symbol IS NOT NULL AS mismatched
FROM last_stored LEFT JOIN mismatched USING (symbol)
"""
)
# Bars from the one before each symbol's first wanted date (the base of its first return).
_ADJ_CLOSE_SQL = text(
    """
SELECT bar.symbol, bar.date, bar.adj_close::float8 AS adj_close
FROM unnest(CAST(:symbols AS text[]), CAST(:starts AS date[])) AS wanted(symbol, start)
CROSS JOIN LATERAL (
    SELECT max(date) AS date FROM prices_daily AS earlier
    WHERE earlier.symbol = wanted.symbol AND earlier.date < wanted.start
) AS base
JOIN prices_daily AS bar
  ON bar.symbol = wanted.symbol
 AND bar.date >= coalesce(base.date, wanted.start, '-infinity'::date)
ORDER BY bar.symbol, bar.date
"""
)
_DELETE_ORPHANS_SQL = text(
    """
DELETE FROM price_returns AS stored
WHERE stored.symbol = ANY(:symbols)
  AND NOT EXISTS (
      SELECT 1 FROM prices_daily AS bar
      WHERE bar.symbol = stored.symbol AND bar.date = stored.date
        AND bar.date > (SELECT min(date) FROM prices_daily AS first
                        WHERE first.symbol = stored.symbol)
  )
"""
)


@dataclass
class ReturnsRefreshReport:
    """What `refresh_price_returns` did."""

    symbols: tuple[str, ...]
    recomputed: tuple[str, ...] = ()
    """Symbols whose whole history was recomputed (asked for, or found out of step)."""
    computed: int = 0
    """Returns computed (incremental tails plus full recomputes)."""
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    first_date: dict[str, date] = field(default_factory=dict)
    """Per symbol, the first date that was computed."""


def _symbol_list(conn: Connection, symbols: Iterable[str] | None) -> list[str]:
    if symbols is None:
        return list(conn.execute(_ALL_PRICE_SYMBOLS_SQL).scalars())
    if isinstance(symbols, str):
        raise DataError(f"symbols is the string {symbols!r}; expected a list of symbols")
    return sorted(set(symbols))


def _window_starts(
    conn: Connection, symbols: Sequence[str], since: date | None, full: bool
) -> tuple[dict[str, date | None], list[str]]:
    """Per symbol, the first date whose return is wanted (None: all), and the symbols found
    out of step (recomputed in full)."""
    starts: dict[str, date | None] = dict.fromkeys(symbols)
    if full:
        return starts, list(symbols)
    recompute: list[str] = []
    for symbol, last_date, mismatched in conn.execute(_STATE_SQL, {"symbols": list(symbols)}):
        if mismatched:
            recompute.append(symbol)
            continue
        after_last = last_date + timedelta(days=1)
        starts[symbol] = after_last if since is None else min(after_last, since)
    return starts, sorted(recompute)


def _returns_frame(conn: Connection, starts: dict[str, date | None]) -> pd.DataFrame:
    result = conn.execute(
        _ADJ_CLOSE_SQL, {"symbols": list(starts), "starts": list(starts.values())}
    )
    # Plain tuples: pandas probes each SQLAlchemy Row for namedtuple fields, which is slow.
    bars = pd.DataFrame([tuple(row) for row in result], columns=["symbol", "date", "adj_close"])
    if bars.empty:
        return pd.DataFrame(columns=["symbol", "date", "return"])
    wide = bars.pivot(index="date", columns="symbol", values="adj_close").sort_index()
    # Each symbol's own bars only: the return after a date it lacks spans back to its last bar.
    returns = simple_returns(wide.astype(np.float64), across_gaps=True)
    long = returns.stack().rename("return").reset_index()
    long = long[np.isfinite(long["return"].to_numpy())]
    return long[["symbol", "date", "return"]].sort_values(["symbol", "date"], ignore_index=True)


def refresh_price_returns(
    conn: Connection,
    symbols: Iterable[str] | None = None,
    since: date | None = None,
    *,
    full: bool = False,
) -> ReturnsRefreshReport:
    """Bring `price_returns` up to date with `adj_close`, in the caller's transaction.

    Parameters
    ----------
    symbols
        Symbols to refresh; None means every symbol with prices.
    since
        Also recompute returns on and after this date (e.g. after bars of that range were
        reloaded); out-of-step history is found and recomputed regardless.
    full
        Recompute every return of the symbols without checking which are in step.
    """
    chosen = _symbol_list(conn, symbols)
    report = ReturnsRefreshReport(symbols=tuple(chosen))
    recomputed: list[str] = []
    for offset in range(0, len(chosen), SYMBOLS_PER_CHUNK):
        chunk = chosen[offset : offset + SYMBOLS_PER_CHUNK]
        starts, recompute = _window_starts(conn, chunk, since, full)
        recomputed.extend(recompute)
        if recompute:
            deleted = conn.execute(_DELETE_ORPHANS_SQL, {"symbols": recompute})
            report.deleted += deleted.rowcount
        frame = _returns_frame(conn, starts)
        if frame.empty:
            continue
        report.computed += len(frame)
        for symbol, first in frame.groupby("symbol", sort=False)["date"].min().items():
            report.first_date[str(symbol)] = first
        result = upsert(conn, "price_returns", frame)
        report.inserted += result.inserted
        report.updated += result.updated
    report.recomputed = tuple(recomputed)
    return report
