"""The live pipeline, session by session, against real PostgreSQL: it trades what the
vectorized backtest trades (the sample's bars are flat, open = close, so market on open at t+1
fills at t+1's close in both), and replaying a day or a message changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from stocker.bus.handlers import HandlerRegistry
from stocker.core.backtest.trend import trend_backtest
from stocker.core.strategy.config import StrategyConfig
from stocker.data.sample import load_sample
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.days import replay, run_day
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

pytestmark = pytest.mark.integration

STOCKS = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip
CAPITAL = Decimal(1_000_000)
PER_SHARE, MINIMUM = Decimal("0.005"), Decimal("1")


def _pipeline(
    config: StrategyConfig, broker: PaperBroker | None = None
) -> tuple[Stages, HandlerRegistry]:
    setup = PortfolioSetup("trend", "trend-v1", STOCKS, config, capital=CAPITAL)
    stages = Stages(
        (setup,),
        broker or PaperBroker(commission_per_share=PER_SHARE, min_commission=MINIMUM),
    )
    registry = HandlerRegistry()
    stages.register(registry)
    return stages, registry


def _factory(engine: Engine):  # type: ignore[no-untyped-def]
    return lambda: SqlUnitOfWork(engine)


def _prices(uow: SqlUnitOfWork, end: dt.date) -> pd.DataFrame:
    with uow:
        return uow.trading.adj_close_history(STOCKS, end)


def _orders(uow: SqlUnitOfWork) -> pd.DataFrame:
    with uow:
        rows = uow.trading.orders_between("trend", dt.date(1900, 1, 1), dt.date(2100, 1, 1))
    return pd.DataFrame(
        [
            (pd.Timestamp(o.date), o.symbol, float(o.qty if o.side == "BUY" else -o.qty))
            for o in rows
        ],
        columns=["date", "symbol", "quantity"],
    )


@pytest.mark.slow
def test_replay_trades_like_the_backtest(engine: Engine, uow: SqlUnitOfWork) -> None:
    load_sample(uow)
    config = StrategyConfig()
    stages, registry = _pipeline(config)
    with uow:
        first = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(1991, 1, 1))[0]
    end = first + dt.timedelta(days=730)
    reports = replay(_factory(engine), registry, stages, first, end)

    prices = _prices(uow, end)
    expected = trend_backtest(
        prices,
        config,
        execution="next_open",
        shares="whole",
        cost_per_share=float(PER_SHARE),
        min_commission=float(MINIMUM),
        initial_capital=float(CAPITAL),
    ).result
    trades = expected.trades[["date", "symbol", "quantity"]].copy()
    trades["symbol"] = trades["symbol"].astype(str)
    trades = trades.sort_values(["date", "symbol"]).reset_index(drop=True)
    orders = _orders(uow)
    # The last decision's orders execute after the replay ends; the backtest has no row for them.
    orders = orders[orders["date"] <= prices.index[-1]]
    orders = orders.sort_values(["date", "symbol"]).reset_index(drop=True)
    assert len(trades) > 100
    pd.testing.assert_frame_equal(orders, trades, check_dtype=False)

    nav = pd.Series(
        {pd.Timestamp(r.day): float(r.states["trend"].nav) for r in reports}, name="nav"
    )
    assert len(nav) == len(prices)
    np.testing.assert_allclose(nav.to_numpy(), expected.nav.to_numpy(), rtol=1e-8, atol=0)


def test_a_day_run_twice_creates_nothing_new(engine: Engine, uow: SqlUnitOfWork) -> None:
    load_sample(uow)
    config = StrategyConfig(lookback_days=20, vol_seed_returns=10)
    stages, registry = _pipeline(config, PaperBroker(partial_fills=True, seed=7))
    factory = _factory(engine)
    with uow:
        days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(1990, 3, 1))
    replay(factory, registry, stages, days[0], days[-1])
    with uow:
        before = uow.trading.counts()
        states = uow.ledger.states("trend")
    assert before["orders"] > 0 and before["fills"] > before["orders"]  # partial fills ran
    for day in days[-3:]:
        run_day(factory, registry, stages, day)
    with uow:
        assert uow.trading.counts() == before
        assert uow.ledger.states("trend") == states


def test_a_bar_that_never_arrives_does_not_block_the_day(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    load_sample(uow)
    config = StrategyConfig(lookback_days=20, vol_seed_returns=10)
    stages, registry = _pipeline(config)
    factory = _factory(engine)
    with uow:
        days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(1990, 3, 1))
        missing = days[-5]
        uow.connection.execute(
            text("DELETE FROM prices_daily WHERE symbol = 'KO' AND date = :d"), {"d": missing}
        )
        uow.commit()
    replay(factory, registry, stages, days[0], days[-1])
    with uow:
        targets = uow.trading.targets_on("trend", missing)
        assert set(targets) == set(STOCKS)
        assert "cut-off" in (targets["KO"].reason or "")
        assert targets["KO"].signal_id is None
        assert {s.date for s in uow.ledger.states("trend")} >= set(days)
        for order in uow.trading.orders_on(missing, portfolio_id="trend"):
            if order.symbol == "KO":  # its bar never came: canceled at the cut-off
                assert order.status == "CANCELED"
                assert uow.trading.order_events(order.order_id)[-1].status == "CANCELED"
