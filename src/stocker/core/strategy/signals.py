"""Per-symbol trend signals (issue 8 items 1–4), over a dates × symbols panel of adjusted closes.

The live signal engine and the backtest call these same functions over the same stored history,
so they agree to the last bit. A value that is not yet defined (fewer than ``lookback_days``
sessions, fewer than ``vol_seed_returns`` returns) is missing, and a missing value means
"no signal": its direction and raw weight are missing / zero, never a guess.

EWMA variance, per symbol: daily simple returns ``r`` of the adjusted close; at the symbol's
``vol_seed_returns``-th return the variance is the mean of the first ``vol_seed_returns`` squared
returns; afterwards ``σ²[t] = λ·σ²[t−1] + (1−λ)·r[t]²``; annualized ``√(periods_per_year·σ²)``.
A missing return (a missing price makes that day's and the next day's return missing) neither
counts towards the seed nor updates the variance, and that day has no volatility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.returns import simple_returns
from stocker.core.strategy.config import StrategyConfig

FORGOTTEN_WEIGHT = 1e-24
"""Weight below which an EWMA has forgotten a value (see `history_sessions`)."""


def history_sessions(config: StrategyConfig) -> int:
    """Sessions of history the live engine reads to decide a day exactly as the whole history.

    The lookback needs ``lookback_days + 1`` prices; the EWMA variance and covariance weigh a
    value ``n`` sessions old by ``λⁿ``, so a window seeded ``n`` sessions back differs from the
    recursion over the whole history by ``λⁿ`` times the ratio of the two seeds. With ``n``
    past ``log(1e-24) / log(λ)`` (894 sessions at λ = 0.94) and the seed in front, that is far
    below the 1e-10 live and backtest are held to (and below a double's precision for any seed
    ratio under 1e8), while a day's work no longer grows with decades of stored history.
    """
    forgetting = math.ceil(math.log(FORGOTTEN_WEIGHT) / math.log(config.ewma_decay))
    seeded = config.vol_seed_returns + forgetting + config.vol_seed_returns
    return max(config.lookback_days + 1, seeded)


def lookback_return(adj_close: pd.DataFrame, lookback_days: int = 126) -> pd.DataFrame:
    """``adj_close[t] / adj_close[t − lookback_days] − 1``, counted in sessions (rows)."""
    if lookback_days < 1:
        raise DataError(f"lookback_days must be at least 1; got {lookback_days}")
    prices = adj_close.astype(np.float64)
    return prices / prices.shift(lookback_days) - 1.0


def ewma_variance_path(returns: np.ndarray, decay: float, seed_returns: int) -> np.ndarray:
    """Daily EWMA variance for each column of ``returns`` (dates × symbols), seeded per column.

    One loop over dates, vectorized over symbols: the recursion is sequential in time.
    """
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(f"returns must be dates × symbols (2-D); got shape {values.shape}")
    n_dates, n_symbols = values.shape
    variance = np.full((n_dates, n_symbols), np.nan)
    state = np.full(n_symbols, np.nan)
    seed_sum = np.zeros(n_symbols)
    count = np.zeros(n_symbols, dtype=np.int64)
    for row in range(n_dates):
        r = values[row]
        present = ~np.isnan(r)
        squared = np.where(present, r * r, 0.0)
        seeding = present & (count < seed_returns)
        seed_sum += np.where(seeding, squared, 0.0)
        count += seeding
        just_seeded = seeding & (count == seed_returns)
        updating = present & ~seeding
        state = np.where(updating, decay * state + (1.0 - decay) * squared, state)
        state = np.where(just_seeded, seed_sum / seed_returns, state)
        variance[row] = np.where(present, state, np.nan)
    return variance


def ewma_vol(
    adj_close: pd.DataFrame,
    *,
    decay: float = 0.94,
    seed_returns: int = 20,
    periods_per_year: int = 252,
) -> pd.DataFrame:
    """Annualized EWMA volatility per symbol (module docstring: seeding, gaps)."""
    returns = simple_returns(adj_close)
    variance = ewma_variance_path(returns.to_numpy(), decay, seed_returns)
    return pd.DataFrame(
        np.sqrt(periods_per_year * variance), index=adj_close.index, columns=adj_close.columns
    )


def direction(
    lookback: pd.DataFrame, *, threshold: float = 0.0, long_short: bool = False
) -> pd.DataFrame:
    """+1 above ``threshold``, −1 below ``−threshold`` if ``long_short``, else 0; missing stays."""
    values = lookback.to_numpy(dtype=np.float64)
    result = np.where(values > threshold, 1.0, 0.0)
    if long_short:
        result = np.where(values < -threshold, -1.0, result)
    result = np.where(np.isnan(values), np.nan, result)
    return pd.DataFrame(result, index=lookback.index, columns=lookback.columns)


def raw_weights(direction_frame: pd.DataFrame, vol_annual: pd.DataFrame) -> pd.DataFrame:
    """``direction / vol``, normalized so |weights| sum to 1 per date; no signal means 0.

    A date where nothing has a direction is all zeros (the portfolio holds cash).
    """
    # No volatility yet (NaN before 20 returns) or none at all (a price that never moved) is no
    # signal: the ratio is undefined, so the weight is 0 rather than NaN or infinite.
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = direction_frame.to_numpy(dtype=np.float64) / vol_annual.to_numpy(dtype=np.float64)
    raw = np.where(np.isfinite(raw), raw, 0.0)
    gross = np.abs(raw).sum(axis=1, keepdims=True)
    normalized = np.divide(raw, gross, out=np.zeros_like(raw), where=gross > 0)
    return pd.DataFrame(normalized, index=direction_frame.index, columns=direction_frame.columns)


@dataclass(frozen=True)
class Signals:
    """One run of the signal engine: every intermediate, dates × symbols."""

    lookback_return: pd.DataFrame
    vol_annual: pd.DataFrame
    direction: pd.DataFrame
    raw_weight: pd.DataFrame


def compute_signals(adj_close: pd.DataFrame, config: StrategyConfig) -> Signals:
    """Items 1–4 of the strategy for every date of the panel (the last row is "today" live)."""
    lookback = lookback_return(adj_close, config.lookback_days)
    vol = ewma_vol(
        adj_close,
        decay=config.ewma_decay,
        seed_returns=config.vol_seed_returns,
        periods_per_year=config.periods_per_year,
    )
    # No signal unless both inputs are defined: a direction without a volatility is dropped.
    directions = direction(
        lookback.where(vol.notna()), threshold=config.threshold, long_short=config.long_short
    )
    return Signals(lookback, vol, directions, raw_weights(directions, vol))
