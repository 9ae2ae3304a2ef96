"""Top-N by average dollar volume: hand-computed cases, a pandas oracle, the point-in-time rule."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stocker.core.errors import DataError
from stocker.core.liquidity import average_dollar_volume, top_by_dollar_volume

DATES = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])


def _panels() -> tuple[pd.DataFrame, pd.DataFrame]:
    close = pd.DataFrame(
        {"A": [10.0, 11.0, 12.0, 13.0], "B": [5.0, 5.0, 5.0, 5.0], "C": [20.0, np.nan, 20.0, 20.0]},
        index=DATES,
    )
    volume = pd.DataFrame(
        {"A": [100.0, 100, 100, 100], "B": [300.0, 100, 500, 100], "C": [10.0, 10, 10, 10]},
        index=DATES,
    )
    return close, volume


def _as_tuples(frame: pd.DataFrame) -> list[tuple[str, str, int, float]]:
    return [
        (str(row.as_of_date.date()), row.symbol, int(row.rank), float(row.avg_dollar_volume))
        for row in frame.itertuples()
    ]


def test_top_by_dollar_volume_when_windows_complete_matches_hand_computed_ranking() -> None:
    close, volume = _panels()
    # Dollar volume: A 1000 1100 1200 1300; B 1500 500 2500 500; C 200 - 200 200.
    ranking = top_by_dollar_volume(close, volume, top=2, lookback_days=2)
    assert _as_tuples(ranking) == [
        ("2024-01-03", "A", 1, 1050.0),
        ("2024-01-03", "B", 2, 1000.0),
        ("2024-01-04", "B", 1, 1500.0),
        ("2024-01-04", "A", 2, 1150.0),
        ("2024-01-05", "B", 1, 1500.0),
        ("2024-01-05", "A", 2, 1250.0),
    ]


def test_top_by_dollar_volume_when_min_periods_one_ranks_partial_windows() -> None:
    close, volume = _panels()
    ranking = top_by_dollar_volume(close, volume, top=3, lookback_days=2, min_periods=1)
    first_two_days = ranking[ranking["as_of_date"] <= DATES[1]]
    assert _as_tuples(first_two_days) == [
        ("2024-01-02", "B", 1, 1500.0),
        ("2024-01-02", "A", 2, 1000.0),
        ("2024-01-02", "C", 3, 200.0),
        ("2024-01-03", "A", 1, 1050.0),
        ("2024-01-03", "B", 2, 1000.0),
        ("2024-01-03", "C", 3, 200.0),
    ]


def test_top_by_dollar_volume_when_values_tie_orders_by_symbol() -> None:
    close = pd.DataFrame({"Z": [1.0], "M": [2.0], "A": [1.0]}, index=DATES[:1])
    volume = pd.DataFrame({"Z": [10.0], "M": [5.0], "A": [10.0]}, index=DATES[:1])
    ranking = top_by_dollar_volume(close, volume, top=3, lookback_days=1)
    assert list(ranking["symbol"]) == ["A", "M", "Z"]
    assert list(ranking["rank"]) == [1, 2, 3]


def test_top_by_dollar_volume_when_later_rows_change_keeps_earlier_rankings() -> None:
    close, volume = _panels()
    before = top_by_dollar_volume(close, volume, top=2, lookback_days=2)
    close.iloc[3] = [1.0, 1000.0, 500.0]
    volume.iloc[3] = [1.0, 1e9, 1e6]
    close["NEW"] = [np.nan, np.nan, np.nan, 50.0]
    volume["NEW"] = [np.nan, np.nan, np.nan, 1e12]
    after = top_by_dollar_volume(close, volume, top=2, lookback_days=2, min_periods=1)
    after = after[after["as_of_date"] <= DATES[2]]
    expected = top_by_dollar_volume(*_panels(), top=2, lookback_days=2, min_periods=1)
    expected = expected[expected["as_of_date"] <= DATES[2]]
    pd.testing.assert_frame_equal(after.reset_index(drop=True), expected.reset_index(drop=True))
    assert not before.empty


@pytest.mark.parametrize(
    ("top", "lookback_days", "min_periods"), [(0, 2, None), (1, 0, None), (1, 2, 3)]
)
def test_top_by_dollar_volume_when_parameters_invalid_raises_data_error(
    top: int, lookback_days: int, min_periods: int | None
) -> None:
    close, volume = _panels()
    with pytest.raises(DataError):
        top_by_dollar_volume(
            close, volume, top=top, lookback_days=lookback_days, min_periods=min_periods
        )


def test_average_dollar_volume_when_panels_misaligned_raises_data_error() -> None:
    close, volume = _panels()
    with pytest.raises(DataError, match="share dates and symbols"):
        average_dollar_volume(close, volume.iloc[:3], lookback_days=2)


panel_values = arrays(
    np.float64,
    st.tuples(st.integers(1, 30), st.integers(1, 6)),
    elements=st.one_of(st.just(np.nan), st.floats(0.01, 1e4)),
)


@settings(max_examples=60, deadline=None)
@given(
    close=panel_values,
    lookback_days=st.integers(1, 8),
    min_fraction=st.floats(0.0, 1.0),
    top=st.integers(1, 6),
)
def test_top_by_dollar_volume_matches_pandas_rolling_and_rank(
    close: np.ndarray, lookback_days: int, min_fraction: float, top: int
) -> None:
    min_periods = max(1, round(lookback_days * min_fraction))
    dates = pd.date_range("2020-01-01", periods=close.shape[0], freq="B")
    symbols = [f"S{index}" for index in range(close.shape[1])]
    close_frame = pd.DataFrame(close, index=dates, columns=symbols)
    volume_frame = pd.DataFrame(
        np.arange(close.size, dtype=np.float64).reshape(close.shape) % 7 * 1000 + 100,
        index=dates,
        columns=symbols,
    )
    dollars = (close_frame * volume_frame).to_numpy()
    oracle = (close_frame * volume_frame).rolling(lookback_days, min_periods=min_periods).mean()
    exact = np.full(dollars.shape, np.nan)
    for row in range(len(dollars)):
        window = dollars[max(0, row - lookback_days + 1) : row + 1]
        for column in range(window.shape[1]):
            present = window[~np.isnan(window[:, column]), column]
            if len(present) >= min_periods:
                exact[row, column] = math.fsum(present) / len(present)
    average = average_dollar_volume(
        close_frame, volume_frame, lookback_days=lookback_days, min_periods=min_periods
    )
    np.testing.assert_allclose(average.to_numpy(), exact, rtol=1e-12)
    # pandas keeps a running sum, which drifts by ~1e-10 when large and tiny values mix
    np.testing.assert_allclose(average.to_numpy(), oracle.to_numpy(), rtol=1e-9)

    ranking = top_by_dollar_volume(
        close_frame, volume_frame, top=top, lookback_days=lookback_days, min_periods=min_periods
    )
    ranks = average.rank(axis=1, ascending=False, method="first")
    expected = ranks.stack().rename("rank").reset_index()
    expected.columns = ["as_of_date", "symbol", "rank"]
    expected = expected[expected["rank"] <= top]
    got = {(row.as_of_date, row.symbol): row.rank for row in ranking.itertuples()}
    want = {(row.as_of_date, row.symbol): int(row.rank) for row in expected.itertuples()}
    assert got == want
