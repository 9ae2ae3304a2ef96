"""Daily and intraday bars and corporate actions: the facts prices are made of."""

from __future__ import annotations

from sqlalchemy import Connection


class BarRepository:
    """prices_daily, prices_intraday and corporate_actions, read and written in one transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
