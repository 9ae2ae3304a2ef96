"""What every news source hands over: a `NewsBatch` of articles in one frame shape.

An article is keyed once: by the vendor's own id where it has one (``alpaca:24843171``), else
by the SHA-256 of its url (``url:…``), else of its publication time and headline (``text:…``).
`content_hash` digests the fields kept (time, headline, summary, symbols, publisher, url), so a
re-sent copy is told from an edited one; `source_hash` digests the raw payload (page, message
or file) the article came in.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from stocker.sources.base import FetchRequest, RawReject

NEWS_TABLE = "news_articles"
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
KEY_LIMIT = 100
PUBLISHER_LIMIT = 100
SYMBOL_LIMIT = 20
VENDOR_ID_LIMIT = 100
"""The widths of `news_articles.symbols` and `vendor_id`: a longer value is refused by the
source's checks, not by the database mid-batch."""
QUARANTINE_KEY = (
    "id",
    "article_id",
    "published_at",
    "published",
    "timestamp",
    "created_at",
    "time",
    "headline",
    "title",
)
"""Raw fields a refused article's quarantine `row_key` shows, those it has (files' and Alpaca's
names, in any case): enough to tell it apart in `stocker data quarantine list`."""


def quarantine_key(rejects: Iterable[RawReject]) -> tuple[str, ...]:
    """The rejects' own field names for `QUARANTINE_KEY` (a file's ``Title`` for ``title``)."""
    names = {str(name) for reject in rejects for name in reject.raw_row}
    order = {name: position for position, name in enumerate(QUARANTINE_KEY)}
    chosen = [name for name in names if name.strip().lower() in order]
    return tuple(sorted(chosen, key=lambda name: (order[name.strip().lower()], name)))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_key(
    vendor: str, vendor_id: str | None, url: str | None, published: datetime, headline: str
) -> str:
    """The article's one key: vendor id, else url hash, else hash of time and headline."""
    if vendor_id:
        return f"{vendor}:{vendor_id}"[:KEY_LIMIT]
    if url:
        return f"url:{_sha256(url.strip())}"
    return f"text:{_sha256(published.astimezone(UTC).isoformat() + '|' + headline.strip())}"


def article_row(
    *,
    vendor: str,
    vendor_id: str | None,
    published_at: datetime,
    headline: str,
    summary: str | None,
    symbols: Iterable[str],
    publisher: str | None,
    url: str | None,
    source_hash: str,
) -> dict[str, Any]:
    """One row of `ARTICLE_COLUMNS`, with its key and content hash."""
    published = published_at.astimezone(UTC)
    listed = list(dict.fromkeys(symbols))
    kept = {
        "published_at": published.isoformat(),
        "headline": headline.strip(),
        "summary": (summary or "").strip(),
        "symbols": listed,
        "publisher": publisher or None,
        "url": url or None,
    }
    return {
        "article_key": article_key(vendor, vendor_id, url, published, headline),
        "vendor": vendor,
        "vendor_id": vendor_id,
        **kept,
        "published_at": published,
        "publisher": (publisher or None) and str(publisher)[:PUBLISHER_LIMIT],
        "content_hash": _sha256(json.dumps(kept, sort_keys=True, ensure_ascii=False)),
        "source_hash": source_hash,
    }


def articles_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows of `ARTICLE_COLUMNS` as a frame (an empty frame keeps the columns)."""
    frame = pd.DataFrame(list(rows), columns=list(ARTICLE_COLUMNS))
    frame["published_at"] = pd.to_datetime(frame["published_at"], utc=True)
    for column in ("vendor_id", "publisher", "url"):
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    return frame


@dataclass
class NewsBatch:
    """Articles from one fetch or file, the rows refused with their reasons, and warnings.

    `source_hash` is the SHA-256 of the one payload the whole batch came in (a file), kept with
    each refused row so a re-run of the same payload is recognised; None when there are many
    (Alpaca's pages)."""

    source: str
    articles: pd.DataFrame
    rejects: list[RawReject] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_hash: str | None = None


@runtime_checkable
class NewsSource(Protocol):
    """Historical news: articles about `request.symbols` (none: every symbol) published from
    `request.start` through `request.end` (inclusive dates)."""

    name: str

    def fetch_news(self, request: FetchRequest) -> NewsBatch:
        """Articles in the request's range."""
        ...


@runtime_checkable
class LiveNewsFeed(Protocol):
    """News as a vendor streams it: `run` calls `sink(frame)` (`ARTICLE_COLUMNS`) per message
    on the calling thread until `stop_event` is set; messages it cannot read go to `rejects`
    (verbatim, with why) for the caller to keep."""

    name: str
    rejects: list[RawReject]

    def run(
        self,
        symbols: Iterable[str],
        sink: Callable[[pd.DataFrame], None],
        stop_event: threading.Event,
    ) -> None:
        """Stream articles about `symbols` ("*" for all) into `sink` until stopped."""
        ...
