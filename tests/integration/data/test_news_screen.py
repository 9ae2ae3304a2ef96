"""Sentiment fields in the screener: as of D they see only news published before D's close."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from stocker.data.demo_news import SAMPLE_NEWS
from stocker.data.news import aggregate_news_sentiment, ingest_news_file, score_news
from stocker.data.news_scoring import LoughranMcDonaldScorer
from stocker.lab.screener import screen
from stocker.store.uow import SqlUnitOfWork

HEADER = "published_at,headline,summary,symbols,source,url\n"
DAY = date(2022, 12, 22)


@pytest.fixture(scope="module")
def lm() -> LoughranMcDonaldScorer:
    return LoughranMcDonaldScorer()


def _loaded(uow: SqlUnitOfWork, lm: LoughranMcDonaldScorer) -> None:
    symbols = sorted(
        {
            symbol
            for cell in pd.read_csv(SAMPLE_NEWS)["symbols"].dropna()
            for symbol in str(cell).split(";")
        }
    )
    with uow:
        uow.instruments.upsert([{"symbol": symbol, "source": "test"} for symbol in symbols])
        uow.commit()
    ingest_news_file(uow, SAMPLE_NEWS)
    score_news(uow, lm)
    aggregate_news_sentiment(uow, "lm")


def _expected_5d(uow: SqlUnitOfWork, day: date) -> pd.Series:
    """The plain mean of each symbol's daily scores over the last 5 news sessions, in pandas."""
    with uow:
        rows = uow.news.sentiment_series("lm_news", symbols=[], market=True)
        market_days = sorted(rows.loc[rows["date"] <= day, "date"])[-5:]
        everything = uow.news.sentiment_series(
            "lm_news", symbols=uow.instruments.listed()["symbol"].tolist(), market=False
        )
    window = everything[everything["date"].isin(market_days)]
    return window.groupby("symbol")["sentiment_score"].mean()


def test_sentiment_5d_screen_equals_a_pandas_window_mean(
    uow: SqlUnitOfWork, lm: LoughranMcDonaldScorer
) -> None:
    _loaded(uow, lm)

    result = screen(uow, "sentiment_5d > 0.2 order by sentiment_5d desc", day=DAY)

    expected = _expected_5d(uow, DAY)
    chosen = expected[expected > 0.2]
    assert sorted(result.rows["symbol"]) == sorted(chosen.index)
    assert len(chosen) > 0 and len(chosen) < len(expected)
    for row in result.rows.itertuples():
        assert row.sentiment_5d == pytest.approx(chosen[row.symbol])
    assert result.rows["sentiment_5d"].is_monotonic_decreasing


def test_sentiment_fields_on_d_ignore_news_after_d_close(
    uow: SqlUnitOfWork, lm: LoughranMcDonaldScorer, tmp_path: Path
) -> None:
    _loaded(uow, lm)
    before = screen(uow, "sentiment_20d is not null", day=DAY).rows
    later = tmp_path / "later.csv"
    later.write_text(
        HEADER + "2022-12-22T21:05:00Z,Walmart fraud investigation and losses,,WMT,x,"
        "https://example.com/late\n"
    )
    ingest_news_file(uow, later)
    score_news(uow, lm)
    aggregate_news_sentiment(uow, "lm")

    after = screen(uow, "sentiment_20d is not null", day=DAY).rows
    next_day = screen(uow, "sentiment_1d < 0", day=date(2022, 12, 23)).rows

    pd.testing.assert_frame_equal(before, after)
    assert "WMT" in set(next_day["symbol"])
    counts = screen(uow, "news_count_5d >= 2", day=DAY).rows
    assert set(counts["symbol"]) >= {"AMD"}
