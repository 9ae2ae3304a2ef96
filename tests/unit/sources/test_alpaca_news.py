"""Alpaca News through alpaca-py: REST pages and the news stream, on loopback."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from typing import Any

import msgpack
import pandas as pd
import pytest
from alpaca.data.models.news import NewsSet
from alpaca_stream_loopback import AlpacaStreamServer
from vendor_loopback import LoopbackServer, Reply, vendor_bytes

from stocker.config import Credentials
from stocker.core.errors import RateLimitedError, SourceError
from stocker.sources.alpaca.news import AlpacaNewsFeed, AlpacaNewsSource
from stocker.sources.base import FetchRequest, payload_hash
from stocker.sources.news import ARTICLE_COLUMNS, LiveNewsFeed, NewsSource
from stocker.sources.registry import get_live_news_feed, get_news_source

NEWS = "/v1beta1/news"
KEY, SECRET = "PKNEWSKEY123", "news-secret-never-printed"
CREDENTIALS = Credentials(KEY, SECRET)
REQUEST = FetchRequest(("AAPL", "BAC"), start=date(2022, 12, 27), end=date(2022, 12, 27))

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _source(server: LoopbackServer) -> AlpacaNewsSource:
    return AlpacaNewsSource(credentials=CREDENTIALS, data_url=server.url, retries=0)


def test_alpaca_news_follows_next_page_token_and_keys_articles_by_alpaca_id(
    loopback: LoopbackServer,
) -> None:
    page1, page2 = vendor_bytes("alpaca/news_page1.json"), vendor_bytes("alpaca/news_page2.json")
    loopback.add(NEWS, Reply(body=page1), Reply(body=page2))

    batch = _source(loopback).fetch_news(REQUEST)

    articles = batch.articles
    assert list(articles.columns) == list(ARTICLE_COLUMNS) and not batch.rejects
    # alpaca-py's own model is the oracle for what the wire says.
    oracle = NewsSet(
        {"news": json.loads(page1)["news"] + json.loads(page2)["news"], "next_page_token": None}
    ).data["news"]
    assert articles["article_key"].tolist() == [f"alpaca:{item.id}" for item in oracle]
    assert articles["headline"].tolist() == [item.headline for item in oracle]
    assert articles["summary"].tolist() == [item.summary for item in oracle]
    assert articles["symbols"].tolist() == [item.symbols for item in oracle]
    assert [moment.to_pydatetime() for moment in articles["published_at"]] == [
        item.created_at for item in oracle
    ]
    assert articles["publisher"].tolist() == ["benzinga"] * 4
    assert articles["url"].iloc[3] is None  # an empty url is no url
    assert articles["source_hash"].tolist() == [payload_hash(page1)] * 2 + [payload_hash(page2)] * 2

    first, second = loopback.requests_to(NEWS)
    assert first.query["symbols"] == ["AAPL,BAC"]
    assert first.query["start"] == ["2022-12-27T05:00:00+00:00"]  # midnight in New York
    assert first.query["end"] == ["2022-12-28T04:59:59+00:00"]
    assert first.query["sort"] == ["asc"] and "page_token" not in first.query
    assert second.query["page_token"] == [json.loads(page1)["next_page_token"]]
    assert first.headers["APCA-API-KEY-ID"] == KEY


def test_alpaca_news_refuses_an_article_with_an_invisible_character_in_a_symbol(
    loopback: LoopbackServer,
) -> None:
    page = json.loads(vendor_bytes("alpaca/news_page2.json"))
    page["news"][0]["symbols"] = ["XOM\u200b"]
    loopback.add(NEWS, Reply(body=json.dumps(page).encode()))

    batch = _source(loopback).fetch_news(REQUEST)

    assert batch.articles["article_key"].tolist() == ["alpaca:30207800"]
    (reject,) = batch.rejects
    assert "U+200B ZERO WIDTH SPACE" in reject.reasons[0]


def test_alpaca_news_when_unauthorized_names_the_settings_never_the_secret(
    loopback: LoopbackServer,
) -> None:
    loopback.add(NEWS, Reply(401, b'{"code":40110000,"message":"request is not authorized"}'))

    with pytest.raises(SourceError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY") as caught:
        _source(loopback).fetch_news(REQUEST)

    assert SECRET not in str(caught.value)


def test_alpaca_news_when_rate_limited_raises_rate_limited(loopback: LoopbackServer) -> None:
    loopback.add(
        NEWS,
        Reply(429, b'{"message":"rate limit exceeded"}', headers={"Retry-After": "7"}),
    )

    with pytest.raises(RateLimitedError):
        _source(loopback).fetch_news(REQUEST)
    assert len(loopback.requests_to(NEWS)) == 1  # alpaca-py's own retries are off


def test_registry_builds_alpaca_news_with_credentials_and_the_file_source(tmp_path: Any) -> None:
    source = get_news_source("alpaca", credentials=lambda vendor: CREDENTIALS)
    assert isinstance(source, NewsSource)
    feed = get_live_news_feed("alpaca", credentials=lambda vendor: CREDENTIALS)
    assert isinstance(feed, LiveNewsFeed)
    with pytest.raises(SourceError, match="set STOCKER_ALPACA_API_KEY"):
        get_news_source("alpaca", credentials=lambda vendor: None)
    with pytest.raises(SourceError, match="valid names: alpaca, file"):
        get_news_source("reuters")


def _news_message(article_id: int, headline: str, symbols: list[str]) -> dict[str, Any]:
    moment = msgpack.Timestamp.from_datetime(datetime(2022, 12, 27, 15, 0, tzinfo=UTC))
    return {
        "T": "n",
        "id": article_id,
        "headline": headline,
        "summary": "",
        "author": "Benzinga Newsdesk",
        "created_at": moment,
        "updated_at": moment,
        "url": f"https://www.benzinga.com/news/{article_id}",
        "content": "",
        "symbols": symbols,
        "source": "benzinga",
    }


@pytest.fixture
def news_stream() -> Any:
    server = AlpacaStreamServer(
        [
            [
                [
                    _news_message(41, "Apple Gains", ["AAPL"]),
                    _news_message(42, "Fed Holds Rates", []),
                ],
                [_news_message(43, "Bad \u200b symbol", ["AA\u200bPL"])],
            ]
        ]
    )
    server.start()
    yield server
    server.stop()


def test_alpaca_news_stream_hands_each_article_to_the_sink(news_stream: AlpacaStreamServer) -> None:
    frames: list[pd.DataFrame] = []
    stop = threading.Event()
    timer = threading.Timer(10, stop.set)
    timer.start()

    def sink(frame: pd.DataFrame) -> None:
        frames.append(frame)
        if len(frames) == 2:
            stop.set()

    feed = AlpacaNewsFeed(credentials=CREDENTIALS, url=news_stream.url, poll_s=0.01)
    try:
        feed.run(["*"], sink, stop)
    finally:
        timer.cancel()

    articles = pd.concat(frames, ignore_index=True)
    assert articles["article_key"].tolist() == ["alpaca:41", "alpaca:42"]
    assert articles["symbols"].tolist() == [["AAPL"], []]
    assert articles["published_at"].iloc[0] == pd.Timestamp("2022-12-27T15:00:00Z")
    assert news_stream.subscriptions[0]["news"] == ["*"]
    assert news_stream.auths[0]["key"] == KEY
    first = dict(_news_message(41, "Apple Gains", ["AAPL"]))
    assert articles["source_hash"].iloc[0] == payload_hash(msgpack.packb(first))


def test_alpaca_news_stream_when_keys_are_refused_says_so() -> None:
    server = AlpacaStreamServer([[]], refuse_auth=True)
    server.start()
    try:
        feed = AlpacaNewsFeed(credentials=CREDENTIALS, url=server.url, poll_s=0.01)
        with pytest.raises(SourceError, match="refused authentication"):
            feed.run(["AAPL"], lambda frame: None, threading.Event())
    finally:
        server.stop()
