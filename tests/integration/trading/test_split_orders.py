"""Open orders across a split, on real PostgreSQL: an order sized at day t's close and executing
at t+1's open, when t+1 is a split's ex-date, is carried across the split as a broker does (its
quantity × the ratio, whole shares toward zero, the remainder said in an ADJUSTED event), once
however often it is delivered; the ledger's position and NAV stay exact; a live broker's orders
and a webhook's fills are left as their broker executes them (Alpaca adjusts open orders
itself)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from stocker.bus.handlers import HandlerRegistry
from stocker.core.backtest.trend import trend_backtest
from stocker.core.messages import (
    MarketBar,
    OrderCreated,
    OrderFilled,
    PortfolioTargets,
    TargetExposure,
    TargetsMeta,
)
from stocker.core.strategy.config import StrategyConfig
from stocker.data.sample import load_sample
from stocker.store import migrate
from stocker.store.repositories.trading import OrderRow
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.brokers.base import Broker
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.daemon import HeldForLiveBroker
from stocker.trading.days import replay, run_day
from stocker.trading.execution import create_orders, execute_order, order_uuid
from stocker.trading.fill_notices import FillNotice, record_fill_notices
from stocker.trading.ledger import rebuild, verify
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

P = "splits"
SYMBOL = "AAA"
D0, D1, D2 = dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)
SETUP = PortfolioSetup(
    P, "splits-v1", (SYMBOL,), StrategyConfig(lookback_days=10), capital=Decimal(10_000)
)
BROKER = PaperBroker(commission_per_share=Decimal("0.01"))


def _market(engine: Engine, bars: dict[dt.date, tuple[str, str]]) -> None:
    """The instrument and its bars (open, close) by date; adj_close as close (unused here)."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES (:s)"), {"s": SYMBOL})
        for day, (open_, close) in bars.items():
            conn.execute(
                text(
                    "INSERT INTO prices_daily (symbol, date, open, high, low, close, adj_close, "
                    "volume, source) VALUES (:s, :d, :o, :h, :l, :c, :c, 1000, 'test')"
                ),
                {
                    "s": SYMBOL,
                    "d": day,
                    "o": Decimal(open_),
                    "h": max(Decimal(open_), Decimal(close)),
                    "l": min(Decimal(open_), Decimal(close)),
                    "c": Decimal(close),
                },
            )


def _split(engine: Engine, day: dt.date, ratio: str, symbol: str = SYMBOL) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO corporate_actions (symbol, date, action_type, value, source) "
                "VALUES (:s, :d, 'SPLIT', :v, 'test')"
            ),
            {"s": symbol, "d": day, "v": Decimal(ratio)},
        )


def _pipeline(broker: Broker = BROKER) -> tuple[Stages, HandlerRegistry]:
    """The broker and ledger stages; the test is the order manager (`create_orders` on the
    targets it chooses), so the strategy's own decisions on two bars of history stay out."""
    stages = Stages((SETUP,), broker)
    registry = HandlerRegistry()
    registry.register(MarketBar, "broker", stages.broker_on_bar, batch=stages.broker_on_bars)
    registry.register(OrderCreated, "broker", stages.broker_on_order)
    registry.register(OrderFilled, "ledger", stages.ledger_on_fill, batch=stages.ledger_on_fills)
    registry.register(MarketBar, "ledger", stages.ledger_on_bar, batch=stages.ledger_on_bars)
    return stages, registry


def _decide(uow: SqlUnitOfWork, day: dt.date, exposure: float) -> OrderRow:
    """The order manager sizes the day's order from a target exposure (at the day's close)."""
    message = PortfolioTargets(
        portfolio_id=P,
        date=day,
        targets=(TargetExposure(symbol=SYMBOL, target_exposure=exposure, reason=None),),
        meta=TargetsMeta(scaling_factor=1.0, drawdown=0.0),
    )
    with uow:
        create_orders(uow, SETUP, message)
        uow.commit()
    with uow:
        orders = uow.trading.orders_on(day + dt.timedelta(days=1), portfolio_id=P)
    assert len(orders) == 1
    return orders[0]


def _events(uow: SqlUnitOfWork, order: OrderRow) -> list[tuple[str, dict | None]]:
    with uow:
        return [(e.status, e.detail) for e in uow.trading.order_events(order.order_id)]


def _exact(uow: SqlUnitOfWork) -> None:
    """Rebuilding the states from the journal changes nothing; verify finds nothing."""
    assert rebuild(uow, P).differences == ()
    report = verify(uow, P)
    assert report.ok, report


def _run(engine: Engine, stages: Stages, registry: HandlerRegistry, days: Sequence[dt.date]):  # type: ignore[no-untyped-def]
    factory = lambda: SqlUnitOfWork(engine)  # noqa: E731
    return [run_day(factory, registry, stages, day) for day in days]


def _buy_across_a_split(
    engine: Engine,
    uow: SqlUnitOfWork,
    ex_bar: tuple[str, str],
    ratio: str,
    broker: Broker = BROKER,
) -> tuple[Stages, HandlerRegistry, OrderRow]:
    """D0 (a bar at 50) is run and a buy of half the capital sized at its close, to execute at
    D1's open; D1 (its bar `ex_bar`, open and close) is the ex-date of a split of `ratio`."""
    _market(engine, {D0: ("50", "50"), D1: ex_bar})
    stages, registry = _pipeline(broker)
    _run(engine, stages, registry, [D0])
    order = _decide(uow, D0, 0.5)
    _split(engine, D1, ratio)
    return stages, registry, order


def test_a_buy_sized_before_a_two_for_one_split_fills_twice_the_shares_at_its_open(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    stages, registry, order = _buy_across_a_split(engine, uow, ("25", "25.10"), "2")
    # 0.5 × 10,000 / 50
    assert (order.side, order.qty, order.date) == ("BUY", Decimal(100), D1)

    (report,) = _run(engine, stages, registry, [D1])

    with uow:
        fills = uow.trading.fills_of(order.order_id)
        stored = uow.trading.order(order.order_id)
        position = uow.ledger.position(P, SYMBOL, before=D2)
        holdings = uow.ledger.holdings(P)[D1]
    assert sum(f.qty for f in fills) == Decimal(200)
    assert {f.price for f in fills} == {Decimal("25.0000")}
    assert sum(f.commission for f in fills) == Decimal("2.0000")  # per share, of 200
    assert stored is not None and stored.status == "FILLED"
    assert stored.qty == Decimal(100)  # the decision stays; the adjustment is an event
    events = _events(uow, order)
    assert [status for status, _ in events] == ["PENDING", "ADJUSTED", "FILLED"]
    detail = events[1][1]
    assert detail is not None
    assert {k: detail[k] for k in ("qty_before", "ratio", "qty", "remainder", "ex_date")} == {
        "qty_before": "100",
        "ratio": "2/1",
        "qty": "200",
        "remainder": "0",
        "ex_date": D1.isoformat(),
    }
    # cash 10,000 − 200 × 25 − 2.00; NAV = cash + 200 × 25.10, to the cent
    assert position.quantity == Decimal(200) and position.cost == Decimal("5000.0000")
    assert [(h.symbol, h.qty) for h in holdings] == [(SYMBOL, Decimal(200))]
    state = report.states[P]
    assert state.cash == Decimal("4998.0000")
    assert state.nav == Decimal("10018.0000")
    _exact(uow)

    # The day run again, the order message and the bar delivered again, a stale PENDING copy
    # of the order executed again: no second adjustment, fill or entry.
    with uow:
        entries = len(uow.ledger.entries(P))
    _run(engine, stages, registry, [D1])
    with uow:
        stages.broker_on_order(
            OrderCreated(
                order_uuid=order.order_id,
                portfolio_id=P,
                symbol=SYMBOL,
                side="BUY",
                qty=order.qty,
                order_type="MOO",
                target_date=D1,
            ),
            uow,
        )
        execute_order(uow, BROKER, order, Decimal(25))  # `order` is the PENDING row
        uow.commit()
    assert _events(uow, order) == events
    with uow:
        assert uow.trading.fills_of(order.order_id) == fills
        assert len(uow.ledger.entries(P)) == entries
    _exact(uow)


def test_a_sell_across_a_one_for_three_reverse_split_rounds_toward_zero_and_says_the_remainder(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    _market(engine, {D0: ("50", "50"), D1: ("50", "51"), D2: ("150", "153")})
    stages, registry = _pipeline()
    _run(engine, stages, registry, [D0])
    bought = _decide(uow, D0, 0.5)
    _run(engine, stages, registry, [D1])
    sell = _decide(uow, D1, 0.0)  # close the position: sell the 100 held
    assert (bought.qty, sell.side, sell.qty, sell.date) == (Decimal(100), "SELL", Decimal(100), D2)
    _split(engine, D2, "0.3333")  # 1-for-3, as NUMERIC(14,4) keeps it

    (report,) = _run(engine, stages, registry, [D2])

    events = _events(uow, sell)
    assert [status for status, _ in events] == ["PENDING", "ADJUSTED", "FILLED"]
    detail = events[1][1]
    assert detail is not None
    assert (detail["ratio"], detail["exact"], detail["qty"], detail["remainder"]) == (
        "1/3",
        "33.3333",
        "33",
        "0.3333",
    )
    assert "remainder 0.3333" in detail["reason"]
    with uow:
        fills = uow.trading.fills_of(sell.order_id)
        position = uow.ledger.position(P, SYMBOL, before=D2 + dt.timedelta(days=1))
        split = [e for e in uow.ledger.entries(P) if e.kind == "SPLIT"]
    assert sum(f.qty for f in fills) == Decimal(33)
    assert {f.price for f in fills} == {Decimal("150.0000")}
    # The ledger splits the 100 held as the order did (1/3: 33 1/3 shares): 33 kept, which the
    # sell sells, and a third of a share paid in cash at the ex-date's close of 153.
    assert len(split) == 1 and split[0].date == D2
    assert position.quantity == 0
    in_lieu = {p.account: p.amount for p in split[0].postings}
    assert in_lieu["assets:cash"] == Decimal(51) and in_lieu["income:realized_pnl"] == -1
    # cash 10,000 − 5,000 − 1.00 (buy) + 33 × 150 − 0.33 (sell) + 51 (in lieu); NAV = cash,
    # what 33 1/3 shares at 153 with the sell's 33 at 150 come to: nothing dropped
    state = report.states[P]
    assert state.cash == Decimal("9999.6700")
    assert state.nav == Decimal("9999.6700")
    _exact(uow)


def test_a_buy_across_a_reverse_split_rounds_toward_zero_and_one_too_small_is_canceled(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    stages, registry, order = _buy_across_a_split(engine, uow, ("150", "150.60"), "0.3333")

    (report,) = _run(engine, stages, registry, [D1])

    with uow:
        fills = uow.trading.fills_of(order.order_id)
    assert sum(f.qty for f in fills) == Decimal(33)
    adjusted = dict(_events(uow, order))["ADJUSTED"]
    assert adjusted is not None and adjusted["remainder"] == "0.3333"
    state = report.states[P]
    assert state.cash == Decimal(10_000) - 33 * Decimal(150) - Decimal("0.33")
    assert state.nav == state.cash + 33 * Decimal("150.60")
    _exact(uow)

    # An order of 2 shares ex a 1-for-3 split is 2/3 of a share: nothing is left to buy.
    small = OrderRow(
        order_id=order_uuid(P, SYMBOL, D2),
        portfolio_id=P,
        date=D2,
        symbol=SYMBOL,
        side="BUY",
        qty=Decimal(2),
        type="MOO",
        status="PENDING",
        target_exposure_id=None,
    )
    _split(engine, D2, "0.3333")
    with uow:
        uow.trading.add_order(small)
        execute_order(uow, BROKER, small, Decimal(450))
        uow.commit()
    with uow:
        stored = uow.trading.order(small.order_id)
        assert uow.trading.fills_of(small.order_id) == []
    assert stored is not None and stored.status == "CANCELED"
    statuses = _events(uow, small)
    assert [s for s, _ in statuses] == ["ADJUSTED", "CANCELED"]
    assert statuses[0][1] is not None and statuses[0][1]["remainder"] == "0.6667"


def test_two_deliveries_of_one_order_at_once_adjust_it_once(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    *_, order = _buy_across_a_split(engine, uow, ("25", "25.10"), "2")

    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            worker = SqlUnitOfWork(engine)
            with worker:
                start.wait()
                execute_order(worker, BROKER, order, Decimal(25))
                worker.commit()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    statuses = [status for status, _ in _events(uow, order)]
    assert statuses.count("ADJUSTED") == 1
    with uow:
        assert sum(f.qty for f in uow.trading.fills_of(order.order_id)) == Decimal(200)


def test_a_live_broker_s_orders_are_left_to_the_broker_which_adjusts_them_itself(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    stages, registry, order = _buy_across_a_split(
        engine, uow, ("25", "25.10"), "2", HeldForLiveBroker()
    )

    _run(engine, stages, registry, [D1])

    with uow:
        stored = uow.trading.order(order.order_id)
        assert uow.trading.fills_of(order.order_id) == []
    assert stored is not None and stored.qty == Decimal(100)  # what Alpaca is sent
    assert "ADJUSTED" not in [status for status, _ in _events(uow, order)]


def test_fills_a_broker_pushes_on_a_split_day_are_recorded_as_it_executed_them(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    *_, order = _buy_across_a_split(engine, uow, ("25", "25.10"), "2", HeldForLiveBroker())
    at = dt.datetime(2024, 1, 3, 14, 30, tzinfo=dt.UTC)

    record_fill_notices(
        SqlUnitOfWork(engine),
        [FillNotice("ext-1", order.order_id, Decimal(200), Decimal(25), at)],
    )

    assert [status for status, _ in _events(uow, order)] == ["PENDING", "FILLED"]
    with uow:
        assert [f.qty for f in uow.trading.fills_of(order.order_id)] == [Decimal(200)]


@pytest.mark.parametrize("ratio", ["2", "0.5"])
def test_a_split_of_another_symbol_or_day_leaves_the_order_alone(
    engine: Engine, uow: SqlUnitOfWork, ratio: str
) -> None:
    _market(engine, {D0: ("50", "50"), D1: ("50", "50.50")})
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('BBB')"))
        conn.execute(
            text(
                "INSERT INTO corporate_actions (symbol, date, action_type, value) VALUES "
                "('BBB', :d1, 'SPLIT', :v), (:s, :d0, 'SPLIT', :v), (:s, :d1, 'DIVIDEND', 0.5)"
            ),
            {"d0": D0, "d1": D1, "v": Decimal(ratio), "s": SYMBOL},
        )
    stages, registry = _pipeline()
    _run(engine, stages, registry, [D0])
    order = _decide(uow, D0, 0.5)
    _run(engine, stages, registry, [D1])
    with uow:
        assert sum(f.qty for f in uow.trading.fills_of(order.order_id)) == Decimal(100)
    assert [status for status, _ in _events(uow, order)] == ["PENDING", "FILLED"]


def test_the_adjustments_survive_a_downgrade_of_their_revision_and_come_back(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    stages, registry, order = _buy_across_a_split(engine, uow, ("25", "25.10"), "2")
    _run(engine, stages, registry, [D1])
    adjusted = _events(uow, order)
    assert [status for status, _ in adjusted] == ["PENDING", "ADJUSTED", "FILLED"]
    before = ScriptDirectory(str(migrate.MIGRATIONS)).get_revision("0011_order_adjustments")
    assert before is not None and isinstance(before.down_revision, str)

    migrate.downgrade(engine, before.down_revision)
    down = _events(uow, order)
    assert [status for status, _ in down] == ["PENDING", "PENDING", "FILLED"]
    assert down[1][1] == {**(adjusted[1][1] or {}), "event": "ADJUSTED"}

    migrate.upgrade(engine)
    assert _events(uow, order) == adjusted


@pytest.mark.slow
def test_the_replay_over_a_split_holds_the_backtest_s_exposure_after_it(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    """The sample's bars are flat and unsplit; one stock is given a 2-for-1 split on a session
    where the backtest enters it: its raw bars before the ex-date doubled, its adjusted closes
    (what signals and the backtest use) unchanged. The order sized on the doubled close is
    carried across the split, so the pipeline holds what the backtest holds (in value: the
    pipeline's pre-split share counts are coarser by one share, two after the split)."""
    load_sample(uow)
    stocks = ("AAPL", "BAC", "CVX", "JNJ", "KO", "MSFT", "PG", "XOM")
    config = StrategyConfig(lookback_days=20, vol_seed_returns=10)
    setup = PortfolioSetup("trend", "trend-v1", stocks, config, capital=Decimal(1_000_000))
    with uow:
        first = uow.trading.sessions_with_bars(stocks, dt.date(1990, 1, 1), dt.date(1991, 1, 1))[0]
        prices = uow.trading.adj_close_history(stocks, first + dt.timedelta(days=300))
    expected = trend_backtest(
        prices, config, execution="next_open", shares="whole", initial_capital=1_000_000.0
    ).result
    held = expected.holdings
    entries = [
        (day, symbol)
        for row, day in enumerate(held.index)
        if len(held) // 3 <= row < 2 * len(held) // 3
        for symbol in stocks
        if held.iloc[row - 1][symbol] == 0 and expected.weights.iloc[row][symbol] > 0.05
    ]
    assert entries, "the backtest enters no stock in the middle of the window"
    ex_ts, split = entries[0]
    ex_date = ex_ts.date()
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE prices_daily SET open = open * 2, high = high * 2, low = low * 2, "
                "close = close * 2 WHERE symbol = :s AND date < :d"
            ),
            {"s": split, "d": ex_date},
        )
    _split(engine, ex_date, "2", symbol=split)

    stages = Stages((setup,), PaperBroker())
    registry = HandlerRegistry()
    stages.register(registry)
    reports = replay(
        lambda: SqlUnitOfWork(engine), registry, stages, first, prices.index[-1].date()
    )

    with uow:
        (order,) = uow.trading.orders_on(ex_date, symbol=split)
        events = [e.status for e in uow.trading.order_events(order.order_id)]
        holdings = uow.ledger.holdings("trend")
        closes = {
            day: uow.trading.bars_on([split], day)[split].close
            for day in (ts.date() for ts in prices.index[prices.index >= ex_ts])
        }
    navs = {r.day: r.states["trend"].nav for r in reports}
    pipeline = pd.Series(
        {
            pd.Timestamp(day): float(
                sum((h.qty for h in holdings.get(day, []) if h.symbol == split), Decimal(0))
                * close
                / navs[day]
            )
            for day, close in closes.items()
        }
    )
    backtest = expected.weights.loc[pipeline.index, split]
    one_share = np.array([2 * float(close) / float(navs[day]) for day, close in closes.items()])
    assert backtest.iloc[0] > 0.05
    assert (np.abs(pipeline.to_numpy() - backtest.to_numpy()) <= one_share).all(), pd.DataFrame(
        {"pipeline": pipeline, "backtest": backtest, "share": one_share}
    )
    assert events == ["PENDING", "ADJUSTED", "FILLED"]
