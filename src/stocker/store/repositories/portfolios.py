"""Research portfolios, their constraints and their weights per rebalance date."""

from __future__ import annotations

from sqlalchemy import Connection


class PortfolioRepository:
    """portfolios, portfolio_constraints and portfolio_weights."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
