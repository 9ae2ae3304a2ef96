"""News articles, their scores per scorer version, and sentiment aggregation reads.

Articles are written once (``ON CONFLICT (article_key) DO NOTHING``); a copy whose content
differs from the stored one is reported, never applied. Scores are appended per (article,
scorer, scorer_version) and never updated (the table's trigger refuses it).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

ARTICLE_COLUMNS = (
    "article_key",
    "vendor",
    "vendor_id",
    "published_at",
    "headline",
    "summary",
    "symbols",
    "publisher",
    "url",
    "content_hash",
    "source_hash",
)

_INSERT_ARTICLES = text(
    """
    INSERT INTO news_articles (article_key, vendor, vendor_id, published_at, headline, summary,
                               symbols, publisher, url, content_hash, source_hash)
    SELECT a.article_key, a.vendor, a.vendor_id, a.published_at, a.headline, a.summary,
           CAST(string_to_array(a.symbols, ',') AS varchar(20)[]), a.publisher, a.url,
           a.content_hash, a.source_hash
    FROM unnest(CAST(:article_key AS text[]), CAST(:vendor AS text[]),
                CAST(:vendor_id AS text[]), CAST(:published_at AS timestamptz[]),
                CAST(:headline AS text[]), CAST(:summary AS text[]), CAST(:symbols AS text[]),
                CAST(:publisher AS text[]), CAST(:url AS text[]), CAST(:content_hash AS text[]),
                CAST(:source_hash AS text[]))
         AS a(article_key, vendor, vendor_id, published_at, headline, summary, symbols,
              publisher, url, content_hash, source_hash)
    ON CONFLICT (article_key) DO NOTHING
    RETURNING article_key
    """
)
_STORED_HASHES = text(
    "SELECT article_key, content_hash FROM news_articles WHERE article_key = ANY(:keys)"
)
_ARTICLE_WINDOW = text(
    "SELECT id, headline, summary FROM news_articles WHERE id > :after ORDER BY id LIMIT :limit"
)
_SCORES_OF = text(
    "SELECT article_id, scorer, scorer_version FROM news_scores "
    "WHERE article_id = ANY(CAST(:ids AS bigint[]))"
)
_INSERT_SCORES = text(
    """
    INSERT INTO news_scores (article_id, scorer, scorer_version, score, positive, negative,
                             details)
    SELECT s.article_id, :scorer, :version, s.score, s.positive, s.negative,
           CAST(s.details AS jsonb)
    FROM unnest(CAST(:article_id AS bigint[]), CAST(:score AS float8[]),
                CAST(:positive AS int[]), CAST(:negative AS int[]), CAST(:details AS text[]))
         AS s(article_id, score, positive, negative, details)
    ON CONFLICT (article_id, scorer, scorer_version) DO NOTHING
    """
)
_LATEST_SCORES = text(
    """
    SELECT DISTINCT ON (a.id) a.id AS article_id, a.published_at,
           array_to_string(a.symbols, ',') AS symbols, s.score, s.scorer_version
    FROM news_articles AS a
    JOIN news_scores AS s ON s.article_id = a.id AND s.scorer = :scorer
    WHERE (CAST(:since AS timestamptz) IS NULL OR a.published_at >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR a.published_at < :until)
    ORDER BY a.id, s.scored_at DESC, s.id DESC
    """
)


@dataclass
class ArticleWrite:
    """What writing a batch of articles did: new keys, identical copies, differing copies."""

    inserted: int = 0
    unchanged: int = 0
    differing: list[str] = field(default_factory=list)
    """Keys already stored with other content: the stored version is kept."""


class NewsRepository:
    """News articles, their scores per scorer version, and sentiment aggregation reads."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- articles --------------------------------------------------------------------------------

    def add_articles(self, articles: pd.DataFrame) -> ArticleWrite:
        """Insert articles whose key is new; count identical re-sends; list differing ones.

        `articles` has `ARTICLE_COLUMNS` (``symbols`` a list of strings, ``published_at`` aware).
        """
        if articles.empty:
            return ArticleWrite()
        frame = articles.drop_duplicates("article_key", keep="first")

        def texts(column: str) -> list[str | None]:
            return [
                None if value is None or value != value else str(value) for value in frame[column]
            ]

        parameters: dict[str, Any] = {column: texts(column) for column in ARTICLE_COLUMNS}
        parameters["symbols"] = [",".join(symbols) for symbols in frame["symbols"]]
        parameters["published_at"] = [
            pd.Timestamp(value).to_pydatetime() for value in frame["published_at"]
        ]
        inserted = set(self._conn.execute(_INSERT_ARTICLES, parameters).scalars())
        existing = [key for key in frame["article_key"] if key not in inserted]
        stored: dict[str, str] = {}
        if existing:
            for key, content_hash in self._conn.execute(_STORED_HASHES, {"keys": existing}):
                stored[str(key)] = str(content_hash)
        given = dict(zip(frame["article_key"], frame["content_hash"], strict=True))
        differing = sorted(key for key in existing if stored.get(key) != given[key])
        # A later copy in the same batch is compared with the copy kept (the batch's first).
        copies = articles[articles.duplicated("article_key", keep="first")]
        edited = [
            str(key)
            for key, content_hash in zip(copies["article_key"], copies["content_hash"], strict=True)
            if content_hash != given[key]
        ]
        return ArticleWrite(
            inserted=len(inserted),
            unchanged=len(existing) - len(differing) + len(copies) - len(edited),
            differing=sorted({*differing, *edited}),
        )

    def article_count(self) -> int:
        return int(self._conn.execute(text("SELECT count(*) FROM news_articles")).scalar_one())

    def articles(self, *, symbol: str | None = None, limit: int = 50) -> pd.DataFrame:
        """The latest articles (optionally of one symbol), newest first."""
        result = self._conn.execute(
            text(
                "SELECT id, article_key, published_at, headline, "
                "array_to_string(symbols, ',') AS symbols, publisher FROM news_articles "
                "WHERE CAST(:symbol AS text) IS NULL OR :symbol = ANY(symbols) "
                "ORDER BY published_at DESC, id DESC LIMIT :limit"
            ),
            {"symbol": symbol, "limit": limit},
        )
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    # --- scores ----------------------------------------------------------------------------------

    def unscored(
        self, scorer: str, version: str, *, after: int = 0, limit: int = 5000
    ) -> pd.DataFrame:
        """Articles (id, headline, summary) after `after` with no score of this scorer version,
        by id, at most `limit`.

        Read window by window of ids, each looked up by article id alone (the unique index's
        first column) and the scorer matched here: filtering on the scorer in SQL let the
        planner scan the scorer index with statistics from before the run's own inserts, which
        grows quadratically (2 to 4 s per chunk at 80,000 articles).
        """
        columns = ["id", "headline", "summary"]
        while True:
            window = self._conn.execute(_ARTICLE_WINDOW, {"after": after, "limit": limit}).all()
            if not window:
                return pd.DataFrame([], columns=columns)
            ids = [int(row.id) for row in window]
            scored = {
                int(row.article_id)
                for row in self._conn.execute(_SCORES_OF, {"ids": ids})
                if row.scorer == scorer and row.scorer_version == version
            }
            rows = [tuple(row) for row in window if int(row.id) not in scored]
            if rows or len(window) < limit:
                return pd.DataFrame(rows, columns=columns)
            after = ids[-1]

    def add_scores(self, scorer: str, version: str, scores: pd.DataFrame) -> int:
        """Append scores (article_id, score, positive, negative, details); existing (article,
        scorer, version) rows are left alone. Returns the rows added."""
        if scores.empty:
            return 0

        def optional_ints(column: str) -> list[int | None]:
            if column not in scores.columns:
                return [None] * len(scores)
            return [None if pd.isna(value) else int(value) for value in scores[column]]

        details: Sequence[Any] = (
            scores["details"].tolist() if "details" in scores.columns else [{}] * len(scores)
        )
        result = self._conn.execute(
            _INSERT_SCORES,
            {
                "scorer": scorer,
                "version": version,
                "article_id": [int(value) for value in scores["article_id"]],
                "score": [float(value) for value in scores["score"]],
                "positive": optional_ints("positive"),
                "negative": optional_ints("negative"),
                "details": [json.dumps(item or {}, sort_keys=True) for item in details],
            },
        )
        return int(result.rowcount)

    def scores(self, scorer: str | None = None) -> pd.DataFrame:
        """Every score row (article_id, scorer, scorer_version, score, positive, negative)."""
        result = self._conn.execute(
            text(
                "SELECT article_id, scorer, scorer_version, score, positive, negative, details "
                "FROM news_scores WHERE CAST(:scorer AS text) IS NULL OR scorer = :scorer "
                "ORDER BY article_id, scorer, scorer_version"
            ),
            {"scorer": scorer},
        )
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def score_counts(self) -> pd.DataFrame:
        """Rows per (scorer, scorer_version)."""
        result = self._conn.execute(
            text(
                "SELECT scorer, scorer_version, count(*) AS articles FROM news_scores "
                "GROUP BY scorer, scorer_version ORDER BY scorer, scorer_version"
            )
        )
        return pd.DataFrame(result.fetchall(), columns=["scorer", "scorer_version", "articles"])

    def latest_scores(
        self, scorer: str, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> pd.DataFrame:
        """Per article, the newest score of `scorer` (any version): article_id, published_at
        (UTC), symbols (list), score, scorer_version; optionally published in [since, until)."""
        result = self._conn.execute(
            _LATEST_SCORES, {"scorer": scorer, "since": since, "until": until}
        )
        frame = pd.DataFrame(
            result.fetchall(),
            columns=["article_id", "published_at", "symbols", "score", "scorer_version"],
        )
        frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
        frame["symbols"] = [
            [item for item in str(value or "").split(",") if item] for value in frame["symbols"]
        ]
        frame["score"] = frame["score"].astype("float64")
        return frame

    # --- aggregated sentiment (market_sentiment) -------------------------------------------------

    def sentiment_series(
        self,
        source: str,
        *,
        symbols: Sequence[str] | None = None,
        market: bool = True,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pd.DataFrame:
        """`market_sentiment` rows of one source (market-wide rows when `market`, and the rows of
        `symbols`), by symbol (market-wide last) and date."""
        result = self._conn.execute(
            text(
                "SELECT symbol, date, source, sentiment_score::float8 AS sentiment_score, "
                "sentiment_magnitude::float8 AS sentiment_magnitude, article_count "
                "FROM market_sentiment WHERE source = :source "
                "AND ((:market AND symbol IS NULL) OR symbol = ANY(:symbols)) "
                "AND (CAST(:start AS date) IS NULL OR date >= :start) "
                "AND (CAST(:end AS date) IS NULL OR date <= :end) "
                "ORDER BY symbol NULLS LAST, date"
            ),
            {
                "source": source,
                "market": market,
                "symbols": list(symbols or []),
                "start": start,
                "end": end,
            },
        )
        frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        named = frame["symbol"].astype(object)
        frame["symbol"] = named.where(named.notna(), None)
        return frame

    def sentiment_sources(self) -> list[str]:
        """The sources present in `market_sentiment`."""
        rows = self._conn.execute(
            text("SELECT DISTINCT source FROM market_sentiment ORDER BY source")
        ).scalars()
        return [str(row) for row in rows]
