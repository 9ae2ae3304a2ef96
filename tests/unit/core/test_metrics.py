"""Metrics against empyrical-reloaded where both define them, and by hand where only we do."""

from __future__ import annotations

import empyrical
import numpy as np
import pandas as pd
import pytest
from skfolio.datasets import load_sp500_dataset

from stocker.core.errors import DataError
from stocker.core.metrics import max_drawdown_duration, monthly_returns, performance


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    return load_sp500_dataset().astype(float)


@pytest.mark.parametrize(("symbol", "benchmark"), [("AAPL", "MSFT"), ("KO", "XOM"), ("GE", "JNJ")])
def test_metrics_equal_empyrical_to_1e9(prices: pd.DataFrame, symbol: str, benchmark: str) -> None:
    nav = prices[symbol].iloc[-2520:]
    bench = prices[benchmark].iloc[-2520:]
    returns = nav.pct_change().iloc[1:]
    bench_returns = bench.pct_change().iloc[1:]

    ours = performance(nav, bench)

    theirs = {
        "cagr": empyrical.annual_return(returns),
        "volatility": empyrical.annual_volatility(returns),
        "sharpe": empyrical.sharpe_ratio(returns),
        "sortino": empyrical.sortino_ratio(returns),
        "max_drawdown": empyrical.max_drawdown(returns),
        "calmar": empyrical.calmar_ratio(returns),
        "var_95": empyrical.value_at_risk(returns, cutoff=0.05),
        "cvar_95": empyrical.conditional_value_at_risk(returns, cutoff=0.05),
        "beta": empyrical.beta(returns, bench_returns),
        "alpha": empyrical.alpha(returns, bench_returns),
    }
    for name, expected in theirs.items():
        assert ours[name] == pytest.approx(float(expected), rel=1e-9, abs=1e-12), name


def test_sortino_downside_deviation_counts_every_period() -> None:
    nav = pd.Series([100.0, 110.0, 99.0, 108.9, 108.9], index=pd.date_range("2020", periods=5))
    returns = np.array([0.1, -0.1, 0.1, 0.0])

    ours = performance(nav, periods_per_year=252)

    downside = np.sqrt(np.mean(np.minimum(returns, 0) ** 2) * 252)
    assert ours["sortino"] == pytest.approx(252 * returns.mean() / downside, rel=1e-12)
    assert ours["hit_rate"] == pytest.approx(0.5)
    assert ours["cagr"] == pytest.approx(1.089 ** (252 / 4) - 1, rel=1e-12)


def test_drawdown_duration_counts_periods_below_the_peak_including_an_unfinished_run() -> None:
    nav = pd.Series([1, 2, 1.5, 1.8, 2.1, 2.0, 1.9, 1.95, 2.05], dtype=float)

    assert max_drawdown_duration(nav) == 4
    assert max_drawdown_duration(pd.Series([1.0, 2.0, 3.0])) == 0


def test_turnover_is_one_way_per_year_from_consecutive_weights() -> None:
    index = pd.bdate_range("2021-01-01", periods=505)
    nav = pd.Series(np.linspace(100, 120, 505), index=index)
    weights = pd.DataFrame(
        [[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]], index=index[[0, 200, 400]], columns=["A", "B"]
    )

    ours = performance(nav, weights=weights)

    # Moves: 0.5 then 1.0 one-way over 504 periods = 2 years.
    assert ours["turnover"] == pytest.approx(1.5 / 2, rel=1e-12)
    assert "beta" not in ours and "alpha" not in ours


def test_monthly_returns_chain_to_the_total_return(prices: pd.DataFrame) -> None:
    nav = prices["PG"].iloc[-800:]

    months = monthly_returns(nav)

    assert (1 + months).prod() == pytest.approx(nav.iloc[-1] / nav.iloc[0], rel=1e-12)


def test_nav_with_a_missing_value_is_refused() -> None:
    with pytest.raises(DataError, match="nav"):
        performance(pd.Series([1.0, np.nan, 1.1]))
