"""Risk model quantities against independent computations: OLS by numpy's least squares,
moments by scipy, and no look-ahead."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stocker.core.errors import DataError
from stocker.core.risk import (
    RiskConfig,
    annualized_volatility,
    beta,
    kurtosis,
    risk_model,
    skew,
    tail_beta,
)

DAY = date(2024, 6, 28)


def _market(seed: int = 7, days: int = 300, symbols: int = 6) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range(end=pd.Timestamp(DAY), periods=days)
    bench = pd.Series(rng.standard_t(4, days) * 0.01, index=index)
    betas = np.linspace(0.3, 1.8, symbols)
    noise = rng.standard_t(5, (days, symbols)) * 0.012
    returns = pd.DataFrame(
        bench.to_numpy()[:, None] * betas + noise + 0.0002,
        index=index,
        columns=[f"S{n}" for n in range(symbols)],
    )
    returns.iloc[rng.integers(0, days, 25), 2] = np.nan  # gaps: pairwise rows only
    return returns, bench


def _lstsq_slope(y: np.ndarray, x: np.ndarray) -> float:
    present = ~np.isnan(y) & ~np.isnan(x)
    design = np.column_stack([np.ones(present.sum()), x[present]])
    coefficients, *_ = np.linalg.lstsq(design, y[present], rcond=None)
    return float(coefficients[1])


def test_beta_equals_an_ols_regression_with_intercept_by_least_squares() -> None:
    returns, bench = _market()

    betas = beta(returns, bench)

    for symbol in returns:
        expected = _lstsq_slope(returns[symbol].to_numpy(), bench.to_numpy())
        assert betas[symbol] == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_tail_beta_equals_least_squares_on_the_benchmarks_worst_5_percent_days() -> None:
    returns, bench = _market(seed=11)

    tails = tail_beta(returns, bench)

    worst = bench.to_numpy() <= np.percentile(bench.to_numpy(), 5)
    assert worst.sum() == 15
    for symbol in returns:
        expected = _lstsq_slope(returns[symbol].to_numpy()[worst], bench.to_numpy()[worst])
        assert tails[symbol] == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_volatility_skew_and_kurtosis_equal_numpy_and_scipy() -> None:
    returns, _ = _market(seed=3)

    volatility, skews, kurtoses = annualized_volatility(returns), skew(returns), kurtosis(returns)

    for symbol in returns:
        values = returns[symbol].dropna().to_numpy()
        assert volatility[symbol] == pytest.approx(np.std(values, ddof=1) * np.sqrt(252))
        assert skews[symbol] == pytest.approx(stats.skew(values, bias=False))
        assert kurtoses[symbol] == pytest.approx(stats.kurtosis(values, fisher=True, bias=False))


def test_risk_model_uses_the_last_window_and_names_why_values_are_null() -> None:
    returns, bench = _market(seed=5)
    returns["NEW"] = np.nan
    returns.iloc[-50:, returns.columns.get_loc("NEW")] = 0.01 * np.arange(50) % 0.03

    result = risk_model(returns, bench, day=DAY, config=RiskConfig(window=252))

    window = returns.iloc[-252:]
    expected = _lstsq_slope(window["S1"].to_numpy(), bench.iloc[-252:].to_numpy())
    assert result.values.loc["S1", "beta"] == pytest.approx(expected, rel=1e-10)
    assert result.values.loc["NEW"].isna().all()
    assert result.reasons.loc["NEW", "beta"] == (
        "fewer than 126 daily returns in the 252 sessions to 2024-06-28"
    )
    assert result.reasons.drop(index="NEW").isna().all().all()


def test_risk_model_without_a_benchmark_leaves_betas_null_with_the_reason() -> None:
    returns, _ = _market(seed=5)

    result = risk_model(returns, None, day=DAY, benchmark_name="SP500")

    assert result.values[["beta", "tail_beta"]].isna().all().all()
    assert result.values[["volatility", "skew", "kurtosis"]].notna().all().all()
    assert result.reasons.loc["S0", "beta"] == "SP500 has fewer than 126 returns to 2024-06-28"


def test_risk_model_refuses_returns_dated_after_the_day() -> None:
    returns, bench = _market()
    with pytest.raises(DataError, match="after 2024-06-27"):
        risk_model(returns, bench, day=date(2024, 6, 27))
