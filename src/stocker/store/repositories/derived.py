"""Tables computed from prices: returns, the dynamic trading universe, breadth; and the reads
they are computed from (panels, lookback windows, the symbols of a breadth scope).

Also the generic writes of loaders that fill whole tables (the sample and synthetic markets):
`upsert` and `replace_range` (make rows the whole content of one partition's date range).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from stocker.store import panel
from stocker.store.bulk import UpsertResult, replace_range, upsert
from stocker.store.price_returns_sql import (
    ADJ_CLOSE_SQL,
    DELETE_ORPHANS_SQL,
    STATE_SQL,
    ReturnState,
)

DateLike = dt.date | str | pd.Timestamp


class DerivedRepository:
    """price_returns, trading_universe and market_breadth, and the panels they are made from."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- reads the computations start from -------------------------------------------------------

    def panels(
        self,
        fields: Sequence[str],
        *,
        symbols: Sequence[str] | None = None,
        universe: str | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        table: str = "prices_daily",
        date_column: str = "date",
    ) -> dict[str, pd.DataFrame]:
        """(dates × symbols) float64 panels of `fields`; see `stocker.store.panel.load_panels`."""
        return panel.load_panels(
            self._conn,
            fields,
            symbols=symbols,
            universe=universe,
            start=start,
            end=end,
            table=table,
            date_column=date_column,
        )

    def panel(
        self,
        field: str = "adj_close",
        *,
        symbols: Sequence[str] | None = None,
        universe: str | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        table: str = "prices_daily",
        date_column: str = "date",
    ) -> pd.DataFrame:
        """One field as a (dates × symbols) float64 panel; see `panels`."""
        return self.panels(
            [field],
            symbols=symbols,
            universe=universe,
            start=start,
            end=end,
            table=table,
            date_column=date_column,
        )[field]

    def lookback_start(
        self, day: DateLike, sessions: int, *, table: str = "prices_daily"
    ) -> dt.date | None:
        """The earliest of the `sessions` dates before `day` with any row in `table`."""
        return panel.lookback_start(self._conn, day, sessions, table=table)

    def us_equity_symbols(self) -> list[str]:
        """Every US equity instrument (asset class US_EQUITY, currency USD; inactive included)."""
        rows = self._conn.execute(
            text(
                "SELECT symbol FROM instrument_info WHERE COALESCE(asset_class, 'US_EQUITY') = "
                "'US_EQUITY' AND COALESCE(currency, 'USD') = 'USD' ORDER BY symbol"
            )
        )
        return list(rows.scalars())

    def sectors(self, symbols: Sequence[str]) -> dict[str, str | None]:
        """Each symbol's current `instrument_info.sector`."""
        rows = self._conn.execute(
            text("SELECT symbol, sector FROM instrument_info WHERE symbol = ANY(:symbols)"),
            {"symbols": list(symbols)},
        )
        return {row.symbol: row.sector for row in rows}

    # --- generic writes --------------------------------------------------------------------------

    def upsert(
        self,
        table: str,
        rows: pd.DataFrame | Sequence[Mapping[str, Any]],
        *,
        key: Sequence[str] | None = None,
    ) -> UpsertResult:
        """Insert new and update changed rows of `table` (invalid rows raise)."""
        return upsert(self._conn, table, rows, key=key)

    def replace_range(
        self,
        table: str,
        rows: pd.DataFrame,
        *,
        key: tuple[str, str, str],
        partition: str,
        start: dt.date,
        end: dt.date,
    ) -> tuple[UpsertResult, int]:
        """Make `rows` one partition's whole [start, end] (see `stocker.store.bulk`)."""
        return replace_range(
            self._conn, table, rows, key=key, partition=partition, start=start, end=end
        )

    # --- trading_universe and market_breadth -----------------------------------------------------

    def trading_universe_on(self, as_of_date: dt.date, source: str) -> pd.DataFrame:
        """One session's stored ranking: ``symbol, rank, avg_dollar_volume, lookback_days``."""
        rows = self._conn.execute(
            text(
                "SELECT symbol, rank, avg_dollar_volume::float8 AS avg_dollar_volume, "
                "lookback_days FROM trading_universe WHERE as_of_date = :day AND source = :source "
                "ORDER BY rank"
            ),
            {"day": as_of_date, "source": source},
        ).fetchall()
        return pd.DataFrame(rows, columns=["symbol", "rank", "avg_dollar_volume", "lookback_days"])

    def breadth(self, scope: str, start: dt.date | None, end: dt.date | None) -> pd.DataFrame:
        """Stored breadth of `scope` as long rows ``date, metric, value`` (float64)."""
        rows = self._conn.execute(
            text(
                "SELECT date, metric, value::float8 AS value FROM market_breadth "
                "WHERE scope = :scope AND (CAST(:start AS date) IS NULL OR date >= :start) "
                "AND (CAST(:end AS date) IS NULL OR date <= :end) ORDER BY date, metric"
            ),
            {"scope": scope, "start": start, "end": end},
        ).fetchall()
        return pd.DataFrame(rows, columns=["date", "metric", "value"])

    # --- price_returns ---------------------------------------------------------------------------

    def return_states(self, symbols: Sequence[str]) -> list[ReturnState]:
        """Per symbol with stored returns: the last one's date and whether any stored return up
        to it disagrees with the adjusted closes (computed in the database)."""
        rows = self._conn.execute(STATE_SQL, {"symbols": list(symbols)})
        return [
            ReturnState(symbol, last_date, bool(mismatched))
            for symbol, last_date, mismatched in rows
        ]

    def adjusted_closes(self, starts: Mapping[str, dt.date | None]) -> pd.DataFrame:
        """``symbol, date, adj_close`` of each symbol from the bar before its start (None: all)."""
        result = self._conn.execute(
            ADJ_CLOSE_SQL, {"symbols": list(starts), "starts": list(starts.values())}
        )
        # Plain tuples: pandas probes each SQLAlchemy Row for namedtuple fields, which is slow.
        return pd.DataFrame([tuple(row) for row in result], columns=["symbol", "date", "adj_close"])

    def delete_orphan_returns(self, symbols: Sequence[str]) -> int:
        """Delete returns of `symbols` whose bar is gone (or is the first bar); returns how many."""
        return int(self._conn.execute(DELETE_ORPHANS_SQL, {"symbols": list(symbols)}).rowcount)

    # --- synthetic markets -----------------------------------------------------------------------

    def instruments_from_source(self, prefix: str) -> pd.DataFrame:
        """``symbol, source, source_hash`` of instruments whose source starts with `prefix`."""
        rows = self._conn.execute(
            text(
                "SELECT symbol, source, source_hash FROM instrument_info "
                "WHERE source LIKE :prefix ORDER BY symbol"
            ),
            {"prefix": prefix.replace("%", r"\%").replace("_", r"\_") + "%"},
        ).fetchall()
        return pd.DataFrame(rows, columns=["symbol", "source", "source_hash"])

    def remove_market_data(self, symbols: Sequence[str], tables: Sequence[str]) -> int:
        """Delete every row of `symbols` from `tables` and deactivate the instruments (which stay,
        for what references them); returns the rows deleted."""
        removed = 0
        for table in tables:
            result = self._conn.execute(
                text(f'DELETE FROM "{table}" WHERE symbol = ANY(:symbols)'),
                {"symbols": list(symbols)},
            )
            removed += result.rowcount or 0
        self._conn.execute(
            text("UPDATE instrument_info SET active = FALSE WHERE symbol = ANY(:symbols)"),
            {"symbols": list(symbols)},
        )
        return removed
