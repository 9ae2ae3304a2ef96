"""Edges of small rules: prices a stored unit apart, ranges at their ends, daily sentiment rows
(market rows keyed as "(market)"), and strategy configs refused with every problem named."""

from __future__ import annotations

import warnings
from datetime import date
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import ConfigError
from stocker.core.optimize.conflicts import _previous_sum
from stocker.core.prices import rounded_apart
from stocker.core.rules.common import rule_range, to_timestamps
from stocker.core.rules.sentiment import check_sentiment
from stocker.core.strategy.config import StrategyConfig


def test_rounded_apart_is_strictly_less_than_one_stored_unit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = rounded_apart(
            [0.0001, 0.0002, 1.0, np.inf, np.nan, 5.0], [0.0, 0.0001, 1.00005, np.inf, 1.0, 6.0]
        )
    assert got.tolist() == [False, False, True, False, False, False]
    assert got.dtype == bool
    assert rounded_apart(["1.00001"], ["1.0"]).tolist() == [True]
    assert rounded_apart(2.0, 2.0).tolist() is True


def test_rule_range_ends_are_inside_and_missing_is_required_by_default() -> None:
    raw = pd.DataFrame({"x": [-1.0, 1.0, -1.0001, 1.0001, None, "abc", np.inf]})
    required = rule_range(raw, "x", -1.0, 1.0)
    assert required.rule == "bad_x"
    assert required.bad.tolist() == [False, False, True, True, True, True, True]
    texts = [reason.text for reason in required.reasons]
    assert texts == [
        "bad_x: x -1.0001 is not a number in [-1, 1]",
        "bad_x: x 1.0001 is not a number in [-1, 1]",
        "bad_x: x is missing",
        "bad_x: x 'abc' is not a number in [-1, 1]",
        "bad_x: x inf is not a number in [-1, 1]",
    ]
    optional = rule_range(raw, "x", -1.0, 1.0, required=False)
    assert optional.bad.tolist() == [False, False, True, True, False, True, True]


def test_daily_sentiment_rows() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["A" * 20, "B" * 21, None, None, "C", "D"],
            "date": ["2024-06-27", "2024-06-27", "2024-06-27", "2024-06-27", "2024-06-29", "x"],
            "source": ["s", "s", "s", "s", "s", "s"],
            "sentiment_score": [1.0, 0.0, -1.0, 0.5, 0.0, 0.0],
        },
        index=[4, 5, 6, 7, 8, 9],
    )
    result = check_sentiment(frame, today=date(2024, 6, 28))
    texts = {k: [r.text for r in v] for k, v in result.reasons.items()}
    market = (
        "duplicate_key: key (symbol, date, source) = ((market), 2024-06-27, s) "
        "appears 2 times in the batch"
    )
    assert texts == {
        1: [f"bad_symbol: symbol '{'B' * 21}' is longer than 20"],
        2: [market],
        3: [market],
        4: ["future_date: date 2024-06-29 is after today 2024-06-28"],
        5: ["bad_date: date 'x' is not a valid date"],
    }
    assert list(result.frame.index) == list(range(6))
    assert result.frame["date"].iloc[0] == pd.Timestamp("2024-06-27")
    assert result.valid["symbol"].tolist() == ["A" * 20]


def test_strategy_config_from_a_table_or_top_level_keys() -> None:
    assert StrategyConfig.from_mapping({"strategy": {"lookback_days": 10}}).lookback_days == 10
    assert StrategyConfig.from_mapping({"lookback_days": 11}).lookback_days == 11
    both = {"lookback_days": 12, "ewma_decay": 0.9}
    assert StrategyConfig.from_mapping(both).ewma_decay == 0.9
    with pytest.raises(ConfigError) as mixed:
        StrategyConfig.from_mapping({"strategy": {"lookback_days": 10}, "lookback_days": 20})
    assert str(mixed.value) == (
        "invalid strategy config: strategy: Extra inputs are not permitted "
        "(got {'lookback_days': 10})"
    )
    with pytest.raises(ConfigError) as scalar:
        StrategyConfig.from_mapping({"strategy": 5})
    assert str(scalar.value) == "strategy config must be a table of parameters; got 5"
    with pytest.raises(ConfigError) as two:
        StrategyConfig.from_mapping({"lookback_days": 0, "ewma_decay": 2})
    assert str(two.value) == (
        "invalid strategy config: lookback_days: Input should be greater than or equal to 1 "
        "(got 0); ewma_decay: Input should be less than 1 (got 2)"
    )
    with pytest.raises(ConfigError) as whole:
        StrategyConfig.from_mapping({"drawdown_halve": 0.5, "drawdown_zero": 0.2})
    assert str(whole.value).startswith(
        "invalid strategy config: config: Value error, drawdown_halve (0.5) must be below "
        "drawdown_zero (0.2) (got {"
    )


def test_to_timestamps_reads_any_zone_into_utc_nanoseconds() -> None:
    got = to_timestamps(
        pd.Series(["2024-01-08 09:30", "2024-01-08T09:30:00-05:00", "08/01/2024 10:00+01:00", "x"])
    )
    assert str(got.dtype) == "datetime64[ns, UTC]"
    assert got.iloc[0] == pd.Timestamp("2024-01-08 09:30", tz="UTC")
    assert got.iloc[1] == pd.Timestamp("2024-01-08 14:30", tz="UTC")
    assert got.iloc[2].tz is not None
    assert pd.isna(got.iloc[3])


def test_a_previous_portfolio_not_fully_invested_is_named_in_turnover_conflicts() -> None:
    assert _previous_sum(SimpleNamespace(previous=np.array([0.5, 0.5]))) == ""  # type: ignore[arg-type]
    short = _previous_sum(SimpleNamespace(previous=np.array([0.3, 0.5])))  # type: ignore[arg-type]
    assert short == (
        " (the previous weights sum to 0.8, not 1, so reaching a fully invested portfolio "
        "trades at least 0.1 one-way)"
    )
    over = _previous_sum(SimpleNamespace(previous=np.array([0.9, 0.7])))  # type: ignore[arg-type]
    assert over.endswith(
        "sum to 1.6, not 1, so reaching a fully invested portfolio trades at least 0.3 one-way)"
    )
