"""Alpaca's market-data stream protocol on a loopback websocket, for the live-bar tests."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import msgpack
from websockets.asyncio.server import ServerConnection, serve


def bar_message(symbol: str, minute: int, close: float, volume: int) -> dict[str, Any]:
    moment = datetime(2021, 2, 22, 15, minute, tzinfo=UTC)
    return {
        "T": "b",
        "S": symbol,
        "o": close - 0.1,
        "h": close + 0.2,
        "l": close - 0.3,
        "c": close,
        "v": volume,
        "t": msgpack.Timestamp.from_datetime(moment),
        "n": 120,
        "vw": close - 0.05,
    }


class AlpacaStreamServer:
    """Alpaca's stream protocol on 127.0.0.1; `frames[n]` are the bar frames of connection n.

    A connection with more scripted frames after it is aborted once its frames are sent: the
    client sees the socket drop, as when Alpaca or the network hangs up.
    """

    def __init__(self, frames: list[list[list[dict[str, Any]]]], refuse_auth: bool = False):
        self.frames = frames
        self.refuse_auth = refuse_auth
        self.connections = 0
        self.auths: list[dict[str, Any]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/iex"

    async def _handle(self, websocket: ServerConnection) -> None:
        index = self.connections
        self.connections += 1
        await websocket.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
        self.auths.append(msgpack.unpackb(await websocket.recv()))
        if self.refuse_auth:
            await websocket.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
            await websocket.close()
            return
        await websocket.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
        subscription = msgpack.unpackb(await websocket.recv())
        self.subscriptions.append(subscription)
        await websocket.send(
            msgpack.packb(
                [
                    {
                        "T": "subscription",
                        "trades": [],
                        "quotes": [],
                        "bars": subscription.get("bars", []),
                        "updatedBars": [],
                        "dailyBars": [],
                        "statuses": [],
                        "lulds": [],
                        "corrections": [],
                        "cancelErrors": [],
                    }
                ]
            )
        )
        for frame in self.frames[index] if index < len(self.frames) else []:
            await websocket.send(msgpack.packb(frame))
        if index < len(self.frames) - 1:
            websocket.transport.abort()
            return
        await websocket.wait_closed()

    def _serve(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(self._handle, "127.0.0.1", 0) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                self._ready.set()
                await self._stop.wait()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(5)

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)


FIRST = [[bar_message("SPY", 50, 387.38, 152318)]]
SECOND = [[bar_message("SPY", 51, 387.15, 131102), bar_message("QQQ", 51, 322.4, 98011)]]
