"""Reconciliation with the broker: after a backfill, what we hold and what the broker holds
are compared, and every disagreement is stored as a break (both sides and why). A portfolio
with an open break does not trade (`live_broker.halt_reason`) until the operator resolves it:
`broker` (the broker is right: a correcting ledger entry is posted) or `ours` (nothing posted;
the operator fixes the account).

Checked (one Alpaca account per portfolio):
- positions: the ledger's quantity per symbol against the broker's (a position older than any
  lookback window, one changed outside Stocker, one flat at the broker but not here);
- open orders at the broker that Stocker did not place;
- orders we consider in flight that the broker does not hold (sent, then lost), and orders
  the broker holds open that we have not sent (a restart with orders in flight);
- fills beyond what the broker reported filled when it ended their order: found here from the
  stored order events whatever order they arrived in (a late fill backfilled from the
  activities before its cancel arrived is already posted; one that came after is stored, not
  posted, and `live_broker` raised the break on arrival).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from stocker.core.broker import BrokerFill, LiveBroker
from stocker.core.errors import DataError
from stocker.core.ledger import Fill
from stocker.store.repositories.trading import FillRow
from stocker.trading.ledger import post_fills_in
from stocker.trading.live_broker import CURRENCY, LiveTrading, post_ledger_fill

if TYPE_CHECKING:
    from stocker.store.repositories.live_trading import BreakRow
    from stocker.store.uow import SqlUnitOfWork
    from stocker.trading.days import UowFactory


@dataclass(frozen=True)
class ReconcileReport:
    portfolio_id: str
    new_breaks: int
    open_breaks: int

    @property
    def halted(self) -> bool:
        return self.open_breaks > 0


def reconcile(
    uow_factory: UowFactory, broker: LiveBroker, portfolio_id: str, *, sync: bool = True
) -> ReconcileReport:
    """Backfill (unless `sync` is False), then compare and store every break."""
    if sync:
        live = LiveTrading(uow_factory, broker)
        live.sync()
        live.recover_unrecorded(portfolio_id)
    positions = broker.positions()
    open_orders = broker.open_orders()
    new = 0
    with uow_factory() as uow:
        repo = uow.live_trading
        symbols = sorted(set(positions) | set(_ledger_symbols(uow, portfolio_id)))
        ours = uow.ledger.positions(portfolio_id, symbols)
        for symbol in symbols:
            here = ours[symbol].quantity
            there = positions[symbol].qty if symbol in positions else Decimal(0)
            if here != there:
                avg = positions[symbol].avg_entry_price if symbol in positions else Decimal(0)
                new += repo.add_break(
                    portfolio_id,
                    "POSITION",
                    f"position:{symbol}:{here}:{there}",
                    ours={"qty": str(here), "cost": str(ours[symbol].cost)},
                    broker={"qty": str(there), "avg_entry_price": str(avg)},
                    reason=(
                        f"{symbol}: the ledger holds {here}, the broker {there}"
                        + (" (flat at the broker)" if there == 0 else "")
                        + (" (none here: older than any fill we saw)" if here == 0 else "")
                    ),
                    symbol=symbol,
                )
        shipped = {
            broker_id: order
            for order, broker_id in repo.orders_with_status(("SHIPPED",), portfolio_id=portfolio_id)
            if broker_id
        }
        pending = {
            str(order.order_id): order
            for order, _ in repo.orders_with_status(("PENDING",), portfolio_id=portfolio_id)
        }
        for order in open_orders:
            known = uow.trading.order(_uuid(order.client_order_id))
            if known is None:
                new += repo.add_break(
                    portfolio_id,
                    "OUTSIDE_ORDER",
                    f"outside:{order.broker_order_id}",
                    ours={},
                    broker={
                        "broker_order_id": order.broker_order_id,
                        "client_order_id": order.client_order_id,
                        "side": order.side,
                        "qty": str(order.qty),
                        "status": order.status,
                    },
                    reason=f"open {order.side} {order.qty} {order.symbol} placed outside Stocker",
                    symbol=order.symbol,
                    broker_order_id=order.broker_order_id,
                )
            elif order.client_order_id in pending:
                new += repo.add_break(
                    portfolio_id,
                    "IN_FLIGHT",
                    f"in-flight:{order.client_order_id}",
                    ours={"status": "PENDING"},
                    broker={"status": order.status, "broker_order_id": order.broker_order_id},
                    reason="order open at the broker but never recorded as sent (a restart)",
                    symbol=order.symbol,
                    order_id=known.order_id,
                    broker_order_id=order.broker_order_id,
                )
        open_ids = {o.broker_order_id for o in open_orders}
        for broker_id, sent in shipped.items():
            if broker_id not in open_ids and broker.order(broker_id) is None:
                new += repo.add_break(
                    portfolio_id,
                    "ORDER_STATUS",
                    f"missing:{broker_id}",
                    ours={"status": "SHIPPED"},
                    broker={"status": "unknown"},
                    reason="order sent but unknown to the broker",
                    symbol=sent.symbol,
                    order_id=sent.order_id,
                    broker_order_id=broker_id,
                )
        new += _late_fills(uow, portfolio_id)
        uow.commit()
        open_breaks = len(repo.breaks(portfolio_id))
    return ReconcileReport(portfolio_id, new, open_breaks)


def _late_fills(uow: SqlUnitOfWork, portfolio_id: str) -> int:
    new = 0
    for late in uow.live_trading.late_fills(portfolio_id):
        new += uow.live_trading.add_break(
            portfolio_id,
            "FILL_AFTER_CANCEL",
            f"fill:{late.fill_id}",
            ours={
                "status": "CANCELED",
                "filled_qty": str(late.filled_before),
                "posted": late.posted,
            },
            broker={
                "execution_id": late.fill_id,
                "qty": str(late.qty),
                "price": str(late.price),
                "filled_qty": str(late.filled_before + late.qty),
            },
            reason=(
                f"{late.qty} {late.symbol} filled after the broker ended the order with "
                f"{late.ended_with} filled; "
                + (
                    "posted (it was backfilled before the end arrived)"
                    if late.posted
                    else "not posted until resolved"
                )
            ),
            symbol=late.symbol,
            order_id=late.order_id,
            broker_order_id=late.broker_order_id,
        )
    return new


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        return uuid.UUID(int=0)


def _ledger_symbols(uow: SqlUnitOfWork, portfolio_id: str) -> list[str]:
    entries = uow.ledger.entries(portfolio_id)
    return sorted({p.symbol for e in entries for p in e.postings if p.symbol})


def resolve_break(
    uow_factory: UowFactory,
    break_id: int,
    side: str,
    note: str,
    *,
    day: dt.date,
) -> BreakRow:
    """Close a break. `broker`: the broker is right, and a correcting entry is posted (a
    position: a fill at the broker's average price, or at our average cost when the broker is
    flat, so no P&L is invented; a late fill: the fill itself, unless it was posted already).
    `ours`: nothing posted (a late fill already posted stays: reverse it by hand)."""
    if side not in ("broker", "ours"):
        raise DataError(f"resolution {side!r}; expected broker or ours")
    with uow_factory() as uow:
        repo = uow.live_trading
        row = repo.break_(break_id)
        if row is None:
            raise DataError(f"no reconciliation break {break_id}")
        if row.resolved_at is not None:
            return row
        entry_id = None
        if side == "broker":
            entry_id = _correct(uow, row, day)
        repo.resolve_break(break_id, side, note, entry_id)
        uow.commit()
        resolved = repo.break_(break_id)
    assert resolved is not None
    return resolved


def _correct(u: SqlUnitOfWork, row: BreakRow, day: dt.date) -> uuid.UUID | None:
    if row.kind == "FILL_AFTER_CANCEL" and row.order_id is not None:
        order = u.trading.order(row.order_id)
        if order is None:
            return None
        already = u.ledger.entry_for_fill(str(row.broker["execution_id"]))
        if already is not None:  # backfilled and posted before the end arrived: kept as is
            return already.entry_id
        fill = BrokerFill(
            execution_id=str(row.broker["execution_id"]),
            broker_order_id=str(row.broker_order_id),
            symbol=order.symbol,
            side=order.side,
            qty=Decimal(row.broker["qty"]),
            price=Decimal(row.broker["price"]),
            timestamp=dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC),
        )
        post_ledger_fill(u, order, fill)
        u.trading.set_order_status(order.order_id, "FILLED")
        entry = u.ledger.entry_for_fill(fill.execution_id)
        return entry.entry_id if entry is not None else None
    if row.kind == "POSITION" and row.symbol:
        here, there = Decimal(row.ours["qty"]), Decimal(row.broker["qty"])
        delta = there - here
        if delta == 0:
            return None
        if there != 0 and Decimal(row.broker["avg_entry_price"]) > 0:
            price = Decimal(row.broker["avg_entry_price"])
        else:
            price = abs(Decimal(row.ours["cost"]) / here) if here else Decimal(1)
        price = price.quantize(Decimal("0.0001"))
        fill_id = f"reconcile-{row.id}"
        at = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        side = "BUY" if delta > 0 else "SELL"
        u.trading.add_fill(
            FillRow(
                fill_id,
                None,
                at,
                row.symbol,
                side,
                abs(delta),
                price.quantize(Decimal("0.0001")),
                Decimal(0),
            )
        )
        posted = post_fills_in(
            u,
            row.portfolio_id,
            [
                Fill(
                    fill_id=fill_id,
                    symbol=row.symbol,
                    side=side,  # type: ignore[arg-type]
                    qty=abs(delta),
                    price=price,
                    timestamp=at,
                    currency=CURRENCY,
                )
            ],
        )
        return posted[0].entry.entry_id
    return None


def halt(
    uow_factory: UowFactory, portfolio_id: str, reason: str, broker: LiveBroker | None = None
) -> list[str]:
    """The kill switch: no new orders for the portfolio, and its open broker orders canceled
    (when a live broker is given). Returns the canceled broker order ids."""
    if not portfolio_id:
        raise DataError("portfolio: must not be empty")
    with uow_factory() as uow:
        uow.live_trading.halt(portfolio_id, reason or "halted by the operator")
        uow.commit()
    if broker is None:
        return []
    return LiveTrading(uow_factory, broker).cancel_open(portfolio_id)


def resume(uow_factory: UowFactory, portfolio_id: str) -> tuple[bool, int]:
    """Lift the kill switch; returns whether it was on and how many breaks still halt."""
    with uow_factory() as uow:
        was = uow.live_trading.resume(portfolio_id)
        uow.commit()
        return was, len(uow.live_trading.breaks(portfolio_id))


def list_breaks(
    uow_factory: UowFactory, portfolio_id: str | None = None, *, include_resolved: bool = False
) -> list[BreakRow]:
    with uow_factory() as uow:
        return uow.live_trading.breaks(portfolio_id, open_only=not include_resolved)


def break_json(row: BreakRow) -> dict[str, object]:
    """A break as plain JSON values."""
    return {
        "id": row.id,
        "portfolio_id": row.portfolio_id,
        "kind": row.kind,
        "symbol": row.symbol,
        "order_id": str(row.order_id) if row.order_id else None,
        "broker_order_id": row.broker_order_id,
        "ours": row.ours,
        "broker": row.broker,
        "reason": row.reason,
        "found_at": row.found_at.isoformat(),
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution": row.resolution,
        "note": row.note,
        "correcting_entry_id": str(row.correcting_entry_id) if row.correcting_entry_id else None,
    }
