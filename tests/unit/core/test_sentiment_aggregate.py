"""Daily sentiment rows from checked article rows: count-weighted means, summed counts, the
market-wide row per (date, source), rounding and clipping, and the edges (no rows, only market
rows, every count 0, a missing magnitude)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from stocker.core.rules.sentiment import DAILY_COLUMNS, aggregate_sentiment

D1, D2 = dt.date(2024, 5, 2), dt.date(2024, 5, 3)


def _rows(records: list[tuple[str | None, dt.date, str, float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        records, columns=["symbol", "date", "source", "score", "magnitude", "count"]
    )


def test_no_rows_give_an_empty_frame_with_the_daily_columns() -> None:
    empty = aggregate_sentiment(_rows([]))
    assert empty.empty
    assert list(empty.columns) == list(DAILY_COLUMNS)


def test_symbol_rows_are_count_weighted_and_the_market_row_covers_the_day() -> None:
    rows = _rows(
        [
            ("AAPL", D1, "news", 0.5, 2.0, 3),
            ("AAPL", D1, "news", -0.1, 4.0, 1),
            ("MSFT", D1, "news", 0.2, 1.0, 2),
            ("AAPL", D2, "news", 0.3, 1.0, 1),
            ("AAPL", D1, "blog", 0.9, 1.0, 1),
            (None, D1, "news", -0.4, 3.0, 4),
        ]
    )
    daily = aggregate_sentiment(rows)
    assert list(daily.columns) == list(DAILY_COLUMNS)
    by_key = {(r.symbol, r.date, r.source): r for r in daily.itertuples(index=False)}
    assert set(by_key) == {
        ("AAPL", D1, "blog"),
        ("AAPL", D1, "news"),
        ("AAPL", D2, "news"),
        ("MSFT", D1, "news"),
        (None, D1, "blog"),
        (None, D1, "news"),
        (None, D2, "news"),
    }
    aapl = by_key[("AAPL", D1, "news")]
    assert aapl.sentiment_score == pytest.approx((0.5 * 3 - 0.1 * 1) / 4)
    assert aapl.sentiment_magnitude == pytest.approx((2.0 * 3 + 4.0) / 4)
    assert aapl.article_count == 4
    market = by_key[(None, D1, "news")]
    # every row of the day and source: AAPL (3 + 1), MSFT 2 and the market-only row 4
    assert market.sentiment_score == pytest.approx(round((1.5 - 0.1 + 0.4 - 1.6) / 10, 4))
    assert market.sentiment_magnitude == pytest.approx((6.0 + 4.0 + 2.0 + 12.0) / 10)
    assert market.article_count == 10
    assert by_key[(None, D2, "news")].article_count == 1
    assert daily["article_count"].dtype == np.dtype("int64")
    assert all(isinstance(d, dt.date) for d in daily["date"])
    # per-symbol rows first (sorted), then the market rows
    assert list(daily["symbol"]) == ["AAPL", "AAPL", "AAPL", "MSFT", None, None, None]
    assert daily["symbol"].iloc[-1] is None


def test_only_market_rows_give_only_market_rows() -> None:
    daily = aggregate_sentiment(_rows([(None, D1, "feed", 0.25, 1.0, 2)]))
    assert len(daily) == 1
    row = daily.iloc[0]
    assert row["symbol"] is None
    assert (row["date"], row["source"], row["article_count"]) == (D1, "feed", 2)
    assert row["sentiment_score"] == 0.25


def test_scores_are_rounded_to_4_places_and_clipped_to_one() -> None:
    rows = _rows(
        [
            ("AAPL", D1, "news", 0.123456, 1.234567, 1),
            ("MSFT", D1, "news", 1.00004, 0.00004, 1),
        ]
    )
    daily = aggregate_sentiment(rows).set_index("symbol", drop=False)
    assert daily.loc["AAPL", "sentiment_score"] == 0.1235
    assert daily.loc["AAPL", "sentiment_magnitude"] == 1.2346
    assert daily.loc["MSFT", "sentiment_score"] == 1.0
    assert daily.loc["MSFT", "sentiment_magnitude"] == 0.0


def test_zero_counts_fall_back_to_a_plain_mean_and_missing_magnitudes_are_skipped() -> None:
    rows = _rows(
        [
            ("AAPL", D1, "news", 0.2, float("nan"), 0),
            ("AAPL", D1, "news", 0.6, 3.0, 0),
            ("MSFT", D1, "news", 0.1, float("nan"), 5),
            ("MSFT", D1, "news", 0.3, 2.0, 1),
            ("XOM", D1, "news", -0.5, float("nan"), 2),
        ]
    )
    daily = aggregate_sentiment(rows).set_index("symbol", drop=False)
    assert daily.loc["AAPL", "sentiment_score"] == pytest.approx(0.4)
    assert daily.loc["AAPL", "sentiment_magnitude"] == 3.0
    assert daily.loc["AAPL", "article_count"] == 0
    assert daily.loc["MSFT", "sentiment_score"] == round((0.5 + 0.3) / 6, 4)
    # only the present magnitude counts, with its own weight
    assert daily.loc["MSFT", "sentiment_magnitude"] == 2.0
    assert math.isnan(daily.loc["XOM", "sentiment_magnitude"])
    assert daily.loc["XOM", "sentiment_score"] == -0.5
