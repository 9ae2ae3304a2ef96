"""Fill notices a broker pushes (its webhook) go down the same path as the fills the pipeline
asks for: `stages.execute_order` records each fill once by the broker's fill id, appends the
order's event, queues `OrderFilled` for the ledger and sets the order's status.

The delivery is handed to `execute_order` as the broker's answer for the order, together with
the fills already stored for it (so the filled total, and with it the status, counts every
fill, not only this delivery's). A delivery whose fills are all stored already writes nothing:
a replay changes nothing. Unknown orders refuse the whole delivery (nothing partial).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from stocker.core.errors import DataError
from stocker.trading.brokers.base import Execution
from stocker.trading.stages import execute_order

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


@dataclass(frozen=True)
class FillNotice:
    """One execution as the broker reports it."""

    fill_id: str
    order_id: uuid.UUID
    qty: Decimal
    price: Decimal
    timestamp: dt.datetime
    commission: Decimal = Decimal(0)


@dataclass
class NoticeReport:
    """What a delivery changed."""

    received: int = 0
    recorded: int = 0
    already_recorded: int = 0
    orders: list[str] = field(default_factory=list)


class _Delivered:
    """A broker whose answer for an order is what it already delivered."""

    name = "webhook"

    def __init__(self, executions: Sequence[Execution]) -> None:
        self._executions = list(executions)

    def execute(
        self, order_id: uuid.UUID, side: str, qty: Decimal, open_price: Decimal, at: dt.datetime
    ) -> list[Execution]:
        return self._executions


def record_fill_notices(uow: SqlUnitOfWork, notices: Sequence[FillNotice]) -> NoticeReport:
    """Record the delivered fills (see the module docstring); one transaction."""
    report = NoticeReport(received=len(notices))
    by_order: dict[uuid.UUID, list[FillNotice]] = {}
    for notice in notices:
        if not notice.qty > 0 or not notice.price > 0 or notice.commission < 0:
            raise DataError(
                f"fills: {notice.fill_id!r} has qty {notice.qty}, price {notice.price}, "
                f"commission {notice.commission}; expected qty > 0, price > 0, commission >= 0"
            )
        by_order.setdefault(notice.order_id, []).append(notice)
    with uow:
        for order_id, delivered in by_order.items():
            order = uow.trading.order(order_id)
            if order is None:
                raise DataError(f"order_id: {order_id} is not an order of this installation")
            stored = {fill.fill_id: fill for fill in uow.trading.fills_of(order_id)}
            new = {n.fill_id: n for n in delivered if n.fill_id not in stored}
            report.already_recorded += len(delivered) - len(new)
            if not new:
                continue
            executions = [
                Execution(fill.fill_id, fill.qty, fill.price, fill.commission, fill.date)
                for fill in stored.values()
            ] + [
                Execution(n.fill_id, n.qty, n.price, n.commission, n.timestamp)
                for n in new.values()
            ]
            execute_order(uow, _Delivered(executions), order, next(iter(new.values())).price)
            report.recorded += len(new)
            report.orders.append(str(order_id))
        uow.commit()
    return report
