"""The trend strategy's backtest: the strategy functions make a weights schedule for `backtest`.

The drawdown rule (`drawdown_rule`, with its re-entry after a cool-off) makes the schedule
depend on the NAV it produces. The NAV marked at day t's
close (before any trade at that close) depends only on decisions made before t, so the schedule
is found by a forward fixed point: run the engine, find the first date whose drawdown multiplier
differs from the one assumed, adopt the new multipliers from there, run again. Each pass fixes
at least one more date for good, and it ends when the assumed and the realized multipliers agree
on every date — the same answer as deciding day by day, as the live pipeline does. The first
guess comes from a cheap scalar replay (`_guess_multipliers`), so the engine usually runs once
or twice; the guess only saves time, the fixed point decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stocker.core.backtest.engine import BacktestResult, Execution, ShareMode, backtest
from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.portfolio import (
    Targets,
    drawdown_multiplier,
    drawdown_rule,
    portfolio_targets,
    predicted_vol,
)
from stocker.core.strategy.signals import Signals, compute_signals


@dataclass(frozen=True)
class TrendBacktest:
    """The engine's result plus every strategy intermediate that produced its weights."""

    result: BacktestResult
    signals: Signals
    targets: Targets
    passes: int


def trend_backtest(
    prices: pd.DataFrame,
    config: StrategyConfig | None = None,
    *,
    execution: Execution = "next_open",
    shares: ShareMode = "fractional",
    cost_bps: float = 0.0,
    cost_per_share: float = 0.0,
    min_commission: float = 0.0,
    initial_capital: float = 1_000_000.0,
    open_prices: pd.DataFrame | None = None,
) -> TrendBacktest:
    """Backtest the trend strategy on adjusted closes, rebalancing to its targets every session.

    ``min_trade`` of the engine is the config's ``min_trade_fraction``; the defaults execute
    market-on-open the next session, as the live order manager does.
    """
    cfg = config or StrategyConfig()
    signals = compute_signals(prices, cfg)
    predicted = predicted_vol(signals.raw_weight, prices, cfg)
    # A decision at t earns from t+1 (close) or from t+2 (next open on flat bars).
    lag = 2 if execution == "next_open" and open_prices is None else 1
    lanes = _ideal_lane_returns(prices, signals, predicted, cfg, lag, cost_bps)
    drawdown = _replay_drawdown(lanes, cfg, lag)
    assumed = drawdown_multiplier(drawdown, cfg)
    passes = 0
    while True:
        passes += 1
        targets = portfolio_targets(signals.raw_weight, predicted, drawdown, cfg)
        result = backtest(
            prices,
            targets.exposure,
            cost_bps=cost_bps,
            cost_per_share=cost_per_share,
            min_commission=min_commission,
            execution=execution,
            shares=shares,
            min_trade=cfg.min_trade_fraction,
            initial_capital=initial_capital,
            open_prices=open_prices,
        )
        # The NAV the decision at t sees: marked at t's close, before trading at that close.
        marked = result.nav.to_numpy()
        if execution == "close":
            marked = marked + result.costs.to_numpy()
        realized_drawdown, realized = drawdown_rule(marked, cfg, initial=initial_capital)
        if np.array_equal(realized, assumed):
            # Same multipliers, so the same exposures; rebuilt to quote the realized drawdown.
            targets = portfolio_targets(signals.raw_weight, predicted, realized_drawdown, cfg)
            return TrendBacktest(result, signals, targets, passes)
        # Dates up to the first disagreement are settled. The next guess replays the engine's
        # own daily returns in the multiplier each date ran with, the ideal ones elsewhere.
        daily = np.diff(marked, prepend=initial_capital) / np.r_[initial_capital, marked[:-1]]
        ran_with = np.r_[np.full(lag, np.nan), assumed[:-lag]]
        for multiplier, lane in lanes.items():
            lane[ran_with == multiplier] = daily[ran_with == multiplier]
        guess = _replay_drawdown(lanes, cfg, lag)
        first = int(np.flatnonzero(realized != assumed)[0])
        drawdown = np.r_[realized_drawdown[: first + 1], guess[first + 1 :]]
        assumed = drawdown_multiplier(drawdown, cfg)


def _ideal_lane_returns(
    prices: pd.DataFrame,
    signals: Signals,
    predicted: pd.Series,
    config: StrategyConfig,
    lag: int,
    cost_bps: float,
) -> dict[float, np.ndarray]:
    """Daily portfolio returns if every decision used multiplier 1, ½ or 0: no rounding, drift."""
    returns = np.nan_to_num(prices.pct_change(fill_method=None).to_numpy(), nan=0.0)
    lanes = {0.0: np.zeros(len(prices))}
    for multiplier in (1.0, 0.5):
        scaled = portfolio_targets(
            signals.raw_weight, predicted, np.zeros(len(prices)), config
        ).exposure.to_numpy()
        scaled = np.clip(scaled / config.asset_cap * multiplier, -1.0, 1.0) * config.asset_cap
        held = np.zeros_like(scaled)
        held[lag:] = scaled[:-lag]
        turnover = np.abs(np.diff(held, axis=0, prepend=0.0)).sum(axis=1)
        lanes[multiplier] = (held * returns).sum(axis=1) - cost_bps / 1e4 * turnover
    return lanes


def _replay_drawdown(
    lanes: dict[float, np.ndarray], config: StrategyConfig, lag: int
) -> np.ndarray:
    """Drawdown path of a scalar day-by-day replay over the lanes' daily returns."""
    n_dates = len(lanes[1.0])
    decided = np.ones(n_dates)
    drawdown = np.zeros(n_dates)
    nav = peak = 1.0
    halve, zero = config.drawdown_halve, config.drawdown_zero
    cooloff = config.drawdown_cooloff if config.drawdown_reentry == "cooloff" else None
    at_zero = 0
    for row in range(n_dates):
        if row >= lag:
            nav *= 1.0 + lanes[float(decided[row - lag])][row]
        peak = max(peak, nav)
        level = 1.0 - nav / peak
        at_zero = at_zero + 1 if level > zero else 0
        if cooloff is not None and at_zero > cooloff:  # as `drawdown_rule` resets the mark
            peak, level, at_zero = nav, 0.0, 0
        drawdown[row] = level
        decided[row] = 0.0 if level > zero else 0.5 if level > halve else 1.0
    return drawdown
