"""Adjusted closes of several symbols where only some have actions, and vendor disagreements at
the tolerance's edge (exactly at it is agreement; a tolerance of 0 flags any difference)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stocker.core.adjustment import adjusted_close, adjusted_closes, adjustment_disagreements
from stocker.core.errors import DataError

D = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]


def test_symbols_without_actions_keep_their_closes_beside_one_with_a_split() -> None:
    prices = pd.DataFrame(
        {
            "symbol": ["B", "A", "B", "A", "C"],
            "date": [D[0], D[0], D[1], D[1], D[0]],
            "close": [10.0, 100.0, 11.0, 52.0, 7.0],
        },
        index=[5, 6, 7, 8, 9],
    )
    actions = pd.DataFrame(
        {"symbol": ["A"], "date": [D[1]], "action_type": ["SPLIT"], "value": [2.0]}
    )
    got = adjusted_closes(prices, actions)
    assert list(got.index) == [5, 6, 7, 8, 9]
    assert got.dtype == np.float64
    assert got.loc[[5, 7, 9]].tolist() == [10.0, 11.0, 7.0]
    assert got.loc[[6, 8]].tolist() == pytest.approx([50.0, 52.0])
    expected_a = adjusted_close([D[0], D[1]], np.array([100.0, 52.0]), [(D[1], 2.0)], [])
    assert got.loc[[6, 8]].tolist() == pytest.approx(list(expected_a))
    none = adjusted_closes(prices, actions.iloc[0:0])
    assert none.tolist() == [10.0, 100.0, 11.0, 52.0, 7.0]
    assert adjusted_closes(prices.iloc[0:0], actions).empty


def test_disagreements_at_the_tolerance() -> None:
    dates = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])
    ours = pd.DataFrame({"A": [64.0, 64.0, 64.0], "B": [50.0, 50.0, np.nan]}, index=dates)
    theirs = pd.DataFrame(
        {"A": [64.0625, 64.5, 64.0], "B": [50.0, 49.0, 40.0], "Z": [1.0, 1.0, 1.0]},
        index=dates,
    )
    flagged = adjustment_disagreements(ours, theirs, relative_tolerance=2.0**-10)
    assert list(flagged.columns) == ["date", "symbol", "computed", "vendor", "relative_difference"]
    # A on the 2nd is 2⁻¹⁰ off: exactly the tolerance (exact in binary), not beyond it
    assert flagged[["symbol", "date"]].values.tolist() == [
        ["A", pd.Timestamp("2024-01-03")],
        ["B", pd.Timestamp("2024-01-03")],
    ]
    assert flagged["relative_difference"].tolist() == pytest.approx([0.0078125, 0.02])
    exact = adjustment_disagreements(ours, theirs, relative_tolerance=0.0)
    assert len(exact) == 3
    with pytest.raises(
        DataError, match=r"^relative_tolerance is -0\.1; expected a non-negative number$"
    ):
        adjustment_disagreements(ours, theirs, relative_tolerance=-0.1)
    with pytest.raises(DataError, match="relative_tolerance is nan"):
        adjustment_disagreements(ours, theirs, relative_tolerance=float("nan"))


def test_disagreements_of_one_unnamed_series() -> None:
    dates = pd.DatetimeIndex(["2024-01-02", "2024-01-03"])
    flagged = adjustment_disagreements(
        pd.Series([10.0, 10.0], index=dates), pd.Series([10.0, 12.0], index=dates)
    )
    assert flagged["symbol"].tolist() == ["value"]
    assert flagged["vendor"].tolist() == [12.0]
    named = adjustment_disagreements(
        pd.Series([10.0, 10.0], index=dates, name="AAPL"), pd.Series([10.0, 12.0], index=dates)
    )
    assert named["symbol"].tolist() == ["AAPL"]
