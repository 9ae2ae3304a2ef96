"""Σ handed to the solver as P equals the factor form; OSQP first for QPs; accuracy reported."""

from __future__ import annotations

from types import SimpleNamespace

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from stocker.core.optimize import Constraints, ConvexProblem, convex, optimize, optimize_detailed
from stocker.core.optimize import api as convex_api
from stocker.core.optimize.convex import _polished


@pytest.mark.filterwarnings("ignore:Reading from a sparse CVXPY")
@pytest.mark.parametrize("method", ["min_variance", "max_sharpe", "mean_variance"])
def test_covariance_as_p_equals_the_factor_form(
    returns: pd.DataFrame, sectors: dict[str, str], method: str
) -> None:
    resolved = Constraints(
        max_weight=0.15,
        sectors=sectors,
        sector_caps={"Health": 0.25},
        previous_weights=dict.fromkeys(returns.columns, 0.05),
        turnover_limit=0.3,
        transaction_cost_bps=10,
    ).resolve(returns.columns)
    problem = ConvexProblem(method, resolved)
    problem.set_values(
        returns.cov().to_numpy(), resolved, returns.mean().to_numpy(), risk_aversion=3.0
    )
    injected = problem.solve(("CLARABEL",)).weights
    factor_form = problem._factor_problem()
    problem._set_factor()
    factor_form.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    assert factor_form is not problem.problem
    np.testing.assert_allclose(injected, problem._weights(), atol=1e-6)


def test_plain_qps_are_answered_by_polished_osqp_and_others_by_clarabel(
    returns: pd.DataFrame,
) -> None:
    assert optimize_detailed(returns, "min_variance").solver == "OSQP"
    assert optimize_detailed(returns, "mean_variance").solver == "OSQP"
    assert optimize_detailed(returns, "max_sharpe").solver == "CLARABEL"
    capped = Constraints(target_volatility_annual=0.3)
    assert optimize_detailed(returns, "mean_variance", capped).solver == "CLARABEL"
    osqp = optimize(returns, "min_variance", Constraints(max_weight=0.1))
    clarabel = optimize(returns, "min_variance", Constraints(max_weight=0.1), solvers=("CLARABEL",))
    np.testing.assert_allclose(osqp, clarabel, atol=1e-6)


def test_every_answer_reports_its_largest_constraint_violation(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    constraints = Constraints(max_weight=0.1, sectors=sectors, sector_caps={"Tech": 0.15})
    for method in ("min_variance", "max_sharpe", "hrp"):
        kept = Constraints(max_weight=0.1) if method == "hrp" else constraints
        result = optimize_detailed(returns, method, kept)
        assert 0.0 <= result.max_violation <= 1e-6
    resolved = constraints.resolve(returns.columns)
    broken = np.zeros(returns.shape[1])
    broken[:2] = [0.6, 0.4]  # AAPL, AMD: both Tech, each above 10%
    assert resolved.max_violation(broken, returns.cov().to_numpy()) == pytest.approx(0.85)


def test_an_unpolished_osqp_answer_is_refused_unless_admm_ran_to_1e_8() -> None:
    stats = SimpleNamespace(extra_stats=SimpleNamespace(info=SimpleNamespace(status_polish=-1)))
    problem = SimpleNamespace(status=cp.OPTIMAL, solver_stats=stats)
    loose = _polished(problem, "OSQP", {"eps_abs": 1e-7, "eps_rel": 1e-7})  # type: ignore[arg-type]
    assert loose.startswith("unpolished")
    tight = _polished(problem, "OSQP", {"eps_abs": 1e-9, "eps_rel": 1e-9})  # type: ignore[arg-type]
    assert tight == cp.OPTIMAL
    assert _polished(problem, "CLARABEL", {}) == cp.OPTIMAL  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:Reading from a sparse CVXPY")
def test_solvers_without_a_quadratic_objective_get_the_factor_form(
    returns: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = optimize(returns, "max_sharpe", Constraints(max_weight=0.2), solvers=("CLARABEL",))
    monkeypatch.setattr(convex, "_QUADRATIC", frozenset())
    convex_api._PROBLEMS.clear()
    factor_form = optimize(
        returns, "max_sharpe", Constraints(max_weight=0.2), solvers=("CLARABEL",)
    )
    np.testing.assert_allclose(factor_form, reference, atol=1e-6)
    problem = ConvexProblem("min_variance", Constraints().resolve(returns.columns))
    assert problem._quadratic(None) is None
    assert problem._quadratic(sparse.csc_array(np.ones((20, 20)))) is None
