"""Reconciliation fixtures: each disagreement with the broker becomes the expected break,
halts the portfolio, and resolving it leaves the ledger verified."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from live_helpers import PORTFOLIO, add_order, control, settle

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import StandIn
from stocker.core.broker import OrderIntent
from stocker.core.ledger import Fill
from stocker.store.repositories.trading import FillRow
from stocker.trading.ledger import post_fill
from stocker.trading.ledger_audit import verify
from stocker.trading.live_broker import LiveTrading, halt_reason
from stocker.trading.reconcile import reconcile, resolve_break

pytestmark = pytest.mark.integration
DAY = dt.date(2024, 1, 3)


def _breaks(app: App, broker: AlpacaBroker) -> list[str]:
    report = reconcile(app.uow, broker, PORTFOLIO)
    assert report.halted
    with app.uow() as uow:
        assert halt_reason(uow, PORTFOLIO) is not None
        return [b.kind for b in uow.live_trading.breaks(PORTFOLIO)]


def _resolve_all(app: App, broker: AlpacaBroker) -> None:
    with app.uow() as uow:
        ids = [b.id for b in uow.live_trading.breaks(PORTFOLIO)]
    for break_id in ids:
        resolve_break(app.uow, break_id, "broker", "the broker is right", day=DAY)
    with app.uow() as uow:
        assert halt_reason(uow, PORTFOLIO) is None
    assert verify(app.uow(), PORTFOLIO).ok


def test_a_position_older_than_any_lookback(
    app: App, stand_in: StandIn, broker: AlpacaBroker
) -> None:
    control(stand_in, "/_standin/positions", {"symbol": "IBM", "qty": "12", "avg": "101.5"})
    assert _breaks(app, broker) == ["POSITION"]
    _resolve_all(app, broker)
    with app.uow() as uow:
        assert uow.ledger.positions(PORTFOLIO, ["IBM"])["IBM"].quantity == 12
    assert not reconcile(app.uow, broker, PORTFOLIO).halted


def test_a_position_flat_at_the_broker_but_not_here(
    app: App, stand_in: StandIn, broker: AlpacaBroker
) -> None:
    at = dt.datetime(2024, 1, 2, 15, tzinfo=dt.UTC)
    with app.uow() as uow:
        uow.trading.add_fill(
            FillRow("old-fill", None, at, "KO", "BUY", Decimal(7), Decimal(60), Decimal(0))
        )
        uow.commit()
    post_fill(app.uow(), PORTFOLIO, Fill("old-fill", "KO", "BUY", Decimal(7), Decimal(60)))
    assert _breaks(app, broker) == ["POSITION"]
    _resolve_all(app, broker)
    with app.uow() as uow:
        assert uow.ledger.positions(PORTFOLIO, ["KO"])["KO"].quantity == 0
    assert not reconcile(app.uow, broker, PORTFOLIO).halted


def test_an_order_placed_outside_stocker(app: App, broker: AlpacaBroker) -> None:
    broker.submit(OrderIntent("placed-by-hand-1", "TSLA", "BUY", Decimal(3)))
    assert _breaks(app, broker) == ["OUTSIDE_ORDER"]
    _resolve_all(app, broker)


def test_a_restart_with_orders_in_flight(app: App, broker: AlpacaBroker) -> None:
    order = add_order(app, "NVDA", "BUY", 4)
    # sent, then the process died before it recorded anything
    broker.submit(OrderIntent(str(order.order_id), "NVDA", "BUY", Decimal(4)))
    live = LiveTrading(app.uow, broker)
    assert live.recover_unrecorded() == [str(order.order_id)]
    with app.uow() as uow:
        assert uow.trading.order(order.order_id).status == "SHIPPED"  # type: ignore[union-attr]
    # a second restart sends nothing twice: the order is found by its client order id
    assert live.submit().submitted == []


def test_a_restart_with_an_unrecorded_order_is_a_break(
    app: App, stand_in: StandIn, broker: AlpacaBroker
) -> None:
    order = add_order(app, "AMD", "SELL", 2)
    broker.submit(OrderIntent(str(order.order_id), "AMD", "SELL", Decimal(2)))
    report = reconcile(app.uow, broker, PORTFOLIO, sync=False)
    assert report.halted
    with app.uow() as uow:
        assert [b.kind for b in uow.live_trading.breaks(PORTFOLIO)] == ["IN_FLIGHT"]
    _resolve_all(app, broker)


def test_a_fill_after_a_cancel(app: App, stand_in: StandIn, broker: AlpacaBroker) -> None:
    order = add_order(app, "AAPL", "BUY", 10)
    stand_in.book.plan.scripted[str(order.order_id)] = "fill_after_cancel"
    live = LiveTrading(app.uow, broker)
    live.pump()  # started: the first backfill
    live.submit()
    assert live.cancel_open(PORTFOLIO)
    settle(live)
    with app.uow() as uow:
        kinds = [b.kind for b in uow.live_trading.breaks(PORTFOLIO)]
        assert halt_reason(uow, PORTFOLIO) is not None
    assert kinds == ["FILL_AFTER_CANCEL"]
    assert not verify(app.uow(), PORTFOLIO).ok  # the late fill is not posted yet
    _resolve_all(app, broker)
    with app.uow() as uow:
        assert uow.ledger.positions(PORTFOLIO, ["AAPL"])["AAPL"].quantity == 10
        assert uow.trading.order(order.order_id).status == "FILLED"  # type: ignore[union-attr]
    assert not reconcile(app.uow, broker, PORTFOLIO).halted


def test_a_late_fill_backfilled_before_its_cancel_arrives(
    app: App, stand_in: StandIn, broker: AlpacaBroker
) -> None:
    """The fill is read from the activities (and posted) before the `canceled` update arrives:
    reconciliation still finds it from the stored order events."""
    order = add_order(app, "MSFT", "BUY", 6)
    stand_in.book.plan.scripted[str(order.order_id)] = "fill_after_cancel"
    quiet = AlpacaBroker(
        "k", "s", trading_url=stand_in.url, stream=False, timeout_s=2.0, backoff_s=0.01
    )
    try:
        backfill = LiveTrading(app.uow, quiet)  # no stream: only lookups and activities
        backfill.submit()
        assert backfill.cancel_open(PORTFOLIO)
        assert backfill.sync() == 1  # the late fill, posted: no end recorded yet
        with app.uow() as uow:
            assert uow.live_trading.breaks(PORTFOLIO) == []
    finally:
        quiet.close()
    settle(LiveTrading(app.uow, broker))  # now the stream's `canceled` (and the fill again)
    with app.uow() as uow:
        assert uow.ledger.fill_counts(PORTFOLIO) == {
            f.fill_id: 1 for f in uow.trading.fills_of(order.order_id)
        }
    report = reconcile(app.uow, broker, PORTFOLIO)
    assert report.halted and report.new_breaks == 1
    with app.uow() as uow:
        [late] = uow.live_trading.breaks(PORTFOLIO)
    assert late.kind == "FILL_AFTER_CANCEL" and late.ours["posted"] is True
    assert Decimal(late.broker["qty"]) == 6
    assert reconcile(app.uow, broker, PORTFOLIO).new_breaks == 0  # found once
    _resolve_all(app, broker)  # the broker is right: already posted, nothing posted twice
    with app.uow() as uow:
        assert uow.ledger.positions(PORTFOLIO, ["MSFT"])["MSFT"].quantity == 6
        assert set(uow.ledger.fill_counts(PORTFOLIO).values()) == {1}
    assert not reconcile(app.uow, broker, PORTFOLIO).halted
