"""The dynamic trading universe: top N symbols by average dollar volume, per session.

Inputs are (sessions × symbols) panels of raw closes and share volumes, dates ascending. For a
session D the average dollar volume of a symbol is the mean of ``close × volume`` over the
`lookback_days` panel rows ending at D, *including D's own close*: the ranking for D is known
after D's close and is meant for trading on the next session. A symbol with fewer than
`min_periods` observations in that window (default: all `lookback_days`) is not ranked.

Each window is summed directly (no running cumulative sum), so a value depends only on the rows
of its own window: rows after D can never change D's ranking, and rounding does not drift with
the length of history.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stocker.core.errors import DataError


def _checked_panels(close: pd.DataFrame, volume: pd.DataFrame) -> None:
    if not close.index.equals(volume.index) or not close.columns.equals(volume.columns):
        raise DataError(
            "close and volume panels must share dates and symbols; got "
            f"{close.shape} and {volume.shape} with different labels"
        )
    if not close.index.is_monotonic_increasing or not close.index.is_unique:
        raise DataError("panel index must be strictly ascending dates; got unsorted or repeated")


def _checked_window(lookback_days: int, min_periods: int | None) -> int:
    if lookback_days < 1:
        raise DataError(f"lookback_days: got {lookback_days}, expected a positive integer")
    if min_periods is None:
        return lookback_days
    if not 1 <= min_periods <= lookback_days:
        raise DataError(
            f"min_periods: got {min_periods}, expected an integer from 1 to lookback_days "
            f"({lookback_days})"
        )
    return min_periods


def average_dollar_volume(
    close: pd.DataFrame,
    volume: pd.DataFrame,
    *,
    lookback_days: int,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """Mean ``close × volume`` over the trailing `lookback_days` rows ending at each row.

    Parameters
    ----------
    close, volume
        (dates × symbols) raw closes and share volumes; NaN where a symbol has no bar.
    lookback_days
        Window length in panel rows (sessions), the current row included.
    min_periods
        Fewest observations a window needs; default `lookback_days` (complete windows only).

    Returns
    -------
    pandas.DataFrame
        Same shape as the inputs; NaN where the window has too few observations.
    """
    _checked_panels(close, volume)
    needed = _checked_window(lookback_days, min_periods)
    dollar_volume = close.to_numpy(np.float64) * volume.to_numpy(np.float64)
    present = ~np.isnan(dollar_volume)
    filled = np.where(present, dollar_volume, 0.0)
    sums = np.zeros_like(filled)
    counts = np.zeros(filled.shape, dtype=np.int64)
    # Add the window's rows one lag at a time: memory stays at a few panels, and every window
    # is summed in the same order from its own rows only.
    for lag in range(min(lookback_days, filled.shape[0])):
        rows = slice(lag, None)
        sums[rows] += filled[: filled.shape[0] - lag]
        counts[rows] += present[: filled.shape[0] - lag]
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(counts >= needed, sums / counts, np.nan)
    return pd.DataFrame(result, index=close.index, columns=close.columns)


def top_by_dollar_volume(
    close: pd.DataFrame,
    volume: pd.DataFrame,
    *,
    top: int,
    lookback_days: int,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """The `top` most traded symbols of every session, ranked 1 = highest average dollar volume.

    Ties are broken by symbol (ascending) so a ranking is reproducible.

    Returns
    -------
    pandas.DataFrame
        Long rows ``as_of_date, symbol, rank, avg_dollar_volume`` ordered by date then rank;
        a session with fewer rankable symbols than `top` keeps all of them.
    """
    if top < 1:
        raise DataError(f"top: got {top}, expected a positive integer")
    average = average_dollar_volume(
        close, volume, lookback_days=lookback_days, min_periods=min_periods
    )
    ordered = average.reindex(columns=sorted(average.columns))
    values = ordered.to_numpy()
    # Stable sort of -value puts the largest first and keeps symbol order among equal values;
    # NaN sorts last under argsort, so unranked symbols fall off the end.
    order = np.argsort(-values, axis=1, kind="stable")[:, :top]
    chosen = np.take_along_axis(values, order, axis=1)
    keep = ~np.isnan(chosen)
    row_index, rank_index = np.nonzero(keep)
    return pd.DataFrame(
        {
            "as_of_date": ordered.index.to_numpy()[row_index],
            "symbol": ordered.columns.to_numpy()[order[row_index, rank_index]],
            "rank": (rank_index + 1).astype(np.int64),
            "avg_dollar_volume": chosen[row_index, rank_index],
        }
    )
