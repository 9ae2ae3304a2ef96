"""Breadth measures against hand-computed values and naive per-date loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stocker.core.breadth import (
    advance_decline_ratio,
    breadth_metrics,
    new_highs_minus_lows,
    percent_above_moving_average,
    sector_metric_name,
    sector_relative_strength,
)
from stocker.core.errors import DataError

DATES = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
SECTORS = {"A": "Technology", "B": "Technology", "C": "Energy", "D": "Energy"}


def _prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "A": [10.0, 11.0, 11.0, 12.0],
            "B": [10.0, 9.0, 10.0, 9.0],
            "C": [10.0, 10.0, np.nan, 11.0],
            "D": [10.0, 9.0, 8.0, 7.0],
        },
        index=DATES,
    )


def test_advance_decline_ratio_matches_hand_computed_values() -> None:
    ratio = advance_decline_ratio(_prices())
    # d2: A up; B, D down; C unchanged. d3: B up; D down; A unchanged; C missing.
    # d4: A up; B, D down; C has no previous close. d1 and nothing declined: undefined.
    np.testing.assert_array_equal(ratio.to_numpy(), [np.nan, 0.5, 1.0, 0.5])


def test_new_highs_minus_lows_matches_hand_computed_values() -> None:
    difference = new_highs_minus_lows(_prices(), window=3)
    # d3: D closes below its two prior closes (a low). d4: A makes a high, D a low; C's window
    # has a gap so it does not count. d1, d2: no symbol has a full window.
    np.testing.assert_array_equal(difference.to_numpy(), [np.nan, np.nan, -1.0, 0.0])


def test_percent_above_moving_average_matches_hand_computed_values() -> None:
    share = percent_above_moving_average(_prices(), window=2)
    # d2: only A above its 2-session mean among 4; d3 and d4: one of the 3 with full windows.
    np.testing.assert_allclose(share.to_numpy(), [np.nan, 25.0, 100 / 3, 100 / 3])


def test_sector_relative_strength_matches_hand_computed_values() -> None:
    strength = sector_relative_strength(_prices(), SECTORS, window=2)
    # d3 returns: A 0.1, B 0, D -0.2 (C missing); scope mean -1/30.
    # d4 returns: A 1/11, B 0, C 0.1, D -2/9.
    scope_d4 = (1 / 11 + 0 + 0.1 - 2 / 9) / 4
    technology = [np.nan, np.nan, 100 * (0.05 + 1 / 30), 100 * ((1 / 11) / 2 - scope_d4)]
    energy = [np.nan, np.nan, 100 * (-0.2 + 1 / 30), 100 * ((0.1 - 2 / 9) / 2 - scope_d4)]
    assert list(strength.columns) == ["sector_rotation:Energy", "sector_rotation:Technology"]
    np.testing.assert_allclose(strength["sector_rotation:Technology"], technology, rtol=1e-12)
    np.testing.assert_allclose(strength["sector_rotation:Energy"], energy, rtol=1e-12)


def test_sector_metric_name_when_sector_long_is_cut_to_fifty_characters() -> None:
    name = sector_metric_name("Consumer Discretionary and Very Long Sector Name Inc")
    assert len(name) == 50
    assert name.startswith("sector_rotation:Consumer")


def test_breadth_metrics_when_values_undefined_drops_them() -> None:
    long = breadth_metrics(_prices(), SECTORS)
    assert set(long.columns) == {"date", "metric", "value"}
    assert np.isfinite(long["value"]).all()
    first_day = long[long["date"] == DATES[0]]
    assert first_day.empty


def test_breadth_when_later_prices_change_keeps_earlier_values() -> None:
    prices = _prices()
    before = breadth_metrics(prices, SECTORS)
    changed = prices.copy()
    changed.iloc[3] = [1.0, 100.0, 3.0, 50.0]
    after = breadth_metrics(changed, SECTORS)
    keep_before = before[before["date"] <= DATES[2]].reset_index(drop=True)
    keep_after = after[after["date"] <= DATES[2]].reset_index(drop=True)
    pd.testing.assert_frame_equal(keep_before, keep_after)


def test_breadth_when_price_not_positive_raises_data_error() -> None:
    prices = _prices()
    prices.iloc[1, 0] = 0.0
    with pytest.raises(DataError, match="'A'"):
        advance_decline_ratio(prices)


price_panels = arrays(
    np.float64,
    st.tuples(st.integers(2, 25), st.integers(1, 5)),
    elements=st.one_of(st.just(np.nan), st.sampled_from([1.0, 2.0, 3.0, 4.5, 7.25])),
)


@settings(max_examples=60, deadline=None)
@given(values=price_panels, window=st.integers(2, 6))
def test_breadth_matches_naive_loops(values: np.ndarray, window: int) -> None:
    prices = pd.DataFrame(values, index=pd.date_range("2020-01-01", periods=values.shape[0]))
    ratio = advance_decline_ratio(prices).to_numpy()
    highs_lows = new_highs_minus_lows(prices, window=window).to_numpy()
    share = percent_above_moving_average(prices, window=window).to_numpy()
    for row in range(values.shape[0]):
        advancers = decliners = highs = lows = above = eligible_ma = eligible_hl = 0
        for column in range(values.shape[1]):
            today = values[row, column]
            if row >= 1 and not np.isnan(today) and not np.isnan(values[row - 1, column]):
                advancers += today > values[row - 1, column]
                decliners += today < values[row - 1, column]
            if row >= window - 1:
                window_values = values[row - window + 1 : row + 1, column]
                if not np.isnan(window_values).any():
                    eligible_hl += 1
                    highs += today > window_values[:-1].max()
                    lows += today < window_values[:-1].min()
                    eligible_ma += 1
                    above += today > window_values.mean()
        expected_ratio = advancers / decliners if decliners else np.nan
        np.testing.assert_allclose(ratio[row], expected_ratio)
        np.testing.assert_allclose(highs_lows[row], highs - lows if eligible_hl else np.nan)
        expected_share = 100 * above / eligible_ma if eligible_ma else np.nan
        np.testing.assert_allclose(share[row], expected_share)
