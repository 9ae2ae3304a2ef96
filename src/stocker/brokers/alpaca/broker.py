"""Alpaca's trading API through alpaca-py: orders, positions, fill activities, trade updates.

A submission is sent once. When its answer is lost (a timeout, a dropped connection, a 5xx, a
429) the order is looked up by its client order id — our order id — and only when Alpaca holds
no such order is it sent again; a "client_order_id must be unique" answer is resolved the same
way. So an order reaches Alpaca at most once however the network behaves.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

from stocker.brokers.alpaca.stream import TradeUpdates
from stocker.brokers.alpaca.wire import fill_from_activity, order_from, position_from
from stocker.core.broker import (
    BrokerError,
    BrokerEvent,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRefusal,
    OrderIntent,
)

T = TypeVar("T")
TRANSIENT = (requests.ConnectionError, requests.Timeout)
PAGE = 100


class _TimedSession(requests.Session):
    """A session that never waits forever for an answer."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)


def _status(error: APIError) -> int:
    try:
        return int(error.status_code or 0)
    except Exception:
        return 0


class AlpacaBroker:
    """The Alpaca account orders go to (paper or live, or any URL speaking its API)."""

    name = "alpaca"
    live = True  # the pipeline's broker stage leaves its orders to the live stage

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        paper: bool = True,
        trading_url: str | None = None,
        stream_url: str | None = None,
        timeout_s: float = 10.0,
        attempts: int = 6,
        backoff_s: float = 0.5,
        reconnect_s: float = 1.0,
        stream: bool = True,
    ) -> None:
        self._client = TradingClient(key, secret, paper=paper, url_override=trading_url)
        self._client._retry = 0  # retries are ours: after a lookup, never blindly
        self._client._session = _TimedSession(timeout_s)
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.lookups = 0
        self._stream = (
            TradeUpdates(key, secret, paper=paper, url=stream_url, reconnect_s=reconnect_s)
            if stream
            else None
        )
        if self._stream is not None:
            self._stream.start()

    # -- calls with retries (reads only) ---------------------------------------------------

    def _read(self, what: str, call: Callable[[], T]) -> T:
        """A read, retried on a transient failure (reads change nothing at the broker)."""
        for attempt in range(self.attempts):
            try:
                return call()
            except APIError as error:
                if _status(error) != 429 and _status(error) < 500:
                    raise BrokerError(f"Alpaca refused {what}: {error.message}") from error
            except TRANSIENT:
                pass
            time.sleep(self.backoff_s * (2**attempt) / 4)
        raise BrokerError(f"Alpaca unreachable for {what} after {self.attempts} attempts")

    # -- orders ----------------------------------------------------------------------------

    def submit(self, intent: OrderIntent) -> BrokerOrder:
        request = MarketOrderRequest(
            symbol=intent.symbol,
            qty=float(intent.qty),
            side=OrderSide.BUY if intent.side == "BUY" else OrderSide.SELL,
            time_in_force=TimeInForce(intent.time_in_force),
            client_order_id=intent.client_order_id,
        )
        for attempt in range(self.attempts):
            try:
                return order_from(self._client.submit_order(request))
            except APIError as error:
                status = _status(error)
                unique = status == 422 and "client_order_id" in str(error.message)
                if status != 429 and status < 500 and not unique:
                    raise BrokerRefusal(
                        f"Alpaca refused order {intent.client_order_id} "
                        f"({intent.side} {intent.qty} {intent.symbol}): {error.message}"
                    ) from error
            except TRANSIENT:
                pass
            # The answer is lost or a failure: does Alpaca hold the order after all?
            found = self.order_by_client_id(intent.client_order_id)
            if found is not None:
                return found
            time.sleep(self.backoff_s * (2**attempt) / 4)
        raise BrokerError(
            f"Alpaca unreachable: order {intent.client_order_id} not placed after "
            f"{self.attempts} attempts (it is looked up again before any new attempt)"
        )

    def order_by_client_id(self, client_order_id: str) -> BrokerOrder | None:
        self.lookups += 1

        def call() -> BrokerOrder | None:
            try:
                return order_from(self._client.get_order_by_client_id(client_order_id))
            except APIError as error:
                if _status(error) == 404:
                    return None
                raise

        return self._read(f"order {client_order_id}", call)

    def order(self, broker_order_id: str) -> BrokerOrder | None:
        def call() -> BrokerOrder | None:
            try:
                return order_from(self._client.get_order_by_id(broker_order_id))
            except APIError as error:
                if _status(error) == 404:
                    return None
                raise

        return self._read(f"order {broker_order_id}", call)

    def open_orders(self) -> list[BrokerOrder]:
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        orders = self._read("open orders", lambda: self._client.get_orders(request))
        return [order_from(order) for order in orders]

    def cancel(self, broker_order_id: str) -> bool:
        for attempt in range(self.attempts):
            try:
                self._client.cancel_order_by_id(broker_order_id)
                return True
            except APIError as error:
                status = _status(error)
                if status in (404, 422):
                    return False
                if status != 429 and status < 500:
                    raise BrokerError(f"Alpaca refused to cancel {broker_order_id}") from error
            except TRANSIENT:
                pass  # a cancel is safe to repeat
            time.sleep(self.backoff_s * (2**attempt) / 4)
        raise BrokerError(f"Alpaca unreachable: cancel of {broker_order_id} not confirmed")

    # -- account ---------------------------------------------------------------------------

    def positions(self) -> dict[str, BrokerPosition]:
        raw = self._read("positions", self._client.get_all_positions)
        positions = [position_from(p) for p in raw]
        return {p.symbol: p for p in positions}

    def fills(self, after: dt.datetime | None = None) -> list[BrokerFill]:
        fills: list[BrokerFill] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"direction": "asc", "page_size": PAGE}
            if after is not None:
                params["after"] = after.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
            if token is not None:
                params["page_token"] = token
            page: Any = self._read("fill activities", partial(self._activities, params))
            rows = list(page or [])
            fills.extend(fill_from_activity(row) for row in rows)
            if len(rows) < PAGE:
                return fills
            token = str(rows[-1]["id"])

    def _activities(self, params: dict[str, Any]) -> Any:
        return self._client.get("/account/activities/FILL", params)

    def execute(self, order_id: Any, side: str, qty: Any, open_price: Any, at: Any) -> list[Any]:
        """The pipeline's broker stage asks a paper broker to fill at the open; a live broker
        executes nothing there (`stocker.trading.live_broker` sends and records)."""
        return []

    # -- the stream ------------------------------------------------------------------------

    def events(self, timeout: float = 0.0) -> list[BrokerEvent]:
        return self._stream.drain(timeout) if self._stream is not None else []

    def connections(self) -> int:
        return self._stream.connections() if self._stream is not None else 0

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
