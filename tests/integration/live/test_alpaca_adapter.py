"""The Alpaca adapter and the live stage against the stand-in, one misbehaviour at a time."""

from __future__ import annotations

from decimal import Decimal

import pytest
from live_helpers import PORTFOLIO, add_order, control, settle

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import StandIn
from stocker.core.broker import BrokerRefusal, OrderIntent
from stocker.trading.ledger_audit import verify
from stocker.trading.live_broker import LiveTrading

pytestmark = pytest.mark.integration


def _run(app: App, stand_in: StandIn, live: LiveTrading, fault: str, side: str = "BUY") -> None:
    order = add_order(app, "AAPL", side, 10)
    stand_in.book.plan.scripted[str(order.order_id)] = fault
    report = live.submit()
    assert report.submitted == [str(order.order_id)], report
    control(stand_in, "/_standin/open")
    settle(live)
    live.sync()
    with app.uow() as uow:
        stored = uow.trading.order(order.order_id)
        fills = uow.trading.fills_of(order.order_id)
        positions = uow.ledger.positions(PORTFOLIO, ["AAPL"])
    at_broker = stand_in.book.by_client(str(order.order_id))
    assert at_broker is not None and stored is not None
    assert sum(f.qty for f in fills) == at_broker.filled_qty
    assert {f.fill_id for f in fills} == {a["id"].split("::")[1] for a in stand_in.book.activities}
    expected = "FILLED" if at_broker.status == "filled" else "CANCELED"
    assert stored.status == expected
    signed = at_broker.filled_qty if side == "BUY" else -at_broker.filled_qty
    assert positions["AAPL"].quantity == signed
    assert stand_in.book.summary()["duplicate_orders"] == 0
    assert stand_in.book.duplicate_submissions == 0
    assert verify(app.uow(), PORTFOLIO).ok


@pytest.mark.parametrize(
    "fault",
    ["none", "split", "duplicate", "out_of_order", "drop_ws", "partial", "reject"],
)
def test_stream_faults_end_in_the_brokers_state(
    app: App, stand_in: StandIn, live: LiveTrading, fault: str
) -> None:
    _run(app, stand_in, live, fault)


@pytest.mark.parametrize("fault", ["timeout", "http_5xx", "http_429"])
def test_a_lost_answer_is_looked_up_never_resent_blindly(
    app: App, stand_in: StandIn, live: LiveTrading, broker: AlpacaBroker, fault: str
) -> None:
    _run(app, stand_in, live, fault)
    posts = [r for r in stand_in.requests if r == ("POST", "/v2/orders")]
    # the order was recorded before the answer was lost: found by lookup, never resent;
    # a 429 recorded nothing, so after a lookup finds nothing it is sent once more
    assert len(posts) == (2 if fault == "http_429" else 1)
    assert broker.lookups >= 1
    assert len(stand_in.book.orders) == 1


def test_a_duplicated_fill_event_is_posted_once(
    app: App, stand_in: StandIn, live: LiveTrading
) -> None:
    _run(app, stand_in, live, "duplicate")
    with app.uow() as uow:
        counts = uow.ledger.fill_counts(PORTFOLIO)
    assert counts and all(n == 1 for n in counts.values())


def test_a_wash_trade_is_avoided_by_canceling_the_open_opposite_order(
    app: App, stand_in: StandIn, live: LiveTrading
) -> None:
    buy = add_order(app, "MSFT", "BUY", 5)
    live.submit()
    sell = add_order(app, "MSFT", "SELL", 3)
    report = live.submit()
    assert report.submitted == [str(sell.order_id)]
    assert len(report.canceled_opposite) == 1
    assert stand_in.book.wash_trade_refusals == 0
    settle(live)
    live.sync()
    with app.uow() as uow:
        assert uow.trading.order(buy.order_id).status == "CANCELED"  # type: ignore[union-attr]


def test_a_definite_refusal_is_raised_and_not_retried(
    stand_in: StandIn, broker: AlpacaBroker
) -> None:
    with pytest.raises(BrokerRefusal, match="invalid"):
        broker.submit(OrderIntent("not-a-uuid", "AAPL", "BUY", Decimal(-1)))
    assert stand_in.requests.count(("POST", "/v2/orders")) == 1


def test_a_halted_portfolio_sends_nothing(app: App, stand_in: StandIn, live: LiveTrading) -> None:
    add_order(app, "AAPL", "BUY", 10)
    with app.uow() as uow:
        uow.live_trading.halt(PORTFOLIO, "test")
        uow.commit()
    report = live.submit()
    assert report.submitted == [] and len(report.halted) == 1
    assert stand_in.book.orders == {}
