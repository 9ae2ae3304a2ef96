"""Research backtest runs and everything they produce."""

from __future__ import annotations

from sqlalchemy import Connection


class BacktestRepository:
    """backtest_runs, backtest_holdings, backtest_timeseries, backtest_factor_exposures, backtest_sector_exposures and backtest_trades."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
