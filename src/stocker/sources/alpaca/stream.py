"""Live minute bars from Alpaca's market-data stream, as `prices_intraday` rows.

alpaca-py's `StockDataStream` speaks the protocol (msgpack frames: `connected`, `auth`,
`subscribe`, then `{"T": "b", ...}` bars) and reconnects with exponential backoff and jitter
when the connection drops; this module turns each bar into a row, hands rows to a callback and,
in `AlpacaLiveFeed` (the `LiveBarFeed` the composition root hands the live-intraday use case),
groups the bars of one websocket frame into one DataFrame for a sink (which lands them). The
stream is driven on the caller's thread so the sink's database work happens there too, and it
stops within `poll_s` of `stop_event` being set.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import msgpack
import pandas as pd
from alpaca.data.enums import DataFeed
from alpaca.data.live.stock import StockDataStream

from stocker.core.errors import SourceError
from stocker.sources.alpaca.common import (
    CREDENTIALS,
    SOURCE_NAME,
    AuthRecording,
    alpaca_credentials,
    drive,
    wire_moment,
)
from stocker.sources.base import payload_hash
from stocker.sources.frames import intraday_bars_frame

if TYPE_CHECKING:
    from stocker.config import Credentials

log = logging.getLogger(__name__)

STREAM_INTERVAL = "1m"  # Alpaca's `bars` channel carries minute bars


def bar_row(message: Mapping[str, Any], interval: str = STREAM_INTERVAL) -> dict[str, object]:
    """A `prices_intraday` row from one stream bar message (`{"T": "b", "S": ..., ...}`).

    `source_hash` is the SHA-256 of the bar's own msgpack encoding: the stream's frames carry
    several messages and the client hands them out one by one.
    """
    return {
        "symbol": message["S"],
        "timestamp": wire_moment(message["t"]),
        "interval": interval,
        "open": message["o"],
        "high": message["h"],
        "low": message["l"],
        "close": message["c"],
        "volume": round(message["v"]),
        "source": SOURCE_NAME,
        "source_hash": payload_hash(msgpack.packb(dict(message))),
    }


class _RecordingStockDataStream(AuthRecording, StockDataStream):
    """alpaca-py's stream, remembering an authentication refusal instead of retrying forever."""


class AlpacaBarStream:
    """Subscribe to Alpaca minute bars for `symbols`; call `on_bar(row)` for each bar.

    Parameters
    ----------
    credentials
        The key pair, from the composition root; never logged.
    url
        Override of Alpaca's stream URL (default `wss://stream.data.alpaca.markets/v2/<feed>`).
    feed
        'iex' (free plans) or 'sip'.
    reconnect_min_backoff_s, reconnect_max_backoff_s
        Bounds of the exponential backoff between reconnection attempts.
    """

    def __init__(
        self,
        symbols: Iterable[str],
        on_bar: Callable[[dict[str, object]], None],
        *,
        credentials: Credentials | None = None,
        url: str | None = None,
        feed: str = "iex",
        reconnect_min_backoff_s: float = 1.0,
        reconnect_max_backoff_s: float = 30.0,
        poll_s: float = 0.05,
    ) -> None:
        pair = alpaca_credentials(credentials)
        self.symbols = tuple(dict.fromkeys(symbols))
        if not self.symbols:
            raise SourceError("the Alpaca bar stream needs at least one symbol")
        self.on_bar = on_bar
        self.poll_s = poll_s
        self._stream = _RecordingStockDataStream(
            pair.key, pair.secret, raw_data=True, feed=DataFeed(feed), url_override=url
        )
        # alpaca-py keeps its backoff bounds as attributes with no constructor parameter.
        self._stream._reconnect_min_backoff = reconnect_min_backoff_s
        self._stream._reconnect_max_backoff = reconnect_max_backoff_s
        self._stream.subscribe_bars(self._handle, *self.symbols)
        self._failure: BaseException | None = None

    async def _handle(self, message: Any) -> None:
        try:
            self.on_bar(bar_row(message))
        except Exception as error:  # a failing consumer must stop the stream, not vanish
            self.fail(error)

    def fail(self, error: BaseException) -> None:
        """Stop the stream and make `run` raise `error`."""
        if self._failure is None:
            self._failure = error

    def run(self, stop_event: threading.Event) -> None:
        """Stream until `stop_event` is set (or a consumer fails, or Alpaca refuses the keys)."""
        asyncio.run(drive(self._stream, stop_event, self.poll_s, lambda: self._failure is not None))
        if self._stream.auth_error is not None:
            raise SourceError(
                f"Alpaca's stream refused authentication: {self._stream.auth_error}; set "
                f"{CREDENTIALS} to a valid key pair (Alpaca allows one stream "
                "connection per key)"
            )
        if self._failure is not None:
            raise self._failure


class AlpacaLiveFeed:
    """Alpaca's minute bars as a `LiveBarFeed`: one `prices_intraday` frame per websocket frame.

    Takes the options of `AlpacaBarStream` (credentials, url, feed, backoff bounds, poll_s);
    the keys are checked here, so a missing pair fails before anything connects.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        url: str | None = None,
        feed: str = "iex",
        reconnect_min_backoff_s: float = 1.0,
        reconnect_max_backoff_s: float = 30.0,
        poll_s: float = 0.05,
    ) -> None:
        self._credentials = alpaca_credentials(credentials)
        self._options: dict[str, Any] = {
            "url": url,
            "feed": feed,
            "reconnect_min_backoff_s": reconnect_min_backoff_s,
            "reconnect_max_backoff_s": reconnect_max_backoff_s,
            "poll_s": poll_s,
        }

    def run(
        self,
        symbols: Iterable[str],
        sink: Callable[[pd.DataFrame], None],
        stop_event: threading.Event,
    ) -> None:
        """Stream minute bars into `sink` until `stop_event` is set (see `LiveBarFeed`)."""
        pending: list[dict[str, object]] = []
        stream: AlpacaBarStream

        def flush() -> None:
            rows = list(pending)
            pending.clear()
            try:
                sink(intraday_bars_frame(rows))
            except Exception as error:
                stream.fail(error)

        def on_bar(row: dict[str, object]) -> None:
            if not pending:
                # The client dispatches a frame's messages without yielding to the loop, so this
                # runs once the whole frame has been handed out.
                asyncio.get_running_loop().call_soon(flush)
            pending.append(row)

        stream = AlpacaBarStream(symbols, on_bar, credentials=self._credentials, **self._options)
        stream.run(stop_event)
