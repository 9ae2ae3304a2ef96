"""The stand-in's book: orders, executions, positions, cash, the fill activities and the
`trade_updates` log, with each order's scripted misbehaviour.

Faults (one per order, seeded by its `client_order_id`, or scripted by name):

| kind | what the broker does |
| --- | --- |
| `reject` | accepts, then rejects at the open (`rejected`) |
| `partial` | fills part at the open (`partial_fill`), the rest `expired` |
| `split` | fills in 2-4 executions (`partial_fill`… then `fill`) |
| `duplicate` | every stream message of the order is sent twice |
| `out_of_order` | the order's stream messages are sent in reverse |
| `timeout` | records the order, then drops the connection without answering |
| `drop_ws` | the stream connection drops and the order's fill messages are lost |
| `http_429` | the first submission is refused with 429 (nothing recorded) |
| `http_5xx` | the first submission is recorded, then answered with a 500 |
| `fill_after_cancel` | a cancel is confirmed (`canceled`), then the order fills anyway |
"""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from stocker.brokers.alpaca_standin.wire import (
    MONEY,
    StandInOrder,
    account_wire,
    default_price,
    error_body,
    fill_activity,
    position_wire,
    trade_update,
)

FAULTS = (
    "reject",
    "partial",
    "split",
    "duplicate",
    "out_of_order",
    "timeout",
    "drop_ws",
    "http_429",
    "http_5xx",
)
EXECUTION_NAMESPACE = uuid.UUID("e7ec0000-5a1d-4b1c-9d2e-0000000000e1")


class RefusedError(Exception):
    """A submission answered with an HTTP error (`status`, JSON `body`)."""

    def __init__(self, status: int, body: dict[str, Any], *, hang_up: bool = False) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.hang_up = hang_up


@dataclass
class FaultPlan:
    """Which misbehaviour each order gets: `scripted` by client order id, else drawn from
    `rates` (kind → probability) seeded by `seed` and the client order id."""

    seed: int = 0
    rates: Mapping[str, float] = field(default_factory=dict)
    scripted: dict[str, str] = field(default_factory=dict)

    def kind_for(self, client_order_id: str) -> str:
        if client_order_id in self.scripted:
            return self.scripted[client_order_id]
        draw = random.Random(f"{self.seed}:{client_order_id}").random()
        edge = 0.0
        for kind, rate in sorted(self.rates.items()):
            edge += rate
            if draw < edge:
                return kind
        return "none"

    @classmethod
    def every_fault(cls, seed: int, share: float = 0.9) -> FaultPlan:
        """Every kind of fault with the same probability, `share` of orders in all."""
        return cls(seed=seed, rates={kind: share / len(FAULTS) for kind in FAULTS})


@dataclass
class LogEntry:
    """One `trade_updates` message; `lost` ones are never delivered and drop the stream."""

    message: dict[str, Any]
    lost: bool = False


class Book:
    """Everything the stand-in knows, behind one lock; `clock` stamps every event."""

    def __init__(
        self,
        plan: FaultPlan | None = None,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        cash: Decimal = Decimal(1_000_000),
        auto_fill: bool = False,
    ) -> None:
        self.plan = plan or FaultPlan()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.cash = cash
        self.auto_fill = auto_fill
        self.lock = threading.Condition()
        self.orders: dict[str, StandInOrder] = {}
        self.by_client_id: dict[str, str] = {}
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (qty, avg cost)
        self.prices: dict[str, Decimal] = {}
        self.activities: list[dict[str, Any]] = []
        self.log: list[LogEntry] = []
        self.attempts: dict[str, int] = {}
        self.duplicate_submissions = 0
        self.wash_trade_refusals = 0
        self._sequence = 0

    # -- helpers ---------------------------------------------------------------------------

    def price(self, symbol: str) -> Decimal:
        return self.prices.get(symbol) or default_price(symbol)

    def _now(self) -> dt.datetime:
        # strictly increasing, so activity ids and timestamps sort as they happened
        self._sequence += 1
        return self.clock() + dt.timedelta(microseconds=self._sequence)

    def _emit(self, messages: list[dict[str, Any]], order: StandInOrder, *, lost: bool) -> None:
        if order.fault == "out_of_order":
            messages = list(reversed(messages))
        for message in messages:
            self.log.append(LogEntry(message, lost=lost))
            if order.fault == "duplicate" and not lost:
                self.log.append(LogEntry(message))
        self.lock.notify_all()

    # -- the REST API ----------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST /v2/orders`."""
        with self.lock:
            client_id = str(body.get("client_order_id") or uuid.uuid4())
            symbol = str(body.get("symbol", "")).upper()
            side = str(body.get("side", ""))
            try:
                qty = Decimal(str(body.get("qty")))
            except Exception as exc:
                raise RefusedError(422, error_body(40010001, "qty is required")) from exc
            if not symbol or side not in ("buy", "sell") or qty <= 0:
                raise RefusedError(422, error_body(40010001, "invalid order request"))
            attempt = self.attempts.get(client_id, 0) + 1
            self.attempts[client_id] = attempt
            fault = self.plan.kind_for(client_id)
            if fault == "http_429" and attempt == 1:
                raise RefusedError(429, error_body(42910000, "rate limit exceeded"))
            if client_id in self.by_client_id:
                self.duplicate_submissions += 1
                raise RefusedError(422, error_body(40010001, "client_order_id must be unique"))
            opposite = "sell" if side == "buy" else "buy"
            book = self.orders.values()
            if any(o.open and o.symbol == symbol and o.side == opposite for o in book):
                self.wash_trade_refusals += 1
                raise RefusedError(
                    403,
                    error_body(
                        40310000,
                        "potential wash trade detected. use complex orders",
                        reject_reason="opposite side market/stop order exists",
                    ),
                )
            now = self._now()
            order = StandInOrder(
                id=str(uuid.uuid4()),
                client_order_id=client_id,
                symbol=symbol,
                side=side,
                qty=qty,
                type=str(body.get("type", "market")),
                time_in_force=str(body.get("time_in_force", "day")),
                created_at=now,
                fault=fault,
            )
            self.orders[order.id] = order
            self.by_client_id[client_id] = order.id
            self._emit([trade_update("new", order, now)], order, lost=False)
            if self.auto_fill:
                self._execute(order)
            if fault == "http_5xx" and attempt == 1:
                raise RefusedError(500, error_body(50010000, "internal server error"))
            if fault == "timeout" and attempt == 1:
                raise RefusedError(504, {}, hang_up=True)
            return order.wire()

    def get(self, order_id: str) -> StandInOrder | None:
        with self.lock:
            return self.orders.get(order_id)

    def by_client(self, client_id: str) -> StandInOrder | None:
        with self.lock:
            order_id = self.by_client_id.get(client_id)
            return self.orders.get(order_id) if order_id else None

    def list_orders(self, status: str = "open", limit: int = 50) -> list[dict[str, Any]]:
        """`GET /v2/orders` (newest first, as Alpaca's default `direction=desc`)."""
        with self.lock:
            chosen = [
                o for o in self.orders.values() if status == "all" or (status == "open") == o.open
            ]
            chosen.sort(key=lambda o: o.created_at, reverse=True)
            return [o.wire() for o in chosen[:limit]]

    def cancel(self, order_id: str) -> int:
        """`DELETE /v2/orders/{id}`: 204, 404 unknown, 422 no longer cancelable."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                return 404
            if not order.open:
                return 422
            now = self._now()
            order.status, order.canceled_at, order.updated_at = "canceled", now, now
            self._emit([trade_update("canceled", order, now)], order, lost=False)
            if order.fault == "fill_after_cancel":
                order.status = "new"  # the cancel lost the race with the open
                self._fill(order, [order.qty - order.filled_qty], lost=False)
            return 204

    def positions_wire(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                position_wire(symbol, qty, avg, self.price(symbol))
                for symbol, (qty, avg) in sorted(self.positions.items())
                if qty != 0
            ]

    def account_wire(self) -> dict[str, Any]:
        with self.lock:
            long_value = sum(
                (q * self.price(s) for s, (q, _) in self.positions.items() if q > 0), Decimal(0)
            )
            short_value = sum(
                (q * self.price(s) for s, (q, _) in self.positions.items() if q < 0), Decimal(0)
            )
            return account_wire(self.cash, long_value.quantize(MONEY), short_value.quantize(MONEY))

    def fill_activities(
        self, after: str | None = None, page_token: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """`GET /v2/account/activities/FILL` in ascending order, paged by the last id."""
        with self.lock:
            rows = self.activities
            if after:
                rows = [r for r in rows if r["transaction_time"] > after]
            if page_token:
                rows = [r for r in rows if r["id"] > page_token]
            return list(rows[: max(1, min(page_size, 100))])

    # -- the market ------------------------------------------------------------------------

    def open_market(self) -> int:
        """The opening auction: every open order executes as its fault says; returns how many."""
        with self.lock:
            due = [o for o in self.orders.values() if o.open and o.fault != "fill_after_cancel"]
            for order in sorted(due, key=lambda o: o.created_at):
                self._execute(order)
            return len(due)

    def _execute(self, order: StandInOrder) -> None:
        remaining = order.qty - order.filled_qty
        rng = random.Random(f"{self.plan.seed}:exec:{order.client_order_id}")
        lost = order.fault == "drop_ws"
        if order.fault == "reject":
            now = self._now()
            order.status, order.failed_at, order.updated_at = "rejected", now, now
            self._emit([trade_update("rejected", order, now)], order, lost=False)
        elif order.fault == "partial" and remaining >= 2:
            part = Decimal(max(1, int(remaining * Decimal(rng.uniform(0.2, 0.8)))))
            self._fill(order, [part], lost=lost)
            now = self._now()
            order.status, order.expired_at, order.updated_at = "expired", now, now
            self._emit([trade_update("expired", order, now)], order, lost=False)
        elif order.fault == "split" and remaining >= 2:
            whole = int(remaining)
            count = min(whole, rng.randint(2, 4))
            cuts = sorted(rng.sample(range(1, whole), count - 1))
            edges = [0, *cuts, whole]
            parts = [Decimal(edges[i + 1] - edges[i]) for i in range(count)]
            parts[-1] += remaining - whole
            self._fill(order, parts, lost=lost)
        else:
            self._fill(order, [remaining], lost=lost)

    def _fill(self, order: StandInOrder, parts: list[Decimal], *, lost: bool) -> None:
        messages = []
        base = self.price(order.symbol)
        for number, part in enumerate(parts, start=1):
            now = self._now()
            price = (base + Decimal(number - 1) * Decimal("0.01")).quantize(MONEY)
            execution_id = str(
                uuid.uuid5(EXECUTION_NAMESPACE, f"{order.id}:{order.filled_qty}:{number}")
            )
            order.filled_qty += part
            order.filled_value += part * price
            order.updated_at = now
            done = order.filled_qty >= order.qty
            order.status = "filled" if done else "partially_filled"
            if done:
                order.filled_at = now
            position = self._book_position(order, part, price)
            self.activities.append(fill_activity(order, execution_id, part, price, now))
            messages.append(
                trade_update(
                    "fill" if done else "partial_fill",
                    order,
                    now,
                    execution_id=execution_id,
                    qty=part,
                    price=price,
                    position_qty=position,
                )
            )
        self._emit(messages, order, lost=lost)

    def _book_position(self, order: StandInOrder, qty: Decimal, price: Decimal) -> Decimal:
        signed = qty if order.side == "buy" else -qty
        held, avg = self.positions.get(order.symbol, (Decimal(0), Decimal(0)))
        self.cash -= signed * price
        new = held + signed
        if new == 0:
            avg = Decimal(0)
        elif held == 0 or (held > 0) != (new > 0):
            avg = price
        elif (held > 0) == (signed > 0):
            avg = ((held * avg + signed * price) / new).quantize(MONEY)
        self.positions[order.symbol] = (new, avg)
        return new

    def split(self, symbol: str, ratio: Fraction) -> int:
        """A split of `ratio` new shares per old going ex: Alpaca multiplies the quantity of every
        open order of `symbol` (whole shares toward zero), the position and its price follow.
        No trade update says so; the order's next update carries the new quantity. Returns how
        many open orders changed."""
        symbol = symbol.upper()
        with self.lock:
            changed = 0
            for order in self.orders.values():
                if order.symbol == symbol and order.open:
                    order.qty = Decimal(math.floor(Fraction(order.qty) * ratio))
                    changed += 1
            if symbol in self.positions:
                held, avg = self.positions[symbol]
                per = Decimal(ratio.numerator) / Decimal(ratio.denominator)
                self.positions[symbol] = (held * per, (avg / per).quantize(MONEY))
            price = self.price(symbol) * ratio.denominator / ratio.numerator
            self.prices[symbol] = price.quantize(MONEY)
            return changed

    def set_position(self, symbol: str, qty: Decimal, avg: Decimal) -> None:
        """A position changed outside any order the stand-in saw (an old or outside trade)."""
        with self.lock:
            self.positions[symbol.upper()] = (qty, avg)

    # -- the stream ------------------------------------------------------------------------

    def wait_entry(self, index: int, timeout: float) -> LogEntry | None:
        """The log entry at `index`, waiting up to `timeout` seconds for it."""
        with self.lock:
            if index >= len(self.log):
                self.lock.wait(timeout)
            return self.log[index] if index < len(self.log) else None

    def log_length(self) -> int:
        with self.lock:
            return len(self.log)

    def summary(self) -> dict[str, Any]:
        """Counts a test or a benchmark checks."""
        with self.lock:
            per_client: dict[str, int] = {}
            for order in self.orders.values():
                per_client[order.client_order_id] = per_client.get(order.client_order_id, 0) + 1
            return {
                "orders": len(self.orders),
                "duplicate_orders": sum(n - 1 for n in per_client.values()),
                "duplicate_submissions": self.duplicate_submissions,
                "wash_trade_refusals": self.wash_trade_refusals,
                "fills": len(self.activities),
                "faults": {
                    kind: sum(1 for o in self.orders.values() if o.fault == kind)
                    for kind in ("none", *FAULTS, "fill_after_cancel")
                },
            }
