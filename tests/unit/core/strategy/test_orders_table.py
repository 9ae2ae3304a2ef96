"""The live order table, every column and every reason spelled out, on the edges: a close below
1, a zero or missing close, a close for a symbol we neither hold nor want, a non-default skip
threshold, an exact whole-share target."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from stocker.core.strategy.orders import orders_for_day


def test_every_column_and_reason_of_the_day() -> None:
    table = orders_for_day(
        pd.Series({"A": 0.25, "B": 0.004, "P": 0.1, "Z": 0.1, "E": 0.5}),
        10_000.0,
        pd.Series({"A": 33.0, "B": 10.0, "P": 0.5, "Z": 0.0, "E": 50.0, "X": 7.0, "Q": 1.0}),
        pd.Series({"B": 1.0, "M": 3.0}),
        min_trade_fraction=0.01,
    )
    assert list(table.columns) == [
        "target_exposure",
        "close",
        "current_shares",
        "target_shares",
        "order_shares",
        "skipped",
        "reason",
    ]
    assert list(table.index) == ["A", "B", "E", "M", "P", "Z"]
    assert table["target_exposure"].tolist() == [0.25, 0.004, 0.5, 0.0, 0.1, 0.1]
    assert table["current_shares"].tolist() == [0.0, 1.0, 0.0, 3.0, 0.0, 0.0]
    assert table["close"].tolist()[:3] == [33.0, 10.0, 50.0]
    assert math.isnan(table.at["M", "close"])
    assert table.at["P", "close"] == 0.5
    assert table["target_shares"].tolist() == [75.0, 4.0, 100.0, 3.0, 2000.0, 0.0]
    assert table["order_shares"].tolist() == [75.0, 0.0, 100.0, 0.0, 2000.0, 0.0]
    assert table["skipped"].tolist() == [False, True, False, False, False, False]
    assert table["reason"].tolist() == [
        "Rounded toward zero from 75.7576 shares",
        "Skipped: trade of 3 shares is below 1.0% of NAV",
        "",
        "No order: no usable close for M",
        "",
        "No order: no usable close for Z",
    ]


def test_default_threshold_is_half_a_percent() -> None:
    table = orders_for_day(
        pd.Series({"A": 0.004, "B": 0.006}), 10_000.0, pd.Series({"A": 1.0, "B": 1.0}), pd.Series()
    )
    assert table["skipped"].tolist() == [True, False]
    assert table.at["A", "reason"] == "Skipped: trade of 40 shares is below 0.5% of NAV"
    assert table["order_shares"].tolist() == [0.0, 60.0]
    assert table["skipped"].dtype == np.bool_
