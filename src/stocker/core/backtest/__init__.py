"""The one backtest engine and the trend strategy's backtest built on it."""

from stocker.core.backtest.engine import BacktestResult, backtest
from stocker.core.backtest.trend import TrendBacktest, trend_backtest

__all__ = ["BacktestResult", "TrendBacktest", "backtest", "trend_backtest"]
