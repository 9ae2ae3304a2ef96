"""Simple and log returns from adjusted closes, (dates x symbols), missing values kept missing.

A missing price (a suspended day, a listing that had not started) must not turn into a return
of zero or silently into a multi-day return: by default the return on the missing day and on the
day after it are both missing. Pass ``across_gaps=True`` to measure the day after a gap from the
last known price instead (a multi-day return, e.g. to keep an illiquid symbol in a risk model).
"""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

Prices = TypeVar("Prices", pd.DataFrame, pd.Series)


def _checked(prices: Prices) -> Prices:
    """Prices as float64 after checking dates ascend and every present price is positive."""
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise DataError("prices index must be strictly ascending dates; got unsorted or repeated")
    values = prices.astype(np.float64)
    frame = values.to_frame() if isinstance(values, pd.Series) else values
    array = frame.to_numpy()
    bad = ~np.isnan(array) & ~(np.isfinite(array) & (array > 0))
    if bad.any():
        row, column = (int(axis[0]) for axis in np.nonzero(bad))
        raise DataError(
            f"price of {frame.columns[column]!r} on {frame.index[row]} is {array[row, column]!r}; "
            f"expected a positive finite adjusted close or a missing value"
        )
    return values


def _previous(values: Prices, across_gaps: bool) -> Prices:
    if across_gaps:
        return values.ffill().shift(1)
    return values.shift(1)


def simple_returns(prices: Prices, *, across_gaps: bool = False) -> Prices:
    """``p[t] / p[t-1] - 1`` per symbol; the first row and gaps are missing (see module doc)."""
    values = _checked(prices)
    return values / _previous(values, across_gaps) - 1.0


def log_returns(prices: Prices, *, across_gaps: bool = False) -> Prices:
    """``log(p[t] / p[t-1])`` per symbol; the first row and gaps are missing (see module doc)."""
    values = _checked(prices)
    # numpy's log of a pandas object is a pandas object with the same labels.
    return cast(Prices, np.log(values / _previous(values, across_gaps)))
