"""Risk quantities at their thresholds: exactly enough observations, ties at the tail quantile,
a constant benchmark, a benchmark on a longer calendar, several symbols at once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stocker.core.risk import (
    COLUMNS,
    RiskConfig,
    beta,
    kurtosis,
    risk_model,
    skew,
    tail_beta,
    tail_days,
)

DATES = pd.bdate_range("2024-01-01", periods=21)


def _slope(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1))


def test_tail_days_include_ties_at_the_quantile() -> None:
    # 21 values: the 5% quantile is exactly the second smallest, so two days are in the tail
    values = pd.Series(np.arange(21, dtype=float)[::-1] / 100.0)
    assert tail_days(values).tolist() == [19, 20]
    assert tail_days(values, 0.5).tolist() == list(range(10, 21))
    with_gap = values.copy()
    with_gap.iloc[20] = np.nan
    assert tail_days(with_gap).tolist() == [19]  # 20 values: the quantile interpolates
    none = tail_days(pd.Series([np.nan, np.nan]))
    assert none.dtype == np.int64
    assert none.tolist() == []
    assert tail_days(pd.Series([1, 2, 3])).tolist() == [0]


def test_beta_per_column_with_its_own_days_and_a_longer_benchmark() -> None:
    rng = np.random.default_rng(3)
    bench_values = rng.normal(0.0, 0.01, 30)
    bench = pd.Series(bench_values, index=pd.bdate_range("2023-12-20", periods=30))
    b = bench.reindex(DATES).to_numpy()
    a = 2.0 * b + 0.05 + rng.normal(0.0, 0.001, 21)
    c = -0.5 * b + 0.01 + rng.normal(0.0, 0.001, 21)
    c[:5] = np.nan
    frame = pd.DataFrame({"A": a, "C": c}, index=DATES)
    ours = beta(frame, bench)
    assert ours["A"] == pytest.approx(_slope(a, b), rel=1e-10)
    assert ours["C"] == pytest.approx(_slope(c[5:], b[5:]), rel=1e-10)
    assert ours.dtype == np.float64
    single = beta(frame["A"], bench)
    assert single.iloc[0] == pytest.approx(_slope(a, b), rel=1e-10)


def test_beta_needs_two_days_and_a_moving_benchmark() -> None:
    bench = pd.Series([0.01, -0.02, 0.03], index=DATES[:3])
    two = pd.DataFrame({"A": [0.02, -0.04, np.nan]}, index=DATES[:3])
    assert beta(two, bench)["A"] == pytest.approx(2.0)
    assert np.isnan(beta(two, bench, min_observations=3)["A"])
    three = pd.DataFrame({"A": [0.02, -0.04, 0.06]}, index=DATES[:3])
    assert beta(three, bench, min_observations=3)["A"] == pytest.approx(2.0)
    one = pd.DataFrame({"A": [0.02, np.nan, np.nan]}, index=DATES[:3])
    assert np.isnan(beta(one, bench, min_observations=1)["A"])
    flat = pd.Series([0.01, 0.01, 0.01], index=DATES[:3])
    assert np.isnan(beta(three, flat)["A"])


def test_tail_beta_on_the_worst_days_only() -> None:
    b = np.linspace(-0.05, 0.05, 21)
    y = np.where(b <= -0.04, 3.0 * b, 0.5 * b)
    bench = pd.Series(b, index=DATES)
    frame = pd.DataFrame({"A": y}, index=DATES)
    # the two worst days are in the 5% tail: slope 3 there, 0.5 elsewhere
    assert tail_beta(frame, bench, min_observations=2)["A"] == pytest.approx(3.0)
    assert np.isnan(tail_beta(frame, bench, min_observations=3)["A"])
    assert np.isnan(tail_beta(frame, bench)["A"])
    wide = tail_beta(frame, bench, quantile=0.5, min_observations=11)
    expected = _slope(y[:11], b[:11])
    assert wide["A"] == pytest.approx(expected, rel=1e-10)
    longer = pd.Series(np.r_[b, 0.1], index=pd.bdate_range("2024-01-01", periods=22))
    assert tail_beta(frame, longer, min_observations=2)["A"] == pytest.approx(3.0)


def test_skew_and_kurtosis_thresholds() -> None:
    three = pd.DataFrame({"A": [0.01, 0.02, 0.06]})
    assert skew(three)["A"] == pytest.approx(pd.Series([0.01, 0.02, 0.06]).skew())
    assert np.isnan(skew(three, min_observations=4)["A"])
    assert np.isnan(kurtosis(three)["A"])
    four = pd.DataFrame({"A": [0.01, 0.02, 0.06, -0.03]})
    assert kurtosis(four)["A"] == pytest.approx(pd.Series([0.01, 0.02, 0.06, -0.03]).kurt())
    assert np.isnan(kurtosis(four, min_observations=5)["A"])
    ints = pd.DataFrame({"A": [1, 2, 6, -3]})
    assert kurtosis(ints)["A"] == pytest.approx(pd.Series([1.0, 2, 6, -3]).kurt())
    assert skew(ints)["A"] == pytest.approx(pd.Series([1.0, 2, 6, -3]).skew())


def test_risk_model_at_exactly_the_minimum_and_one_below() -> None:
    rng = np.random.default_rng(5)
    b = rng.normal(0.0, 0.01, 21)
    a = 1.5 * b + rng.normal(0.0, 0.002, 21)
    short = a.copy()
    short[:2] = np.nan  # 19 returns: one short of 20
    returns = pd.DataFrame({"A": a, "S": short}, index=DATES)
    bench = pd.Series(np.r_[b, 0.5], index=pd.bdate_range("2024-01-01", periods=22))
    config = RiskConfig(
        window=21, min_observations=20, tail_quantile=0.1, min_tail_observations=3,
        periods_per_year=12,
    )  # fmt: skip
    result = risk_model(returns, bench.iloc[:21], day=dt.date(2024, 1, 29), config=config)
    values, reasons = result.values, result.reasons
    assert list(values.columns) == list(COLUMNS)
    assert list(values.index) == ["A", "S"]
    assert (values.dtypes == np.float64).all()
    assert values.at["A", "volatility"] == pytest.approx(np.std(a, ddof=1) * np.sqrt(12))
    assert values.at["A", "beta"] == pytest.approx(_slope(a, b), rel=1e-10)
    tail = np.flatnonzero(b <= np.quantile(b, 0.1))
    assert values.at["A", "tail_beta"] == pytest.approx(_slope(a[tail], b[tail]), rel=1e-10)
    assert values.at["A", "skew"] == pytest.approx(pd.Series(a).skew())
    assert values.loc["S"].isna().all()
    expected = "fewer than 20 daily returns in the 21 sessions to 2024-01-29"
    assert reasons.loc["S"].tolist() == [expected] * 5
    assert reasons.loc["A"].isna().all()


def test_risk_model_without_enough_benchmark_names_it() -> None:
    rng = np.random.default_rng(6)
    returns = pd.DataFrame({"A": rng.normal(0.0, 0.01, 21)}, index=DATES)
    config = RiskConfig(window=21, min_observations=20)
    bench = pd.Series(rng.normal(0.0, 0.01, 21), index=DATES)
    bench.iloc[:2] = np.nan
    result = risk_model(returns, bench, day=dt.date(2024, 1, 29), config=config)
    assert result.reasons.at["A", "beta"] == "the benchmark has fewer than 20 returns to 2024-01-29"
    assert result.reasons.at["A", "tail_beta"] == result.reasons.at["A", "beta"]
    assert np.isnan(result.values.at["A", "beta"])
    named = risk_model(returns, None, day=dt.date(2024, 1, 29), config=config, benchmark_name="SPY")
    assert named.reasons.at["A", "beta"] == "SPY has fewer than 20 returns to 2024-01-29"
    assert not np.isnan(named.values.at["A", "volatility"])
    enough = bench.copy()
    enough.iloc[1] = 0.001  # 20 returns: exactly enough
    fine = risk_model(returns, enough, day=dt.date(2024, 1, 29), config=config)
    assert not np.isnan(fine.values.at["A", "beta"])
    # a pair short of days where both are present: the reason says so
    gappy = returns.copy()
    gappy.iloc[5, 0] = np.nan
    gap = risk_model(gappy, enough, day=dt.date(2024, 1, 29), config=config)
    assert gap.reasons.at["A", "beta"] == "not enough days with both returns to estimate it"
