"""Sentiment arithmetic: LM polarity, sessions of publication, article-weighted aggregation."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocker.core.errors import DataError
from stocker.core.sentiment import (
    aggregate_article_scores,
    lm_polarities,
    lm_polarity,
    probability_score,
    session_of,
)

SESSIONS = pd.DatetimeIndex(["2022-12-22", "2022-12-23", "2022-12-27"])
CLOSES = pd.DatetimeIndex(["2022-12-22 21:00", "2022-12-23 21:00", "2022-12-27 21:00"], tz="UTC")


def test_lm_polarity_is_zero_without_dictionary_words_and_the_ratio_otherwise() -> None:
    assert lm_polarity(0, 0) == 0.0
    assert lm_polarity(3, 1) == 0.5
    assert lm_polarity(0, 2) == -1.0
    with pytest.raises(DataError, match="word counts"):
        lm_polarity(-1, 0)


@given(st.integers(0, 10_000), st.integers(0, 10_000))
def test_lm_polarity_is_bounded_antisymmetric_and_vectorized(positive: int, negative: int) -> None:
    value = lm_polarity(positive, negative)
    assert -1.0 <= value <= 1.0
    assert lm_polarity(negative, positive) == -value
    assert lm_polarities(np.array([positive]), np.array([negative]))[0] == pytest.approx(value)


def test_probability_score_is_clipped() -> None:
    assert probability_score(0.9, 0.05) == pytest.approx(0.85)
    assert probability_score(1.2, 0.0) == 1.0


def test_an_article_after_the_close_counts_for_the_next_session() -> None:
    published = pd.Series(
        pd.to_datetime(
            [
                "2022-12-22 14:00:00",  # during D
                "2022-12-22 20:59:59",  # a second before D's close
                "2022-12-22 21:00:00",  # at D's close: the next session's
                "2022-12-24 12:00:00",  # Saturday
                "2022-12-26 15:00:00",  # a holiday
            ],
            utc=True,
        )
    )

    found = session_of(published, CLOSES, SESSIONS)

    assert [day.date() for day in found] == [
        date(2022, 12, 22),
        date(2022, 12, 22),
        date(2022, 12, 23),
        date(2022, 12, 27),
        date(2022, 12, 27),
    ]
    with pytest.raises(DataError, match="after the calendar's last session close"):
        session_of(pd.Series(pd.to_datetime(["2022-12-28"], utc=True)), CLOSES, SESSIONS)


def test_aggregate_is_the_article_weighted_mean_mean_magnitude_and_count() -> None:
    frame = aggregate_article_scores(
        ["AAPL", "AAPL", "MSFT", None, None, None],
        pd.to_datetime(["2022-12-22"] * 6),
        [1.0, -0.5, 0.2, 1.0, -0.5, 0.2],
    )

    assert frame.to_dict("records") == [
        {
            "symbol": "AAPL",
            "date": date(2022, 12, 22),
            "sentiment_score": 0.25,
            "sentiment_magnitude": 0.75,
            "article_count": 2,
        },
        {
            "symbol": "MSFT",
            "date": date(2022, 12, 22),
            "sentiment_score": 0.2,
            "sentiment_magnitude": 0.2,
            "article_count": 1,
        },
        {
            "symbol": None,
            "date": date(2022, 12, 22),
            "sentiment_score": 0.2333,
            "sentiment_magnitude": 0.5667,
            "article_count": 3,
        },
    ]


def test_aggregate_refuses_scores_outside_minus_one_to_one() -> None:
    with pytest.raises(DataError, match=r"\[-1, 1\]"):
        aggregate_article_scores(["A"], pd.to_datetime(["2022-12-22"]), [1.5])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", None]),
            st.integers(0, 4),
            st.floats(-1, 1, allow_nan=False),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_aggregate_matches_a_pandas_groupby(rows: list[tuple[str | None, int, float]]) -> None:
    keys = [key for key, _, _ in rows]
    days = pd.to_datetime("2022-12-19") + pd.to_timedelta([day for _, day, _ in rows], unit="D")
    scores = [score for _, _, score in rows]

    ours = aggregate_article_scores(keys, days, scores)

    frame = pd.DataFrame(
        {"symbol": [key or "~market" for key in keys], "date": days.date, "score": scores}
    )
    expected = (
        frame.assign(magnitude=frame["score"].abs())
        .groupby(["symbol", "date"])
        .agg(
            sentiment_score=("score", "mean"),
            sentiment_magnitude=("magnitude", "mean"),
            article_count=("score", "size"),
        )
    )
    assert len(ours) == len(expected)
    for row in ours.itertuples(index=False):
        want = expected.loc[(row.symbol or "~market", row.date)]
        assert row.sentiment_score == pytest.approx(want["sentiment_score"], abs=5e-5)
        assert row.sentiment_magnitude == pytest.approx(want["sentiment_magnitude"], abs=5e-5)
        assert row.article_count == want["article_count"]
    assert ours["symbol"].isna().tolist() == sorted(ours["symbol"].isna().tolist())
