"""Alpaca's trading payloads turned into the core's broker values (exact decimals, our sides)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from stocker.core.broker import BrokerEvent, BrokerFill, BrokerOrder, BrokerPosition
from stocker.core.errors import DataError


def _decimal(value: Any, what: str) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    try:
        return Decimal(str(value))
    except Exception as exc:
        raise DataError(f"Alpaca {what} {value!r} is not a number") from exc


def _side(value: Any) -> str:
    text = str(getattr(value, "value", value)).lower()
    if text not in ("buy", "sell"):
        raise DataError(f"Alpaca order side {value!r}; expected buy or sell")
    return text.upper()


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value)).lower()


def timestamp(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    text = str(value).replace("Z", "+00:00")
    head, _, rest = text.partition(".")
    if rest:  # nanoseconds: Python keeps six digits
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    return dt.datetime.fromisoformat(text)


def order_from(raw: Any) -> BrokerOrder:
    """An alpaca-py `Order` (or its JSON) as a `BrokerOrder`."""
    get = raw.get if isinstance(raw, dict) else lambda name: getattr(raw, name, None)
    return BrokerOrder(
        broker_order_id=str(get("id")),
        client_order_id=str(get("client_order_id")),
        symbol=str(get("symbol")),
        side=_side(get("side")),
        qty=_decimal(get("qty"), "order qty"),
        filled_qty=_decimal(get("filled_qty"), "filled qty"),
        status=_enum(get("status")),
    )


def position_from(raw: Any) -> BrokerPosition:
    return BrokerPosition(
        symbol=str(raw.symbol),
        qty=_decimal(raw.qty, "position qty"),
        avg_entry_price=_decimal(raw.avg_entry_price, "average entry price"),
    )


def fill_from_activity(raw: dict[str, Any]) -> BrokerFill:
    """A FILL activity. Its id is `<time>::<execution id>`; the execution id is what the
    stream's `execution_id` carries, so a fill seen both ways is one fill."""
    activity_id = str(raw["id"])
    execution_id = activity_id.split("::", 1)[1] if "::" in activity_id else activity_id
    return BrokerFill(
        execution_id=execution_id,
        broker_order_id=str(raw["order_id"]),
        symbol=str(raw["symbol"]),
        side=_side(raw["side"]),
        qty=_decimal(raw["qty"], "fill qty"),
        price=_decimal(raw["price"], "fill price"),
        timestamp=timestamp(raw["transaction_time"]),
    )


def event_from(message: dict[str, Any]) -> BrokerEvent | None:
    """A `trade_updates` message (raw JSON, so quantities and prices stay exact)."""
    data = message.get("data") or {}
    if message.get("stream") != "trade_updates" or "order" not in data:
        return None
    order = order_from(data["order"])
    at = timestamp(data.get("timestamp") or data["order"].get("updated_at"))
    fill = None
    if data.get("execution_id") and data.get("event") in ("fill", "partial_fill"):
        fill = BrokerFill(
            execution_id=str(data["execution_id"]),
            broker_order_id=order.broker_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=_decimal(data.get("qty"), "fill qty"),
            price=_decimal(data.get("price"), "fill price"),
            timestamp=at,
        )
    return BrokerEvent(event=str(data.get("event")), order=order, timestamp=at, fill=fill)
