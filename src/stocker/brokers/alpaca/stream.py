"""The `trade_updates` stream through alpaca-py's `TradingStream`, on a thread of its own.

Messages are taken raw (alpaca-py would turn quantities and prices into floats) and queued;
the caller drains them. Every (re)connection is counted: messages sent while the stream was
down are never replayed by Alpaca, so a new connection tells the caller to backfill.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import Any

from alpaca.trading.stream import TradingStream

from stocker.brokers.alpaca.wire import event_from
from stocker.core.broker import BrokerEvent


class _CountingStream(TradingStream):
    """alpaca-py's stream, counting its connections."""

    connected = 0

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self.connected += 1


class TradeUpdates:
    """Trade updates queued from a background thread."""

    def __init__(
        self,
        key: str,
        secret: str,
        *,
        paper: bool = True,
        url: str | None = None,
        reconnect_s: float = 1.0,
    ) -> None:
        self._queue: queue.Queue[BrokerEvent] = queue.Queue()
        self._stream = _CountingStream(
            key, secret, paper=paper, raw_data=True, url_override=url or ""
        )
        self._stream._reconnect_min_backoff = reconnect_s
        self._stream._reconnect_max_backoff = max(reconnect_s, 1.0) * 4
        self._stream.subscribe_trade_updates(self._on_update)
        self._thread = threading.Thread(target=self._stream.run, name="trade-updates", daemon=True)
        self._started = False

    async def _on_update(self, message: Any) -> None:
        event = event_from(message)
        if event is not None:
            self._queue.put(event)

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def connections(self) -> int:
        return self._stream.connected

    def drain(self, timeout: float = 0.0) -> list[BrokerEvent]:
        """Everything queued, waiting up to `timeout` seconds for the first."""
        events: list[BrokerEvent] = []
        try:
            events.append(self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait())
        except queue.Empty:
            return events
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def close(self) -> None:
        loop = self._stream._loop
        if not self._started or loop is None or not loop.is_running():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._stream.stop_ws(), loop).result(2)
            asyncio.run_coroutine_threadsafe(self._stream.close(), loop).result(2)
        self._thread.join(2)
