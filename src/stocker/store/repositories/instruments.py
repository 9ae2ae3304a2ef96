"""Instruments and their point-in-time metrics."""

from __future__ import annotations

from sqlalchemy import Connection


class InstrumentRepository:
    """instrument_info and instrument_metrics."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
