"""Broker order events, reconciliation breaks, portfolio halts and daemon sessions.

Everything a live broker says is written once under its natural key (`broker_events`: broker,
broker order, event, execution), so a duplicated or replayed trade update changes nothing. The
orders themselves stay in `orders` (the trading repository); here are the reads live trading
adds over them (by broker order id, in flight).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, text

from stocker.store.repositories.trading import OrderRow

_ORDER_COLUMNS = "order_id, portfolio_id, date, symbol, side, qty, type, status, target_exposure_id"
TERMINAL_EVENTS = ("canceled", "expired", "rejected")


@dataclass(frozen=True, slots=True)
class BreakRow:
    """A `reconciliation_breaks` row."""

    id: int
    portfolio_id: str
    kind: str
    key: str
    symbol: str | None
    order_id: uuid.UUID | None
    broker_order_id: str | None
    ours: dict[str, Any]
    broker: dict[str, Any]
    reason: str
    found_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: str | None
    note: str | None
    correcting_entry_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A `daemon_sessions` row."""

    portfolio_id: str
    session_date: dt.date
    status: str
    attempts: int
    detail: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class LateFill:
    """A fill beyond what the broker reported filled when it ended the order."""

    fill_id: str
    order_id: uuid.UUID
    broker_order_id: str | None
    symbol: str
    qty: Decimal
    price: Decimal
    filled_before: Decimal
    ended_with: Decimal
    posted: bool


_BREAK_COLUMNS = (
    "id, portfolio_id, kind, key, symbol, order_id, broker_order_id, ours, broker, reason, "
    "found_at, resolved_at, resolution, note, correcting_entry_id"
)


def _json(value: Mapping[str, Any] | None) -> str | None:
    return json.dumps(dict(value), default=str, sort_keys=True) if value is not None else None


class LiveTradingRepository:
    """Broker order events, reconciliation breaks, portfolio halts and daemon sessions."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _rows(self, sql: str, parameters: Mapping[str, Any]) -> list[RowMapping]:
        return list(self._conn.execute(text(sql), dict(parameters)).mappings())

    # -- orders at the broker --------------------------------------------------------------

    def lock_order(self, order_id: uuid.UUID) -> None:
        """Serialize writers of one order's broker facts (stream and backfill may race)."""
        self._conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"), {"k": str(order_id)}
        )

    def lock(self, key: str) -> None:
        """Serialize writers of one broker account's facts until the transaction ends."""
        self._conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 7))"), {"k": key}
        )

    def orders_by_ids(
        self, order_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[OrderRow, str | None]]:
        """Orders by id, with their broker order ids."""
        rows = self._rows(
            f"SELECT {_ORDER_COLUMNS}, broker_order_id FROM orders WHERE order_id = ANY(:o)",
            {"o": order_ids},
        )
        out = {}
        for row in rows:
            values = dict(row)
            broker_id = values.pop("broker_order_id")
            out[values["order_id"]] = (OrderRow(**values), broker_id)
        return out

    def add_order_events(self, rows: list[dict[str, Any]]) -> None:
        """Append order events (order_id, status, broker_order_id, detail) in one statement."""
        if not rows:
            return
        self._conn.execute(
            text(
                "INSERT INTO order_events (order_id, status, broker_order_id, detail) "
                "VALUES (:order_id, :status, :broker_order_id, CAST(:detail AS jsonb))"
            ),
            [{**row, "detail": _json(row.get("detail"))} for row in rows],
        )

    def set_statuses(self, statuses: dict[uuid.UUID, str]) -> None:
        """Set the current status of several orders (their history is in order_events)."""
        if not statuses:
            return
        self._conn.execute(
            text("UPDATE orders SET status = :s, updated_at = now() WHERE order_id = :o"),
            [{"o": order_id, "s": status} for order_id, status in statuses.items()],
        )

    def set_broker_order_id(self, order_id: uuid.UUID, broker_order_id: str) -> None:
        self._conn.execute(
            text("UPDATE orders SET broker_order_id = :b WHERE order_id = :o"),
            {"b": broker_order_id, "o": order_id},
        )

    def mark_submitted(self, order_id: uuid.UUID, broker_order_id: str) -> None:
        """Store the broker's order id; a PENDING order becomes SHIPPED."""
        self._conn.execute(
            text(
                "UPDATE orders SET broker_order_id = :b, updated_at = now(), status = CASE "
                "WHEN status = 'PENDING' THEN 'SHIPPED' ELSE status END WHERE order_id = :o"
            ),
            {"b": broker_order_id, "o": order_id},
        )

    def order_facts(self, order_id: uuid.UUID) -> tuple[Decimal, Decimal | None, str]:
        """What settles an order's status: its filled quantity, the filled quantity the
        broker reported when it ended it (None while it has not), its stored status."""
        row = self._conn.execute(
            text(
                "SELECT (SELECT COALESCE(SUM(qty), 0) FROM fills f WHERE f.order_id = o.order_id),"
                " (SELECT MIN(COALESCE(filled_qty, 0)) FROM broker_events e "
                "  WHERE e.order_id = o.order_id AND e.event = ANY(:t)), o.status "
                "FROM orders o WHERE o.order_id = :o"
            ),
            {"o": order_id, "t": list(TERMINAL_EVENTS)},
        ).one()
        return Decimal(row[0]), (Decimal(row[1]) if row[1] is not None else None), str(row[2])

    def broker_order_id(self, order_id: uuid.UUID) -> str | None:
        value = self._conn.execute(
            text("SELECT broker_order_id FROM orders WHERE order_id = :o"), {"o": order_id}
        ).scalar()
        return str(value) if value is not None else None

    def order_by_broker_id(self, broker_order_id: str) -> OrderRow | None:
        rows = self._rows(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE broker_order_id = :b",
            {"b": broker_order_id},
        )
        return OrderRow(**dict(rows[0])) if rows else None

    def orders_with_status(
        self, statuses: tuple[str, ...], *, portfolio_id: str | None = None
    ) -> list[tuple[OrderRow, str | None]]:
        """Orders in one of `statuses` (of one portfolio), with their broker order ids."""
        rows = self._rows(
            f"SELECT {_ORDER_COLUMNS}, broker_order_id FROM orders WHERE status = ANY(:s) "
            "AND (CAST(:p AS varchar) IS NULL OR portfolio_id = CAST(:p AS varchar)) "
            "ORDER BY date, portfolio_id, symbol",
            {"s": list(statuses), "p": portfolio_id},
        )
        out = []
        for row in rows:
            values = dict(row)
            broker_id = values.pop("broker_order_id")
            out.append((OrderRow(**values), broker_id))
        return out

    def submitted_order_ids(self, portfolio_id: str | None = None) -> set[uuid.UUID]:
        """Orders that ever went to a broker (a SHIPPED event)."""
        rows = self._rows(
            "SELECT DISTINCT e.order_id FROM order_events e JOIN orders o USING (order_id) "
            "WHERE e.status = 'SHIPPED' "
            "AND (CAST(:p AS varchar) IS NULL OR o.portfolio_id = CAST(:p AS varchar))",
            {"p": portfolio_id},
        )
        return {row["order_id"] for row in rows}

    def filled_qty(self, order_id: uuid.UUID) -> Decimal:
        value = self._conn.execute(
            text("SELECT COALESCE(SUM(qty), 0) FROM fills WHERE order_id = :o"), {"o": order_id}
        ).scalar()
        return Decimal(value or 0)

    def known_fill_ids(self, fill_ids: list[str]) -> set[str]:
        """Which of these broker execution ids are in `fills`."""
        rows = self._rows("SELECT fill_id FROM fills WHERE fill_id = ANY(:f)", {"f": fill_ids})
        return {str(row["fill_id"]) for row in rows}

    def add_broker_event(
        self,
        broker: str,
        broker_order_id: str,
        order_id: uuid.UUID | None,
        event: str,
        *,
        execution_id: str = "",
        filled_qty: Decimal | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record what the broker said, unless it was recorded already; True when new."""
        row = self._conn.execute(
            text(
                "INSERT INTO broker_events (broker, broker_order_id, order_id, event, "
                "execution_id, filled_qty, payload) VALUES (:broker, :b, :o, :e, :x, :f, "
                "CAST(:payload AS jsonb)) ON CONFLICT DO NOTHING RETURNING id"
            ),
            {
                "broker": broker,
                "b": broker_order_id,
                "o": order_id,
                "e": event,
                "x": execution_id,
                "f": filled_qty,
                "payload": _json(payload),
            },
        ).first()
        return row is not None

    def terminal_filled_qty(self, order_id: uuid.UUID) -> Decimal | None:
        """The filled quantity the broker reported when it ended the order, if it did."""
        value = self._conn.execute(
            text(
                "SELECT MIN(COALESCE(filled_qty, 0)) FROM broker_events "
                "WHERE order_id = :o AND event = ANY(:t)"
            ),
            {"o": order_id, "t": list(TERMINAL_EVENTS)},
        ).scalar()
        return Decimal(value) if value is not None else None

    def late_fills(self, portfolio_id: str) -> list[LateFill]:
        """Fills of the portfolio's orders beyond the filled quantity the broker reported when
        it ended the order (canceled, expired, rejected), whichever arrived first, and not yet
        the subject of a break (open or resolved). Fills count in time order."""
        rows = self._rows(
            "WITH ended AS ("
            "  SELECT e.order_id, MIN(COALESCE(e.filled_qty, 0)) AS ended_with "
            "  FROM broker_events e JOIN orders o ON o.order_id = e.order_id "
            "  WHERE o.portfolio_id = :p AND e.event = ANY(:t) GROUP BY e.order_id), "
            "running AS ("
            "  SELECT f.fill_id, f.order_id, o.broker_order_id, o.symbol, f.qty, f.price, "
            "    SUM(f.qty) OVER (PARTITION BY f.order_id ORDER BY f.date, f.fill_id) AS total, "
            "    ended.ended_with "
            "  FROM fills f JOIN ended ON ended.order_id = f.order_id "
            "  JOIN orders o ON o.order_id = f.order_id) "
            "SELECT r.fill_id, r.order_id, r.broker_order_id, r.symbol, r.qty, r.price, "
            "  r.total - r.qty AS filled_before, r.ended_with, "
            "  EXISTS (SELECT 1 FROM ledger_entries l WHERE l.portfolio_id = :p "
            "          AND l.fill_id = r.fill_id) AS posted "
            "FROM running r WHERE r.total > r.ended_with "
            "AND NOT EXISTS (SELECT 1 FROM reconciliation_breaks b WHERE b.portfolio_id = :p "
            "                AND b.key = 'fill:' || r.fill_id) "
            "ORDER BY r.order_id, r.total",
            {"p": portfolio_id, "t": list(TERMINAL_EVENTS)},
        )
        return [LateFill(**dict(row)) for row in rows]

    def latest_bar_source(self, symbols: list[str]) -> str | None:
        """The `source` of the most recent daily bar of these symbols (where their data came
        from), or None when none is stored."""
        value = self._conn.execute(
            text(
                "SELECT source FROM prices_daily WHERE symbol = ANY(:s) "
                "ORDER BY date DESC, source LIMIT 1"
            ),
            {"s": symbols},
        ).scalar()
        return str(value) if value is not None else None

    def symbols_without_bar(self, symbols: list[str], day: dt.date) -> list[str]:
        """Which of `symbols` have no daily bar on `day`."""
        rows = self._rows(
            "SELECT symbol FROM prices_daily WHERE symbol = ANY(:s) AND date = :d",
            {"s": symbols, "d": day},
        )
        present = {str(row["symbol"]) for row in rows}
        return sorted(set(symbols) - present)

    def broker_event_counts(self) -> dict[str, int]:
        rows = self._rows("SELECT event, count(*) AS n FROM broker_events GROUP BY event", {})
        return {row["event"]: int(row["n"]) for row in rows}

    # -- breaks ----------------------------------------------------------------------------

    def add_break(
        self,
        portfolio_id: str,
        kind: str,
        key: str,
        *,
        ours: Mapping[str, Any],
        broker: Mapping[str, Any],
        reason: str,
        symbol: str | None = None,
        order_id: uuid.UUID | None = None,
        broker_order_id: str | None = None,
    ) -> bool:
        """Record a break unless the same one is open; True when new."""
        row = self._conn.execute(
            text(
                "INSERT INTO reconciliation_breaks (portfolio_id, kind, key, symbol, order_id, "
                "broker_order_id, ours, broker, reason) VALUES (:p, :k, :key, :s, :o, :b, "
                "CAST(:ours AS jsonb), CAST(:broker AS jsonb), :r) "
                "ON CONFLICT (portfolio_id, key) WHERE resolved_at IS NULL DO NOTHING RETURNING id"
            ),
            {
                "p": portfolio_id,
                "k": kind,
                "key": key,
                "s": symbol,
                "o": order_id,
                "b": broker_order_id,
                "ours": _json(ours),
                "broker": _json(broker),
                "r": reason,
            },
        ).first()
        return row is not None

    def breaks(self, portfolio_id: str | None = None, *, open_only: bool = True) -> list[BreakRow]:
        rows = self._rows(
            f"SELECT {_BREAK_COLUMNS} FROM reconciliation_breaks "
            "WHERE (CAST(:p AS varchar) IS NULL OR portfolio_id = CAST(:p AS varchar)) "
            "AND (NOT :open OR resolved_at IS NULL) ORDER BY id",
            {"p": portfolio_id, "open": open_only},
        )
        return [BreakRow(**dict(row)) for row in rows]

    def break_(self, break_id: int) -> BreakRow | None:
        rows = self._rows(
            f"SELECT {_BREAK_COLUMNS} FROM reconciliation_breaks WHERE id = :i FOR UPDATE",
            {"i": break_id},
        )
        return BreakRow(**dict(rows[0])) if rows else None

    def resolve_break(
        self, break_id: int, resolution: str, note: str, entry_id: uuid.UUID | None
    ) -> None:
        self._conn.execute(
            text(
                "UPDATE reconciliation_breaks SET resolved_at = now(), resolution = :r, "
                "note = :n, correcting_entry_id = :e WHERE id = :i AND resolved_at IS NULL"
            ),
            {"i": break_id, "r": resolution, "n": note, "e": entry_id},
        )

    # -- halts -----------------------------------------------------------------------------

    def halt(self, portfolio_id: str, reason: str) -> bool:
        row = self._conn.execute(
            text(
                "INSERT INTO trading_halts (portfolio_id, reason) VALUES (:p, :r) "
                "ON CONFLICT (portfolio_id) DO NOTHING RETURNING portfolio_id"
            ),
            {"p": portfolio_id, "r": reason},
        ).first()
        return row is not None

    def resume(self, portfolio_id: str) -> bool:
        row = self._conn.execute(
            text("DELETE FROM trading_halts WHERE portfolio_id = :p RETURNING portfolio_id"),
            {"p": portfolio_id},
        ).first()
        return row is not None

    def halt_reason(self, portfolio_id: str) -> str | None:
        value = self._conn.execute(
            text("SELECT reason FROM trading_halts WHERE portfolio_id = :p"), {"p": portfolio_id}
        ).scalar()
        return str(value) if value is not None else None

    # -- daemon sessions -------------------------------------------------------------------

    def claim_session(self, portfolio_id: str, session_date: dt.date) -> SessionRow:
        """The session's row, created on the first claim; a claim of a running session counts
        one more attempt (a restart resumes it); a done one is returned as it is."""
        self._conn.execute(
            text(
                "INSERT INTO daemon_sessions (portfolio_id, session_date) VALUES (:p, :d) "
                "ON CONFLICT (portfolio_id, session_date) DO UPDATE SET attempts = "
                "daemon_sessions.attempts + CASE WHEN daemon_sessions.status = 'running' "
                "THEN 1 ELSE 0 END"
            ),
            {"p": portfolio_id, "d": session_date},
        )
        session = self.session(portfolio_id, session_date)
        assert session is not None
        return session

    def session(self, portfolio_id: str, session_date: dt.date) -> SessionRow | None:
        rows = self._rows(
            "SELECT portfolio_id, session_date, status, attempts, detail FROM daemon_sessions "
            "WHERE portfolio_id = :p AND session_date = :d",
            {"p": portfolio_id, "d": session_date},
        )
        return SessionRow(**dict(rows[0])) if rows else None

    def finish_session(
        self, portfolio_id: str, session_date: dt.date, detail: Mapping[str, Any]
    ) -> None:
        self._conn.execute(
            text(
                "UPDATE daemon_sessions SET status = 'done', finished_at = now(), "
                "detail = CAST(:x AS jsonb) WHERE portfolio_id = :p AND session_date = :d"
            ),
            {"p": portfolio_id, "d": session_date, "x": _json(detail)},
        )

    def sessions(self, portfolio_id: str | None = None) -> list[SessionRow]:
        rows = self._rows(
            "SELECT portfolio_id, session_date, status, attempts, detail FROM daemon_sessions "
            "WHERE CAST(:p AS varchar) IS NULL OR portfolio_id = CAST(:p AS varchar) "
            "ORDER BY portfolio_id, session_date",
            {"p": portfolio_id},
        )
        return [SessionRow(**dict(row)) for row in rows]

    def last_done_session(self, portfolio_id: str) -> dt.date | None:
        value = self._conn.execute(
            text(
                "SELECT max(session_date) FROM daemon_sessions "
                "WHERE portfolio_id = :p AND status = 'done'"
            ),
            {"p": portfolio_id},
        ).scalar()
        return value if isinstance(value, dt.date) else None
