"""The trading pipeline's facts: signals, target exposures, orders and their events, fills.

Every row is a fact written once under a natural key — a signal per ``(strategy_version, symbol,
date)``, a target per ``(portfolio_id, symbol, date)``, an order per deterministic ``order_id``,
a fill per broker ``fill_id`` — so an insert is ``ON CONFLICT DO NOTHING`` and says whether it
wrote. A replayed message therefore finds its row and the stage emits nothing new. The reads the
stages need (price history, a day's bars, what is open) live here too, next to the facts. The
rows themselves (dataclasses and mappers) are in `trading_rows.py`, re-exported here.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, RowMapping, text

from stocker.store.repositories.trading_rows import (
    BAR_COLUMNS,
    FILL_COLUMNS,
    ORDER_COLUMNS,
    SIGNAL_COLUMNS,
    TARGET_COLUMNS,
    BarRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    SignalRow,
    SignalValues,
    TargetRow,
    bar_row,
    fill_row,
    order_row,
    signal_row,
    target_row,
)

__all__ = [
    "BarRow",
    "FillRow",
    "OrderEventRow",
    "OrderRow",
    "SignalRow",
    "SignalValues",
    "TargetRow",
    "TradingRepository",
]


class TradingRepository:
    """signals, target_exposures, orders, order_events and fills (append-only facts)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _rows(self, sql: str, parameters: Mapping[str, Any]) -> list[RowMapping]:
        return list(self._conn.execute(text(sql), dict(parameters)).mappings())

    # -- market data the stages read ---------------------------------------------------------

    def adj_close_history(
        self, symbols: Sequence[str], through: dt.date, sessions: int | None = None
    ) -> pd.DataFrame:
        """Dates × symbols adjusted closes of every stored bar up to ``through`` (floats);
        when ``sessions`` is given, from the earliest of the symbols' ``sessions``-th last
        bars on (every symbol has at least its last ``sessions`` bars)."""
        # Three arrays in one row (days since the epoch, symbols, values; aggregated in one
        # pass, so aligned, and unsorted: each value is placed by its date and symbol): far
        # fewer Python objects than a row per bar, at 500 symbols × years of sessions.
        row = self._conn.execute(
            text(
                "SELECT array_agg(date - DATE '1970-01-01'), array_agg(symbol), "
                "array_agg(adj_close::float8) FROM prices_daily "
                "WHERE symbol = ANY(:symbols) AND date <= :through AND date >= COALESCE(("
                "SELECT min(recent.first) FROM unnest(CAST(:symbols AS varchar[])) AS s(symbol) "
                "CROSS JOIN LATERAL (SELECT min(date) AS first FROM (SELECT date FROM "
                "prices_daily p WHERE p.symbol = s.symbol AND p.date <= :through "
                "ORDER BY p.date DESC LIMIT :sessions) AS last_bars) AS recent"
                "), DATE '0001-01-01')"
            ),
            {"symbols": list(symbols), "through": through, "sessions": sessions},
        ).one()
        columns = list(symbols)
        if row[0] is None:
            empty = pd.DataFrame(columns=columns, index=pd.DatetimeIndex([], name="date"))
            return empty.astype(float)
        days = np.asarray(row[0], dtype=np.int64)
        dates, date_codes = np.unique(days, return_inverse=True)
        position = {symbol: column for column, symbol in enumerate(columns)}
        symbol_codes = np.fromiter((position[s] for s in row[1]), dtype=np.int64, count=len(days))
        values = np.array([np.nan if v is None else v for v in row[2]], dtype=np.float64)
        panel = np.full((len(dates), len(columns)), np.nan)
        panel[date_codes, symbol_codes] = values
        index = pd.DatetimeIndex(
            dates.astype("datetime64[D]").astype("datetime64[ns]"), name="date"
        )
        return pd.DataFrame(panel, index=index, columns=pd.Index(columns, name="symbol"))

    def symbol_history(
        self, symbol: str, through: dt.date, sessions: int | None = None
    ) -> tuple[pd.DataFrame, int | None]:
        """One symbol's adjusted closes up to ``through`` (a one-column frame; its last
        ``sessions`` bars only, when given) and the id of its bar on ``through`` (None when
        that bar is not stored)."""
        rows = self._conn.execute(
            text(
                "SELECT id, date, adj_close::float8 FROM prices_daily "
                "WHERE symbol = :s AND date <= :d ORDER BY date DESC LIMIT :n"
            ),
            {"s": symbol, "d": through, "n": sessions},
        ).all()[::-1]
        index = pd.DatetimeIndex([row[1] for row in rows], name="date")
        frame = pd.DataFrame({symbol: [row[2] for row in rows]}, index=index, dtype=float)
        last = rows[-1] if rows else None
        return frame, (int(last[0]) if last is not None and last[1] == through else None)

    def bars_on(self, symbols: Sequence[str], day: dt.date) -> dict[str, BarRow]:
        """The stored bar of each symbol on ``day`` (absent when none is stored)."""
        rows = self._rows(
            f"SELECT {BAR_COLUMNS} FROM prices_daily WHERE symbol = ANY(:symbols) AND date = :d",
            {"symbols": list(symbols), "d": day},
        )
        return {row["symbol"]: bar_row(row) for row in rows}

    def bars_through(self, symbol: str, through: dt.date, limit: int) -> list[BarRow]:
        """The last ``limit`` bars of ``symbol`` up to ``through``, oldest first."""
        rows = self._rows(
            f"SELECT {BAR_COLUMNS} FROM prices_daily WHERE symbol = :s AND date <= :d "
            "ORDER BY date DESC LIMIT :n",
            {"s": symbol, "d": through, "n": limit},
        )
        return [bar_row(row) for row in reversed(rows)]

    def sessions_with_bars(
        self, symbols: Sequence[str], start: dt.date, end: dt.date
    ) -> list[dt.date]:
        """Dates between ``start`` and ``end`` on which any of ``symbols`` has a bar."""
        rows = self._conn.execute(
            text(
                "SELECT DISTINCT date FROM prices_daily WHERE symbol = ANY(:symbols) "
                "AND date BETWEEN :a AND :b ORDER BY date"
            ),
            {"symbols": list(symbols), "a": start, "b": end},
        ).scalars()
        return list(rows)

    def later_bar_exists(self, symbols: Sequence[str], day: dt.date) -> bool:
        """Whether any of ``symbols`` has a bar after ``day`` (the cut-off of a missing bar)."""
        return bool(
            self._conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM prices_daily WHERE symbol = ANY(:symbols) "
                    "AND date > :d)"
                ),
                {"symbols": list(symbols), "d": day},
            ).scalar()
        )

    def instrument_terms(self, symbols: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
        """``symbol → (exchange, currency)`` from the instrument master."""
        rows = self._conn.execute(
            text(
                "SELECT symbol, exchange, currency FROM instrument_info "
                "WHERE symbol = ANY(:symbols)"
            ),
            {"symbols": list(symbols)},
        ).all()
        return {symbol: (exchange, currency) for symbol, exchange, currency in rows}

    def state_dates(self, portfolio_id: str, through: dt.date) -> list[tuple[dt.date, Decimal]]:
        """``(date, nav)`` of the portfolio's stored states up to ``through``, by date."""
        rows = self._conn.execute(
            text(
                "SELECT date, nav FROM portfolio_state WHERE portfolio_id = :p AND date <= :d "
                "ORDER BY date"
            ),
            {"p": portfolio_id, "d": through},
        ).all()
        return [(day, nav) for day, nav in rows]

    def has_state(self, portfolio_id: str, day: dt.date) -> bool:
        """Whether the portfolio's state of ``day`` is stored."""
        return bool(
            self._conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM portfolio_state WHERE portfolio_id = :p "
                    "AND date = :d)"
                ),
                {"p": portfolio_id, "d": day},
            ).scalar()
        )

    def last_state_date(self, portfolio_id: str) -> dt.date | None:
        """The date of the portfolio's latest stored state."""
        day = self._conn.execute(
            text("SELECT max(date) FROM portfolio_state WHERE portfolio_id = :p"),
            {"p": portfolio_id},
        ).scalar()
        return day if isinstance(day, dt.date) else None

    def undecided_days(self, portfolio_id: str, before: dt.date, limit: int = 5) -> list[dt.date]:
        """The last ``limit`` marked days before ``before`` without target rows, oldest first."""
        rows = self._conn.execute(
            text(
                "SELECT s.date FROM portfolio_state s WHERE s.portfolio_id = :p AND s.date < :d "
                "AND NOT EXISTS (SELECT 1 FROM target_exposures t WHERE t.portfolio_id = :p "
                "AND t.date = s.date) ORDER BY s.date DESC LIMIT :n"
            ),
            {"p": portfolio_id, "d": before, "n": limit},
        ).scalars()
        return sorted(rows)

    # -- signals -----------------------------------------------------------------------------

    def add_signal(
        self,
        strategy_version: str,
        symbol: str,
        day: dt.date,
        *,
        lookback_return: float | None,
        ewma_vol: float | None,
        direction: int | None,
        target_weight: float | None,
        price_bar_id: int | None,
    ) -> bool:
        """Insert a signal unless its ``(strategy_version, symbol, date)`` is stored."""
        result = self._conn.execute(
            text(
                "INSERT INTO signals (strategy_version, symbol, date, lookback_return, ewma_vol, "
                "direction, target_weight, price_bar_id) VALUES (:v, :s, :d, :lr, :vol, :dir, "
                ":w, :bar) ON CONFLICT DO NOTHING RETURNING id"
            ),
            {
                "v": strategy_version,
                "s": symbol,
                "d": day,
                "lr": lookback_return,
                "vol": ewma_vol,
                "dir": direction,
                "w": target_weight,
                "bar": price_bar_id,
            },
        ).first()
        return result is not None

    def add_signals(
        self, strategy_version: str, day: dt.date, rows: Sequence[SignalValues]
    ) -> set[str]:
        """Insert a day's signals in one statement (``add_signal`` for many symbols); returns
        the symbols whose row was new."""
        if not rows:
            return set()
        result = self._conn.execute(
            text(
                "INSERT INTO signals (strategy_version, symbol, date, lookback_return, ewma_vol, "
                "direction, target_weight, price_bar_id) "
                "SELECT :v, s.symbol, :d, s.lr, s.vol, s.dir, s.w, s.bar FROM unnest("
                "CAST(:symbols AS varchar[]), CAST(:lr AS float8[]), CAST(:vol AS float8[]), "
                "CAST(:dir AS int[]), CAST(:w AS float8[]), CAST(:bar AS bigint[])"
                ") AS s(symbol, lr, vol, dir, w, bar) ON CONFLICT DO NOTHING RETURNING symbol"
            ),
            {
                "v": strategy_version,
                "d": day,
                "symbols": [row.symbol for row in rows],
                "lr": [row.lookback_return for row in rows],
                "vol": [row.ewma_vol for row in rows],
                "dir": [row.direction for row in rows],
                "w": [row.target_weight for row in rows],
                "bar": [row.price_bar_id for row in rows],
            },
        ).scalars()
        return set(result)

    def signal_count(self, strategy_version: str, day: dt.date, symbols: Sequence[str]) -> int:
        """How many of ``symbols`` have a stored signal of the version on ``day``."""
        return int(
            self._conn.execute(
                text(
                    "SELECT count(*) FROM signals WHERE strategy_version = :v AND date = :d "
                    "AND symbol = ANY(CAST(:symbols AS varchar[]))"
                ),
                {"v": strategy_version, "d": day, "symbols": list(symbols)},
            ).scalar_one()
        )

    def bar_ids_on(self, symbols: Sequence[str], day: dt.date) -> dict[str, int]:
        """The id of each symbol's stored bar on ``day``."""
        rows = self._conn.execute(
            text("SELECT symbol, id FROM prices_daily WHERE symbol = ANY(:symbols) AND date = :d"),
            {"symbols": list(symbols), "d": day},
        ).all()
        return {symbol: int(bar_id) for symbol, bar_id in rows}

    def signals_on(
        self, strategy_version: str, day: dt.date, symbols: Sequence[str] | None = None
    ) -> dict[str, SignalRow]:
        """The day's stored signals of a strategy version, by symbol."""
        rows = self._rows(
            f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE strategy_version = :v AND date = :d "
            "AND (CAST(:symbols AS varchar[]) IS NULL "
            "OR symbol = ANY(CAST(:symbols AS varchar[])))",
            {"v": strategy_version, "d": day, "symbols": list(symbols) if symbols else None},
        )
        return {row["symbol"]: signal_row(row) for row in rows}

    def signal(self, signal_id: int) -> SignalRow | None:
        rows = self._rows(f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE id = :i", {"i": signal_id})
        return signal_row(rows[0]) if rows else None

    # -- targets -----------------------------------------------------------------------------

    def add_targets(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert target rows (keys as the table's columns); returns how many were new."""
        if not rows:
            return 0
        statement = text(
            "INSERT INTO target_exposures (portfolio_id, date, symbol, target_exposure, "
            "scaling_factor, is_capped, reason, signal_id) "
            "SELECT * FROM unnest(CAST(:portfolio_id AS varchar[]), CAST(:date AS date[]), "
            "CAST(:symbol AS varchar[]), CAST(:target_exposure AS float8[]), "
            "CAST(:scaling_factor AS float8[]), CAST(:is_capped AS boolean[]), "
            "CAST(:reason AS text[]), CAST(:signal_id AS bigint[])) "
            "ON CONFLICT DO NOTHING RETURNING id"
        )
        names = (
            "portfolio_id",
            "date",
            "symbol",
            "target_exposure",
            "scaling_factor",
            "is_capped",
            "reason",
            "signal_id",
        )
        columns = {name: [row.get(name) for row in rows] for name in names}
        return len(self._conn.execute(statement, columns).all())

    def has_targets(self, portfolio_id: str, day: dt.date) -> bool:
        """Whether the portfolio's targets of ``day`` are decided (stored)."""
        return bool(
            self._conn.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM target_exposures WHERE portfolio_id = :p "
                    "AND date = :d)"
                ),
                {"p": portfolio_id, "d": day},
            ).scalar()
        )

    def targets_on(self, portfolio_id: str, day: dt.date) -> dict[str, TargetRow]:
        rows = self._rows(
            f"SELECT {TARGET_COLUMNS} FROM target_exposures WHERE portfolio_id = :p "
            "AND date = :d ORDER BY symbol",
            {"p": portfolio_id, "d": day},
        )
        return {row["symbol"]: target_row(row) for row in rows}

    def target(self, target_id: int) -> TargetRow | None:
        rows = self._rows(
            f"SELECT {TARGET_COLUMNS} FROM target_exposures WHERE id = :i", {"i": target_id}
        )
        return target_row(rows[0]) if rows else None

    # -- orders ------------------------------------------------------------------------------

    def add_order(self, order: OrderRow) -> bool:
        """Insert an order unless its deterministic ``order_id`` is stored."""
        row = self._conn.execute(
            text(
                f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES (:order_id, :portfolio_id, :date, "
                ":symbol, :side, :qty, :type, :status, :target_exposure_id) "
                "ON CONFLICT (order_id) DO NOTHING RETURNING id"
            ),
            {name.strip(): getattr(order, name.strip()) for name in ORDER_COLUMNS.split(",")},
        ).first()
        return row is not None

    def set_order_status(self, order_id: uuid.UUID, status: str) -> None:
        """The order's current status (its history is in `order_events`)."""
        self._conn.execute(
            text("UPDATE orders SET status = :s, updated_at = now() WHERE order_id = :o"),
            {"s": status, "o": order_id},
        )

    def add_order_event(
        self,
        order_id: uuid.UUID,
        status: str,
        *,
        broker_order_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        self._conn.execute(
            text(
                "INSERT INTO order_events (order_id, status, broker_order_id, detail) "
                "VALUES (:o, :s, :b, CAST(:detail AS jsonb))"
            ),
            {
                "o": order_id,
                "s": status,
                "b": broker_order_id,
                "detail": json.dumps(dict(detail), default=str) if detail is not None else None,
            },
        )

    def order(self, order_id: uuid.UUID) -> OrderRow | None:
        rows = self._rows(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = :o", {"o": order_id}
        )
        return order_row(rows[0]) if rows else None

    def orders_on(
        self, day: dt.date, *, portfolio_id: str | None = None, symbol: str | None = None
    ) -> list[OrderRow]:
        """Orders executing on ``day`` (optionally of one portfolio or symbol)."""
        rows = self._rows(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE date = :d "
            "AND (CAST(:p AS varchar) IS NULL OR portfolio_id = CAST(:p AS varchar)) "
            "AND (CAST(:s AS varchar) IS NULL OR symbol = CAST(:s AS varchar)) "
            "ORDER BY portfolio_id, symbol",
            {"d": day, "p": portfolio_id, "s": symbol},
        )
        return [order_row(row) for row in rows]

    def orders_between(self, portfolio_id: str, start: dt.date, end: dt.date) -> list[OrderRow]:
        rows = self._rows(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE portfolio_id = :p "
            "AND date BETWEEN :a AND :b ORDER BY date, symbol",
            {"p": portfolio_id, "a": start, "b": end},
        )
        return [order_row(row) for row in rows]

    def order_events(self, order_id: uuid.UUID) -> list[OrderEventRow]:
        rows = self._rows(
            "SELECT order_id, status, broker_order_id, detail, created_at FROM order_events "
            "WHERE order_id = :o ORDER BY id",
            {"o": order_id},
        )
        return [OrderEventRow(**dict(row)) for row in rows]

    # -- fills -------------------------------------------------------------------------------

    def add_fill(self, fill: FillRow) -> bool:
        """Insert a fill unless the broker's ``fill_id`` is stored."""
        row = self._conn.execute(
            text(
                f"INSERT INTO fills ({FILL_COLUMNS}) VALUES (:fill_id, :order_id, :date, "
                ":symbol, :side, :qty, :price, :commission) "
                "ON CONFLICT (fill_id) DO NOTHING RETURNING id"
            ),
            {name.strip(): getattr(fill, name.strip()) for name in FILL_COLUMNS.split(",")},
        ).first()
        return row is not None

    def fills_of(self, order_id: uuid.UUID) -> list[FillRow]:
        rows = self._rows(
            f"SELECT {FILL_COLUMNS} FROM fills WHERE order_id = :o ORDER BY id", {"o": order_id}
        )
        return [fill_row(row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (signals, target_exposures, orders, order_events, fills)."""
        tables = ("signals", "target_exposures", "orders", "order_events", "fills")
        return {
            table: int(self._conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
            for table in tables
        }
