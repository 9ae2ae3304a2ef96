"""Risk budgeting by Newton: contributions equal the budgets, in a handful of iterations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize import risk_budget_weights, risk_contributions


@pytest.mark.parametrize("budget_shape", ["equal", "skewed"])
def test_risk_contributions_equal_the_budgets(returns: pd.DataFrame, budget_shape: str) -> None:
    covariance = returns.cov().to_numpy()
    n_assets = covariance.shape[0]
    budgets = np.full(n_assets, 1 / n_assets)
    if budget_shape == "skewed":
        budgets = np.geomspace(1, 50, n_assets)
        budgets /= budgets.sum()
    weights, iterations = risk_budget_weights(covariance, budgets)
    np.testing.assert_allclose(risk_contributions(weights, covariance), budgets, rtol=1e-8)
    assert iterations <= 20 and (weights > 0).all() and weights.sum() == pytest.approx(1.0)


def test_two_uncorrelated_assets_match_the_closed_form() -> None:
    covariance = np.diag([0.04, 0.01])
    weights, _ = risk_budget_weights(covariance)
    np.testing.assert_allclose(weights, [1 / 3, 2 / 3], atol=1e-12)  # w ∝ 1/σ


def test_large_random_universe_converges(returns: pd.DataFrame) -> None:
    rng = np.random.default_rng(7)
    loadings = rng.normal(0, 1, (300, 5))
    covariance = loadings @ loadings.T * 1e-4 + np.diag(rng.uniform(1e-4, 9e-4, 300))
    weights, iterations = risk_budget_weights(covariance)
    contributions = risk_contributions(weights, covariance)
    assert np.ptp(contributions) < 1e-9 and iterations < 30


def test_bad_budgets_are_named() -> None:
    with pytest.raises(DataError, match="risk_budgets: expected 2 positive"):
        risk_budget_weights(np.eye(2), np.array([1.0, -1.0]))
