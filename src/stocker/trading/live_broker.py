"""Orders to a live broker and what comes back: the stage between the order manager and the
ledger when the broker is real (docs/live_trading.md).

- `submit` sends the due PENDING orders of portfolios that are not halted, one broker order per
  Stocker order (our order id is the client order id, so a resend after a crash finds the
  first), canceling open opposite orders on the symbol first (Alpaca refuses a possible wash
  trade). The broker's order id is stored and a SHIPPED event appended.
- `pump` applies the trade updates the stream delivered: each becomes a `broker_events` row
  once (a duplicate changes nothing), an `order_events` row when it is a new transition, and a
  fill — keyed by the broker's execution id — is written to `fills` and posted to the ledger
  once. Order status is derived from the facts (fills and terminal events), so updates that
  arrive out of order end in the same state.
- `sync` backfills from the broker's fill activities and order lookups: on start and whenever
  the stream reconnected (what was sent while it was down is never replayed).

A fill reported after the broker had ended the order (a cancel that lost the race with the
open) is stored but not posted: it becomes a reconciliation break, resolved by the operator.
How facts are written (`FactBatch`, the ledger postings) is in `broker_facts.py`.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stocker.core.broker import (
    EVENT_STATUS,
    TERMINAL_EVENTS,
    BrokerError,
    BrokerOrder,
    BrokerRefusal,
    LiveBroker,
    OrderIntent,
    opposite_open_orders,
)
from stocker.store.repositories.trading import OrderRow
from stocker.trading.broker_facts import (
    CURRENCY,
    FactBatch,
    final_states,
    post_ledger_fill,
    post_ledger_fills,
)

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork
    from stocker.trading.days import UowFactory

__all__ = [
    "CURRENCY",
    "LiveTrading",
    "SubmitReport",
    "final_states",
    "halt_reason",
    "post_ledger_fill",
    "post_ledger_fills",
]


@dataclass
class SubmitReport:
    """What one `submit` did."""

    submitted: list[str] = field(default_factory=list)
    halted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    canceled_opposite: list[str] = field(default_factory=list)
    unreachable: str | None = None


def _order_uuid(client_order_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(client_order_id)
    except ValueError:
        return None


def halt_reason(uow: SqlUnitOfWork, portfolio_id: str) -> str | None:
    """Why the portfolio may not trade now (the kill switch, or open breaks), or None."""
    manual = uow.live_trading.halt_reason(portfolio_id)
    if manual is not None:
        return f"halted: {manual}"
    breaks = uow.live_trading.breaks(portfolio_id)
    if breaks:
        return f"{len(breaks)} open reconciliation break(s)"
    return None


class LiveTrading:
    """One live broker account and the orders Stocker sends it."""

    def __init__(
        self,
        uow_factory: UowFactory,
        broker: LiveBroker,
        *,
        slack_s: float = 300.0,
        record_every: int = 50,
    ) -> None:
        self.uow_factory = uow_factory
        self.broker = broker
        self.record_every = record_every
        self.slack = dt.timedelta(seconds=slack_s)
        self._connections = -1
        self._synced_from: dt.datetime | None = None

    # -- sending ---------------------------------------------------------------------------

    def submit(
        self, *, portfolio_id: str | None = None, through: dt.date | None = None
    ) -> SubmitReport:
        """Send every due PENDING order of the portfolios that may trade."""
        report = SubmitReport()
        with self.uow_factory() as uow:
            pending = [
                order
                for order, _ in uow.live_trading.orders_with_status(
                    ("PENDING",), portfolio_id=portfolio_id
                )
                if through is None or order.date <= through
            ]
            reasons = {p: halt_reason(uow, p) for p in {o.portfolio_id for o in pending}}
        if not pending:
            return report
        sent_now: list[tuple[OrderRow, BrokerOrder]] = []
        try:
            open_orders = self.broker.open_orders()
            for order in pending:
                if reasons[order.portfolio_id] is not None:
                    report.halted.append(str(order.order_id))
                    continue
                opposite = opposite_open_orders(open_orders, order.symbol, order.side)
                for other in opposite:
                    self._cancel_and_wait(other)
                    report.canceled_opposite.append(other.broker_order_id)
                    open_orders = [o for o in open_orders if o is not other]
                sent = self._send(order, report)
                if sent is not None:
                    sent_now.append((order, sent))
                    if sent.is_open:
                        open_orders.append(sent)
                if len(sent_now) >= self.record_every:
                    self._record_submissions(sent_now)
        except BrokerError as error:
            report.unreachable = str(error)
        finally:
            self._record_submissions(sent_now)
        return report

    def _record_submissions(self, sent: list[tuple[OrderRow, BrokerOrder]]) -> None:
        """Record sent orders in one transaction. Recording after sending is safe: an order
        sent but not recorded (the process died) is PENDING here, and sending it again finds
        Alpaca's (same client order id) instead of placing a second one."""
        if not sent:
            return
        with self.uow_factory() as uow:
            uow.live_trading.lock(f"broker:{self.broker.name}")
            for order, broker_order in sent:
                self._record_submission(uow, order, broker_order)
            uow.commit()
        sent.clear()

    def _cancel_and_wait(self, other: BrokerOrder, attempts: int = 20) -> None:
        self.broker.cancel(other.broker_order_id)
        for _ in range(attempts):
            now = self.broker.order(other.broker_order_id)
            if now is None or not now.is_open:
                return
            time.sleep(0.05)
        raise BrokerError(f"order {other.broker_order_id} still open after a cancel")

    def _send(self, order: OrderRow, report: SubmitReport) -> BrokerOrder | None:
        intent = OrderIntent(str(order.order_id), order.symbol, order.side, order.qty)
        try:
            sent = self.broker.submit(intent)
        except BrokerRefusal as refusal:
            with self.uow_factory() as uow:
                uow.trading.add_order_event(
                    order.order_id, "REJECTED", detail={"reason": str(refusal)}
                )
                uow.trading.set_order_status(order.order_id, "CANCELED")
                uow.commit()
            report.refused[str(order.order_id)] = str(refusal)
            return None
        report.submitted.append(str(order.order_id))
        return sent

    def _record_submission(self, uow: SqlUnitOfWork, order: OrderRow, sent: BrokerOrder) -> None:
        repo = uow.live_trading
        repo.mark_submitted(order.order_id, sent.broker_order_id)
        if repo.add_broker_event(
            self.broker.name, sent.broker_order_id, order.order_id, "submitted"
        ):
            uow.trading.add_order_event(
                order.order_id,
                "SHIPPED",
                broker_order_id=sent.broker_order_id,
                detail={"client_order_id": sent.client_order_id, "broker": self.broker.name},
            )

    def cancel_open(self, portfolio_id: str) -> list[str]:
        """Cancel every open broker order of the portfolio (the kill switch)."""
        with self.uow_factory() as uow:
            ours = {
                broker_id
                for _, broker_id in uow.live_trading.orders_with_status(
                    ("SHIPPED",), portfolio_id=portfolio_id
                )
                if broker_id
            }
        canceled = []
        for order in self.broker.open_orders():
            if order.broker_order_id in ours and self.broker.cancel(order.broker_order_id):
                canceled.append(order.broker_order_id)
        return canceled

    # -- what comes back -------------------------------------------------------------------

    def pump(self, timeout: float = 0.0) -> int:
        """Apply the trade updates received; backfill first when the stream reconnected."""
        connections = self.broker.connections()
        if connections != self._connections:
            self._connections = connections
            self.sync(self._synced_from)
        events = self.broker.events(timeout)
        if not events:
            return 0
        ids = [i for i in (_order_uuid(e.order.client_order_id) for e in events) if i]
        with self.uow_factory() as uow:  # one transaction for the batch: the stream is fast
            repo = uow.live_trading
            repo.lock(f"broker:{self.broker.name}")
            known = repo.orders_by_ids(ids)
            batch = FactBatch(uow, self.broker.name)
            for event in events:
                order_id = _order_uuid(event.order.client_order_id)
                if order_id is None or order_id not in known:
                    continue  # not ours: reconciliation reports it
                order, broker_id = known[order_id]
                if broker_id is None:
                    self._record_submission(uow, order, event.order)
                    known[order_id] = (order, event.order.broker_order_id)
                batch.event(
                    order,
                    event.event,
                    event.order,
                    event.fill,
                    {"status": event.order.status, "at": event.timestamp.isoformat()},
                )
            batch.flush()
            uow.commit()
        return len(events)

    def _ours(self, broker_order: BrokerOrder) -> OrderRow | None:
        order_id = _order_uuid(broker_order.client_order_id)
        if order_id is None:
            return None
        with self.uow_factory() as uow:
            return uow.trading.order(order_id)

    # -- backfill --------------------------------------------------------------------------

    def sync(self, after: dt.datetime | None = None) -> int:
        """Backfill fills from the broker's activities (after `after`, or everything) and the
        end of every order in flight from a lookup; returns how many fills were new. After a
        stream gap, `pump` backfills from the previous backfill's start less `slack_s`."""
        started = dt.datetime.now(dt.UTC)
        new_fills = 0
        by_broker_id: dict[str, OrderRow | None] = {}
        fills = self.broker.fills(after)
        with self.uow_factory() as uow:
            known = uow.live_trading.known_fill_ids([fill.execution_id for fill in fills])
        fresh = [fill for fill in fills if fill.execution_id not in known]
        for fill in fresh:
            if fill.broker_order_id not in by_broker_id:
                by_broker_id[fill.broker_order_id] = self._order_of(fill.broker_order_id)
        if fresh:
            with self.uow_factory() as uow:
                uow.live_trading.lock(f"broker:{self.broker.name}")
                batch = FactBatch(uow, self.broker.name)
                for fill in fresh:
                    order = by_broker_id[fill.broker_order_id]
                    if order is not None:  # not ours: reconciliation reports it
                        new_fills += batch.fill(order, fill)
                batch.flush()
                uow.commit()
        self._refresh_in_flight()
        # the next backfill starts here (less a margin for the broker's clock): whatever was
        # before has been seen
        self._synced_from = started - self.slack
        return new_fills

    def _order_of(self, broker_order_id: str) -> OrderRow | None:
        with self.uow_factory() as uow:
            order = uow.live_trading.order_by_broker_id(broker_order_id)
        if order is not None:
            return order
        found = self.broker.order(broker_order_id)
        if found is None:
            return None
        order = self._ours(found)
        if order is not None:
            with self.uow_factory() as uow:
                uow.live_trading.lock(f"broker:{self.broker.name}")
                self._record_submission(uow, order, found)
                uow.commit()
        return order

    def _refresh_in_flight(self) -> None:
        with self.uow_factory() as uow:
            shipped = uow.live_trading.orders_with_status(("SHIPPED",))
        for order, broker_id in shipped:
            found = (
                self.broker.order(broker_id)
                if broker_id
                else self.broker.order_by_client_id(str(order.order_id))
            )
            if found is None or (broker_id and found.is_open):
                continue  # nothing new to record: still open, its id known
            self.apply_snapshot(order, found)

    def apply_snapshot(self, order: OrderRow, found: BrokerOrder) -> None:
        """Record what a lookup says of an order: its broker id and, when the broker ended
        it, the end (fills come from the activities, never from a snapshot)."""
        with self.uow_factory() as uow:
            repo = uow.live_trading
            if repo.broker_order_id(order.order_id) is None:
                self._record_submission(uow, order, found)
            repo.lock(f"broker:{self.broker.name}")
            if found.status in TERMINAL_EVENTS and repo.add_broker_event(
                self.broker.name,
                found.broker_order_id,
                order.order_id,
                found.status,
                filled_qty=found.filled_qty,
                payload={"status": found.status, "from": "lookup"},
            ):
                uow.trading.add_order_event(
                    order.order_id,
                    EVENT_STATUS[found.status],
                    broker_order_id=found.broker_order_id,
                    detail={"filled_qty": str(found.filled_qty), "from": "lookup"},
                )
            batch = FactBatch(uow, self.broker.name)
            batch.facts_of(order)
            batch.flush()
            uow.commit()

    def recover_unrecorded(self, portfolio_id: str | None = None) -> list[str]:
        """PENDING orders the broker holds (sent, then the process died before recording):
        recorded as submitted. Returns their ids."""
        with self.uow_factory() as uow:
            pending = uow.live_trading.orders_with_status(("PENDING",), portfolio_id=portfolio_id)
        found_ids = []
        for order, _ in pending:
            found = self.broker.order_by_client_id(str(order.order_id))
            if found is not None:
                self.apply_snapshot(order, found)
                found_ids.append(str(order.order_id))
        return found_ids
