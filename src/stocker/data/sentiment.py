"""Ingest news/social sentiment into `market_sentiment`, aggregated per symbol per day.

Input (CSV, or a DataFrame) has one row per article or per pre-aggregated group:

- ``symbol``: optional; blank means the row is about the market as a whole
- ``date`` or ``timestamp``: a timestamp is taken in UTC and reduced to its UTC date
- ``source``: optional; rows without one use the `source` argument
- ``sentiment_score`` in [-1, 1]
- ``sentiment_magnitude``: optional, confidence or volume of mentions
- ``article_count``: optional, how many articles the row stands for (default 1)

Each (symbol, date, source) becomes one row: the article-count-weighted mean of scores and of
magnitudes, and the summed article count. A market-wide row (symbol NULL) per (date, source)
aggregates every valid input row of that day, with or without a symbol. Invalid rows (bad date,
score missing or outside [-1, 1], negative or fractional article count, unreadable or
out-of-range magnitude, over-long symbol) are reported with every reason, written to
`ingest_quarantine`, and left out; the valid rows still land, in the same transaction.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from stocker.core.errors import DataError
from stocker.sources.base import payload_hash
from stocker.store.bulk import RejectedRow, upsert
from stocker.store.quarantine import quarantine, record_batch

TABLE = "market_sentiment"
SYMBOL_CHARACTERS = 20
SOURCE_CHARACTERS = 50
SCORE_DECIMALS = 4
MAGNITUDE_DECIMALS = 4
MAGNITUDE_LIMIT = 1e6
"""`sentiment_magnitude` is NUMERIC(10, 4): below one million."""


@dataclass
class SentimentReport:
    """The outcome of one ingest: inputs, rejects (with reasons) and rows written."""

    batch_id: uuid.UUID
    received: int
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: list[RejectedRow] = field(default_factory=list)
    """Input rows left out, numbered from 0 in input order."""
    rejected_daily: list[RejectedRow] = field(default_factory=list)
    """Aggregated daily rows the table refused (numbered within the daily rows)."""


def _text(values: pd.Series) -> pd.Series:
    """Strings with blanks and missing values as None (object dtype, so None stays None)."""
    cleaned = [
        None if value is None or pd.isna(value) or not str(value).strip() else str(value).strip()
        for value in values.astype(object)
    ]
    return pd.Series(cleaned, index=values.index, dtype=object)


def _dates(frame: pd.DataFrame) -> pd.Series:
    if "date" in frame.columns:
        raw = frame["date"]
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed.dt.normalize()
    if "timestamp" in frame.columns:
        parsed = pd.to_datetime(frame["timestamp"], errors="coerce", utc=True, format="mixed")
        return parsed.dt.tz_localize(None).dt.normalize()
    raise DataError("columns: need 'date' or 'timestamp'; got neither")


def _numbers(frame: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """(parsed floats, whether a non-blank value failed to parse)."""
    if column not in frame.columns:
        blank = pd.Series(np.nan, index=frame.index)
        return blank, pd.Series(False, index=frame.index)
    raw = frame[column]
    parsed = pd.to_numeric(raw, errors="coerce").astype("float64")
    given = _text(raw).notna()
    return parsed, given & parsed.isna()


def _validated(frame: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Typed valid rows (symbol, date, source, score, magnitude, count) and the rejects."""
    if "sentiment_score" not in frame.columns:
        raise DataError(
            "columns: need 'sentiment_score'; got " + ", ".join(map(str, frame.columns))
        )
    absent = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    symbols = _text(frame["symbol"]) if "symbol" in frame.columns else absent
    given_sources = _text(frame["source"]) if "source" in frame.columns else absent
    sources = pd.Series(
        [value if value is not None else source for value in given_sources],
        index=frame.index,
        dtype=object,
    )
    dates = _dates(frame)
    score, score_unreadable = _numbers(frame, "sentiment_score")
    magnitude, magnitude_unreadable = _numbers(frame, "sentiment_magnitude")
    count, count_unreadable = _numbers(frame, "article_count")
    given_count = count.notna()
    count = count.fillna(1.0)

    checks: list[tuple[pd.Series, str]] = [
        (dates.isna(), "date: missing or not a date/timestamp"),
        (score_unreadable, "sentiment_score: not a number"),
        (score.isna() & ~score_unreadable, "sentiment_score: missing; expected a value in [-1, 1]"),
        (~np.isfinite(score.fillna(0.0)) | (score.abs() > 1), "sentiment_score: outside [-1, 1]"),
        (magnitude_unreadable, "sentiment_magnitude: not a number"),
        (
            ~np.isfinite(magnitude.fillna(0.0)) | (magnitude.abs() >= MAGNITUDE_LIMIT),
            f"sentiment_magnitude: expected a finite value below {MAGNITUDE_LIMIT:,.0f}",
        ),
        (count_unreadable, "article_count: not a number"),
        (
            given_count & ((count < 0) | (count != np.floor(count))),
            "article_count: expected a whole number >= 0",
        ),
        (
            symbols.map(lambda s: s is not None and len(s) > SYMBOL_CHARACTERS),
            f"symbol: longer than {SYMBOL_CHARACTERS} characters",
        ),
        (
            sources.map(lambda s: len(s) > SOURCE_CHARACTERS),
            f"source: longer than {SOURCE_CHARACTERS} characters",
        ),
    ]
    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for failed, reason in checks:
        for position in np.flatnonzero(failed.to_numpy(dtype=bool)):
            reasons[position].append(reason)
    rejected = [
        RejectedRow(
            row_number=position,
            row=frame.iloc[position].to_dict(),
            reasons=tuple(row_reasons),
        )
        for position, row_reasons in enumerate(reasons)
        if row_reasons
    ]
    valid = np.array([not row_reasons for row_reasons in reasons], dtype=bool)
    typed = pd.DataFrame(
        {
            "symbol": symbols,
            "date": dates,
            "source": sources,
            "score": score,
            "magnitude": magnitude,
            "count": count,
        }
    )[valid]
    return typed.reset_index(drop=True), rejected


def _weighted(group: pd.DataFrame) -> pd.Series:
    return pd.Series(
        {
            "sentiment_score": _weighted_mean(group["score"], group["count"]),
            "sentiment_magnitude": _weighted_mean(group["magnitude"], group["count"]),
            "article_count": group["count"].sum(),
        }
    )


def _weighted_mean(values: pd.Series, weights: pd.Series) -> float:
    """Mean weighted by article count over the values present; a plain mean if every weight is 0."""
    present = values.notna()
    if not present.any():
        return np.nan
    chosen, chosen_weights = values[present], weights[present]
    if chosen_weights.sum() <= 0:
        return float(chosen.mean())
    return float(np.average(chosen, weights=chosen_weights))


def aggregate_sentiment(rows: pd.DataFrame) -> pd.DataFrame:
    """Daily rows per (symbol, date, source) plus market-wide rows (symbol None); see module doc."""
    columns = [
        "symbol",
        "date",
        "source",
        "sentiment_score",
        "sentiment_magnitude",
        "article_count",
    ]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    per_symbol = rows[rows["symbol"].notna()]
    parts = []
    if not per_symbol.empty:
        parts.append(
            per_symbol.groupby(["symbol", "date", "source"], sort=True)[
                ["score", "magnitude", "count"]
            ]
            .apply(_weighted)
            .reset_index()
        )
    market = (
        rows.groupby(["date", "source"], sort=True)[["score", "magnitude", "count"]]
        .apply(_weighted)
        .reset_index()
    )
    market.insert(0, "symbol", None)
    parts.append(market)
    daily = pd.concat(parts, ignore_index=True)[columns]
    daily["sentiment_score"] = daily["sentiment_score"].round(SCORE_DECIMALS).clip(-1.0, 1.0)
    daily["sentiment_magnitude"] = daily["sentiment_magnitude"].round(MAGNITUDE_DECIMALS)
    daily["article_count"] = daily["article_count"].round().astype("int64")
    daily["date"] = pd.to_datetime(daily["date"]).dt.date
    daily["symbol"] = daily["symbol"].astype(object).where(daily["symbol"].notna(), None)
    return daily


def ingest_sentiment(
    conn: Connection,
    rows: pd.DataFrame | Sequence[dict[str, Any]],
    *,
    source: str,
    source_hash: str | None = None,
    description: str | None = None,
) -> SentimentReport:
    """Validate, aggregate and upsert sentiment rows; quarantine the invalid ones."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if not source.strip():
        raise DataError("source: got a blank name; expected the feed's name, e.g. finbert_news")
    valid, rejected = _validated(frame.reset_index(drop=True), source.strip())
    daily = aggregate_sentiment(valid)
    # Input rows were checked above; a daily row the column types still refuse is kept in
    # quarantine too rather than failing the whole batch.
    result = upsert(conn, TABLE, daily, key=("symbol", "date", "source"), on_reject="return")
    batch_id = uuid.uuid4()
    quarantined = quarantine(
        conn,
        batch_id=batch_id,
        table=TABLE,
        source=source,
        rejects=[*rejected, *result.rejected],
        source_hash=source_hash,
    )
    result.received = len(frame)
    record_batch(
        conn,
        batch_id=batch_id,
        source=source,
        table=TABLE,
        result=result,
        quarantined=quarantined,
        source_hash=source_hash,
        description=description,
    )
    return SentimentReport(
        batch_id=batch_id,
        received=len(frame),
        rows=len(daily),
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        rejected=rejected,
        rejected_daily=list(result.rejected),
    )


def ingest_sentiment_csv(conn: Connection, path: Path, *, source: str) -> SentimentReport:
    """`ingest_sentiment` over a CSV file (read as text, so nothing is coerced before checks)."""
    if not path.is_file():
        raise DataError(f"path: {str(path)!r} is not a file; expected a CSV of sentiment rows")
    payload = path.read_bytes()
    frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False)
    return ingest_sentiment(
        conn,
        frame,
        source=source,
        source_hash=payload_hash(payload),
        description=f"sentiment from {path.name}",
    )
