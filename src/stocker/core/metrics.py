"""Performance analytics of a NAV series, with the conventions pinned (they differ by library).

Returns are simple period returns of the NAV (``nav[t] / nav[t−1] − 1``); every period counts.

- Annualization: ``periods_per_year`` = 252. Volatility ``= std(r, ddof=1)·√252``; Sharpe
  ``= mean(r) / std(r, ddof=1)·√252`` (excess of a per-period ``risk_free``, 0 by default).
- CAGR from the number of periods: ``(nav_end / nav_start) ** (252 / n_returns) − 1`` — not
  from calendar days, so it matches volatility's clock.
- Sortino: downside deviation over *all* periods, ``√(mean(min(r, 0)²))·√252`` (periods above
  zero count as zeros, not dropped); Sortino ``= 252·mean(r) / downside deviation``.
- Max drawdown is negative (``min(nav / running peak − 1)``, as empyrical); its duration is the
  longest run of periods spent below a previous peak, counted in periods, unfinished runs too.
- Calmar ``= CAGR / |max drawdown|``. Hit rate: share of periods with a return above zero.
- Beta ``= cov(r, b) / var(b)`` against the benchmark's simple returns; alpha annualized as
  ``(1 + mean(r − β·b)) ** 252 − 1``.
- VaR 95%: the 5th percentile of returns (linear interpolation); CVaR 95%: the mean of the
  ``⌊0.05·(n−1)⌋ + 1`` worst returns. Both are returns, so losses are negative.
- Turnover (when weights are given): one-way, annualized, ``½·Σ|w_t − w_{t−1}|`` summed over
  consecutive rows of the weights and divided by the years of the NAV; the first allocation from
  cash is not counted.

These match empyrical-reloaded where both define a number (a test holds them to 1e-9).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

PERIODS_PER_YEAR = 252


def _returns(levels: pd.Series, name: str) -> pd.Series:
    values = levels.astype(np.float64)
    if len(values) < 2:
        raise DataError(f"{name} needs at least two values; got {len(values)}")
    if values.isna().any() or (values <= 0).any():
        raise DataError(f"{name} must be positive with no missing values")
    return values.pct_change().iloc[1:]


def max_drawdown_duration(nav: pd.Series) -> int:
    """Longest run of periods with the NAV below its running peak (0 if it never dips)."""
    values = nav.to_numpy(dtype=np.float64)
    below = values < np.maximum.accumulate(values)
    longest = run = 0
    for is_below in below:
        run = run + 1 if is_below else 0
        longest = max(longest, run)
    return longest


def monthly_returns(nav: pd.Series) -> pd.Series:
    """Return of each calendar month, from the last NAV of the previous month (or the first)."""
    month_end = nav.groupby(pd.DatetimeIndex(nav.index).to_period("M")).last()
    previous = month_end.shift(1)
    previous.iloc[0] = nav.iloc[0]
    return month_end / previous - 1.0


def annual_turnover(weights: pd.DataFrame, n_periods: int, periods_per_year: int) -> float:
    """One-way turnover per year of a weights schedule (module docstring)."""
    values = np.nan_to_num(weights.to_numpy(dtype=np.float64), nan=0.0)
    traded = 0.5 * np.abs(np.diff(values, axis=0)).sum()
    return float(traded / (n_periods / periods_per_year))


def performance(
    nav: pd.Series,
    benchmark: pd.Series | None = None,
    weights: pd.DataFrame | None = None,
    *,
    periods_per_year: int = PERIODS_PER_YEAR,
    risk_free: float = 0.0,
) -> dict[str, float]:
    """Every metric of the module docstring; ``benchmark`` is a price or NAV level series.

    Returns
    -------
    dict
        cagr, volatility, sharpe, sortino, max_drawdown, max_drawdown_duration, calmar,
        hit_rate, var_95, cvar_95; turnover with ``weights``; beta and alpha with ``benchmark``.
    """
    returns = _returns(nav, "nav")
    r = returns.to_numpy()
    n_periods = len(r)
    excess = r - risk_free
    std = float(np.std(excess, ddof=1)) if n_periods > 1 else float("nan")
    cagr = float((nav.iloc[-1] / nav.iloc[0]) ** (periods_per_year / n_periods) - 1.0)
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2)) * np.sqrt(periods_per_year))
    peak = np.maximum.accumulate(nav.to_numpy(dtype=np.float64))
    max_drawdown = float(np.min(nav.to_numpy(dtype=np.float64) / peak - 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        result: dict[str, float] = {
            "cagr": cagr,
            "volatility": float(std * np.sqrt(periods_per_year)),
            "sharpe": float(np.mean(excess) / std * np.sqrt(periods_per_year)),
            "sortino": float(periods_per_year * np.mean(excess) / downside),
            "max_drawdown": max_drawdown,
            "max_drawdown_duration": float(max_drawdown_duration(nav)),
            "calmar": cagr / abs(max_drawdown) if max_drawdown < 0 else float("nan"),
            "hit_rate": float(np.mean(r > 0.0)),
            "var_95": float(np.percentile(r, 5.0)),
            "cvar_95": float(
                np.mean(
                    np.partition(r, int((n_periods - 1) * 0.05))[: int((n_periods - 1) * 0.05) + 1]
                )
            ),
        }
    if weights is not None:
        result["turnover"] = annual_turnover(weights, n_periods, periods_per_year)
    if benchmark is not None:
        bench = _returns(benchmark.reindex(nav.index), "benchmark").to_numpy() - risk_free
        b_centered = bench - bench.mean()
        beta = float((b_centered * (excess - excess.mean())).mean() / (b_centered**2).mean())
        result["beta"] = beta
        result["alpha"] = float((1.0 + np.mean(excess - beta * bench)) ** periods_per_year - 1.0)
    return result
