"""Live Alpaca minute bars land in `prices_intraday` batch by batch, across a reconnect."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import msgpack
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from stocker.bootstrap import App, build
from stocker.config import Credentials, Settings
from stocker.data.live_intraday import stream_intraday_bars
from stocker.sources.alpaca.stream import AlpacaLiveFeed
from stocker.sources.base import LiveBarFeed
from stocker.sources.frames import intraday_bars_frame
from stocker.store.uow import SqlUnitOfWork

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "sources"))
from alpaca_stream_loopback import FIRST, SECOND, AlpacaStreamServer, bar_message

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TODAY = date(2021, 2, 22)
# 15:52:30 is not on the one-minute grid: the same rules as a bulk ingest refuse it.
OFF_GRID = bar_message("SPY", 52, 387.0, 1000) | {
    "t": msgpack.Timestamp.from_datetime(datetime(2021, 2, 22, 15, 52, 30, tzinfo=UTC))
}


@pytest.fixture
def stream_server() -> Iterator[AlpacaStreamServer]:
    server = AlpacaStreamServer(frames=[FIRST, [*SECOND, [OFF_GRID]]])
    server.start()
    yield server
    server.stop()


def test_live_bars_land_per_frame_through_a_reconnect_and_bad_ones_are_quarantined(
    engine: Engine, uow: SqlUnitOfWork, stream_server: AlpacaStreamServer
) -> None:
    stop = threading.Event()
    seen: list[int] = []

    def on_batch(table, totals) -> None:
        seen.append(table.received)
        if totals.received >= 4:
            stop.set()

    timer = threading.Timer(10, stop.set)  # never hang the suite on a broken stream
    timer.start()
    try:
        feed = AlpacaLiveFeed(
            credentials=Credentials("PKSTREAMKEY", "stream-secret"),
            url=stream_server.url,
            reconnect_min_backoff_s=0.05,
            reconnect_max_backoff_s=0.2,
        )
        totals = stream_intraday_bars(
            uow, feed, ["SPY", "QQQ"], stop, today=lambda: TODAY, on_batch=on_batch
        )
    finally:
        timer.cancel()

    assert stream_server.connections == 2
    assert seen == [1, 2, 1]
    assert (totals.batches, totals.inserted, totals.quarantined) == (3, 3, 1)
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT symbol, to_char(\"timestamp\" AT TIME ZONE 'UTC', 'HH24:MI'), "
                "interval, close::float8, source, length(source_hash) FROM prices_intraday "
                'ORDER BY "timestamp", symbol'
            )
        ).all()
        reasons = conn.execute(text("SELECT reasons FROM ingest_quarantine")).scalar_one()
    assert [tuple(row) for row in stored] == [
        ("SPY", "15:50", "1m", 387.38, "alpaca", 64),
        ("QQQ", "15:51", "1m", 322.4, "alpaca", 64),
        ("SPY", "15:51", "1m", 387.15, "alpaca", 64),
    ]
    assert reasons[0].startswith("off_grid")


def test_live_command_streams_for_the_given_seconds_and_prints_totals(
    engine: Engine, stream_server: AlpacaStreamServer, settings: Settings
) -> None:
    from typer.testing import CliRunner

    from stocker.cli import app as cli

    keyed = settings.model_copy(
        update={
            "alpaca_api_key": SecretStr("PKSTREAMKEY"),
            "alpaca_secret_key": SecretStr("stream-secret"),
        }
    )
    app: App = build(keyed)
    try:
        result = CliRunner().invoke(
            cli,
            ["data", "live", "--symbols", "spy,qqq", "--url", stream_server.url, "--seconds", "5"],
            obj=app,
        )
    finally:
        app.close()

    assert result.exit_code == 0, result.output
    assert "4 bars received, 3 inserted, 0 updated, 1 quarantined" in result.output
    assert stream_server.subscriptions[0]["bars"] == ["SPY", "QQQ"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM prices_intraday")).scalar_one() == 3


class RecordedFeed:
    """A `LiveBarFeed` replaying frames of rows: the use case needs no vendor to be tested."""

    name = "recorded"

    def __init__(self, frames: list[list[dict[str, object]]]) -> None:
        self.frames = frames
        self.symbols: list[str] = []

    def run(self, symbols, sink, stop_event: threading.Event) -> None:
        self.symbols = list(symbols)
        for rows in self.frames:
            if stop_event.is_set():
                return
            sink(intraday_bars_frame(rows))


def test_live_bars_from_any_feed_land_under_the_feed_name(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    first = {
        "symbol": "SPY",
        "timestamp": datetime(2021, 2, 22, 15, 50, tzinfo=UTC),
        "interval": "1m",
        "open": 387.3,
        "high": 387.5,
        "low": 387.1,
        "close": 387.4,
        "volume": 1000,
        "source": "recorded",
        "source_hash": "a" * 64,
    }
    second = first | {"timestamp": datetime(2021, 2, 22, 15, 51, tzinfo=UTC), "close": 387.2}
    feed = RecordedFeed([[first], [second]])
    assert isinstance(feed, LiveBarFeed)

    totals = stream_intraday_bars(uow, feed, ["SPY"], threading.Event(), today=lambda: TODAY)

    assert feed.symbols == ["SPY"]
    assert (totals.batches, totals.received, totals.inserted, totals.quarantined) == (2, 2, 2, 0)
    with engine.connect() as conn:
        stored = conn.execute(
            text('SELECT close::float8, source FROM prices_intraday ORDER BY "timestamp"')
        ).all()
    assert [tuple(row) for row in stored] == [(387.4, "recorded"), (387.2, "recorded")]
