"""Breadth at its edges: a one-session rotation window, symbols without a sector, the long
table's columns and index, and no numpy warning on sessions with nothing to measure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from stocker.core.breadth import breadth_metrics, sector_relative_strength
from stocker.core.errors import DataError

DATES = pd.bdate_range("2024-01-01", periods=3)


def _prices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "A": [10.0, 11.0, 12.1],
            "B": [20.0, 19.0, np.nan],
            "C": [5.0, 6.0, 6.0],
            "D": [np.nan, np.nan, np.nan],
        },
        index=DATES,
    )


def test_one_session_rotation_is_sector_minus_scope_in_points() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sector_relative_strength(_prices(), {"A": "Tech", "B": "Tech", "C": None}, window=1)
    assert list(got.columns) == ["sector_rotation:Tech"]
    assert list(got.index) == list(DATES)
    assert np.isnan(got.iloc[0, 0])
    r_a, r_b, r_c = 0.1, -0.05, 0.2
    scope = (r_a + r_b + r_c) / 3
    assert got.iloc[1, 0] == pytest.approx(100.0 * ((r_a + r_b) / 2 - scope))
    # on the third session B has no close: the sector is A alone, the scope A and C
    assert got.iloc[2, 0] == pytest.approx(100.0 * (0.1 - (0.1 + 0.0) / 2))


def test_rotation_window_must_be_positive() -> None:
    with pytest.raises(DataError, match=r"^window: got 0, expected a positive number of sessions$"):
        sector_relative_strength(_prices(), {}, window=0)


def test_no_sectors_give_no_rotation_columns() -> None:
    got = sector_relative_strength(_prices(), {"A": None, "B": ""}, window=1)
    assert got.empty
    assert list(got.index) == list(DATES)


def test_breadth_long_rows_are_sorted_and_finite() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        long = breadth_metrics(_prices(), {"A": "Tech"})
    assert list(long.columns) == ["date", "metric", "value"]
    assert list(long.index) == list(range(len(long)))
    assert np.isfinite(long["value"]).all()
    rows = {(row.date, row.metric): row.value for row in long.itertuples(index=False)}
    # session 2: A and C rose, B fell
    assert rows[(DATES[1], "advance_decline_ratio")] == 2.0
    assert (DATES[0], "advance_decline_ratio") not in rows
    assert list(long["date"]) == sorted(long["date"])
    assert breadth_metrics(_prices()).query("metric.str.startswith('sector')").empty
