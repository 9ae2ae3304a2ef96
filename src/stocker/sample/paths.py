"""The time series of the synthetic market: factor returns, actions and the price arithmetic.

Market returns have GARCH(1,1) volatility and Student-t shocks; dividends fall on quarterly
ex-dates and splits when a raw price passes a per-stock threshold; the adjusted close is the
back-adjusted close of `stocker.core.adjustment`, operation for operation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stocker.core.prices import PRICE_DECIMALS

TRADING_DAYS_PER_YEAR = 252

# Market-wide parameters (annualized where the name says so).
MARKET_DRIFT_ANNUAL = 0.07
MARKET_VOL_ANNUAL = 0.16
GARCH_ALPHA = 0.08
GARCH_BETA = 0.90
T_DEGREES_OF_FREEDOM = 5.0
SECTOR_VOL_ANNUAL = 0.12
STYLE_VOL_ANNUAL = {"size": 0.05, "value": 0.05, "quality": 0.04, "low_volatility": 0.05}
STYLE_PREMIUM_ANNUAL = {"size": -0.01, "value": 0.02, "quality": 0.02, "low_volatility": 0.01}
SPECIFIC_HALF_LIFE_YEARS = 3.0


def standardize(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    centered = values - values.mean()
    return centered / spread if spread > 0 else centered


def student_t(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance (fat tails, same volatility)."""
    nu = T_DEGREES_OF_FREEDOM
    return rng.standard_t(nu, size=shape) / np.sqrt(nu / (nu - 2.0))


def garch_market_returns(rng: np.random.Generator, count: int) -> np.ndarray:
    """Daily market log returns with GARCH(1,1) volatility clustering (scalar loop over days)."""
    long_run_variance = MARKET_VOL_ANNUAL**2 / TRADING_DAYS_PER_YEAR
    omega = long_run_variance * (1.0 - GARCH_ALPHA - GARCH_BETA)
    shocks = student_t(rng, (count,))
    variance = np.empty(count)
    current = long_run_variance
    previous_shock_sq = long_run_variance
    for day in range(count):
        current = omega + GARCH_ALPHA * previous_shock_sq + GARCH_BETA * current
        variance[day] = current
        previous_shock_sq = current * shocks[day] ** 2
    drift = MARKET_DRIFT_ANNUAL / TRADING_DAYS_PER_YEAR - 0.5 * long_run_variance
    return drift + np.sqrt(variance) * shocks


def ex_dividend_days(
    rng: np.random.Generator, sessions: pd.DatetimeIndex, payers: np.ndarray
) -> np.ndarray:
    """Boolean sessions × symbols: quarterly ex-dates (first session on/after a fixed day)."""
    count = len(payers)
    month_starts = pd.date_range(
        sessions[0].to_period("M").to_timestamp(), sessions[-1], freq="MS"
    ).to_numpy(dtype="datetime64[D]")
    month_numbers = (month_starts.astype("datetime64[M]").astype(np.int64)) % 3
    first_month = rng.integers(0, 3, size=count)
    day_offset = rng.integers(0, 25, size=count)
    targets = month_starts[:, None] + day_offset[None, :].astype("timedelta64[D]")
    positions = np.searchsorted(sessions.to_numpy(dtype="datetime64[D]"), targets.ravel())
    positions = positions.reshape(targets.shape)
    wanted = (month_numbers[:, None] == first_month[None, :]) & payers[None, :]
    wanted &= (positions >= 1) & (positions < len(sessions))
    days = np.zeros((len(sessions), count), dtype=bool)
    month_rows, symbol_columns = np.nonzero(wanted)
    days[positions[month_rows, symbol_columns], symbol_columns] = True
    return days


def split_factors(
    rng: np.random.Generator,
    unsplit_close: np.ndarray,
    thresholds: np.ndarray,
    dividend_days: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative split factor and per-day split ratio (1 = none), sessions × symbols.

    A stock splits 2:1 (sometimes 3:1) on the first session its raw price passes its threshold;
    a split that would share a session with an ex-dividend date moves to the next session.
    """
    session_count, symbol_count = unsplit_close.shape
    cumulative = np.ones_like(unsplit_close)
    ratios = np.ones_like(unsplit_close)
    columns = np.arange(symbol_count)
    day_numbers = np.arange(session_count)[:, None]
    last_split = np.zeros(symbol_count, dtype=np.int64)
    for _round in range(16):
        above = (unsplit_close / cumulative) > thresholds[None, :]
        above &= day_numbers > last_split[None, :]
        triggered = above.any(axis=0)
        if not triggered.any():
            break
        first = np.where(triggered, above.argmax(axis=0), session_count)
        clash = triggered & dividend_days[np.minimum(first, session_count - 1), columns]
        first = np.where(clash, first + 1, first)
        triggered &= first < session_count
        ratio = np.where(rng.random(symbol_count) < 0.25, 3.0, 2.0)
        step = np.where(triggered[None, :] & (day_numbers >= first[None, :]), ratio[None, :], 1.0)
        cumulative *= step
        ratios[first[triggered], columns[triggered]] = ratio[triggered]
        last_split = np.where(triggered, first, last_split)
    return cumulative, ratios


def round_prices(values: np.ndarray) -> np.ndarray:
    return np.round(values, PRICE_DECIMALS)


def back_adjusted_close(
    close: np.ndarray, split_ratios: np.ndarray, dividends: np.ndarray
) -> np.ndarray:
    """`stocker.core.adjustment.adjusted_close` for every column at once, operation for operation,
    so re-adjusting the stored rows reproduces them exactly."""
    previous_close = np.vstack([np.full((1, close.shape[1]), np.nan), close[:-1]])
    with np.errstate(invalid="ignore"):
        dividend_multiplier = np.where(dividends > 0, 1.0 - dividends / previous_close, 1.0)
    multiplier = dividend_multiplier / split_ratios
    factors = np.ones_like(close)
    factors[:-1] = np.cumprod(multiplier[::-1], axis=0)[::-1][1:]
    return close * factors


def constant_labels(label: str, count: int) -> pd.Categorical[str]:
    return pd.Categorical.from_codes(np.zeros(count, dtype=np.int8), categories=pd.Index([label]))


def long_frame(
    symbols: np.ndarray, sessions: pd.DatetimeIndex, columns: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Sessions × symbols arrays to long rows ordered by symbol then date.

    Repeated labels are categorical: millions of rows of a few hundred distinct strings.
    """
    session_count = len(sessions)
    codes = np.repeat(np.arange(len(symbols), dtype=np.int32), session_count)
    frame = pd.DataFrame(
        {
            "symbol": pd.Categorical.from_codes(codes, categories=pd.Index(symbols)),
            "date": np.tile(sessions.to_numpy(), len(symbols)),
        }
    )
    for name, values in columns.items():
        frame[name] = values.T.reshape(-1)
    return frame
