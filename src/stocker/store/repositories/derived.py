"""Tables computed from prices: returns, the dynamic trading universe, breadth, sentiment."""

from __future__ import annotations

from sqlalchemy import Connection


class DerivedRepository:
    """price_returns, trading_universe, market_breadth and market_sentiment."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
