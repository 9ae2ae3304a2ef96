"""Ingest news/social sentiment into `market_sentiment`, aggregated per symbol per day.

The path is every table's: a file is read with the file sources' checked decoding
(`stocker.sources.decoding`: encodings, binary files, over-long lines), input rows are checked
(`stocker.core.rules.sentiment.check_articles`), the valid ones aggregated into daily rows
(`aggregate_sentiment`), and those land through the `BatchWriter` like any batch: the daily
rows' own rules, the upsert, the quarantine (refused input rows, with every reason, in the same
batch) and the `ingest_batches` record — in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rejects import Reject
from stocker.core.rules.sentiment import aggregate_sentiment, check_articles
from stocker.core.tables import MARKET_SENTIMENT
from stocker.data.batch_writer import BatchWriter
from stocker.data.reports import IngestReport, TableReport

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


@dataclass(kw_only=True)
class SentimentReport(TableReport):
    """The outcome of one ingest: the table's counts, the daily rows made, and the rejects."""

    rows: int = 0
    """Daily rows aggregated from the valid input rows."""
    rejected: list[Reject] = field(default_factory=list)
    """Input rows left out, numbered from 0 in input order."""
    rejected_daily: list[Reject] = field(default_factory=list)
    """Aggregated daily rows refused (numbered within the daily rows)."""


def ingest_sentiment(
    uow: SqlUnitOfWork,
    rows: pd.DataFrame | Sequence[dict[str, Any]],
    *,
    source: str,
    today: date,
    source_hash: str | None = None,
    description: str | None = None,
) -> SentimentReport:
    """Check, aggregate and land sentiment rows in one transaction; quarantine the invalid ones."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if not source.strip():
        raise DataError("source: got a blank name; expected the feed's name, e.g. finbert_news")
    frame = frame.reset_index(drop=True)
    checked = check_articles(frame, source.strip())
    article_rejects = [
        Reject(MARKET_SENTIMENT.name, position, frame.iloc[position].to_dict(), reasons)
        for position, reasons in checked.reasons.items()
    ]
    daily = aggregate_sentiment(checked.valid)
    if source_hash is not None:
        daily["source_hash"] = source_hash
    with uow:
        writer = BatchWriter(uow, source=source, today=today, description=description)
        table, rejected_daily = writer.land(
            MARKET_SENTIMENT,
            daily,
            article_rejects,
            received=len(frame),
            source_hash=source_hash,
        )
        writer.finish(IngestReport(source=source), compare_vendor=False)
        uow.commit()
    counts = {item.name: getattr(table, item.name) for item in fields(TableReport)}
    return SentimentReport(
        **counts, rows=len(daily), rejected=article_rejects, rejected_daily=rejected_daily
    )


def read_sentiment_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """The CSV's cells as text (blank cells as ``""``, nothing coerced before the checks) and
    the file's SHA-256, read with the file sources' checks."""
    from stocker.sources.decoding import decode_text, read_csv_text, scan_file

    if not path.is_file():
        raise DataError(f"path: {str(path)!r} is not a file; expected a CSV of sentiment rows")
    source_hash = scan_file(path)
    text = decode_text(path.name, path.read_bytes())
    frame = read_csv_text(path.name, text, lambda headers: set(headers))
    return frame.fillna(""), source_hash


def ingest_sentiment_csv(
    uow: SqlUnitOfWork, path: Path, *, source: str, today: date
) -> SentimentReport:
    """`ingest_sentiment` over a CSV file."""
    frame, source_hash = read_sentiment_csv(path)
    return ingest_sentiment(
        uow,
        frame,
        source=source,
        today=today,
        source_hash=source_hash,
        description=f"sentiment from {path.name}",
    )
