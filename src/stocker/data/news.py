"""News use cases: ingest articles, score them offline, aggregate them point in time.

1. `ingest_news(uow, batch)` stores a source's articles once each (`news_articles`); an article
   already stored (same key) is left as it is, so re-ingesting the same news changes nothing.
   Refused rows are kept in `ingest_quarantine` as they arrived, with their reasons and line, in
   the same transaction (once per payload: a re-run keeps nothing twice), and the batch's
   outcome in `ingest_batches`. `ingest_live_news` does the same for each message of a live
   feed (Alpaca's news stream).
2. `score_news(uow, scorer)` scores every article the scorer's current version has not scored
   and appends the scores (`news_scores`); another scorer or version adds rows, never replaces.
3. `aggregate_news_sentiment(uow, scorer)` turns each article's latest score of that scorer into
   `market_sentiment` rows per symbol and session and market-wide (source = the scorer's
   source, e.g. ``lm_news``). An article counts for the first session of the symbol's exchange
   calendar whose close is after its publication (so after-close news is the next session's),
   which makes session D's row a function of articles published before D's close only.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.sentiment import aggregate_article_scores, session_of
from stocker.core.symbols import normalize_symbol
from stocker.data.calendars import US_CALENDAR, calendar_for_exchange, get_calendar
from stocker.data.news_scoring import Scorer, article_text, scorer_source
from stocker.sources.base import FetchRequest, RawReject
from stocker.sources.files.news import SYMBOL_SPLIT, field_of
from stocker.sources.news import NEWS_TABLE, quarantine_key

if TYPE_CHECKING:
    from stocker.sources.news import LiveNewsFeed, NewsBatch, NewsSource
    from stocker.sources.registry import CredentialLookup
    from stocker.store.uow import SqlUnitOfWork

SCORE_CHUNK = 2000
PRE_START_MARGIN = timedelta(days=14)
"""Articles up to this long before `start` may still count for a session on or after it."""


@dataclass
class NewsIngestReport:
    """What an ingest did: articles received, new, already stored, stored with other content,
    and the rows refused (`quarantined` of them newly kept; the rest were kept by a run of the
    same payload before)."""

    source: str
    received: int = 0
    inserted: int = 0
    unchanged: int = 0
    differing: list[str] = field(default_factory=list)
    rejected: list[RawReject] = field(default_factory=list)
    quarantined: int = 0
    batch_id: uuid.UUID | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def updated(self) -> int:
        """Articles are never updated (a differing copy leaves the stored one as it is)."""
        return 0


@dataclass
class ScoreReport:
    """What a scoring run did: the scorer's identity, rows added and the rate."""

    scorer: str
    version: str
    scored: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


@dataclass
class AggregateReport:
    """What an aggregation wrote to `market_sentiment`."""

    source: str
    articles: int = 0
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    first: date | None = None
    last: date | None = None
    warnings: list[str] = field(default_factory=list)


# --- sources and ingest --------------------------------------------------------------------------


def open_news_source(
    name: str, credentials: CredentialLookup | None = None, **options: Any
) -> NewsSource:
    """The news source called `name` (``alpaca`` or ``file`` with ``path``)."""
    from stocker.sources.registry import get_news_source

    return get_news_source(name, credentials=credentials, **options)


def open_live_news_feed(
    name: str = "alpaca", credentials: CredentialLookup | None = None, **options: Any
) -> LiveNewsFeed:
    """The live news feed called `name` (``alpaca``: Alpaca's news stream)."""
    from stocker.sources.registry import get_live_news_feed

    return get_live_news_feed(name, credentials=credentials, **options)


UNKNOWN_SHOWN = 10


def ingest_news(uow: SqlUnitOfWork, batch: NewsBatch) -> NewsIngestReport:
    """Store the batch's articles once each and keep its refused rows, in one transaction.

    Articles about symbols that are not instruments (yet) are stored all the same, with a
    warning naming those symbols: a typo would otherwise only show as a missing series.
    """
    report = NewsIngestReport(
        source=batch.source,
        received=len(batch.articles) + len(batch.rejects),
        rejected=list(batch.rejects),
        batch_id=uuid.uuid4(),
        warnings=list(batch.warnings),
    )
    with uow:
        written = uow.news.add_articles(batch.articles)
        report.inserted, report.differing = written.inserted, written.differing
        report.unchanged = written.unchanged
        _keep_rejects(uow, report, batch.rejects, batch.source_hash)
        _warn_unknown_symbols(uow, batch.articles, report.warnings)
        uow.commit()
    return report


def _keep_rejects(
    uow: SqlUnitOfWork,
    report: NewsIngestReport,
    rejects: Sequence[RawReject],
    source_hash: str | None,
) -> None:
    """Keep `rejects` in the quarantine (not again if this payload's run kept them) and record
    the batch's outcome; an empty batch leaves no trace."""
    assert report.batch_id is not None
    report.quarantined = uow.quarantine.add(
        rejects,
        batch_id=report.batch_id,
        table=NEWS_TABLE,
        source=report.source,
        key=quarantine_key(rejects),
        source_hash=source_hash,
        skip_kept=True,
        symbols=[first_symbol(reject.raw_row) for reject in rejects],
    )
    if report.received or report.quarantined:
        uow.quarantine.record_batch(
            _BatchCounts(
                report.received,
                report.inserted,
                report.unchanged + len(report.differing),
            ),
            batch_id=report.batch_id,
            source=report.source,
            table=NEWS_TABLE,
            quarantined=report.quarantined,
            source_hash=source_hash,
            description="news articles",
        )


def first_symbol(raw_row: Mapping[Any, Any]) -> str | None:
    """The first symbol a refused news row names (a JSON list or a separated cell, under any of
    the file rules' names: ``symbols``, ``Tickers``), upper-cased as the rules read it, so that
    `stocker data quarantine list --symbol AAPL` finds the row; None when it names none. The
    symbol is not checked: a row refused for ``XOM`` + U+200B keeps that character."""
    record = {str(name): value for name, value in raw_row.items()}
    value = record.get(field_of("symbols", record) or "symbols")
    if value is None or (isinstance(value, float) and value != value):
        return None
    items = value if isinstance(value, list) else SYMBOL_SPLIT.split(str(value))
    symbols = (normalize_symbol(str(item)).upper() for item in items if item is not None)
    return next((symbol for symbol in symbols if symbol), None)


@dataclass(frozen=True)
class _BatchCounts:
    """A news batch's counts for `ingest_batches` (articles already stored, identical or not,
    are unchanged: the stored copy is kept)."""

    received: int
    inserted: int
    unchanged: int
    updated: int = 0


def _warn_unknown_symbols(uow: SqlUnitOfWork, articles: pd.DataFrame, warnings: list[str]) -> None:
    mentioned = sorted({symbol for listed in articles["symbols"] for symbol in listed})
    if not mentioned:
        return
    known = uow.instruments.exchanges(mentioned)
    unknown = [symbol for symbol in mentioned if symbol not in known]
    if not unknown:
        return
    more = len(unknown) - UNKNOWN_SHOWN
    warnings.append(
        f"symbols: {', '.join(unknown[:UNKNOWN_SHOWN])}"
        + (f" and {more} more" if more > 0 else "")
        + (" is not a known instrument" if len(unknown) == 1 else " are not known instruments")
        + " (a typo?); the articles are stored, and their sessions follow the "
        "market calendar until the instruments are loaded"
    )


def fetch_and_ingest_news(
    uow: SqlUnitOfWork,
    source: NewsSource,
    *,
    symbols: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
) -> NewsIngestReport:
    """Fetch the articles about `symbols` (none: all) published from start through end, then
    `ingest_news` them."""
    request = FetchRequest(tuple(symbols), start=start, end=end)
    return ingest_news(uow, source.fetch_news(request))


def ingest_live_news(
    uow_factory: Callable[[], SqlUnitOfWork],
    feed: LiveNewsFeed,
    symbols: Sequence[str],
    stop_event: threading.Event,
    *,
    on_batch: Callable[[NewsIngestReport], None] | None = None,
) -> NewsIngestReport:
    """Store articles from a live feed as they arrive (one transaction per message) until
    `stop_event` is set; returns the running totals."""
    from stocker.sources.news import NewsBatch, articles_frame

    totals = NewsIngestReport(source=feed.name)

    def sink(frame: pd.DataFrame) -> None:
        # messages the feed could not read since the last one are kept with this one
        rejects = feed.rejects[len(totals.rejected) :]
        batch = NewsBatch(source=feed.name, articles=frame, rejects=list(rejects))
        report = ingest_news(uow_factory(), batch)
        totals.received += report.received
        totals.inserted += report.inserted
        totals.unchanged += report.unchanged
        totals.differing += report.differing
        totals.rejected += report.rejected
        totals.quarantined += report.quarantined
        if on_batch is not None:
            on_batch(report)

    feed.run(symbols, sink, stop_event)
    if len(feed.rejects) > len(totals.rejected):
        sink(articles_frame([]))
    return totals


def ingest_news_file(uow: SqlUnitOfWork, path: Path) -> NewsIngestReport:
    """`ingest_news` over a CSV or JSON-lines news file."""
    from stocker.sources.files.news import NewsFileSource

    return ingest_news(uow, NewsFileSource(path).fetch_news())


# --- scoring -------------------------------------------------------------------------------------


def score_news(
    uow: SqlUnitOfWork,
    scorer: Scorer,
    *,
    chunk: int = SCORE_CHUNK,
    progress: Callable[[int], None] | None = None,
) -> ScoreReport:
    """Score every article not yet scored by this scorer version; append the scores.

    One transaction per chunk of articles, so a long run keeps what it finished.
    """
    report = ScoreReport(scorer=scorer.name, version=scorer.version)
    after = 0
    while True:
        with uow:
            articles = uow.news.unscored(scorer.name, scorer.version, after=after, limit=chunk)
            if articles.empty:
                break
            texts = [
                article_text(headline, summary)
                for headline, summary in zip(articles["headline"], articles["summary"], strict=True)
            ]
            started = time.perf_counter()
            scores = scorer.score(texts)
            report.seconds += time.perf_counter() - started
            scores.insert(0, "article_id", articles["id"].to_numpy())
            report.scored += uow.news.add_scores(scorer.name, scorer.version, scores)
            uow.commit()
        after = int(articles["id"].max())
        if progress is not None:
            progress(report.scored)
    return report


# --- aggregation ---------------------------------------------------------------------------------


@functools.cache
def _closes(calendar: str) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    schedule = get_calendar(calendar).schedule
    closes = pd.DatetimeIndex(schedule["close"])
    sessions = pd.DatetimeIndex(schedule.index)
    if sessions.tz is not None:
        sessions = sessions.tz_localize(None)
    return closes, sessions


def sessions_for(calendar: str, published: pd.Series) -> pd.DatetimeIndex:
    """The session of `calendar` each publication time counts for (see `session_of`)."""
    closes, sessions = _closes(calendar)
    return session_of(published, closes, sessions)


def sentiment_rows(
    articles: pd.DataFrame,
    calendars: dict[str, str],
    *,
    market_calendar: str = US_CALENDAR,
) -> pd.DataFrame:
    """Daily rows per (symbol, session) and market-wide from scored articles.

    `articles` has ``published_at`` (UTC), ``symbols`` (lists) and ``score``; `calendars` maps
    a symbol to its exchange calendar (a symbol not in it uses `market_calendar`, as does the
    market-wide series, which counts every article once).
    """
    if articles.empty:
        return aggregate_article_scores([], [], [])
    exploded = articles[["published_at", "symbols", "score"]].explode("symbols")
    exploded = exploded[exploded["symbols"].notna()]
    keys: list[np.ndarray] = []
    dates: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    codes = exploded["symbols"].map(calendars).astype(object).fillna(market_calendar)
    for calendar, part in exploded.groupby(codes, sort=True):
        keys.append(part["symbols"].to_numpy(dtype=object))
        dates.append(sessions_for(str(calendar), part["published_at"]).to_numpy())
        scores.append(part["score"].to_numpy(dtype="float64"))
    keys.append(np.full(len(articles), None, dtype=object))
    dates.append(sessions_for(market_calendar, articles["published_at"]).to_numpy())
    scores.append(articles["score"].to_numpy(dtype="float64"))
    return aggregate_article_scores(
        np.concatenate(keys), np.concatenate(dates), np.concatenate(scores)
    )


def _symbol_calendars(
    uow: SqlUnitOfWork, symbols: Sequence[str], warnings: list[str]
) -> dict[str, str]:
    calendars: dict[str, str] = {}
    for symbol, exchange in uow.instruments.exchanges(symbols).items():
        try:
            calendars[symbol] = calendar_for_exchange(exchange)
        except DataError as error:
            warnings.append(f"{symbol}: {error}; its news uses the market calendar")
    return calendars


def aggregate_news_sentiment(
    uow: SqlUnitOfWork,
    scorer: str,
    *,
    start: date | None = None,
    end: date | None = None,
    market_calendar: str = US_CALENDAR,
) -> AggregateReport:
    """Write `market_sentiment` rows of `scorer`'s source for sessions in [start, end]."""
    source = scorer_source(scorer)
    report = AggregateReport(source=source)
    since = datetime.combine(start, datetime.min.time(), UTC) - PRE_START_MARGIN if start else None
    until = datetime.combine(end + timedelta(days=2), datetime.min.time(), UTC) if end else None
    with uow:
        articles = uow.news.latest_scores(scorer, since=since, until=until)
        symbols = sorted({symbol for listed in articles["symbols"] for symbol in listed})
        calendars = _symbol_calendars(uow, symbols, report.warnings)
        rows = sentiment_rows(articles, calendars, market_calendar=market_calendar)
        if start is not None:
            rows = rows[rows["date"] >= start]
        if end is not None:
            rows = rows[rows["date"] <= end]
        rows = rows.assign(source=source).reset_index(drop=True)
        report.articles = len(articles)
        report.rows = len(rows)
        if not rows.empty:
            result = uow.instruments.land(
                "market_sentiment",
                rows,
                key=("symbol", "date", "source"),
                return_changed=False,
            )
            if result.rejected:
                raise DataError(
                    f"market_sentiment: {len(result.rejected)} aggregated rows refused, e.g. "
                    f"{result.rejected[0]}"
                )
            report.inserted, report.updated = result.inserted, result.updated
            report.unchanged = result.unchanged
            report.first, report.last = min(rows["date"]), max(rows["date"])
        uow.commit()
    return report


# --- reads ---------------------------------------------------------------------------------------


def sentiment_series(
    uow: SqlUnitOfWork,
    scorer: str = "lm",
    *,
    symbols: Sequence[str] = (),
    market: bool = True,
    start: date | None = None,
    end: date | None = None,
) -> pd.DataFrame:
    """The stored `market_sentiment` rows of a scorer's source (market-wide and/or symbols)."""
    with uow:
        return uow.news.sentiment_series(
            scorer_source(scorer), symbols=symbols, market=market, start=start, end=end
        )
