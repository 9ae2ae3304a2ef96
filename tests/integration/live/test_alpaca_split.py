"""A split Alpaca applies to a resting order, against the stand-in: the order's quantity at the
broker is not the one sent, so the live stage records it once as an ADJUSTED event and measures
the fills against it (a reverse split's smaller fill is FILLED, not SHIPPED)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from live_helpers import PORTFOLIO, add_order, control, settle

from stocker.bootstrap import App
from stocker.brokers.alpaca_standin import StandIn
from stocker.trading.explain import explain
from stocker.trading.ledger_audit import verify
from stocker.trading.live_broker import LiveTrading

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("fault", "ratio", "qty"), [("none", "1/3", 3), ("duplicate", "2", 18)])
def test_an_order_the_broker_carried_across_a_split_is_filled_at_its_quantity(
    app: App, stand_in: StandIn, live: LiveTrading, fault: str, ratio: str, qty: int
) -> None:
    order = add_order(app, "AAPL", "BUY", 9)
    stand_in.book.plan.scripted[str(order.order_id)] = fault  # duplicate: every update twice
    assert live.submit().submitted == [str(order.order_id)]
    assert control(stand_in, "/_standin/split", {"symbol": "AAPL", "ratio": ratio}) == {
        "adjusted": 1
    }
    control(stand_in, "/_standin/open")
    settle(live)
    live.sync()
    settle(live)
    live.sync()  # a second backfill and lookup record nothing again

    with app.uow() as uow:
        stored = uow.trading.order(order.order_id)
        fills = uow.trading.fills_of(order.order_id)
        events = uow.trading.order_events(order.order_id)
        position = uow.ledger.positions(PORTFOLIO, ["AAPL"])["AAPL"]
    adjusted = [e for e in events if e.status == "ADJUSTED"]
    assert len(adjusted) == 1, [e.status for e in events]
    detail = adjusted[0].detail
    assert detail is not None
    assert (detail["qty_before"], detail["qty"]) == ("9", str(qty))
    assert "split" in detail["reason"]
    assert sum(f.qty for f in fills) == qty == position.quantity
    assert stored is not None and stored.status == "FILLED"
    assert verify(app.uow(), PORTFOLIO).ok
    # `stocker trade explain` says why the order filled another quantity than it says
    lines = explain(app.uow(), order.order_id).lines()
    said = [line for line in lines if "event ADJUSTED" in line]
    assert len(said) == 1 and detail["reason"] in said[0], lines


def test_an_order_the_broker_did_not_change_records_no_adjustment(
    app: App, stand_in: StandIn, live: LiveTrading
) -> None:
    order = add_order(app, "MSFT", "SELL", 4)
    live.submit()
    assert control(stand_in, "/_standin/split", {"symbol": "AAPL", "ratio": "2"}) == {"adjusted": 0}
    control(stand_in, "/_standin/open")
    settle(live)
    live.sync()
    with app.uow() as uow:
        events = uow.trading.order_events(order.order_id)
        stored = uow.trading.order(order.order_id)
    assert "ADJUSTED" not in [e.status for e in events]
    assert stored is not None and stored.status == "FILLED"
    assert sum(Decimal(1) for _ in events if _.status == "FILLED") >= 1
