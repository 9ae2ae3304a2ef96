"""Market breadth from a (sessions × symbols) panel of adjusted closes.

Every measure at session D uses rows up to and including D only (trailing windows), so breadth
is point-in-time by construction. Definitions (the values stored in `market_breadth`):

- ``advance_decline_ratio``: symbols whose adjusted close rose from the previous session divided
  by those whose close fell; unchanged symbols count in neither. Undefined (no value) when no
  symbol fell. A symbol needs a close on both sessions.
- ``new_highs_lows``: symbols closing above every close of the previous ``window - 1`` sessions
  (a new 252-session high) minus symbols closing below all of them (a new low). A symbol needs a
  close on each of the `window` sessions.
- ``pct_above_200dma``: percent (0-100) of symbols whose close is above their mean close of the
  last 200 sessions (D included); a symbol needs a close on each of those sessions.
- ``sector_rotation:<Sector>``: sector relative strength in percentage points: the equal-weight
  mean 63-session return of the sector's symbols minus that of every symbol in scope. A symbol
  needs a close at D and 63 sessions before D.

A measure with no eligible symbol on a date has no value on that date.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pandas.api.typing import Rolling

from stocker.core.errors import DataError

ADVANCE_DECLINE = "advance_decline_ratio"
NEW_HIGHS_LOWS = "new_highs_lows"
PERCENT_ABOVE_MOVING_AVERAGE = "pct_above_200dma"
SECTOR_ROTATION_PREFIX = "sector_rotation:"
METRIC_NAME_CHARACTERS = 50

HIGH_LOW_WINDOW_SESSIONS = 252
MOVING_AVERAGE_SESSIONS = 200
ROTATION_SESSIONS = 63


def _checked(prices: pd.DataFrame) -> np.ndarray:
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise DataError("prices index must be strictly ascending dates; got unsorted or repeated")
    values = prices.to_numpy(np.float64)
    bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
    if bad.any():
        row, column = (int(axis[0]) for axis in np.nonzero(bad))
        raise DataError(
            f"adjusted close of {prices.columns[column]!r} on {prices.index[row]} is "
            f"{values[row, column]!r}; expected a positive finite price or a missing value"
        )
    return values


def _lagged(values: np.ndarray, lag: int) -> np.ndarray:
    """`values` shifted down `lag` rows (row t holds row t - lag), NaN where there is none."""
    shifted = np.full_like(values, np.nan)
    if lag < values.shape[0]:
        shifted[lag:] = values[: values.shape[0] - lag]
    return shifted


def _rolling(values: np.ndarray, window: int) -> Rolling:
    """Trailing `window`-row windows that need every row present (`min_periods = window`)."""
    return pd.DataFrame(values).rolling(window, min_periods=window)


def advance_decline_ratio(prices: pd.DataFrame) -> pd.Series:
    """Advancers / decliners per session (see module doc); NaN where nothing declined."""
    values = _checked(prices)
    previous = _lagged(values, 1)
    advancers = (values > previous).sum(axis=1)
    decliners = (values < previous).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(decliners > 0, advancers / np.maximum(decliners, 1), np.nan)
    return pd.Series(ratio, index=prices.index, name=ADVANCE_DECLINE)


def new_highs_minus_lows(prices: pd.DataFrame, window: int = HIGH_LOW_WINDOW_SESSIONS) -> pd.Series:
    """New `window`-session highs minus new lows per session (see module doc)."""
    if window < 2:
        raise DataError(f"window: got {window}, expected at least 2 sessions")
    values = _checked(prices)
    previous = _lagged(values, 1)
    prior = _rolling(previous, window - 1)
    prior_high = prior.max().to_numpy()
    prior_low = prior.min().to_numpy()
    eligible = ~np.isnan(prior_high) & ~np.isnan(values)
    highs = (eligible & (values > prior_high)).sum(axis=1)
    lows = (eligible & (values < prior_low)).sum(axis=1)
    counted = eligible.any(axis=1)
    difference = np.where(counted, (highs - lows).astype(np.float64), np.nan)
    return pd.Series(difference, index=prices.index, name=NEW_HIGHS_LOWS)


def percent_above_moving_average(
    prices: pd.DataFrame, window: int = MOVING_AVERAGE_SESSIONS
) -> pd.Series:
    """Percent of symbols closing above their trailing `window`-session mean close."""
    if window < 1:
        raise DataError(f"window: got {window}, expected a positive number of sessions")
    values = _checked(prices)
    average = _rolling(values, window).mean().to_numpy()
    complete = ~np.isnan(average)
    above = (complete & (values > average)).sum(axis=1)
    eligible = complete.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(eligible > 0, 100.0 * above / np.maximum(eligible, 1), np.nan)
    return pd.Series(share, index=prices.index, name=PERCENT_ABOVE_MOVING_AVERAGE)


def sector_metric_name(sector: str) -> str:
    """``sector_rotation:<Sector>``, cut to the 50 characters `market_breadth.metric` holds."""
    return (SECTOR_ROTATION_PREFIX + sector)[:METRIC_NAME_CHARACTERS]


def sector_relative_strength(
    prices: pd.DataFrame,
    sectors: Mapping[str, str | None],
    window: int = ROTATION_SESSIONS,
) -> pd.DataFrame:
    """Sector minus scope equal-weight `window`-session return, in percentage points.

    Returns a (sessions × metric name) frame, one column per sector among `sectors` values;
    symbols without a sector count in the scope's return only.
    """
    if window < 1:
        raise DataError(f"window: got {window}, expected a positive number of sessions")
    values = _checked(prices)
    with np.errstate(invalid="ignore", divide="ignore"):
        returns = values / _lagged(values, window) - 1.0
    scope = _nanmean_rows(returns)
    labels = np.array([sectors.get(symbol) or "" for symbol in prices.columns], dtype=object)
    columns: dict[str, np.ndarray] = {}
    for sector in sorted({label for label in labels if label}):
        sector_mean = _nanmean_rows(returns[:, labels == sector])
        columns[sector_metric_name(sector)] = 100.0 * (sector_mean - scope)
    return pd.DataFrame(columns, index=prices.index, dtype=np.float64)


def _nanmean_rows(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    sums = np.where(present, values, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def breadth_metrics(
    prices: pd.DataFrame, sectors: Mapping[str, str | None] | None = None
) -> pd.DataFrame:
    """Every breadth measure as long rows ``date, metric, value`` (undefined values dropped)."""
    wide = pd.concat(
        [
            advance_decline_ratio(prices),
            new_highs_minus_lows(prices),
            percent_above_moving_average(prices),
            sector_relative_strength(prices, sectors or {}),
        ],
        axis=1,
    )
    long = (
        wide.rename_axis(index="date", columns=None)
        .reset_index()
        .melt(id_vars="date", var_name="metric", value_name="value")
    )
    long = long[np.isfinite(long["value"].to_numpy(np.float64))]
    return long.sort_values(["date", "metric"], ignore_index=True)
