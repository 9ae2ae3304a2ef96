"""Live news into the store: Alpaca's news stream on a loopback websocket, one commit a message."""

from __future__ import annotations

import importlib.util
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
import pytest

from stocker.config import Credentials
from stocker.data.news import ingest_live_news, open_live_news_feed
from stocker.store.uow import SqlUnitOfWork

_path = Path(__file__).resolve().parents[2] / "unit" / "sources" / "alpaca_stream_loopback.py"
_spec = importlib.util.spec_from_file_location("alpaca_stream_loopback", _path)
assert _spec is not None and _spec.loader is not None
loopback = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loopback)  # the shared helper, by path: tests are not a package

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _message(article_id: int, headline: str, symbols: list[str]) -> dict[str, Any]:
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


def test_live_news_lands_each_message_once(uow: SqlUnitOfWork, engine: Any) -> None:
    frames = [
        [_message(1, "Apple gains", ["AAPL"])],
        [_message(2, "Fed holds", []), _message(1, "Apple gains", ["AAPL"])],
    ]
    server = loopback.AlpacaStreamServer([frames])
    server.start()
    stop = threading.Event()
    timer = threading.Timer(10, stop.set)
    timer.start()
    reports: list[Any] = []

    def on_batch(report: Any) -> None:
        reports.append(report)
        if len(reports) == 3:
            stop.set()

    try:
        feed = open_live_news_feed(
            "alpaca",
            credentials=lambda vendor: Credentials("PKLIVE", "live-secret"),
            url=server.url,
            poll_s=0.01,
        )
        totals = ingest_live_news(
            lambda: SqlUnitOfWork(engine), feed, ["*"], stop, on_batch=on_batch
        )
    finally:
        timer.cancel()
        server.stop()

    assert (totals.received, totals.inserted, totals.unchanged) == (3, 2, 1)
    with uow:
        stored = uow.news.articles(limit=10)
    assert sorted(stored["article_key"]) == ["alpaca:1", "alpaca:2"]
