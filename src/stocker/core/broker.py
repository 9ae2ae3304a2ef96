"""What a live broker tells us and what we ask of it, as plain values, and the rules over them.

Orders go out with our deterministic order id as the broker's client order id, so asking the
broker "do you have this order?" always has an answer and a lost reply never turns into a
second order. A broker's statuses are its own; `local_status` and `event_status` say what they
mean in the `orders` and `order_events` tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from stocker.core.errors import StockerError

OPEN_STATUSES = frozenset(
    {"new", "accepted", "pending_new", "partially_filled", "accepted_for_bidding", "held"}
)
TERMINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected", "done_for_day"})
FILL_EVENTS = frozenset({"fill", "partial_fill"})
TERMINAL_EVENTS = frozenset({"canceled", "expired", "rejected"})
EVENT_STATUS = {
    "new": "ACCEPTED",
    "accepted": "ACCEPTED",
    "pending_new": "ACCEPTED",
    "partial_fill": "PARTIALLY_FILLED",
    "fill": "FILLED",
    "canceled": "CANCELED",
    "expired": "EXPIRED",
    "rejected": "REJECTED",
}


class BrokerError(StockerError):
    """The broker could not be reached or refused a request; the message says which."""


class BrokerRefusal(BrokerError):  # noqa: N818 - a refusal is an answer, not a failure
    """The broker answered a submission with a definite no (it holds no order)."""


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order as we send it; `client_order_id` is our order id."""

    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    qty: Decimal
    time_in_force: str = "opg"  # market on open


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """The broker's view of one order."""

    broker_order_id: str
    client_order_id: str
    symbol: str
    side: str  # BUY | SELL
    qty: Decimal
    filled_qty: Decimal
    status: str  # the broker's own status, lower case

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution; `execution_id` is the broker's id, the fill's key everywhere."""

    execution_id: str
    broker_order_id: str
    symbol: str
    side: str  # BUY | SELL
    qty: Decimal
    price: Decimal
    timestamp: dt.datetime


@dataclass(frozen=True, slots=True)
class BrokerEvent:
    """One trade update: what happened (`event`), the order after it, and its fill if any."""

    event: str
    order: BrokerOrder
    timestamp: dt.datetime
    fill: BrokerFill | None = None


@dataclass(frozen=True, slots=True)
class BrokerPosition:
    symbol: str
    qty: Decimal
    avg_entry_price: Decimal


class LiveBroker(Protocol):
    """A broker orders are sent to and whose account we reconcile with."""

    name: str

    def submit(self, intent: OrderIntent) -> BrokerOrder:
        """Send an order once; after a lost reply, find it by client order id (never resend
        blindly). Raises `BrokerRefusal` for a definite no, `BrokerError` when unreachable."""
        ...

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None: ...

    def order(self, broker_order_id: str) -> BrokerOrder | None: ...

    def open_orders(self) -> list[BrokerOrder]: ...

    def cancel(self, broker_order_id: str) -> bool:
        """Ask to cancel; False when the order is no longer cancelable."""
        ...

    def positions(self) -> dict[str, BrokerPosition]: ...

    def fills(self, after: dt.datetime | None = None) -> list[BrokerFill]:
        """Every execution after `after` (the account's fill activities), oldest first."""
        ...

    def events(self, timeout: float = 0.0) -> list[BrokerEvent]:
        """Trade updates received since the last call (waiting up to `timeout` for one)."""
        ...

    def connections(self) -> int:
        """How many times the update stream has (re)connected: a change means a gap."""
        ...

    def close(self) -> None: ...


def local_status(order_qty: Decimal, filled: Decimal, terminal: bool) -> str:
    """The `orders.status` an order's facts imply: FILLED when its fills cover it, CANCELED when
    the broker ended it (canceled, expired, rejected; partly filled or not), else SHIPPED."""
    if filled >= order_qty:
        return "FILLED"
    return "CANCELED" if terminal else "SHIPPED"


def opposite_open_orders(
    open_orders: Sequence[BrokerOrder], symbol: str, side: str
) -> list[BrokerOrder]:
    """Open orders on `symbol` of the other side: canceled before an order reverses, since
    Alpaca refuses an order that could trade against one of the account's own (wash trade)."""
    return [o for o in open_orders if o.symbol == symbol and o.side != side and o.is_open]


def net_quantity(orders: Sequence[tuple[str, Decimal]]) -> Decimal:
    """Signed net of (side, qty) pairs: what one order per symbol must carry."""
    return sum((q if s == "BUY" else -q for s, q in orders), Decimal(0))
