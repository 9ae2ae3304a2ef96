"""The demo's news step: ingest the shipped news file, score it with Loughran–McDonald,
aggregate per session and hand back the market-wide series to print.

The file (`stocker/data/sample/news.csv`, ~40 hand-written headlines about the sample's symbols
in December 2022) is package data, so the demo and the tests read the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from stocker.data.news import (
    AggregateReport,
    NewsIngestReport,
    ScoreReport,
    aggregate_news_sentiment,
    ingest_news_file,
    score_news,
    sentiment_series,
)
from stocker.data.news_scoring import DEFAULT_SCORER, make_scorer

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

SAMPLE_NEWS = Path(__file__).resolve().parent / "sample" / "news.csv"


class HasUnitOfWork(Protocol):
    """What the demo needs of the application: a unit of work."""

    def uow(self) -> SqlUnitOfWork: ...


@dataclass
class NewsDemoSummary:
    """The news step's outcome and the market-wide series (symbol None) it produced."""

    ingested: NewsIngestReport
    scored: ScoreReport
    aggregated: AggregateReport
    market: pd.DataFrame

    def lines(self) -> list[str]:
        """A few lines for the terminal: counts, then one line per session with a bar."""
        head = (
            f"news: {self.ingested.received} articles in {SAMPLE_NEWS.name} "
            f"({self.ingested.inserted} new), scored with {self.scored.scorer} "
            f"({self.scored.version}), {self.aggregated.rows} sentiment rows "
            f"({self.aggregated.source})"
        )
        lines = [head, "market-wide sentiment by session (score, articles):"]
        for day, score, count in zip(
            self.market["date"],
            self.market["sentiment_score"].astype("float64"),
            self.market["article_count"].astype("int64"),
            strict=True,
        ):
            bar = ("+" if score >= 0 else "-") * round(abs(score) * 10)
            lines.append(f"  {day}  {score:+.3f}  {count:>2}  {bar}")
        return lines


def score_sample_news(app: HasUnitOfWork) -> NewsDemoSummary:
    """Ingest the shipped news file, score it with LM, aggregate, return the market series."""
    ingested = ingest_news_file(app.uow(), SAMPLE_NEWS)
    scored = score_news(app.uow(), make_scorer(DEFAULT_SCORER))
    aggregated = aggregate_news_sentiment(app.uow(), DEFAULT_SCORER)
    market = sentiment_series(app.uow(), DEFAULT_SCORER, market=True)
    return NewsDemoSummary(ingested, scored, aggregated, market)
