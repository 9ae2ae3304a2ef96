"""A covariance in factor form (Σ = BᵀB + diag d) gives the same portfolios as the same Σ
passed densely, and its compiled problem re-solved with new values equals a fresh one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize import Constraints, ConvexProblem, FactorCovariance, optimize


def test_statistical_model_keeps_each_variance_and_is_psd(returns: pd.DataFrame) -> None:
    model = FactorCovariance.statistical(returns, n_factors=3)
    assert model.loadings.shape == (3, returns.shape[1])
    np.testing.assert_allclose(model.diagonal(), returns.var().to_numpy(), rtol=1e-10)
    dense = model.matrix()
    np.testing.assert_allclose(np.diag(dense), model.diagonal(), rtol=1e-12)
    assert np.linalg.eigvalsh(dense).min() > 0
    weights = np.linspace(1, 2, returns.shape[1])
    assert model.variance(weights) == pytest.approx(weights @ dense @ weights, rel=1e-12)
    with pytest.raises(DataError, match="n_factors: got 0"):
        FactorCovariance.statistical(returns, n_factors=0)
    with pytest.raises(DataError, match="specific variances must be >= 0"):
        FactorCovariance(np.ones((1, 2)), np.array([0.1, -0.1]))


@pytest.mark.parametrize("method", ["min_variance", "max_sharpe", "mean_variance", "max_return"])
def test_factor_form_equals_the_dense_matrix(
    returns: pd.DataFrame, sectors: dict[str, str], method: str
) -> None:
    model = FactorCovariance.statistical(returns, n_factors=4)
    constraints = Constraints(
        max_weight=0.15,
        sectors=sectors,
        sector_caps={"Health": 0.2, "Tech": 0.25},
        previous_weights=dict.fromkeys(returns.columns, 0.05),
        turnover_limit=0.3,
        target_volatility_annual=0.25 if method == "max_return" else None,
    )
    factored = optimize(returns, method, constraints, covariance=model)
    dense = optimize(
        returns, method, constraints, covariance=pd.DataFrame(model.matrix(), returns.columns,
                                                              returns.columns),
        solvers=("CLARABEL",),
    )  # fmt: skip
    np.testing.assert_allclose(factored, dense, atol=2e-6)
    result = factored.attrs["result"]
    assert result.max_violation < 1e-7
    assert "by construction (4-factor model)" in result.psd.reason
    assert result.objective == pytest.approx(dense.attrs["result"].objective, rel=1e-6)


def test_re_solving_the_factor_problem_equals_rebuilding_it(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    """A walk-forward: one compiled problem, new values each step, vs a fresh problem."""
    symbols = list(returns.columns)

    def constraints(previous: np.ndarray) -> Constraints:
        return Constraints(
            max_weight=0.15,
            sectors=sectors,
            sector_caps={"Health": 0.2, "Tech": 0.25},
            previous_weights=dict(zip(symbols, previous, strict=True)),
            turnover_limit=0.1,
        )

    previous = np.full(len(symbols), 1 / len(symbols))
    problem = ConvexProblem("max_sharpe", constraints(previous).resolve(symbols), risk_factors=3)
    compiled = problem.problem
    for start in range(0, 400, 80):
        window = returns.iloc[start : start + 756]
        model = FactorCovariance.statistical(window, n_factors=3)
        resolved = constraints(previous).resolve(symbols)
        problem.set_values(model, resolved, window.mean().to_numpy())
        kept = problem.solve()
        fresh = ConvexProblem("max_sharpe", resolved, risk_factors=3)
        fresh.set_values(model, resolved, window.mean().to_numpy())
        rebuilt = fresh.solve(solver_options={"CLARABEL": {"ignore_dpp": True}})
        # The same optimum: the re-solve (the active set from the previous answer, exact to its
        # KKT certificate) is never below the rebuild (Clarabel, cold, within its 1e-8 gap) and
        # within 1e-6 of it; the weights agree to 1e-4 (a flat direction of the objective moves
        # a few by up to ~1e-5 at the interior point's tolerance).
        mean = window.mean().to_numpy()
        sharpe = [mean @ w / np.sqrt(model.variance(w)) for w in (kept.weights, rebuilt.weights)]
        assert sharpe[1] * (1 - 1e-9) <= sharpe[0] <= sharpe[1] * (1 + 1e-6)
        np.testing.assert_allclose(kept.weights, rebuilt.weights, atol=1e-4)
        assert kept.max_violation < 1e-7
        assert 0.5 * np.abs(kept.weights - previous).sum() <= 0.1 + 1e-7
        previous = kept.weights
    assert problem.problem is compiled


def test_a_problem_refuses_the_other_form(returns: pd.DataFrame) -> None:
    resolved = Constraints().resolve(returns.columns)
    factored = ConvexProblem("min_variance", resolved, risk_factors=2)
    with pytest.raises(DataError, match="covariance: this problem was built for 2 factors"):
        factored.set_values(returns.cov().to_numpy(), resolved)
    with pytest.raises(DataError, match="covariance: this problem was built for 2 factors"):
        factored.set_values(FactorCovariance.statistical(returns, 3), resolved)
    dense = ConvexProblem("min_variance", resolved)
    with pytest.raises(DataError, match="covariance: this problem was built for a dense matrix"):
        dense.set_values(FactorCovariance.statistical(returns, 2), resolved)
