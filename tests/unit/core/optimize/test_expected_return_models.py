"""CAPM and factor-implied expected returns on small hand-made inputs: betas recomputed with
numpy, a benchmark on another calendar, exactly 3 common dates, and each refusal's message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize.expected_returns import CAPM, FactorImplied

DATES = pd.bdate_range("2024-01-01", periods=6)
RETURNS = pd.DataFrame(
    {
        "A": [0.01, -0.02, 0.03, 0.00, 0.02, -0.01],
        "B": [0.02, 0.01, -0.01, 0.03, -0.02, 0.00],
    },
    index=DATES,
)


def _beta(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1))


def test_capm_betas_on_the_dates_shared_with_the_benchmark() -> None:
    market = pd.Series(
        [0.005, 0.01, -0.015, 0.02, 0.0, 0.01, 0.3],
        index=pd.bdate_range("2023-12-29", periods=7),
    )
    model = CAPM(market_returns=market, risk_free_rate=0.001)
    betas, used = model.betas(RETURNS)
    m = market.reindex(DATES).to_numpy()
    keep = ~np.isnan(m)
    assert used.tolist() == pytest.approx(m[keep].tolist())
    for column, beta in zip(RETURNS.columns, betas, strict=True):
        assert beta == pytest.approx(_beta(RETURNS[column].to_numpy()[keep], m[keep]), rel=1e-10)
    mu = model.estimate(RETURNS, np.eye(2))
    assert mu == pytest.approx(0.001 + betas * (m[keep].mean() - 0.001))
    fixed = CAPM(market_returns=market, market_premium=0.004).estimate(RETURNS, np.eye(2))
    assert fixed == pytest.approx(betas * 0.004)


def test_capm_proxy_is_the_equal_weighted_mean() -> None:
    betas, used = CAPM().betas(RETURNS)
    proxy = RETURNS.mean(axis=1).to_numpy()
    assert used.tolist() == pytest.approx(proxy.tolist())
    assert betas[0] == pytest.approx(_beta(RETURNS["A"].to_numpy(), proxy), rel=1e-10)


def test_capm_needs_three_common_dates_and_a_moving_market() -> None:
    three = pd.Series([0.01, -0.01, 0.02], index=DATES[:3])
    assert len(CAPM(market_returns=three).betas(RETURNS)[1]) == 3
    with pytest.raises(DataError) as short:
        CAPM(market_returns=three.iloc[:2]).betas(RETURNS)
    assert str(short.value) == "market_returns: fewer than 3 dates in common with the returns"
    flat = pd.Series(0.01, index=DATES)
    with pytest.raises(DataError) as still:
        CAPM(market_returns=flat).betas(RETURNS)
    assert str(still.value) == "market_returns: zero variance, beta is undefined"


def test_factor_implied_returns_have_mean_base_and_spread() -> None:
    scores = {"B": 1.0, "A": -1.0}
    mu = FactorImplied(scores=scores, spread=0.002, base=0.0005).estimate(RETURNS, np.eye(2))
    assert mu.tolist() == pytest.approx([0.0005 - 0.002, 0.0005 + 0.002])
    default = FactorImplied(scores=scores, spread=0.001).estimate(RETURNS, np.eye(2))
    base = RETURNS.to_numpy().mean()
    assert default.tolist() == pytest.approx([base - 0.001, base + 0.001])
    covariance = np.diag([0.01, 0.04])  # volatilities 0.1 and 0.2, mean 0.15
    scaled = FactorImplied(scores=scores, spread=0.003, base=0.0, volatility_scaled=True)
    assert scaled.estimate(RETURNS, covariance).tolist() == pytest.approx(
        [-0.003 * 0.1 / 0.15, 0.003 * 0.2 / 0.15]
    )
    assert FactorImplied(scores=scores, spread=0.0, base=0.1).estimate(
        RETURNS, covariance
    ).tolist() == [
        0.1,
        0.1,
    ]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            FactorImplied(scores={"A": 1.0, "B": 2.0}, spread=-0.1),
            "spread: got -0.1, expected a finite number >= 0",
        ),
        (
            FactorImplied(scores={"A": 1.0, "B": 2.0}, spread=float("inf")),
            "spread: got inf, expected a finite number >= 0",
        ),
        (
            FactorImplied(scores={"A": 1.0, "B": 1.0}, spread=0.1),
            "scores: all equal, so they imply no spread of returns",
        ),
        (
            FactorImplied(scores={"A": 1.0}, spread=0.1),
            "scores: no value for ['B'], expected one per symbol",
        ),
        (
            FactorImplied(scores={"A": 1.0, "B": float("nan")}, spread=0.1),
            "scores: expected finite numbers",
        ),
    ],
)
def test_factor_implied_refusals(model: FactorImplied, message: str) -> None:
    with pytest.raises(DataError) as caught:
        model.estimate(RETURNS, np.eye(2))
    assert str(caught.value) == message
