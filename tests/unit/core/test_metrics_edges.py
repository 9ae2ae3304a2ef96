"""Metrics on small hand-made NAVs: each number recomputed in plain Python from the module's
stated conventions, and the edges (one return, a flat NAV, a NAV that only rises, a risk-free
rate, a benchmark on a longer calendar)."""

from __future__ import annotations

import itertools
import math
import statistics
import warnings

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.metrics import (
    annual_turnover,
    max_drawdown_duration,
    monthly_returns,
    performance,
)

KEYS = {
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "max_drawdown_duration",
    "calmar",
    "hit_rate",
    "var_95",
    "cvar_95",
}


def _nav(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2024-01-01", periods=len(values)), dtype=float)


def _by_hand(values: list[float], ppy: int, rf: float) -> dict[str, float]:
    r = [b / a - 1.0 for a, b in itertools.pairwise(values)]
    excess = [x - rf for x in r]
    n = len(r)
    sd = statistics.stdev(excess)
    cagr = (values[-1] / values[0]) ** (ppy / n) - 1.0
    peak, worst = values[0], 0.0
    for v in values:
        peak = max(peak, v)
        worst = min(worst, v / peak - 1.0)
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in excess) / n) * math.sqrt(ppy)
    ordered = sorted(r)
    position = 0.05 * (n - 1)
    low = int(position)
    var = ordered[low] + (position - low) * (ordered[min(low + 1, n - 1)] - ordered[low])
    worst_count = int(0.05 * (n - 1)) + 1
    return {
        "cagr": cagr,
        "volatility": sd * math.sqrt(ppy),
        "sharpe": statistics.fmean(excess) / sd * math.sqrt(ppy),
        "sortino": ppy * statistics.fmean(excess) / downside,
        "max_drawdown": worst,
        "calmar": cagr / abs(worst),
        "hit_rate": sum(x > 0 for x in r) / n,
        "var_95": var,
        "cvar_95": statistics.fmean(ordered[:worst_count]),
    }


@pytest.mark.parametrize(("ppy", "rf"), [(252, 0.0), (12, 0.001), (52, -0.002)])
def test_every_metric_equals_its_formula_on_21_returns(ppy: int, rf: float) -> None:
    # 21 returns: the CVaR tail is the 2 worst (⌊0.05·20⌋ + 1), the VaR interpolates at 1.0.
    steps = [0.03, -0.02, 0.01, -0.05, 0.04, 0.0, 0.02, -0.01, 0.06, -0.03, 0.01]
    steps += [0.02, -0.04, 0.03, 0.01, -0.02, 0.05, -0.01, 0.02, 0.0, 0.01]
    values = [100.0]
    for step in steps:
        values.append(values[-1] * (1.0 + step))
    ours = performance(_nav(values), periods_per_year=ppy, risk_free=rf)
    assert set(ours) == KEYS
    for key, expected in _by_hand(values, ppy, rf).items():
        assert ours[key] == pytest.approx(expected, rel=1e-12, abs=1e-15), key
    assert ours["max_drawdown_duration"] == max_drawdown_duration(_nav(values))


def test_cvar_averages_exactly_the_worst_tail_whatever_the_order() -> None:
    # 21 returns whose two worst sit at the far end: the tail is their mean, not one of them.
    r = [0.01 * k for k in range(19, 0, -1)] + [-0.02, -0.04]
    values = [100.0]
    for step in r:
        values.append(values[-1] * (1.0 + step))
    ours = performance(_nav(values))
    worst = sorted(b / a - 1.0 for a, b in itertools.pairwise(values))[:2]
    assert ours["cvar_95"] == pytest.approx(sum(worst) / 2, rel=1e-12)


def test_one_return_has_no_volatility_and_raises_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = performance(_nav([100.0, 101.0]))
    assert math.isnan(ours["volatility"])
    assert math.isnan(ours["sharpe"])
    assert ours["cagr"] == pytest.approx(1.01**252 - 1.0, rel=1e-12)
    assert ours["hit_rate"] == 1.0
    assert ours["var_95"] == ours["cvar_95"] == pytest.approx(0.01, rel=1e-12)


def test_two_returns_have_a_volatility() -> None:
    ours = performance(_nav([100.0, 110.0, 99.0]))
    expected = statistics.stdev([0.1, -0.1]) * math.sqrt(252)
    assert ours["volatility"] == pytest.approx(expected, rel=1e-12)


def test_a_flat_nav_and_a_rising_nav_divide_by_zero_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flat = performance(_nav([100.0, 100.0, 100.0, 100.0]))
        rising = performance(_nav([100.0, 101.0, 103.0, 106.0]))
    assert flat["volatility"] == 0.0
    assert math.isnan(flat["sharpe"])
    assert math.isnan(flat["sortino"])
    assert flat["max_drawdown"] == 0.0
    assert math.isnan(flat["calmar"])
    assert flat["hit_rate"] == 0.0
    assert rising["sortino"] == math.inf
    assert math.isnan(rising["calmar"])
    assert rising["max_drawdown_duration"] == 0.0


def test_beta_and_alpha_with_a_risk_free_rate_and_a_longer_benchmark() -> None:
    nav = _nav([100.0, 102.0, 101.0, 104.0, 103.0, 107.0])
    dates = pd.bdate_range("2023-12-25", periods=11)
    bench = pd.Series([50.0, 51, 52, 53, 54, 100, 101, 100.5, 102, 101, 103], index=dates)
    rf = 0.001
    ours = performance(nav, bench, risk_free=rf)
    r = np.array([b / a - 1.0 for a, b in zip(nav, nav.iloc[1:], strict=False)]) - rf
    b_levels = bench.loc[nav.index].to_numpy()
    b = b_levels[1:] / b_levels[:-1] - 1.0 - rf
    beta = float(np.cov(r, b, ddof=0)[0, 1] / np.var(b))
    assert ours["beta"] == pytest.approx(beta, rel=1e-10)
    assert ours["alpha"] == pytest.approx((1.0 + np.mean(r - beta * b)) ** 252 - 1.0, rel=1e-10)


def test_levels_are_refused_by_name_when_short_missing_or_not_positive() -> None:
    with pytest.raises(DataError, match=r"^nav needs at least two values; got 1$"):
        performance(_nav([100.0]))
    with pytest.raises(DataError, match=r"^nav must be positive with no missing values$"):
        performance(_nav([100.0, 0.0, 100.0]))
    with pytest.raises(DataError, match=r"^nav must be positive"):
        performance(_nav([100.0, -1.0, 100.0]))
    nav = _nav([100.0, 101.0, 102.0])
    with pytest.raises(DataError, match=r"^benchmark must be positive with no missing values$"):
        performance(nav, nav.iloc[:2])  # the benchmark lacks the NAV's last date
    # values between 0 and 1 are positive: a NAV may start at 0.5
    assert performance(_nav([0.5, 0.6, 0.55]))["hit_rate"] == 0.5


def test_integer_levels_give_the_same_numbers_as_floats() -> None:
    ints = pd.Series([100, 110, 99, 120], index=pd.bdate_range("2024-01-01", periods=4))
    assert performance(ints) == pytest.approx(performance(ints.astype(float)), nan_ok=True)
    assert max_drawdown_duration(ints) == 1


def test_drawdown_duration_edges() -> None:
    assert max_drawdown_duration(_nav([1.0])) == 0
    assert max_drawdown_duration(_nav([1.0, 2.0, 3.0])) == 0
    assert max_drawdown_duration(_nav([3.0, 2.0, 3.0, 1.0])) == 1
    assert max_drawdown_duration(_nav([3.0, 2.0, 1.0, 3.0, 2.0])) == 2


def test_monthly_returns_start_from_the_first_nav() -> None:
    nav = pd.Series(
        [100.0, 105.0, 110.0, 99.0, 121.0],
        index=pd.to_datetime(
            ["2024-01-02", "2024-01-31", "2024-02-15", "2024-02-29", "2024-03-01"]
        ),
    )
    months = monthly_returns(nav)
    assert list(months.index.astype(str)) == ["2024-01", "2024-02", "2024-03"]
    assert months.to_numpy() == pytest.approx([0.05, 99.0 / 105.0 - 1.0, 121.0 / 99.0 - 1.0])


def test_turnover_counts_a_missing_weight_as_zero_and_is_one_way() -> None:
    weights = pd.DataFrame({"A": [0.5, np.nan, 0.2], "B": [0.5, 1.0, 0.8]})
    # |0-0.5| + |1-0.5| = 1.0, then |0.2-0| + |0.8-1| = 0.4: half of 1.4 over 2 periods of 252.
    assert annual_turnover(weights, 2, 252) == pytest.approx(0.7 / (2 / 252), rel=1e-12)
    assert annual_turnover(weights, 4, 12) == pytest.approx(0.7 / (4 / 12), rel=1e-12)
