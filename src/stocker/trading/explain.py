"""Why an order exists and why its size is what it is: order → target → signal → bars.

`explain(uow, order_id)` reads the stored facts only (the order, its events and fills, the target
it came from, that target's signal, and the bars the signal was computed through with their
`source_hash`); the sizing numbers (NAV, close, exact and rounded shares, skipped trades of the
day) were recorded in the order's PENDING event when it was created.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from stocker.core.errors import DataError
from stocker.store.repositories.trading import (
    BarRow,
    FillRow,
    OrderEventRow,
    OrderRow,
    SignalRow,
    TargetRow,
)

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


@dataclass(frozen=True)
class Explanation:
    """The lineage of one order and the reasons behind its size."""

    order: OrderRow
    events: list[OrderEventRow]
    fills: list[FillRow]
    target: TargetRow | None
    signal: SignalRow | None
    bars: list[BarRow]
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [plain(v) for v in value]
            if value is None or isinstance(value, bool | int | float | str):
                return value
            return str(value)

        return plain(
            {
                "order": asdict(self.order),
                "events": [asdict(event) for event in self.events],
                "fills": [asdict(fill) for fill in self.fills],
                "target": asdict(self.target) if self.target else None,
                "signal": asdict(self.signal) if self.signal else None,
                "bars": [asdict(bar) for bar in self.bars],
                "reasons": self.reasons,
            }
        )

    def lines(self) -> list[str]:
        """The explanation as text, one fact per line."""
        o = self.order
        out = [
            f"order {o.order_id}: {o.side} {o.qty.normalize():f} {o.symbol} {o.type} on {o.date} "
            f"for {o.portfolio_id} ({o.status})"
        ]
        for event in self.events:
            line = f"  event {event.status} at {event.created_at:%Y-%m-%d %H:%M:%S}"
            if event.status == "ADJUSTED" and event.detail and event.detail.get("reason"):
                line += f": {event.detail['reason']}"  # the split that changed the quantity
            out.append(line)
        for fill in self.fills:
            out.append(
                f"  fill {fill.fill_id}: {fill.qty.normalize():f} @ {fill.price} "
                f"commission {fill.commission}"
            )
        if self.target is not None:
            t = self.target
            out.append(
                f"target #{t.id} on {t.date}: exposure {t.target_exposure} of NAV, "
                f"k {t.scaling_factor}, capped {t.is_capped}"
            )
        if self.signal is not None:
            s = self.signal
            out.append(
                f"signal #{s.id} ({s.strategy_version}) on {s.date}: lookback return "
                f"{s.lookback_return}, ewma vol {s.ewma_vol}, direction {s.direction}, "
                f"raw weight (direction / vol) {s.target_weight}"
            )
        for bar in self.bars:
            out.append(
                f"  bar #{bar.id} {bar.symbol} {bar.date}: close {bar.close} adj {bar.adj_close}"
                f" source {bar.source} hash {bar.source_hash}"
            )
        out.append("why this size:")
        out.extend(f"  {reason}" for reason in self.reasons)
        return out


def _reasons(order: OrderRow, events: list[OrderEventRow], target: TargetRow | None) -> list[str]:
    reasons: list[str] = []
    if target is not None:
        reasons.append(f"target exposure {target.target_exposure} (k = {target.scaling_factor})")
        if target.reason:
            reasons.append(f"portfolio engine: {target.reason}")
    created = next((e for e in events if e.status == "PENDING" and e.detail), None)
    if created is not None and created.detail is not None:
        d = created.detail
        exact = d["target_exposure"] * d["nav"] / d["close"] if d.get("close") else None
        reasons.append(
            f"NAV {d['nav']:,.2f} on {d['decided_on']} × exposure {d['target_exposure']:.6f} / "
            f"close {d['close']} = {exact:.4f} shares wanted"
            if exact is not None
            else "no usable close"
        )
        reasons.append(
            f"target {d['target_shares']:g} shares (toward zero) − current "
            f"{d['current_shares']:g} = order {order.side} {order.qty.normalize():f}"
        )
        if d.get("reason"):
            reasons.append(f"order manager: {d['reason']}")
        for symbol, why in sorted(d.get("skipped_today", {}).items()):
            reasons.append(f"skipped the same day: {symbol}: {why}")
    return reasons


def explain(uow: SqlUnitOfWork, order_id: str | uuid.UUID) -> Explanation:
    """Walk the order back to its data; `DataError` for an unknown order id."""
    try:
        key = order_id if isinstance(order_id, uuid.UUID) else uuid.UUID(str(order_id))
    except ValueError:
        raise DataError(f"order id {order_id!r} is not a UUID") from None
    with uow:
        order = uow.trading.order(key)
        if order is None:
            raise DataError(f"no order {key}")
        events = uow.trading.order_events(key)
        fills = uow.trading.fills_of(key)
        target = uow.trading.target(order.target_exposure_id) if order.target_exposure_id else None
        signal = uow.trading.signal(target.signal_id) if target and target.signal_id else None
        bars: list[BarRow] = []
        if signal is not None:
            bars = uow.trading.bars_through(signal.symbol, signal.date, 2)
    return Explanation(order, events, fills, target, signal, bars, _reasons(order, events, target))
