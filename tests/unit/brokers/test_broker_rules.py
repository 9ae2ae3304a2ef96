"""The core's broker rules and the Alpaca wire parsing, without a network."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stocker.brokers.alpaca.wire import event_from, fill_from_activity, timestamp
from stocker.brokers.alpaca_standin.book import FaultPlan
from stocker.brokers.alpaca_standin.wire import StandInOrder, fill_activity, trade_update
from stocker.core.broker import BrokerOrder, local_status, net_quantity, opposite_open_orders

quantities = st.decimals(min_value=0, max_value=10_000, places=4, allow_nan=False)


@given(quantities, quantities, st.booleans())
def test_status_follows_the_facts(qty: Decimal, filled: Decimal, ended: bool) -> None:
    status = local_status(qty, filled, ended)
    if filled >= qty:
        assert status == "FILLED"
    else:
        assert status == ("CANCELED" if ended else "SHIPPED")


@given(st.lists(st.tuples(st.sampled_from(["BUY", "SELL"]), quantities)))
def test_net_quantity_does_not_depend_on_order(orders: list[tuple[str, Decimal]]) -> None:
    assert net_quantity(orders) == net_quantity(list(reversed(orders)))


def test_only_open_opposite_orders_on_the_symbol_are_canceled() -> None:
    def order(side: str, symbol: str, status: str) -> BrokerOrder:
        return BrokerOrder("b", "c", symbol, side, Decimal(1), Decimal(0), status)

    orders = [
        order("SELL", "AAPL", "new"),
        order("SELL", "AAPL", "filled"),
        order("BUY", "AAPL", "new"),
        order("SELL", "MSFT", "new"),
    ]
    assert opposite_open_orders(orders, "AAPL", "BUY") == [orders[0]]


def test_a_fill_parsed_from_the_stream_and_from_activities_is_one_fill() -> None:
    at = dt.datetime(2024, 1, 2, 14, 30, 1, 123456, tzinfo=dt.UTC)
    order = StandInOrder(
        "id-1",
        "c-1",
        "AAPL",
        "buy",
        Decimal(10),
        "market",
        "opg",
        at,
        status="filled",
        filled_qty=Decimal(10),
        filled_value=Decimal("1795.5"),
    )
    message = trade_update(
        "fill",
        order,
        at,
        execution_id="e-1",
        qty=Decimal(10),
        price=Decimal("179.55"),
        position_qty=Decimal(10),
    )
    event = event_from(message)
    activity = fill_from_activity(fill_activity(order, "e-1", Decimal(10), Decimal("179.55"), at))
    assert event is not None and event.fill is not None
    assert event.fill == activity
    assert event.fill.price == Decimal("179.55") and event.timestamp == at


def test_nanosecond_timestamps_keep_their_zone() -> None:
    assert timestamp("2024-01-02T14:30:01.123456789Z") == dt.datetime(
        2024, 1, 2, 14, 30, 1, 123456, tzinfo=dt.UTC
    )


def test_the_fault_plan_is_seeded_by_client_order_id() -> None:
    plan = FaultPlan.every_fault(seed=3)
    assert [plan.kind_for(str(n)) for n in range(50)] == [
        FaultPlan.every_fault(seed=3).kind_for(str(n)) for n in range(50)
    ]
    assert FaultPlan(scripted={"x": "reject"}).kind_for("x") == "reject"
