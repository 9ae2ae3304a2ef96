"""Simple and log returns over (dates x symbols) adjusted closes with missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stocker.core.errors import DataError
from stocker.core.returns import log_returns, simple_returns

DATES = pd.bdate_range("2024-01-01", periods=5)
PRICES = pd.DataFrame(
    {"AAA": [100.0, 110.0, 99.0, 99.0, 108.9], "BBB": [np.nan, 50.0, np.nan, 40.0, 44.0]},
    index=DATES,
)


def test_simple_returns_hand_computed_with_first_row_and_gap_missing():
    returns = simple_returns(PRICES)
    expected = pd.DataFrame(
        {"AAA": [np.nan, 0.10, -0.10, 0.0, 0.10], "BBB": [np.nan, np.nan, np.nan, np.nan, 0.10]},
        index=DATES,
    )
    pd.testing.assert_frame_equal(returns, expected, atol=1e-12, rtol=0)


def test_simple_returns_across_gaps_measure_from_last_known_price():
    returns = simple_returns(PRICES, across_gaps=True)
    assert np.isnan(returns.loc[DATES[2], "BBB"])  # no price that day: no return
    assert returns.loc[DATES[3], "BBB"] == pytest.approx(40.0 / 50.0 - 1)
    assert np.isnan(returns.loc[DATES[1], "BBB"])  # first price of the listing


def test_log_returns_of_series_sum_to_log_of_total_growth():
    series = PRICES["AAA"]
    returns = log_returns(series)
    assert isinstance(returns, pd.Series)
    assert returns.iloc[1:].sum() == pytest.approx(np.log(108.9 / 100.0), rel=1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf])
def test_returns_when_price_not_positive_raise_naming_symbol_and_date(bad):
    prices = PRICES.copy()
    prices.loc[DATES[3], "AAA"] = bad
    with pytest.raises(DataError, match=r"'AAA' on 2024-01-04"):
        simple_returns(prices)


def test_returns_when_dates_unsorted_raise():
    with pytest.raises(DataError, match="ascending"):
        log_returns(PRICES.iloc[::-1])


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 30), st.integers(1, 4)),
        elements=st.one_of(st.just(np.nan), st.floats(0.01, 1e6)),
    )
)
def test_returns_equal_pandas_pct_change_and_numpy_log(values):
    prices = pd.DataFrame(values, index=pd.bdate_range("2020-01-01", periods=values.shape[0]))
    oracle = prices.pct_change(fill_method=None)
    pd.testing.assert_frame_equal(simple_returns(prices), oracle, rtol=1e-12)
    pd.testing.assert_frame_equal(log_returns(prices), np.log1p(oracle), rtol=1e-9, atol=1e-12)
    filled = prices.ffill()
    across = (filled / filled.shift(1) - 1).where(prices.notna())
    pd.testing.assert_frame_equal(simple_returns(prices, across_gaps=True), across, rtol=1e-12)
