"""The engine against a plain day-by-day reference, bt, and the next-open timing rule."""

from __future__ import annotations

import warnings

import bt
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from skfolio.datasets import load_sp500_dataset

from stocker.core.backtest.engine import Execution, ShareMode, backtest


@pytest.fixture(scope="module")
def sample_prices() -> pd.DataFrame:
    """The real 20-stock sample: adjusted closes shipped inside skfolio, 1990–2022."""
    return load_sp500_dataset().astype(float)


def cost_gap(
    nav_post: float,
    nav_pre: float,
    target: np.ndarray,
    values: np.ndarray,
    rate: np.ndarray,
    min_commission: float,
) -> float:
    """NAV_post − NAV_pre + costs(NAV_post): zero at the convention's post-cost NAV."""
    traded = (target != 0) | (values != 0)
    trade = np.abs(target * nav_post - values)
    cost = np.where(traded, np.maximum(rate * trade, min_commission), 0.0)
    return float(nav_post - nav_pre + cost.sum())


def reference_nav(
    close: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    cost_bps: float,
    cost_per_share: float,
    min_commission: float,
    execution: Execution,
    opens: pd.DataFrame,
    initial_capital: float,
) -> np.ndarray:
    """Day by day: at each trade, find NAV_post with a root finder, hold weights × NAV_post."""
    shares = np.zeros(close.shape[1])
    cash = initial_capital
    nav = []
    positions = close.index.get_indexer(weights.index) + (1 if execution == "next_open" else 0)
    trade_on = dict(zip(positions.tolist(), weights.to_numpy(), strict=True))
    for day in range(len(close)):
        if day in trade_on:
            price = (close if execution == "close" else opens).to_numpy()[day]
            target = trade_on[day]
            values = shares * price
            nav_pre = cash + values.sum()
            rate = cost_bps / 1e4 + cost_per_share / price
            nav_post = brentq(
                cost_gap,
                0.5 * nav_pre,
                nav_pre + 1.0,
                xtol=1e-12,
                rtol=1e-15,
                args=(nav_pre, target, values, rate, min_commission),
            )
            shares = target * nav_post / price
            cash = nav_post - (shares * price).sum()
        nav.append(cash + (shares * close.to_numpy()[day]).sum())
    return np.array(nav)


@pytest.fixture(scope="module")
def schedule(sample_prices: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    close = sample_prices.iloc[-700:]
    rng = np.random.default_rng(11)
    opens = close * rng.uniform(0.97, 1.03, close.shape)
    dates = close.index[3::15]
    raw = rng.dirichlet(np.ones(close.shape[1]), len(dates)) * rng.uniform(
        0.6, 1.0, (len(dates), 1)
    )
    raw[rng.uniform(size=raw.shape) < 0.3] = 0.0  # some names in and out
    return close, opens, pd.DataFrame(raw, index=dates, columns=close.columns)


@pytest.mark.parametrize("execution", ["close", "next_open"])
@pytest.mark.parametrize(
    ("cost_bps", "cost_per_share", "min_commission"), [(0, 0, 0), (10, 0, 0), (7, 0.01, 5.0)]
)
def test_fractional_nav_equals_plain_reference_to_1e10(
    schedule: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    execution: Execution,
    cost_bps: float,
    cost_per_share: float,
    min_commission: float,
) -> None:
    close, opens, weights = schedule

    result = backtest(
        close,
        weights,
        execution=execution,
        open_prices=opens,
        cost_bps=cost_bps,
        cost_per_share=cost_per_share,
        min_commission=min_commission,
    )

    expected = reference_nav(
        close,
        weights,
        execution=execution,
        opens=opens,
        initial_capital=1e6,
        cost_bps=cost_bps,
        cost_per_share=cost_per_share,
        min_commission=min_commission,
    )
    np.testing.assert_allclose(result.nav.to_numpy(), expected, rtol=1e-10, atol=0)
    if cost_bps:
        assert (
            result.costs.sum() > 0
            and result.nav.iloc[-1]
            < backtest(
                close,
                weights,
                execution=execution,
                open_prices=opens,
            ).nav.iloc[-1]
        )


def test_fractional_rebalance_holds_weights_times_post_cost_nav_with_no_cash_left(
    schedule: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    close, _, weights = schedule
    full = weights.div(weights.sum(axis=1), axis=0)

    result = backtest(close, full, cost_bps=25)

    for date in full.index:
        held = result.holdings.loc[date] * close.loc[date]
        np.testing.assert_allclose(held, full.loc[date] * result.nav.loc[date], rtol=1e-12)
        assert abs(result.cash.loc[date]) < 1e-6
        np.testing.assert_allclose(result.weights.loc[date], full.loc[date], rtol=1e-12)
    day = full.index[4]
    traded = result.trades[result.trades["date"] == day]
    assert traded["cost"].sum() == pytest.approx(25e-4 * traded["notional"].abs().sum(), rel=1e-12)
    assert result.costs.loc[day] == pytest.approx(traded["cost"].sum(), rel=1e-12)


def test_nav_equals_bt_with_zero_costs_to_1e12(
    schedule: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    close, _, weights = schedule
    strategy = bt.Strategy(
        "schedule",
        [
            bt.algos.RunOnDate(*weights.index),
            bt.algos.SelectAll(),
            bt.algos.WeighTarget(weights),
            bt.algos.Rebalance(),
        ],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = bt.run(
            bt.Backtest(
                strategy, close, integer_positions=False, initial_capital=1e6, progress_bar=False
            )
        )
    peer_nav = peer.backtests["schedule"].strategy.values.reindex(close.index)

    result = backtest(close, weights)

    np.testing.assert_allclose(result.nav.to_numpy(), peer_nav.to_numpy(), rtol=1e-12, atol=0)


def test_whole_shares_use_the_order_manager_sizing_and_pay_costs_from_cash(
    schedule: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    close, _, weights = schedule

    result = backtest(close, weights, shares="whole", cost_bps=10, min_commission=1.0)

    assert (result.holdings.to_numpy() == np.trunc(result.holdings.to_numpy())).all()
    first = weights.index[0]
    expected = np.trunc(weights.loc[first] * 1e6 / close.loc[first])
    np.testing.assert_array_equal(result.holdings.loc[first], expected)
    trades = result.trades[result.trades["date"] == first]
    cost = np.maximum(10e-4 * trades["notional"].abs(), 1.0)
    np.testing.assert_allclose(trades["cost"], cost, rtol=1e-12)
    assert result.cash.loc[first] == pytest.approx(1e6 - trades["notional"].sum() - cost.sum())
    marks = (result.holdings * close).sum(axis=1)
    np.testing.assert_allclose(result.nav, result.cash + marks, rtol=1e-13)


@pytest.mark.parametrize("shares", ["fractional", "whole"])
def test_changing_day_t_close_changes_no_fill_before_t_plus_1_under_next_open(
    schedule: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], shares: ShareMode
) -> None:
    close, _, weights = schedule
    day = weights.index[5]
    changed = close.copy()
    changed.loc[day] *= 1.3

    before = backtest(close, weights, execution="next_open", shares=shares, cost_bps=10)
    after = backtest(changed, weights, execution="next_open", shares=shares, cost_bps=10)

    early_before = before.trades[before.trades["date"] <= day]
    early_after = after.trades[after.trades["date"] <= day]
    pd.testing.assert_frame_equal(early_before, early_after)
    next_day = close.index[close.index.searchsorted(day) + 1]
    assert (before.trades["date"] == next_day).any()
    if shares == "whole":  # sized on day t's NAV, so the t+1 fill moves with it
        assert not before.trades[before.trades["date"] == next_day].equals(
            after.trades[after.trades["date"] == next_day]
        )
    under_close = backtest(changed, weights, execution="close", shares=shares, cost_bps=10)
    assert not under_close.trades[under_close.trades["date"] == day].empty


def test_missing_price_keeps_the_position_and_marks_at_the_last_close(
    schedule: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    close, _, weights = schedule
    gappy = close.copy()
    rebalance = weights.index[2]
    gappy.loc[rebalance, "AAPL"] = np.nan

    result = backtest(gappy, weights)

    previous = result.holdings.shift(1).loc[rebalance, "AAPL"]
    assert result.holdings.loc[rebalance, "AAPL"] == previous
    assert np.isfinite(result.nav).all()
