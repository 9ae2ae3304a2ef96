"""Live Alpaca bars: alpaca-py's StockDataStream against a loopback websocket speaking msgpack."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgpack
import pandas as pd
import pytest
from alpaca_stream_loopback import FIRST, SECOND, AlpacaStreamServer

from stocker.config import Credentials
from stocker.core.errors import SourceError
from stocker.sources.alpaca.stream import AlpacaLiveFeed, bar_row
from stocker.sources.base import INTRADAY_BAR_COLUMNS, LiveBarFeed, payload_hash

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

KEY, SECRET = "PKSTREAMKEY", "stream-secret"


@pytest.fixture
def stream_server(request: pytest.FixtureRequest) -> Iterator[AlpacaStreamServer]:
    server = AlpacaStreamServer(**request.param)
    server.start()
    yield server
    server.stop()


def _run(server: AlpacaStreamServer, sink: Any, stop: threading.Event, **options: Any) -> None:
    # A safety net: never let a broken stream hang the suite.
    timer = threading.Timer(10, stop.set)
    timer.start()
    try:
        feed = AlpacaLiveFeed(
            credentials=Credentials(KEY, SECRET),
            url=server.url,
            reconnect_min_backoff_s=0.05,
            reconnect_max_backoff_s=0.2,
            **options,
        )
        assert isinstance(feed, LiveBarFeed)
        feed.run(["SPY", "QQQ"], sink, stop)
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
