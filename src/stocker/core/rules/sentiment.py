"""The rules of sentiment: per-article input rows, and the daily rows aggregated from them.

Input has one row per article or per pre-aggregated group: ``symbol`` (optional; blank means the
market as a whole), ``date`` or ``timestamp`` (a timestamp is taken in UTC and reduced to its UTC
date), ``source`` (optional; the feed's name otherwise), ``sentiment_score`` in [-1, 1],
``sentiment_magnitude`` (optional) and ``article_count`` (optional, default 1).

`check_articles` refuses bad input rows (bad date, score missing or outside [-1, 1], negative or
fractional article count, unreadable or out-of-range magnitude, over-long symbol or source);
`aggregate_sentiment` turns the valid ones into one row per (symbol, date, source): the
article-count-weighted mean of scores and of magnitudes, and the summed article count, plus a
market-wide row (symbol None) per (date, source) over every valid row of that day.
`check_sentiment` is the rule set of those daily rows, as `market_sentiment` stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rejects import Reason
from stocker.core.rules.common import (
    SYMBOL_MAX_LENGTH,
    CheckResult,
    column_of,
    outcome,
    row_check,
    rule_bad_date,
    rule_duplicate_key,
    rule_future_date,
    rule_range,
    rule_required_text,
    rule_symbol_invalid,
    to_dates,
)
from stocker.core.symbols import SYMBOL_INVALID, normalized_symbols, symbol_problems

SOURCE_MAX_LENGTH = 50
SCORE_DECIMALS = 4
MAGNITUDE_DECIMALS = 4
MAGNITUDE_LIMIT = 1e6
"""`sentiment_magnitude` is NUMERIC(10, 4): below one million."""
DAILY_COLUMNS = (
    "symbol",
    "date",
    "source",
    "sentiment_score",
    "sentiment_magnitude",
    "article_count",
)


@dataclass(frozen=True)
class CheckedArticles:
    """Input rows checked: the valid ones typed (symbol, date, source, score, magnitude, count)
    and, per position of each bad input row, every reason."""

    valid: pd.DataFrame
    reasons: dict[int, tuple[Reason, ...]]


def _text(values: pd.Series) -> pd.Series:
    """Strings with blanks and missing values as None (object dtype, so None stays None)."""
    cleaned = [
        None if value is None or pd.isna(value) or not str(value).strip() else str(value).strip()
        for value in values.astype(object)
    ]
    return pd.Series(cleaned, index=values.index, dtype=object)


def _dates(frame: pd.DataFrame) -> pd.Series:
    if "date" in frame.columns:
        try:
            parsed = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
        except ValueError:  # cells with different UTC offsets: each read in UTC, as one zone is
            parsed = pd.to_datetime(frame["date"], errors="coerce", format="mixed", utc=True)
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


def check_articles(frame: pd.DataFrame, source: str) -> CheckedArticles:
    """Check input rows (on a 0-based index); rows without a source take `source`."""
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

    checks: list[tuple[pd.Series, str, str]] = [
        (dates.isna(), "bad_date", "date: missing or not a date/timestamp"),
        (score_unreadable, "bad_sentiment_score", "sentiment_score: not a number"),
        (
            score.isna() & ~score_unreadable,
            "bad_sentiment_score",
            "sentiment_score: missing; expected a value in [-1, 1]",
        ),
        (
            ~np.isfinite(score.fillna(0.0)) | (score.abs() > 1),
            "bad_sentiment_score",
            "sentiment_score: outside [-1, 1]",
        ),
        (magnitude_unreadable, "bad_sentiment_magnitude", "sentiment_magnitude: not a number"),
        (
            ~np.isfinite(magnitude.fillna(0.0)) | (magnitude.abs() >= MAGNITUDE_LIMIT),
            "bad_sentiment_magnitude",
            f"sentiment_magnitude: expected a finite value below {MAGNITUDE_LIMIT:,.0f}",
        ),
        (count_unreadable, "bad_article_count", "article_count: not a number"),
        (
            given_count & ((count < 0) | (count != np.floor(count))),
            "bad_article_count",
            "article_count: expected a whole number >= 0",
        ),
        (
            symbols.map(lambda s: s is not None and len(s) > SYMBOL_MAX_LENGTH),
            "bad_symbol",
            f"symbol: longer than {SYMBOL_MAX_LENGTH} characters",
        ),
        (
            sources.map(lambda s: len(s) > SOURCE_MAX_LENGTH),
            "bad_source",
            f"source: longer than {SOURCE_MAX_LENGTH} characters",
        ),
    ]
    found: list[list[Reason]] = [[] for _ in range(len(frame))]
    for failed, rule, text in checks:
        for position in np.flatnonzero(failed.to_numpy(dtype=bool)):
            found[position].append(Reason.verbatim(rule, text))
    problems = symbol_problems(symbols)
    for position in np.flatnonzero(problems.notna().to_numpy()):
        found[position].append(Reason(SYMBOL_INVALID, str(problems.iloc[position])))
    symbols = normalized_symbols(symbols)
    valid = np.array([not reasons for reasons in found], dtype=bool)
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
    reasons = {position: tuple(items) for position, items in enumerate(found) if items}
    return CheckedArticles(typed.reset_index(drop=True), reasons)


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
        return float("nan")
    chosen, chosen_weights = values[present], weights[present]
    if chosen_weights.sum() <= 0:
        return float(chosen.mean())
    return float(np.average(chosen, weights=chosen_weights))


def aggregate_sentiment(rows: pd.DataFrame) -> pd.DataFrame:
    """Daily rows per (symbol, date, source) plus market-wide rows (symbol None); see module doc."""
    columns = list(DAILY_COLUMNS)
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


def check_sentiment(frame: pd.DataFrame, *, today: date) -> CheckResult:
    """Sentiment: a date not in the future, a source, a score in [-1, 1]; symbol may be empty."""
    raw = frame.reset_index(drop=True)
    typed = raw.copy()
    typed["date"] = to_dates(column_of(raw, "date"))
    symbol = column_of(raw, "symbol")
    present = symbol.notna().to_numpy()
    outcomes = [
        outcome(
            "bad_symbol",
            present & (symbol.astype(object).astype(str).str.len() > SYMBOL_MAX_LENGTH).to_numpy(),
            lambda positions: [
                f"symbol {value!r} is longer than {SYMBOL_MAX_LENGTH}"
                for value in symbol.iloc[positions]
            ],
        ),
        rule_symbol_invalid(raw),
        rule_bad_date(column_of(raw, "date"), typed["date"]),
        rule_future_date(typed["date"], today),
        rule_required_text(raw, "source"),
        rule_range(raw, "sentiment_score", -1.0, 1.0),
        # market-wide rows (no symbol) share one key per date and source
        rule_duplicate_key(
            typed.assign(symbol=symbol.astype(object).where(present, "(market)")),
            ("symbol", "date", "source"),
        ),
    ]
    return row_check(raw, typed, outcomes)
