"""The trend strategy as pure functions: signals, portfolio targets and order sizing.

Both runners use these: the vectorized backtest (`stocker.core.backtest.trend_backtest`) over a
whole panel, and the live pipeline over the history up to today (its last row).
"""

from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.orders import SizedOrders, orders_for_day, size_orders
from stocker.core.strategy.portfolio import (
    Targets,
    drawdown_from_nav,
    drawdown_multiplier,
    drawdown_rule,
    ewma_covariance,
    portfolio_targets,
    predicted_vol,
)
from stocker.core.strategy.signals import (
    Signals,
    compute_signals,
    direction,
    ewma_vol,
    history_sessions,
    lookback_return,
    raw_weights,
)

__all__ = [
    "Signals",
    "SizedOrders",
    "StrategyConfig",
    "Targets",
    "compute_signals",
    "direction",
    "drawdown_from_nav",
    "drawdown_multiplier",
    "drawdown_rule",
    "ewma_covariance",
    "ewma_vol",
    "history_sessions",
    "lookback_return",
    "orders_for_day",
    "portfolio_targets",
    "predicted_vol",
    "raw_weights",
    "size_orders",
]
