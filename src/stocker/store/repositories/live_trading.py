"""Broker order events, reconciliation breaks, portfolio halts and daemon sessions."""

from __future__ import annotations

from sqlalchemy import Connection


class LiveTradingRepository:
    """Broker order events, reconciliation breaks, portfolio halts and daemon sessions."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
