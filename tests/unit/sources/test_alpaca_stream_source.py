"""Live Alpaca bars: alpaca-py's StockDataStream against a loopback websocket speaking msgpack."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgpack
import pandas as pd
import pytest
from websockets.asyncio.server import ServerConnection, serve

from stocker.core.errors import SourceError
from stocker.data.sources.alpaca_stream import bar_row, run_live_intraday
from stocker.data.sources.base import INTRADAY_BAR_COLUMNS, payload_hash

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY, SECRET = "PKSTREAMKEY", "stream-secret"


def _bar(symbol: str, minute: int, close: float, volume: int) -> dict[str, Any]:
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


@pytest.fixture
def stream_server(request: pytest.FixtureRequest) -> Iterator[AlpacaStreamServer]:
    server = AlpacaStreamServer(**request.param)
    server.start()
    yield server
    server.stop()


FIRST = [[_bar("SPY", 50, 387.38, 152318)]]
SECOND = [[_bar("SPY", 51, 387.15, 131102), _bar("QQQ", 51, 322.4, 98011)]]


def _run(server: AlpacaStreamServer, sink: Any, stop: threading.Event, **options: Any) -> None:
    # A safety net: never let a broken stream hang the suite.
    timer = threading.Timer(10, stop.set)
    timer.start()
    try:
        run_live_intraday(
            ["SPY", "QQQ"],
            sink,
            stop,
            url=server.url,
            api_key=KEY,
            secret_key=SECRET,
            reconnect_min_backoff_s=0.05,
            reconnect_max_backoff_s=0.2,
            **options,
        )
    finally:
        timer.cancel()


@pytest.mark.parametrize("stream_server", [{"frames": [FIRST, SECOND]}], indirect=True)
def test_live_intraday_when_connection_drops_reconnects_and_keeps_receiving(
    stream_server: AlpacaStreamServer,
) -> None:
    batches: list[pd.DataFrame] = []
    stop = threading.Event()

    def sink(frame: pd.DataFrame) -> None:
        batches.append(frame)
        if sum(len(batch) for batch in batches) >= 3:
            stop.set()

    started = time.monotonic()
    _run(stream_server, sink, stop)

    assert time.monotonic() - started < 5
    assert stream_server.connections == 2
    assert [len(batch) for batch in batches] == [1, 2]  # one sink call per websocket frame
    frame = pd.concat(batches, ignore_index=True)
    assert list(frame.columns) == list(INTRADAY_BAR_COLUMNS)
    assert frame["symbol"].tolist() == ["SPY", "QQQ", "SPY"]
    spy = frame[frame["symbol"] == "SPY"].sort_values("timestamp")
    assert spy["timestamp"].tolist() == [
        pd.Timestamp("2021-02-22 15:50", tz="UTC"),
        pd.Timestamp("2021-02-22 15:51", tz="UTC"),
    ]
    assert spy["close"].tolist() == [387.38, 387.15]
    assert spy["volume"].tolist() == [152318, 131102]
    assert set(frame["interval"]) == {"1m"} and set(frame["source"]) == {"alpaca"}
    assert spy["source_hash"].iloc[0] == payload_hash(msgpack.packb(FIRST[0][0]))
    assert stream_server.auths[0] == {"action": "auth", "key": KEY, "secret": SECRET}
    assert all(sorted(s["bars"]) == ["QQQ", "SPY"] for s in stream_server.subscriptions)


@pytest.mark.parametrize("stream_server", [{"frames": [[]], "refuse_auth": True}], indirect=True)
def test_live_intraday_when_keys_are_refused_raises_naming_the_variables(
    stream_server: AlpacaStreamServer,
) -> None:
    started = time.monotonic()

    with pytest.raises(SourceError, match=r"auth failed.*ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        _run(stream_server, lambda frame: None, threading.Event())

    assert time.monotonic() - started < 5
    assert stream_server.connections == 1


@pytest.mark.parametrize("stream_server", [{"frames": [SECOND]}], indirect=True)
def test_live_intraday_when_the_sink_fails_stops_and_raises_its_error(
    stream_server: AlpacaStreamServer,
) -> None:
    def sink(frame: pd.DataFrame) -> None:
        raise RuntimeError("database is down")

    with pytest.raises(RuntimeError, match="database is down"):
        _run(stream_server, sink, threading.Event())


def test_bar_row_accepts_json_frames_with_rfc3339_times() -> None:
    message = {
        "T": "b",
        "S": "SPY",
        "o": 387.42,
        "h": 387.5,
        "l": 387.2,
        "c": 387.38,
        "v": 152318,
        "t": "2021-02-22T15:51:00Z",
        "n": 1012,
        "vw": 387.361,
    }

    row = bar_row(message)

    assert row["timestamp"] == datetime(2021, 2, 22, 15, 51, tzinfo=UTC)
    assert (row["symbol"], row["close"], row["volume"]) == ("SPY", 387.38, 152318)
