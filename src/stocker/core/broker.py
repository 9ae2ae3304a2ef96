"""What a live broker tells us and what we ask of it, as plain values, and the rules over them.

Orders go out with our deterministic order id as the broker's client order id, so asking the
broker "do you have this order?" always has an answer and a lost reply never turns into a
second order. A broker's statuses are its own; `local_status` and `event_status` say what they
mean in the `orders` and `order_events` tables.

Splits: a broker carries its open orders across a split going ex before they execute (quantity
× ratio in whole shares, rounded toward zero; `adjust_for_splits`). Alpaca does so itself, so
Stocker adjusts only the orders its simulated brokers fill (docs/ledger.md, "Open orders across
a split").
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
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


_SHARES = Decimal("0.0001")  # the scale of orders.qty and fills.qty


@dataclass(frozen=True, slots=True)
class SplitAdjustment:
    """An open order's quantity carried across the splits going ex at its session.

    ``qty`` is whole shares, rounded toward zero (no broker turns an order into a fraction of a
    share); ``remainder`` is what the rounding dropped, in post-split shares. ``qty`` 0 means
    nothing is left to execute: the order is canceled.
    """

    qty_before: Decimal
    ratio: Fraction  # new shares per old, every split of the session multiplied
    exact: Decimal
    qty: Decimal
    remainder: Decimal

    def detail(self) -> dict[str, str]:
        """The adjustment as an `order_events` detail (strings: exact, JSON-safe)."""
        return {
            "qty_before": f"{self.qty_before.normalize():f}",
            "ratio": f"{self.ratio.numerator}/{self.ratio.denominator}",
            "exact": f"{self.exact.normalize():f}",
            "qty": f"{self.qty.normalize():f}",
            "remainder": f"{self.remainder.normalize():f}",
        }


def split_fraction(value: Decimal) -> Fraction:
    """The split ratio a stored value stands for. `corporate_actions.value` is NUMERIC(14,4), so
    a 1-for-3 reverse split is stored as 0.3333; taken literally, an order of 3 shares would
    become 0.9999 and round to nothing instead of 1. Every value is read at those four places
    ("0.1" is 1/10). A value that is a short decimal (its fraction's denominator below 1,000:
    1.5, 0.05, 1.0325 = 413/400) is taken as it is; one that looks rounded (0.3333, 0.1429,
    1.3333) is read as the fraction with denominator up to 100 within half a unit of the fourth
    decimal (1/3, 1/7, 4/3), and as it is when there is none."""
    if not value > 0:
        raise ValueError(f"split ratio {value}: expected > 0 (2 for a 2-for-1 split)")
    exact = Fraction(value.quantize(Decimal("0.0001")))
    if exact == 0:
        raise ValueError(f"split ratio {value}: below 0.0001, the column's precision")
    if exact.denominator < 1_000:
        return exact
    tolerance = Fraction(1, 20_000)
    for denominator in range(1, 101):
        numerator = round(exact * denominator)
        if numerator > 0 and abs(Fraction(numerator, denominator) - exact) <= tolerance:
            return Fraction(numerator, denominator)
    return exact


def adjust_for_splits(qty: Decimal, ratios: Sequence[Decimal]) -> SplitAdjustment:
    """``qty`` shares ordered before the splits of ``ratios`` (new shares per old), in shares
    after them: whole shares toward zero, the dropped fraction kept as the remainder."""
    ratio = math.prod((split_fraction(Decimal(r)) for r in ratios), start=Fraction(1))
    exact = Fraction(qty) * ratio
    whole = math.floor(exact)  # qty > 0: toward zero
    as_decimal = Decimal(exact.numerator) / Decimal(exact.denominator)
    return SplitAdjustment(
        qty_before=qty,
        ratio=ratio,
        exact=as_decimal.quantize(_SHARES, rounding=ROUND_HALF_UP),
        qty=Decimal(whole),
        remainder=(as_decimal - whole).quantize(_SHARES, rounding=ROUND_HALF_UP),
    )
