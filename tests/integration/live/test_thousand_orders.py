"""Acceptance: 1,000 orders through the stand-in misbehaving in every way it can (seeded).

Nothing is duplicated at the broker, every fill is posted exactly once and none is missing,
every order ends in the broker's state, and the ledger's positions are the broker's."""

from __future__ import annotations

import datetime as dt
import os
import random
from decimal import Decimal
from typing import Any

import pytest
from live_helpers import PORTFOLIO, START, add_order, control, settle

from stocker.bootstrap import App
from stocker.brokers.alpaca_standin import FAULTS, FaultPlan, StandIn
from stocker.trading.ledger_audit import verify
from stocker.trading.live_broker import LiveTrading

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOLS = [f"S{n:02d}" for n in range(50)]
DAYS = int(os.environ.get("STOCKER_LIVE_DAYS", "20"))


def test_a_thousand_orders_through_a_hostile_broker(
    app: App, stand_in: StandIn, broker: Any
) -> None:
    live = LiveTrading(app.uow, broker, slack_s=1.0)
    stand_in.book.plan = FaultPlan.every_fault(seed=7, share=0.9)
    rng = random.Random(7)
    orders = []
    for number in range(DAYS):
        day = START + dt.timedelta(days=number)
        for symbol in SYMBOLS:
            side = rng.choice(["BUY", "SELL"])
            orders.append(add_order(app, symbol, side, rng.randint(1, 60), day))
        report = live.submit()
        assert report.unreachable is None and not report.refused, report
        settle(live, quiet_rounds=1)
        if number % 5 != 4:  # some days the open never comes before the next orders
            control(stand_in, "/_standin/open")
            settle(live, quiet_rounds=2)
    control(stand_in, "/_standin/open")
    settle(live)
    live.sync()
    settle(live)

    book = stand_in.book
    summary = book.summary()
    assert len(orders) == DAYS * len(SYMBOLS)
    assert all(summary["faults"][kind] > DAYS for kind in FAULTS), summary
    assert summary["duplicate_orders"] == 0
    assert summary["duplicate_submissions"] == 0
    assert summary["wash_trade_refusals"] == 0
    broker_fills = {a["id"].split("::")[1]: a for a in book.activities}
    with app.uow() as uow:
        local = {f.fill_id: f for order in orders for f in uow.trading.fills_of(order.order_id)}
        posted = uow.ledger.fill_counts(PORTFOLIO)
        states = {order.order_id: uow.trading.order(order.order_id) for order in orders}
        positions = uow.ledger.positions(PORTFOLIO, SYMBOLS)
        breaks = uow.live_trading.breaks(PORTFOLIO)
    missing = [broker_fills[f] for f in set(broker_fills) - set(local)]
    assert missing == [] and set(local) <= set(broker_fills)  # 0 missing, 0 invented
    assert set(posted) == set(broker_fills) and set(posted.values()) == {1}  # each posted once
    assert not breaks
    mismatched = []
    for order in orders:
        at_broker = book.by_client(str(order.order_id))
        assert at_broker is not None
        ours = states[order.order_id]
        assert ours is not None
        want = {
            "filled": "FILLED",
            "canceled": "CANCELED",
            "expired": "CANCELED",
            "rejected": "CANCELED",
        }[at_broker.status]
        filled = sum(local[f].qty for f in local if local[f].order_id == order.order_id)
        if ours.status != want or filled != at_broker.filled_qty:
            mismatched.append((order.order_id, ours.status, at_broker.status))
    assert mismatched == []
    at_broker_positions = {s: q for s, (q, _) in book.positions.items() if q != 0}
    ours_positions = {s: p.quantity for s, p in positions.items() if p.quantity != 0}
    assert ours_positions == at_broker_positions
    assert verify(app.uow(), PORTFOLIO).ok
    assert sum(Decimal(a["qty"]) for a in broker_fills.values()) > 0
