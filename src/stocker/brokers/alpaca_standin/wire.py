"""Alpaca's trading wire format, as its documentation gives it: orders, positions, the account,
fill activities and `trade_updates` messages. The stand-in answers with these shapes, so the
adapter under test parses them with alpaca-py's own models."""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ASSET_NAMESPACE = uuid.UUID("a1b2c3d4-0000-4000-8000-00000000a5e7")
MONEY = Decimal("0.0001")


def iso(moment: dt.datetime | None) -> str | None:
    """Alpaca's timestamps: RFC 3339 with nanoseconds and a Z."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def number(value: Decimal | None) -> str | None:
    """Alpaca sends quantities and prices as strings."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return text


def asset_id(symbol: str) -> str:
    return str(uuid.uuid5(ASSET_NAMESPACE, symbol))


def default_price(symbol: str) -> Decimal:
    """A stable price per symbol when the script sets none."""
    return Decimal(50 + zlib.crc32(symbol.encode()) % 200) + Decimal("0.25")


@dataclass
class StandInOrder:
    """An order as the stand-in's book holds it."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    type: str
    time_in_force: str
    created_at: dt.datetime
    status: str = "new"
    filled_qty: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)
    updated_at: dt.datetime | None = None
    filled_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    fault: str = "none"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.status in ("new", "accepted", "partially_filled", "pending_new")

    def avg_price(self) -> Decimal | None:
        if self.filled_qty == 0:
            return None
        return (self.filled_value / self.filled_qty).quantize(MONEY)

    def wire(self) -> dict[str, Any]:
        """The order as `GET /v2/orders/{id}` returns it."""
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at or self.created_at),
            "submitted_at": iso(self.created_at),
            "filled_at": iso(self.filled_at),
            "expired_at": iso(self.expired_at),
            "canceled_at": iso(self.canceled_at),
            "failed_at": iso(self.failed_at),
            "replaced_at": None,
            "replaced_by": None,
            "replaces": None,
            "asset_id": asset_id(self.symbol),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": number(self.qty),
            "filled_qty": number(self.filled_qty),
            "filled_avg_price": number(self.avg_price()),
            "order_class": "simple",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": None,
            "stop_price": None,
            "status": self.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "position_intent": "buy_to_open" if self.side == "buy" else "sell_to_close",
        }


def position_wire(symbol: str, qty: Decimal, avg: Decimal, price: Decimal) -> dict[str, Any]:
    """A `GET /v2/positions` element."""
    market_value = (qty * price).quantize(MONEY)
    cost_basis = (qty * avg).quantize(MONEY)
    return {
        "asset_id": asset_id(symbol),
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": number(avg),
        "qty": number(qty),
        "side": "long" if qty >= 0 else "short",
        "market_value": number(market_value),
        "cost_basis": number(cost_basis),
        "unrealized_pl": number(market_value - cost_basis),
        "unrealized_plpc": "0",
        "unrealized_intraday_pl": "0",
        "unrealized_intraday_plpc": "0",
        "current_price": number(price),
        "lastday_price": number(price),
        "change_today": "0",
        "qty_available": number(qty),
    }


def account_wire(cash: Decimal, long_value: Decimal, short_value: Decimal) -> dict[str, Any]:
    """`GET /v2/account`."""
    equity = cash + long_value + short_value
    return {
        "id": "904837e3-3b76-47ec-b432-046db621571b",
        "account_number": "PA3STANDIN",
        "status": "ACTIVE",
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "buying_power": number(cash * 2),
        "regt_buying_power": number(cash * 2),
        "daytrading_buying_power": "0",
        "non_marginable_buying_power": number(cash),
        "cash": number(cash),
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "portfolio_value": number(equity),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": "2020-01-02T15:00:00.000000Z",
        "trade_suspended_by_user": False,
        "multiplier": "2",
        "shorting_enabled": True,
        "equity": number(equity),
        "last_equity": number(equity),
        "long_market_value": number(long_value),
        "short_market_value": number(short_value),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
    }


def fill_activity(
    order: StandInOrder, execution_id: str, qty: Decimal, price: Decimal, at: dt.datetime
) -> dict[str, Any]:
    """A `GET /v2/account/activities/FILL` element; its id is `<time>::<execution id>`."""
    partial = order.filled_qty < order.qty
    return {
        "id": at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S%f")[:17] + "::" + execution_id,
        "activity_type": "FILL",
        "transaction_time": iso(at),
        "type": "partial_fill" if partial else "fill",
        "price": number(price),
        "qty": number(qty),
        "side": order.side,
        "symbol": order.symbol,
        "leaves_qty": number(order.qty - order.filled_qty),
        "order_id": order.id,
        "cum_qty": number(order.filled_qty),
        "order_status": order.status,
    }


def trade_update(
    event: str,
    order: StandInOrder,
    at: dt.datetime,
    *,
    execution_id: str | None = None,
    qty: Decimal | None = None,
    price: Decimal | None = None,
    position_qty: Decimal | None = None,
) -> dict[str, Any]:
    """A `trade_updates` stream message."""
    data: dict[str, Any] = {"event": event, "timestamp": iso(at), "order": order.wire()}
    if execution_id is not None:
        data["execution_id"] = execution_id
        data["qty"] = number(qty)
        data["price"] = number(price)
        data["position_qty"] = number(position_qty)
    return {"stream": "trade_updates", "data": data}


def error_body(code: int, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}
