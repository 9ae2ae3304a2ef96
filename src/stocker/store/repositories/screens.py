"""The screener's reads: compiled, parameterized filters over fundamentals, factors and risk."""

from __future__ import annotations

from sqlalchemy import Connection


class ScreenRepository:
    """Runs a compiled screen as of a date (read model)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
