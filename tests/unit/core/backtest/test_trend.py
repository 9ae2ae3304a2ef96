"""The trend backtest decides like the live pipeline: day by day, from data up to that day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skfolio.datasets import load_sp500_dataset

from stocker.core.backtest.engine import Execution, ShareMode, backtest
from stocker.core.backtest.trend import trend_backtest
from stocker.core.strategy.config import StrategyConfig
from stocker.core.strategy.portfolio import (
    drawdown_from_nav,
    portfolio_targets,
    predicted_vol,
)
from stocker.core.strategy.signals import compute_signals


@pytest.fixture(scope="module")
def sample_prices() -> pd.DataFrame:
    """The real 20-stock sample: adjusted closes shipped inside skfolio, 1990–2022."""
    return load_sp500_dataset().astype(float)


# Short windows and tight drawdown levels so a short sample crosses both levels.
FAST = StrategyConfig(
    lookback_days=20,
    vol_seed_returns=10,
    target_vol_annual=0.4,
    drawdown_halve=0.03,
    drawdown_zero=0.12,
    long_short=True,
)


@pytest.mark.parametrize(("execution", "shares"), [("next_open", "fractional"), ("close", "whole")])
def test_trend_backtest_equals_deciding_one_day_at_a_time(
    sample_prices: pd.DataFrame, execution: Execution, shares: ShareMode
) -> None:
    prices = sample_prices.iloc[-2000:-1850]
    fast = trend_backtest(prices, FAST, execution=execution, shares=shares, cost_bps=10.0)

    signals = compute_signals(prices, FAST)
    predicted = predicted_vol(signals.raw_weight, prices, FAST)
    drawdown = np.zeros(len(prices))
    for day in range(len(prices)):
        # The NAV at this close comes from the decisions already taken (days before this one).
        so_far = portfolio_targets(
            signals.raw_weight.iloc[:day], predicted.iloc[:day], drawdown[:day], FAST
        ).exposure
        run = backtest(
            prices.iloc[: day + 1],
            so_far,
            min_trade=FAST.min_trade_fraction,
            execution=execution,
            shares=shares,
            cost_bps=10.0,
        )
        marked = run.nav.to_numpy() + (run.costs.to_numpy() if execution == "close" else 0.0)
        drawdown[day] = drawdown_from_nav(marked, initial=1e6)[-1]
    daily = portfolio_targets(signals.raw_weight, predicted, drawdown, FAST)

    multipliers = set(daily.drawdown_multiplier)
    assert {1.0, 0.5} <= multipliers, "the window must cross the halving level"
    pd.testing.assert_frame_equal(fast.targets.exposure, daily.exposure)
    np.testing.assert_allclose(fast.targets.drawdown, drawdown, rtol=0, atol=1e-12)


def test_weights_decided_at_a_date_ignore_every_later_price(sample_prices: pd.DataFrame) -> None:
    prices = sample_prices.iloc[-900:]
    rng = np.random.default_rng(8)
    base = trend_backtest(prices, shares="whole", cost_bps=5.0)
    for cut in (300, 520, 780):
        changed = prices.copy()
        changed.iloc[cut + 1 :] *= rng.uniform(0.7, 1.3, changed.iloc[cut + 1 :].shape)

        moved = trend_backtest(changed, shares="whole", cost_bps=5.0)

        pd.testing.assert_frame_equal(
            base.targets.exposure.iloc[: cut + 1], moved.targets.exposure.iloc[: cut + 1]
        )
        decided = prices.index[cut]
        pd.testing.assert_frame_equal(
            base.result.trades[base.result.trades["date"] <= decided],
            moved.result.trades[moved.result.trades["date"] <= decided],
        )
        assert not base.targets.exposure.iloc[cut + 1 :].equals(
            moved.targets.exposure.iloc[cut + 1 :]
        )


def test_changing_day_t_close_trades_nothing_different_before_t_plus_1(
    sample_prices: pd.DataFrame,
) -> None:
    prices = sample_prices.iloc[-600:]
    day = prices.index[400]
    changed = prices.copy()
    changed.loc[day] *= 1.25

    # Only the close moves: the opens stay (on flat bars the open would be the close itself).
    opens = prices * 1.001
    before = trend_backtest(prices, shares="whole", open_prices=opens)
    after = trend_backtest(changed, shares="whole", open_prices=opens)

    trades_before, trades_after = before.result.trades, after.result.trades
    pd.testing.assert_frame_equal(
        trades_before[trades_before["date"] <= day], trades_after[trades_after["date"] <= day]
    )
    assert not before.targets.exposure.loc[day].equals(after.targets.exposure.loc[day])
    next_day = prices.index[401]
    assert (
        not trades_before[trades_before["date"] == next_day]
        .reset_index(drop=True)
        .equals(trades_after[trades_after["date"] == next_day].reset_index(drop=True))
    )


def test_trend_targets_respect_cap_and_gross_limit_on_the_sample(
    sample_prices: pd.DataFrame,
) -> None:
    result = trend_backtest(sample_prices.iloc[-1500:], StrategyConfig(asset_cap=0.2))

    exposure = result.targets.exposure.to_numpy()
    assert (np.abs(exposure) <= 0.2 + 1e-12).all()
    assert (np.abs(exposure).sum(axis=1) <= 1.0 + 1e-12).all()
    assert result.targets.is_capped.to_numpy().any()
