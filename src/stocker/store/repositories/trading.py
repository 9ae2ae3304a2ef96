"""The trading pipeline's facts: signals, target exposures, orders and their events, fills."""

from __future__ import annotations

from sqlalchemy import Connection


class TradingRepository:
    """signals, target_exposures, orders, order_events and fills (append-only facts)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
