"""Daily and intraday bars and corporate actions: the facts prices are made of."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Connection, TextClause, text

from stocker.store.bulk import UpsertResult, upsert

PRICE_COLUMNS = (
    "symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source",
    "source_hash",
)  # fmt: skip
BAR_TABLES = frozenset({"prices_daily", "prices_intraday", "corporate_actions"})

_CLOSES_SQL = text(
    "SELECT symbol, date, close::float8 AS close, adj_close::text AS adj_close FROM prices_daily "
    "WHERE symbol = ANY(:symbols) ORDER BY symbol, date"
)
# Every NOT NULL column goes back with the new adj_close: PostgreSQL checks NOT NULL on the
# proposed row before it sees the conflict, so a partial row could not update an existing one.
_WITH_ADJ_CLOSE_SQL = text(
    f"""
SELECT {", ".join("bar." + column for column in PRICE_COLUMNS if column != "adj_close")},
       changed.adj_close
FROM unnest(CAST(:symbols AS text[]), CAST(:dates AS date[]), CAST(:values AS numeric[]))
     AS changed(symbol, date, adj_close)
JOIN prices_daily AS bar ON bar.symbol = changed.symbol AND bar.date = changed.date
ORDER BY bar.symbol, bar.date
"""
)
_ACTIONS_SQL = text(
    "SELECT symbol, date, action_type, value FROM corporate_actions "
    "WHERE symbol = ANY(:symbols) AND date BETWEEN :start AND :end ORDER BY symbol, date"
)
_PRICE_SYMBOLS_SQL = text("SELECT DISTINCT symbol FROM prices_daily ORDER BY symbol")
_UNPRICED_SQL = text(
    "SELECT s.symbol FROM unnest(CAST(:symbols AS text[])) AS s(symbol) "
    "WHERE NOT EXISTS (SELECT 1 FROM prices_daily p WHERE p.symbol = s.symbol) ORDER BY 1"
)
_PREVIOUS_SQL = text(
    "SELECT f.symbol, p.date, p.open, p.high, p.low, p.close, p.volume "
    "FROM unnest(CAST(:symbols AS text[]), CAST(:firsts AS date[])) AS f(symbol, first) "
    "CROSS JOIN LATERAL (SELECT date, open, high, low, close, volume FROM prices_daily "
    "  WHERE symbol = f.symbol AND date < f.first ORDER BY date DESC LIMIT 1) AS p"
)
_LATER_ACTIONS_SQL = text(
    "SELECT DISTINCT c.symbol FROM corporate_actions c "
    "JOIN unnest(CAST(:symbols AS text[]), CAST(:firsts AS date[])) "
    "AS k(symbol, first) ON c.symbol = k.symbol AND c.date > k.first"
)
_DAILY_BARS_SQL = text(
    "SELECT p.symbol, p.date, p.open, p.high, p.low, p.close, p.adj_close, p.volume "
    "FROM prices_daily p JOIN unnest(CAST(:symbols AS text[]), CAST(:dates AS date[])) "
    "AS k(symbol, date) ON p.symbol = k.symbol AND p.date = k.date "
    "ORDER BY p.symbol, p.date"
)


@dataclass(frozen=True)
class StoredBar:
    """One stored daily bar, as a `MarketBar` event announces it."""

    symbol: str
    date: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    adj_close: Decimal
    volume: int


class BarRepository:
    """prices_daily, prices_intraday and corporate_actions, read and written in one transaction."""

    tables = BAR_TABLES

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _frame(self, statement: TextClause, parameters: Mapping[str, Any]) -> pd.DataFrame:
        result = self._conn.execute(statement, dict(parameters))
        columns = list(result.keys())
        # Plain tuples: pandas probes each SQLAlchemy Row for namedtuple fields, which is slow.
        return pd.DataFrame([tuple(row) for row in result], columns=columns)

    # --- writes ----------------------------------------------------------------------------------

    def land(
        self,
        table: str,
        rows: pd.DataFrame,
        *,
        key: Sequence[str],
        return_changed: bool,
        provenance: Sequence[str] = (),
    ) -> UpsertResult:
        """Upsert validated rows of a bar or action table; rows the column types refuse are
        returned in `rejected`, not raised. `provenance` columns do not count as a change."""
        if table not in BAR_TABLES:
            raise ValueError(f"table {table!r} is not one of {sorted(BAR_TABLES)}")
        return upsert(
            self._conn,
            table,
            rows,
            key=key,
            on_reject="return",
            return_changed=return_changed,
            provenance=provenance,
        )

    def upsert_actions(self, actions: pd.DataFrame) -> UpsertResult:
        """Store corporate actions (invalid rows raise); `changed` holds the new or changed ones."""
        return upsert(self._conn, "corporate_actions", actions, return_changed=True)

    def rewrite_adjusted_closes(
        self, symbols: Sequence[str], dates: Sequence[dt.date], values: Sequence[str]
    ) -> UpsertResult:
        """Set `adj_close` of the given bars (values as NUMERIC text); `changed` holds them."""
        rows = self._frame(
            _WITH_ADJ_CLOSE_SQL,
            {"symbols": list(symbols), "dates": list(dates), "values": list(values)},
        )
        return upsert(self._conn, "prices_daily", rows, return_changed=True)

    # --- reads -----------------------------------------------------------------------------------

    def symbols_with_prices(self) -> list[str]:
        """Every symbol with a daily bar, sorted."""
        return [str(symbol) for symbol in self._conn.execute(_PRICE_SYMBOLS_SQL).scalars()]

    def unpriced(self, symbols: Sequence[str]) -> list[str]:
        """The symbols among `symbols` without a single daily bar, sorted."""
        rows = self._conn.execute(_UNPRICED_SQL, {"symbols": list(symbols)}).scalars()
        return [str(symbol) for symbol in rows]

    def closes(self, symbols: Sequence[str]) -> pd.DataFrame:
        """Stored daily closes: symbol, date, close (float64), adj_close (NUMERIC text)."""
        return self._frame(_CLOSES_SQL, {"symbols": list(symbols)})

    def actions(
        self,
        symbols: Sequence[str],
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pd.DataFrame:
        """Corporate actions of `symbols` (symbol, date, action_type, value), optionally those
        with ex-dates from start to end."""
        return self._frame(
            _ACTIONS_SQL,
            {
                "symbols": list(symbols),
                "start": start or dt.date.min,
                "end": end or dt.date.max,
            },
        )

    def previous_bars(self, firsts: Mapping[str, dt.date]) -> pd.DataFrame:
        """Per symbol, the last stored daily bar before `firsts[symbol]`."""
        return self._frame(
            _PREVIOUS_SQL, {"symbols": list(firsts), "firsts": list(firsts.values())}
        )

    def symbols_with_actions_after(self, firsts: Mapping[str, dt.date]) -> list[str]:
        """Symbols with a corporate action dated after `firsts[symbol]`."""
        return [
            str(symbol)
            for symbol in self._conn.execute(
                _LATER_ACTIONS_SQL, {"symbols": list(firsts), "firsts": list(firsts.values())}
            ).scalars()
        ]

    def daily_bars(self, symbols: Sequence[str], dates: Sequence[dt.date]) -> list[StoredBar]:
        """The stored bars at the given (symbol, date) pairs, ordered by symbol and date."""
        rows = self._conn.execute(
            _DAILY_BARS_SQL, {"symbols": list(symbols), "dates": list(dates)}
        ).all()
        return [
            StoredBar(
                row.symbol,
                row.date,
                row.open,
                row.high,
                row.low,
                row.close,
                row.adj_close,
                int(row.volume),
            )
            for row in rows
        ]

    # --- intraday reads for stocker.data.intraday (added by the intraday use cases) --------------

    def intraday_bars(
        self, symbols: Sequence[str], interval: str, first: dt.datetime, last: dt.datetime
    ) -> pd.DataFrame:
        """Stored `interval` bars of `symbols` starting in [first, last): symbol, timestamp,
        open, high, low, close, volume (prices and volume float64), by symbol and time."""
        frame = self._frame(
            text(
                'SELECT symbol, "timestamp", open, high, low, close, volume FROM prices_intraday '
                'WHERE symbol = ANY(:symbols) AND "interval" = :interval '
                'AND "timestamp" >= :first AND "timestamp" < :last ORDER BY symbol, "timestamp"'
            ),
            {"symbols": list(symbols), "interval": interval, "first": first, "last": last},
        )
        for column in ("open", "high", "low", "close", "volume"):
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
        return frame

    def daily_bars_between(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Stored daily bars of `symbols` from start to end (inclusive): symbol, date, open,
        high, low, close, volume as stored."""
        return self._frame(
            text(
                "SELECT symbol, date, open, high, low, close, volume FROM prices_daily "
                "WHERE symbol = ANY(:symbols) AND date BETWEEN :start AND :end"
            ),
            {"symbols": list(symbols), "start": start, "end": end},
        )
