"""Alpaca's News API through alpaca-py: historical articles and the live news stream.

Historical: `NewsClient.get_news` (`GET /v1beta1/news?symbols=…&start=…&end=…`), which pages by
`next_page_token` itself; a response hook on the client's `requests` session keeps each page's
bytes, so every article's `source_hash` is the SHA-256 of the page it came in. Articles are keyed
by Alpaca's id (``alpaca:<id>``) and stamped with `created_at` (when Alpaca published them;
`updated_at` edits are not applied: the first copy stored is the one scored).

Live: `NewsDataStream` (`wss://stream.data.alpaca.markets/v1beta1/news`, msgpack frames
``{"T": "n", "id": …, "headline": …, "created_at": <timestamp>, "symbols": [...]}``); each
message becomes one article row whose `source_hash` is its own msgpack encoding's.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

import msgpack
import pandas as pd
import requests
from alpaca.data.historical.news import NewsClient
from alpaca.data.live.news import NewsDataStream
from alpaca.data.requests import NewsRequest

from stocker.core.errors import SourceError
from stocker.core.symbols import symbol_problem
from stocker.sources.alpaca.common import (
    CREDENTIALS,
    SOURCE_NAME,
    VENDOR,
    AuthRecording,
    alpaca_credentials,
    drive,
    market_window,
    no_client_retries,
    recorded_pages,
    wire_moment,
)
from stocker.sources.base import FetchRequest, RawReject, payload_hash
from stocker.sources.http import ResponseRecorder, RetryPolicy, decode_json
from stocker.sources.news import NEWS_TABLE, NewsBatch, article_row, articles_frame

if TYPE_CHECKING:
    from stocker.config import Credentials


def news_row(article: Mapping[str, Any], source_hash: str) -> dict[str, Any]:
    """An article row from one of Alpaca's news objects (REST or stream); KeyError/ValueError
    when a required field is missing or unreadable."""
    headline = str(article["headline"] or "").strip()
    if not headline:
        raise ValueError("headline: blank")
    symbols = [str(symbol).strip() for symbol in article.get("symbols") or []]
    bad = [problem for symbol in symbols if (problem := symbol_problem(symbol))]
    if bad:
        raise ValueError(bad[0])
    return article_row(
        vendor=SOURCE_NAME,
        vendor_id=str(article["id"]),
        published_at=wire_moment(article["created_at"]),
        headline=headline,
        summary=article.get("summary"),
        symbols=symbols,
        publisher=article.get("source"),
        url=article.get("url") or None,
        source_hash=source_hash,
    )


class AlpacaNewsSource:
    """Historical articles from Alpaca's News API.

    Parameters
    ----------
    credentials
        The key pair, from the composition root; never logged.
    data_url
        Override of `https://data.alpaca.markets` (proxies, tests).
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        data_url: str | None = None,
        retries: int = 2,
        max_retry_wait_s: float = 60.0,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        pair = alpaca_credentials(credentials)
        self._retry = RetryPolicy(retries, max_retry_wait_s, backoff_s, sleep)
        self._recorder = ResponseRecorder()
        self._client = NewsClient(pair.key, pair.secret, url_override=data_url)
        no_client_retries(self._client)
        self._recorder.attach(self._client._session)

    def fetch_news(self, request: FetchRequest) -> NewsBatch:
        """Every article about the symbols (none: all) from start through end (New York dates)."""
        symbols = list(dict.fromkeys(request.symbols))
        start, end = market_window(request.start, request.end, timedelta(seconds=1))
        news_request = NewsRequest(
            symbols=",".join(symbols) if symbols else None,
            start=start.astimezone(UTC),
            end=end.astimezone(UTC) if end else None,
            sort="asc",
        )
        what = f"news for {', '.join(symbols) if symbols else 'every symbol'}"
        pages = self._call(lambda: self._client.get_news(news_request), what)
        rows: list[dict[str, Any]] = []
        rejects: list[RawReject] = []
        for page in pages:
            payload = decode_json(vendor=VENDOR, body=page.content, what=what)
            source_hash = payload_hash(page.content)
            for article in payload.get("news") or []:
                try:
                    rows.append(news_row(article, source_hash))
                except (KeyError, TypeError, ValueError) as error:
                    reason = f"missing {error}" if isinstance(error, KeyError) else str(error)
                    rejects.append(RawReject(NEWS_TABLE, dict(article), (reason,)))
        return NewsBatch(source=SOURCE_NAME, articles=articles_frame(rows), rejects=rejects)

    def _call(self, call: Callable[[], object], what: str) -> list[requests.Response]:
        return recorded_pages(self._recorder, self._retry, call, what)


class _RecordingNewsDataStream(AuthRecording, NewsDataStream):
    """alpaca-py's news stream, remembering an authentication refusal instead of retrying."""


class AlpacaNewsFeed:
    """Alpaca's live news stream: `run` hands `sink` one article frame per message.

    Parameters are those of `AlpacaNewsSource` for credentials, plus the stream `url`
    (default `wss://stream.data.alpaca.markets/v1beta1/news`) and the reconnect backoff bounds.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        *,
        credentials: Credentials | None = None,
        url: str | None = None,
        reconnect_min_backoff_s: float = 1.0,
        reconnect_max_backoff_s: float = 30.0,
        poll_s: float = 0.05,
    ) -> None:
        self._credentials = alpaca_credentials(credentials)
        self._url = url
        self._backoff = (reconnect_min_backoff_s, reconnect_max_backoff_s)
        self.poll_s = poll_s
        self.rejects: list[RawReject] = []

    def run(
        self,
        symbols: Iterable[str],
        sink: Callable[[pd.DataFrame], None],
        stop_event: threading.Event,
    ) -> None:
        """Stream articles about `symbols` ("*" or none: all) into `sink` until stopped."""
        wanted = tuple(dict.fromkeys(symbols)) or ("*",)
        stream = _RecordingNewsDataStream(
            self._credentials.key, self._credentials.secret, raw_data=True, url_override=self._url
        )
        stream._reconnect_min_backoff, stream._reconnect_max_backoff = self._backoff
        failure: list[BaseException] = []

        async def handle(message: Any) -> None:
            raw = dict(message)
            try:
                row = news_row(raw, payload_hash(msgpack.packb(raw)))
            except (KeyError, TypeError, ValueError) as error:
                self.rejects.append(RawReject(NEWS_TABLE, raw, (str(error),)))
                return
            try:
                sink(articles_frame([row]))
            except Exception as error:  # a failing consumer stops the stream, not vanishes
                failure.append(error)

        stream.subscribe_news(handle, *wanted)
        asyncio.run(drive(stream, stop_event, self.poll_s, lambda: bool(failure)))
        if stream.auth_error is not None:
            raise SourceError(
                f"Alpaca's news stream refused authentication: {stream.auth_error}; set "
                f"{CREDENTIALS} to a valid key pair"
            )
        if failure:
            raise failure[0]
