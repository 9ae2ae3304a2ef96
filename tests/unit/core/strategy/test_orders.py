"""Order sizing: toward zero, minimum trade unless closing, one function for a day or a panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from stocker.core.strategy.orders import orders_for_day, size_orders


def test_target_shares_round_toward_zero_and_order_is_the_difference() -> None:
    sized = size_orders(
        [0.3, -0.3, 0.0, 0.2],
        10_000.0,
        [7.0, 7.0, 50.0, 100.0],
        [100.0, 0.0, 3.0, 20.0],
        min_trade_fraction=0.0,
    )

    assert sized.target_shares.tolist() == [428.0, -428.0, 0.0, 20.0]
    assert sized.order_shares.tolist() == [328.0, -428.0, -3.0, 0.0]


def test_small_trade_is_skipped_unless_it_closes_the_position() -> None:
    # 0.5% of 100,000 is 500: 4 shares × 100 = 400 is skipped; closing 1 share is not.
    sized = size_orders([0.104, 0.0], 100_000.0, [100.0, 100.0], [100.0, 1.0])

    assert sized.order_shares.tolist() == [0.0, -1.0]
    assert sized.skipped.tolist() == [True, False]


@settings(max_examples=200, deadline=None)
@given(
    exposure=arrays(np.float64, (6, 5), elements=st.floats(-0.5, 0.5)),
    close=arrays(np.float64, (6, 5), elements=st.floats(0.5, 500.0)),
    current=arrays(np.float64, (6, 5), elements=st.integers(-300, 300).map(float)),
    nav=arrays(np.float64, 6, elements=st.floats(1e3, 1e7)),
    min_trade=st.sampled_from([0.0, 0.005, 0.02]),
)
def test_panel_sizing_equals_one_day_at_a_time_and_obeys_the_rules(
    exposure: np.ndarray, close: np.ndarray, current: np.ndarray, nav: np.ndarray, min_trade: float
) -> None:
    panel = size_orders(exposure, nav, close, current, min_trade_fraction=min_trade)

    for row in range(6):
        day = size_orders(
            exposure[row], nav[row], close[row], current[row], min_trade_fraction=min_trade
        )
        assert np.array_equal(day.order_shares, panel.order_shares[row])
        exact = exposure[row] * nav[row] / close[row]
        assert (np.abs(day.target_shares) <= np.abs(exact)).all()
        assert (np.abs(exact - day.target_shares) < 1).all()
        assert (day.target_shares == np.round(day.target_shares)).all()
        traded = day.order_shares != 0
        assert np.array_equal(day.order_shares[traded], (day.target_shares - current[row])[traded])
        small = np.abs(day.target_shares - current[row]) * close[row] < min_trade * nav[row]
        closing = (day.target_shares == 0) & (current[row] != 0)
        assert np.array_equal(day.skipped, small & ~closing & (day.target_shares != current[row]))


def test_orders_for_day_gives_a_reason_for_rounding_and_skips() -> None:
    table = orders_for_day(
        pd.Series({"A": 0.25, "B": 0.001}),
        50_000.0,
        pd.Series({"A": 33.0, "B": 10.0, "C": 20.0}),
        pd.Series({"C": 5.0}),
    )

    assert table.loc["A", "order_shares"] == 378.0
    assert str(table.at["A", "reason"]).startswith("Rounded toward zero from 378.7879")
    assert table.loc["B", "skipped"] and str(table.at["B", "reason"]).startswith("Skipped")
    assert table.loc["C", "order_shares"] == -5.0
