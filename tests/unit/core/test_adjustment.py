"""Back-adjustment for splits and dividends: a worked example, identities and edge cases."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stocker.core.adjustment import (
    actions_by_session,
    adjusted_close,
    adjusted_closes,
    adjustment_disagreements,
    adjustment_factors,
    stored_price_texts,
    total_return_index,
)
from stocker.core.errors import DataError
from stocker.core.prices import stored_price

# A 2-for-1 split on 2024-06-10 and four quarterly dividends; the session before each ex-date
# is in the series. Expected values worked out by hand (see docs/corporate_actions.md):
#   multipliers  2024-11-08: 1 - 0.55/105.00 = 0.9947619   2024-08-12: 1 - 0.50/101.00 = 0.9950495
#                2024-06-10: 1/2                            2024-05-10: 1 - 1.00/184.00 = 0.9945652
#                2024-02-09: 1 - 0.96/182.00 = 0.9947253
#   factor before an ex-date = product of the multipliers of it and every later action.
EXAMPLE = [
    # date,        close,  factor,   adjusted close
    ("2024-02-07", 180.00, 0.489633, 88.1339),
    ("2024-02-08", 182.00, 0.489633, 89.1131),
    ("2024-02-09", 181.50, 0.492229, 89.3395),  # ex-dividend 0.96
    ("2024-05-09", 184.00, 0.492229, 90.5701),
    ("2024-05-10", 183.00, 0.494919, 90.5701),  # ex-dividend 1.00
    ("2024-06-07", 196.00, 0.494919, 97.0041),
    ("2024-06-10", 99.00, 0.989837, 97.9939),  # 2-for-1 split
    ("2024-08-09", 101.00, 0.989837, 99.9736),
    ("2024-08-12", 100.40, 0.994762, 99.8741),  # ex-dividend 0.50
    ("2024-11-07", 105.00, 0.994762, 104.4500),
    ("2024-11-08", 104.80, 1.000000, 104.8000),  # ex-dividend 0.55
    ("2024-11-11", 105.20, 1.000000, 105.2000),
]
DATES = [date.fromisoformat(row[0]) for row in EXAMPLE]
CLOSE = np.array([row[1] for row in EXAMPLE])
SPLITS = [(date(2024, 6, 10), 2.0)]
DIVIDENDS = {
    date(2024, 2, 9): 0.96,
    date(2024, 5, 10): 1.00,
    date(2024, 8, 12): 0.50,
    date(2024, 11, 8): 0.55,
}


def test_adjusted_close_with_split_and_quarterly_dividends_matches_hand_computation():
    factors = adjustment_factors(DATES, CLOSE, SPLITS, DIVIDENDS)
    adjusted = adjusted_close(DATES, CLOSE, SPLITS, DIVIDENDS)
    np.testing.assert_allclose(factors, [row[2] for row in EXAMPLE], atol=1e-6)
    np.testing.assert_allclose(adjusted, [row[3] for row in EXAMPLE], atol=1e-4)


def test_adjusted_close_accepts_series_and_datetime_index_inputs():
    adjusted = adjusted_close(
        pd.DatetimeIndex(DATES),
        pd.Series(CLOSE),
        pd.Series({pd.Timestamp("2024-06-10"): 2.0}),
        pd.Series(DIVIDENDS),
    )
    np.testing.assert_allclose(adjusted, [row[3] for row in EXAMPLE], atol=1e-4)


def test_adjusted_close_without_actions_equals_close():
    np.testing.assert_array_equal(adjusted_close(DATES, CLOSE), CLOSE)
    np.testing.assert_array_equal(adjusted_close(DATES, CLOSE, [], {}), CLOSE)


def test_action_on_weekend_applies_at_next_session():
    saturday = date(2024, 6, 8)
    on_weekend = adjusted_close(DATES, CLOSE, [(saturday, 2.0)], DIVIDENDS)
    on_monday = adjusted_close(DATES, CLOSE, SPLITS, DIVIDENDS)
    np.testing.assert_array_equal(on_weekend, on_monday)


def test_actions_outside_price_range_change_nothing():
    before = [(date(2020, 1, 2), 4.0), (DATES[0], 3.0)]  # on the first date: no earlier price
    after = {date(2025, 2, 10): 0.6}
    np.testing.assert_array_equal(adjusted_close(DATES, CLOSE, before, after), CLOSE)


def test_two_dividends_on_one_session_add_up():
    dates = DATES[:3]
    close = CLOSE[:3]
    both = adjusted_close(dates, close, None, [(DATES[2], 0.5), (DATES[2], 0.46)])
    single = adjusted_close(dates, close, None, [(DATES[2], 0.96)])
    np.testing.assert_allclose(both, single, rtol=1e-15)
    np.testing.assert_allclose(both[0], 180.0 * (1 - 0.96 / 182.0), rtol=1e-15)


def test_split_and_dividend_on_one_session_multiply():
    dates, close = DATES[5:7], CLOSE[5:7]  # 196.00 then 99.00
    adjusted = adjusted_close(dates, close, [(DATES[6], 2.0)], [(DATES[6], 1.0)])
    assert adjusted[0] == pytest.approx(196.0 / 2.0 * (1 - 1.0 / 196.0), rel=1e-15)
    assert adjusted[1] == 99.0


def test_reverse_split_multiplies_earlier_prices():
    adjusted = adjusted_close(DATES[:2], [1.0, 10.2], [(DATES[1], 0.1)], None)
    np.testing.assert_allclose(adjusted, [10.0, 10.2])


def test_total_return_index_equals_share_count_reinvestment_path():
    """An investor holding one share, taking splits and buying shares with each dividend at the
    ex-dividend reference price, ends with the wealth the adjusted close implies."""
    splits = dict(SPLITS)
    shares = 1.0
    wealth = [CLOSE[0]]
    for position in range(1, len(DATES)):
        day = DATES[position]
        shares *= splits.get(day, 1.0)
        if day in DIVIDENDS:
            cash = shares * DIVIDENDS[day]
            shares += cash / (CLOSE[position - 1] - DIVIDENDS[day])
        wealth.append(shares * CLOSE[position])
    expected = np.array(wealth) / wealth[0]
    index = total_return_index(DATES, CLOSE, SPLITS, DIVIDENDS)
    np.testing.assert_allclose(index, expected, rtol=1e-12)
    split_adjusted_price_growth = CLOSE[-1] * 2.0 / CLOSE[0]
    assert index[-1] > split_adjusted_price_growth  # the dividends add to the price return


@pytest.mark.parametrize(
    ("dates", "close", "splits", "dividends", "message"),
    [
        (DATES[:2][::-1], CLOSE[:2], None, None, "strictly ascending"),
        (DATES[:2], [180.0, 0.0], None, None, "positive finite price"),
        (DATES[:2], [180.0, np.nan], None, None, "positive finite price"),
        (DATES[:2], CLOSE[:2], [(DATES[1], 0.0)], None, "split ratio"),
        (DATES[:2], CLOSE[:2], None, [(DATES[1], -1.0)], "non-negative"),
        (DATES[:2], CLOSE[:2], None, [(DATES[1], 180.0)], "not below the previous close"),
        (DATES[:2], CLOSE[:1], None, None, "one close per date"),
    ],
)
def test_adjustment_when_input_invalid_raises_data_error(dates, close, splits, dividends, message):
    with pytest.raises(DataError, match=message):
        adjusted_close(dates, close, splits, dividends)


def test_disagreements_flag_only_dates_beyond_tolerance():
    index = pd.DatetimeIndex(DATES[:4])
    computed = pd.DataFrame({"AAA": [10.0, 11.0, 12.0, 13.0], "BBB": [5.0, 5.0, 5.0, 5.0]}, index)
    vendor = computed * (1 + 5e-4)
    vendor.loc[index[2], "BBB"] = 5.1  # 2% off
    vendor.loc[index[3], "AAA"] = np.nan  # vendor has no value: not compared
    vendor["CCC"] = 1.0  # a symbol we did not compute: not compared
    found = adjustment_disagreements(computed, vendor, relative_tolerance=1e-3)
    assert list(found.columns) == ["date", "symbol", "computed", "vendor", "relative_difference"]
    assert found[["date", "symbol"]].to_records(index=False).tolist() == [(index[2], "BBB")]
    assert found["relative_difference"].iloc[0] == pytest.approx(0.02)


def test_disagreements_for_series_name_symbol():
    computed = pd.Series([1.0, 2.0], pd.DatetimeIndex(DATES[:2]), name="AAA")
    found = adjustment_disagreements(computed, computed * 1.01)
    assert list(found["symbol"]) == ["AAA", "AAA"]


# --- identities for random price paths and action sets ----------------------------------------


@st.composite
def price_paths_with_actions(draw):
    count = draw(st.integers(min_value=2, max_value=40))
    start = date(2020, 1, 1) + timedelta(days=draw(st.integers(0, 400)))
    gaps = draw(st.lists(st.integers(1, 4), min_size=count - 1, max_size=count - 1))
    dates = [start]
    for gap in gaps:
        dates.append(dates[-1] + timedelta(days=gap))
    close = draw(
        st.lists(
            st.floats(min_value=1.0, max_value=1000.0, allow_nan=False),
            min_size=count,
            max_size=count,
        )
    )
    span = (dates[-1] - dates[0]).days
    offsets = st.integers(min_value=-3, max_value=span + 3)
    splits = draw(
        st.lists(st.tuples(offsets, st.sampled_from([0.1, 0.5, 1.5, 2.0, 3.0, 10.0])), max_size=4)
    )
    dividends = draw(st.lists(st.tuples(offsets, st.floats(0.0, 0.3)), max_size=6))
    # A dividend is a fraction of the smallest close so it is always below the previous close.
    smallest = min(close)
    return (
        dates,
        np.array(close),
        [(start + timedelta(days=offset), ratio) for offset, ratio in splits],
        [(start + timedelta(days=offset), share * smallest) for offset, share in dividends],
    )


def _actions_per_position(dates, actions, combine, neutral):
    """For each price date, the combined actions whose ex-date falls after the previous price
    date and on or before this one (a plain loop, independent of the searchsorted in the code)."""
    result = [neutral] * len(dates)
    for ex_date, value in actions:
        for position in range(1, len(dates)):
            if dates[position - 1] < ex_date <= dates[position]:
                result[position] = combine(result[position], value)
    return result


@settings(max_examples=150, deadline=None)
@given(price_paths_with_actions())
def test_adjusted_returns_equal_raw_returns_with_split_and_dividend(path):
    dates, close, splits, dividends = path
    adjusted = adjusted_close(dates, close, splits, dividends)
    ratio = _actions_per_position(dates, splits, lambda left, right: left * right, 1.0)
    cash = _actions_per_position(dates, dividends, lambda left, right: left + right, 0.0)
    for position in range(1, len(dates)):
        expected = close[position] * ratio[position] / (close[position - 1] - cash[position])
        assert adjusted[position] / adjusted[position - 1] == pytest.approx(expected, rel=1e-9)
        # The total-return convention (close + D) / previous close differs by D / close[t-1]
        # times the day's return: second order, zero when the price drops by exactly D.
        total = (close[position] * ratio[position] + cash[position]) / close[position - 1]
        second_order = cash[position] / close[position - 1] * (expected - 1)
        assert expected - total == pytest.approx(second_order, rel=1e-6, abs=1e-12)
    assert adjusted[-1] == close[-1]
    split_ratio, dividend = actions_by_session(dates, splits, dividends)
    np.testing.assert_allclose(split_ratio, ratio, rtol=1e-12)
    np.testing.assert_allclose(dividend, cash, rtol=1e-12, atol=1e-12)


def test_adjusted_closes_of_many_symbols_equal_each_symbols_own_adjusted_close():
    dates = [date(2024, 1, 2) + timedelta(days=day) for day in range(5)]
    prices = pd.DataFrame(
        {
            "symbol": ["AAA"] * 5 + ["BBB"] * 5,
            "date": dates * 2,
            "close": [10.0, 10.5, 5.4, 5.5, 5.3, 20.0, 19.0, 19.5, 18.0, 18.2],
        },
        index=pd.RangeIndex(100, 110),
    )
    actions = pd.DataFrame(
        {
            "symbol": ["AAA", "BBB", "ZZZ"],
            "date": [dates[2], dates[3], dates[1]],
            "action_type": ["SPLIT", "DIVIDEND", "SPLIT"],
            "value": [2.0, 1.0, 3.0],
        }
    )

    values = adjusted_closes(prices, actions)

    assert list(values.index) == list(prices.index)
    aaa = adjusted_close(dates, prices["close"].iloc[:5].to_numpy(), [(dates[2], 2.0)], [])
    bbb = adjusted_close(dates, prices["close"].iloc[5:].to_numpy(), [], [(dates[3], 1.0)])
    np.testing.assert_allclose(values.to_numpy(), np.concatenate([aaa, bbb]), rtol=0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False),
            # exact midpoints of the fourth decimal, where half-even and half-up part
            st.integers(min_value=0, max_value=10**9).map(lambda n: n / 10**4 + 0.00005),
        ),
        min_size=1,
        max_size=50,
    )
)
def test_stored_price_texts_equal_stored_price_of_each_value(values):
    assert stored_price_texts(values) == [str(stored_price(value)) for value in values]
