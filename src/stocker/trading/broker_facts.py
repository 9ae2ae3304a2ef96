"""Applying what a live broker reports to the store: trade updates from the stream, fills from
a backfill, the end of an order from a lookup — each order's events, fills, status and ledger
postings written in one transaction, whatever order the facts arrived in.

This is the recording half of the live stage; `live_broker.py` (which re-exports these names)
decides what to send and when to record, so each module stays about one thing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from stocker.core.broker import EVENT_STATUS, TERMINAL_EVENTS, BrokerFill, BrokerOrder, local_status
from stocker.core.ledger import Fill
from stocker.core.messages import OrderFilled
from stocker.store.repositories.trading import FillRow, OrderRow
from stocker.trading.ledger import post_fills_in

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

CURRENCY = "USD"


class FactBatch:
    """Broker facts applied in one transaction: each order's facts read once, its events,
    its status and the ledger's fills (one `post_fills_in` per portfolio) written together.
    Status follows the facts, so the order updates arrived in does not matter."""

    def __init__(self, uow: SqlUnitOfWork, broker: str) -> None:
        self.uow, self.broker = uow, broker
        self.facts: dict[uuid.UUID, list[Any]] = {}  # filled, filled when ended, stored status
        self.orders: dict[uuid.UUID, OrderRow] = {}
        self.events: list[dict[str, Any]] = []
        self.quantities: dict[uuid.UUID, Decimal] = {}  # what the broker holds the order for
        self.to_post: dict[str, list[tuple[OrderRow, BrokerFill]]] = {}

    def facts_of(self, order: OrderRow) -> list[Any]:
        if order.order_id not in self.facts:
            self.facts[order.order_id] = list(self.uow.live_trading.order_facts(order.order_id))
            self.orders[order.order_id] = order
        return self.facts[order.order_id]

    def quantity(self, order: OrderRow) -> Decimal:
        """The quantity the order's fills are measured against: the broker's (a split it applied
        to the resting order, recorded ADJUSTED) when it differs from what was decided."""
        if order.order_id not in self.quantities:
            qty = order.qty
            for stored in reversed(self.uow.trading.order_events(order.order_id)):
                if stored.status == "ADJUSTED" and stored.detail is not None:
                    qty = Decimal(str(stored.detail["qty"]))
                    break
            self.quantities[order.order_id] = qty
        return self.quantities[order.order_id]

    def adjusted(self, order: OrderRow, snapshot: BrokerOrder) -> None:
        """The broker holds the order for another quantity than ours (Alpaca carries a resting
        order across a split, multiplying its quantity): recorded once per broker order and
        quantity as an ADJUSTED event, then the order's status is measured against it."""
        self.quantities[order.order_id] = snapshot.qty
        if snapshot.qty == order.qty:
            return
        new = self.uow.live_trading.add_broker_event(
            self.broker,
            snapshot.broker_order_id,
            order.order_id,
            "adjusted",
            execution_id=f"qty:{snapshot.qty.normalize():f}",
            filled_qty=snapshot.filled_qty,
            payload={"qty_before": str(order.qty), "qty": str(snapshot.qty)},
        )
        if not new:
            return
        self.events.append(
            {
                "order_id": order.order_id,
                "status": "ADJUSTED",
                "broker_order_id": snapshot.broker_order_id,
                "detail": {
                    "qty_before": f"{order.qty.normalize():f}",
                    "qty": f"{snapshot.qty.normalize():f}",
                    "from": "broker",
                    "reason": (
                        f"{self.broker} holds the {order.symbol} order for "
                        f"{snapshot.qty.normalize():f} shares, not the "
                        f"{order.qty.normalize():f} sent (a split it applied to the resting "
                        "order): fills are measured against its quantity"
                    ),
                },
            }
        )

    def event(
        self,
        order: OrderRow,
        event: str,
        snapshot: BrokerOrder,
        fill: BrokerFill | None,
        payload: dict[str, Any],
    ) -> None:
        facts = self.facts_of(order)
        if snapshot.qty > 0:
            self.adjusted(order, snapshot)
        new = self.uow.live_trading.add_broker_event(
            self.broker,
            snapshot.broker_order_id,
            order.order_id,
            event,
            execution_id=fill.execution_id if fill else "",
            filled_qty=snapshot.filled_qty,
            payload=payload,
        )
        if not new:
            return  # a duplicate delivery changes nothing
        if fill is not None:
            self.fill(order, fill)
            return
        if event in TERMINAL_EVENTS:
            ended = facts[1]
            facts[1] = snapshot.filled_qty if ended is None else min(ended, snapshot.filled_qty)
        if event in EVENT_STATUS:
            self.events.append(
                {
                    "order_id": order.order_id,
                    "status": EVENT_STATUS[event],
                    "broker_order_id": snapshot.broker_order_id,
                    "detail": {"filled_qty": str(snapshot.filled_qty)},
                }
            )

    def fill(self, order: OrderRow, fill: BrokerFill) -> bool:
        """Record a fill once (by execution id); post it unless it came after the end."""
        facts = self.facts_of(order)
        new = self.uow.trading.add_fill(
            FillRow(
                fill_id=fill.execution_id,
                order_id=order.order_id,
                date=fill.timestamp,
                symbol=order.symbol,
                side=order.side,
                qty=fill.qty,
                price=fill.price,
                commission=Decimal(0),
            )
        )
        if not new:
            return False
        facts[0] += fill.qty
        total, ended_at = facts[0], facts[1]
        self.events.append(
            {
                "order_id": order.order_id,
                "status": "FILLED" if total >= self.quantity(order) else "PARTIALLY_FILLED",
                "broker_order_id": fill.broker_order_id,
                "detail": {
                    "execution_id": fill.execution_id,
                    "qty": str(fill.qty),
                    "price": str(fill.price),
                    "filled": str(total),
                },
            }
        )
        if ended_at is not None and total > ended_at:
            self.uow.live_trading.add_break(
                order.portfolio_id,
                "FILL_AFTER_CANCEL",
                f"fill:{fill.execution_id}",
                ours={"status": "CANCELED", "filled_qty": str(total - fill.qty)},
                broker={
                    "execution_id": fill.execution_id,
                    "qty": str(fill.qty),
                    "price": str(fill.price),
                    "filled_qty": str(total),
                },
                reason=(
                    f"{fill.qty} {order.symbol} filled after the broker ended the order "
                    f"with {ended_at} filled; not posted until resolved"
                ),
                symbol=order.symbol,
                order_id=order.order_id,
                broker_order_id=fill.broker_order_id,
            )
            return True
        self.to_post.setdefault(order.portfolio_id, []).append((order, fill))
        return True

    def flush(self) -> None:
        uow = self.uow
        uow.live_trading.add_order_events(self.events)
        for portfolio_id, items in self.to_post.items():
            post_ledger_fills(uow, portfolio_id, items)
        statuses = {}
        for order_id, (filled, ended_at, stored) in self.facts.items():
            status = local_status(
                self.quantity(self.orders[order_id]), filled, ended_at is not None
            )
            if status != stored:
                statuses[order_id] = status
        uow.live_trading.set_statuses(statuses)


def post_ledger_fills(
    uow: SqlUnitOfWork, portfolio_id: str, items: Sequence[tuple[OrderRow, BrokerFill]]
) -> None:
    """Post broker fills to a portfolio's ledger in one batch and announce the new ones."""
    posted = post_fills_in(
        uow,
        portfolio_id,
        [
            Fill(
                fill_id=fill.execution_id,
                symbol=order.symbol,
                side=order.side,  # type: ignore[arg-type]
                qty=fill.qty,
                price=fill.price,
                timestamp=fill.timestamp,
                currency=CURRENCY,
            )
            for order, fill in items
        ],
    )
    uow.outbox.add_many(
        OrderFilled(
            order_uuid=order.order_id,
            broker_id=fill.execution_id,
            symbol=order.symbol,
            qty=fill.qty,
            price=fill.price,
            commission=Decimal(0),
            timestamp=fill.timestamp,
        )
        for (order, fill), result in zip(items, posted, strict=True)
        if result.new
    )


def post_ledger_fill(uow: SqlUnitOfWork, order: OrderRow, fill: BrokerFill) -> None:
    """Post a broker fill of `order` to its portfolio's ledger and announce it."""
    posted = post_fills_in(
        uow,
        order.portfolio_id,
        [
            Fill(
                fill_id=fill.execution_id,
                symbol=order.symbol,
                side=order.side,  # type: ignore[arg-type]
                qty=fill.qty,
                price=fill.price,
                timestamp=fill.timestamp,
                currency=CURRENCY,
            )
        ],
    )
    if posted and posted[0].new:
        uow.outbox.add(
            OrderFilled(
                order_uuid=order.order_id,
                broker_id=fill.execution_id,
                symbol=order.symbol,
                qty=fill.qty,
                price=fill.price,
                commission=Decimal(0),
                timestamp=fill.timestamp,
            )
        )


def final_states(uow: SqlUnitOfWork, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The `orders.status` of each order (what acceptance compares with the broker's)."""
    states = {}
    for order_id in order_ids:
        order = uow.trading.order(order_id)
        if order is not None:
            states[order_id] = order.status
    return states
