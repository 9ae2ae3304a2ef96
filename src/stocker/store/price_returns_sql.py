"""The statements that keep `price_returns` in step with `prices_daily.adj_close`.

The check of which stored returns disagree with the adjusted closes runs inside PostgreSQL over
the whole history (a window function, no rows leave the server); the arithmetic is the same
float64 division as `stocker.core.returns.simple_returns`, so a match is exact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text

MATCH_TOLERANCE = 1e-12
"""Largest difference between a stored and a recomputed return still taken as equal."""


@dataclass(frozen=True)
class ReturnState:
    """A symbol's last stored return date, and whether its stored history is out of step."""

    symbol: str
    last_date: dt.date
    mismatched: bool


# Per symbol: the last stored return, and whether any stored return up to it disagrees with
# the adjusted closes (a different value, a missing one, or one without its bar).
STATE_SQL = text(
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
ADJ_CLOSE_SQL = text(
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
DELETE_ORPHANS_SQL = text(
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
