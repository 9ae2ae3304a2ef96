"""Helpers of the live-trading tests: orders as the order manager writes them, the stand-in's
control endpoints, the adapter pointed at the stand-in."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
import uuid
from decimal import Decimal
from typing import Any

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import StandIn
from stocker.store.repositories.trading import OrderRow
from stocker.trading.live_broker import LiveTrading

PORTFOLIO = "live"
START = dt.date(2024, 1, 2)


def control(stand_in: StandIn, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        stand_in.url + path, data=json.dumps(body or {}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def add_order(
    app: App,
    symbol: str,
    side: str,
    qty: int | Decimal,
    day: dt.date = START,
    portfolio_id: str = PORTFOLIO,
) -> OrderRow:
    """A PENDING order as the order manager writes it."""
    order = OrderRow(
        order_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{portfolio_id}|{symbol}|{day}|{side}|{qty}"),
        portfolio_id=portfolio_id,
        date=day,
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        type="MOO",
        status="PENDING",
        target_exposure_id=None,
    )
    with app.uow() as uow:
        uow.trading.add_order(order)
        uow.trading.add_order_event(order.order_id, "PENDING")
        uow.commit()
    return order


def settle(live: LiveTrading, quiet_rounds: int = 3, wait: float = 0.03) -> None:
    """Apply trade updates until the stream has been quiet for a few rounds."""
    quiet = 0
    while quiet < quiet_rounds:
        quiet = quiet + 1 if live.pump(wait) == 0 else 0


def connect(stand_in: StandIn) -> AlpacaBroker:
    """The adapter on the stand-in, its stream connected."""
    broker = AlpacaBroker(
        "test-key",
        "test-secret",
        trading_url=stand_in.url,
        stream_url=stand_in.stream_url,
        timeout_s=2.0,
        backoff_s=0.01,
        reconnect_s=0.05,
    )
    deadline = time.monotonic() + 5
    while broker.connections() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return broker
