"""Single-asset risk quantities from daily returns (pure): SigmaQLab's `risk_model` fields.

All functions take (dates × symbols) simple daily returns, NaN where a symbol has no return,
and use each symbol's own present rows (pairwise with the benchmark for betas):

- volatility: ``std(r, ddof=1) · √252``;
- beta: the OLS slope of ``r = α + β·b + ε`` (with intercept), ``cov(r, b) / var(b)`` on the
  days both are present;
- tail beta: the same regression on the benchmark's worst days only, those whose benchmark
  return is at or below its 5% quantile in the window (linear interpolation, numpy's default):
  how the stock moves when the market falls hardest;
- skew: sample skewness, adjusted Fisher-Pearson (``pandas.Series.skew``);
- kurtosis: excess kurtosis, bias-corrected (``pandas.Series.kurt``; a normal law gives 0).

A value is null (NaN) when the symbol has fewer returns than asked (`min_observations`), and
`RiskResult.reasons` says so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

PERIODS_PER_YEAR = 252
TAIL_QUANTILE = 0.05
COLUMNS = ("volatility", "beta", "tail_beta", "skew", "kurtosis")


def _frame(returns: pd.DataFrame | pd.Series) -> pd.DataFrame:
    return returns.to_frame() if isinstance(returns, pd.Series) else returns


def annualized_volatility(
    returns: pd.DataFrame | pd.Series,
    *,
    periods_per_year: int = PERIODS_PER_YEAR,
    min_observations: int = 2,
) -> pd.Series:
    """``std(r, ddof=1) · √periods_per_year`` per symbol; NaN below `min_observations`."""
    frame = _frame(returns).astype("float64")
    volatility = frame.std(ddof=1) * np.sqrt(periods_per_year)
    return volatility.where(frame.count() >= max(min_observations, 2))


def _ols_slope(
    frame: pd.DataFrame, benchmark: pd.Series, rows: np.ndarray
) -> tuple[pd.Series, pd.Series]:
    """Per column, the OLS slope on `benchmark` over `rows` where both are present, and the
    number of those rows."""
    y = frame.to_numpy(dtype="float64")[rows]
    x = benchmark.to_numpy(dtype="float64")[rows][:, None]
    present = ~np.isnan(y) & ~np.isnan(x)
    count = present.sum(axis=0)
    safe = np.maximum(count, 1)
    x_b = np.where(present, x, 0.0)
    y_b = np.where(present, y, 0.0)
    x_mean = x_b.sum(axis=0) / safe
    y_mean = y_b.sum(axis=0) / safe
    x_dev = np.where(present, x - x_mean, 0.0)
    y_dev = np.where(present, y - y_mean, 0.0)
    variance = (x_dev**2).sum(axis=0)
    covariance = (x_dev * y_dev).sum(axis=0)
    slope = np.where(
        (count >= 2) & (variance > 0), covariance / np.where(variance > 0, variance, 1.0), np.nan
    )
    return pd.Series(slope, index=frame.columns, dtype="float64"), pd.Series(
        count, index=frame.columns
    )


def beta(
    returns: pd.DataFrame | pd.Series, benchmark: pd.Series, *, min_observations: int = 2
) -> pd.Series:
    """OLS beta (with intercept) of each symbol on `benchmark` over the days both are present."""
    frame = _frame(returns)
    aligned = benchmark.reindex(frame.index)
    slope, count = _ols_slope(frame, aligned, np.arange(len(frame)))
    return slope.where(count >= max(min_observations, 2))


def tail_days(benchmark: pd.Series, quantile: float = TAIL_QUANTILE) -> np.ndarray:
    """Positions of the days whose benchmark return is at or below its `quantile`."""
    values = benchmark.to_numpy(dtype="float64")
    present = ~np.isnan(values)
    if not present.any():
        return np.array([], dtype=np.int64)
    threshold = np.quantile(values[present], quantile)
    return np.flatnonzero(present & (values <= threshold))


def tail_beta(
    returns: pd.DataFrame | pd.Series,
    benchmark: pd.Series,
    *,
    quantile: float = TAIL_QUANTILE,
    min_observations: int = 5,
) -> pd.Series:
    """OLS beta on the benchmark's worst `quantile` of days (see the module doc)."""
    frame = _frame(returns)
    aligned = benchmark.reindex(frame.index)
    slope, count = _ols_slope(frame, aligned, tail_days(aligned, quantile))
    return slope.where(count >= max(min_observations, 2))


def skew(returns: pd.DataFrame | pd.Series, *, min_observations: int = 3) -> pd.Series:
    """Sample skewness per symbol (adjusted Fisher-Pearson)."""
    frame = _frame(returns).astype("float64")
    return frame.skew().where(frame.count() >= max(min_observations, 3))


def kurtosis(returns: pd.DataFrame | pd.Series, *, min_observations: int = 4) -> pd.Series:
    """Excess kurtosis per symbol (bias-corrected; 0 for a normal law)."""
    frame = _frame(returns).astype("float64")
    return frame.kurt().where(frame.count() >= max(min_observations, 4))


@dataclass(frozen=True, kw_only=True)
class RiskConfig:
    """Window and thresholds of the risk model (docs/factors.md)."""

    window: int = 252
    min_observations: int = 126
    tail_quantile: float = TAIL_QUANTILE
    min_tail_observations: int = 5
    periods_per_year: int = PERIODS_PER_YEAR


@dataclass(frozen=True)
class RiskResult:
    """Risk quantities (index symbol, columns `COLUMNS`) and, where null, the reason."""

    values: pd.DataFrame
    reasons: pd.DataFrame


def risk_model(
    returns: pd.DataFrame,
    benchmark: pd.Series | None,
    *,
    day: dt.date,
    config: RiskConfig | None = None,
    benchmark_name: str = "the benchmark",
) -> RiskResult:
    """Every `risk_model` field of each symbol of `returns`, over its last `config.window` rows.

    `returns` and `benchmark` must hold nothing dated after `day`. Without a benchmark (None or
    no returns in the window) betas are null, with the reason.
    """
    config = config or RiskConfig()
    if len(returns.index) and pd.Timestamp(returns.index.max()).date() > day:
        raise DataError(f"returns dated after {day}: risk on a date sees nothing later")
    window = returns.iloc[-config.window :]
    count = window.count()
    enough = count >= config.min_observations
    values = pd.DataFrame(index=returns.columns, columns=list(COLUMNS), dtype="float64")
    values["volatility"] = annualized_volatility(
        window, periods_per_year=config.periods_per_year, min_observations=config.min_observations
    )
    values["skew"] = skew(window).where(enough)
    values["kurtosis"] = kurtosis(window).where(enough)
    bench = benchmark.reindex(window.index) if benchmark is not None else None
    if bench is not None and bench.notna().sum() >= config.min_observations:
        values["beta"] = beta(window, bench, min_observations=config.min_observations)
        values["tail_beta"] = tail_beta(
            window,
            bench,
            quantile=config.tail_quantile,
            min_observations=config.min_tail_observations,
        ).where(values["beta"].notna())
    reasons = pd.DataFrame(None, index=returns.columns, columns=list(COLUMNS), dtype="object")
    short = (
        f"fewer than {config.min_observations} daily returns in the {config.window} sessions "
        f"to {day.isoformat()}"
    )
    no_bench = f"{benchmark_name} has fewer than {config.min_observations} returns to {day}"
    for column in COLUMNS:
        for symbol in values.index[values[column].isna()]:
            if not enough[symbol]:
                reasons.at[symbol, column] = short
            elif column in ("beta", "tail_beta") and (
                bench is None or bench.notna().sum() < config.min_observations
            ):
                reasons.at[symbol, column] = no_bench
            else:
                reasons.at[symbol, column] = "not enough days with both returns to estimate it"
    return RiskResult(values=values, reasons=reasons)
