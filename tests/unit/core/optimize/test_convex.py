"""Problems are built once (DPP) and re-solved with new values; the cache reuses them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.optimize import Constraints, ConvexProblem, optimize
from stocker.core.optimize import api as optimize_api
from stocker.core.optimize.convex import covariance_factor


def _problem(returns: pd.DataFrame, sectors: dict[str, str]) -> tuple[ConvexProblem, Constraints]:
    constraints = Constraints(
        max_weight=0.2,
        sectors=sectors,
        sector_caps={"Health": 0.25, "Tech": 0.2},
        previous_weights=dict.fromkeys(returns.columns, 0.05),
        turnover_limit=0.3,
    )
    return ConvexProblem("max_sharpe", constraints.resolve(returns.columns)), constraints


def test_every_method_is_dpp(returns: pd.DataFrame, sectors: dict[str, str]) -> None:
    constraints = Constraints(
        sectors=sectors,
        sector_caps={"Health": 0.3},
        target_volatility_annual=0.3,
        previous_weights=dict.fromkeys(returns.columns, 0.05),
        turnover_limit=0.5,
        transaction_cost_bps=5,
        betas=dict.fromkeys(returns.columns, 1.0),
        max_beta=1.2,
    ).resolve(returns.columns)
    for method in ("min_variance", "max_sharpe", "mean_variance", "max_return", "min_cvar"):
        problem = ConvexProblem(method, constraints, n_scenarios=100)
        assert problem.problem.is_dcp(dpp=True)  # type: ignore[call-arg]


def test_re_solving_with_new_values_equals_a_fresh_problem(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    problem, constraints = _problem(returns, sectors)
    resolved = constraints.resolve(returns.columns)
    windows = [returns.iloc[:630], returns.iloc[630:]]
    for window in windows:
        problem.set_values(window.cov().to_numpy(), resolved, window.mean().to_numpy())
        resolved_weights = problem.solve().weights
        fresh, _ = _problem(returns, sectors)
        fresh.set_values(window.cov().to_numpy(), resolved, window.mean().to_numpy())
        np.testing.assert_allclose(resolved_weights, fresh.solve().weights, atol=1e-7)
    first = problem.problem
    assert problem.problem is first  # same object: only parameter values changed


def test_optimize_reuses_the_compiled_problem_for_the_same_structure(
    returns: pd.DataFrame,
) -> None:
    optimize_api._PROBLEMS.clear()
    optimize(returns.iloc[:600], "min_variance", Constraints(max_weight=0.2))
    built = list(optimize_api._PROBLEMS.values())
    optimize(returns.iloc[600:], "min_variance", Constraints(max_weight=0.15))
    assert list(optimize_api._PROBLEMS.values()) == built and len(built) == 1
    optimize(returns, "min_variance", Constraints(max_weight=0.2, target_volatility_annual=0.5))
    assert len(optimize_api._PROBLEMS) == 2  # a new group is a new structure


def test_covariance_factor_is_upper_triangular_even_when_singular(returns: pd.DataFrame) -> None:
    data = returns.iloc[:, :6].to_numpy()
    singular = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 2.0]]) * 1e-4
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(singular)  # so the QR path is the one tested
    for covariance in (np.cov(data, rowvar=False), singular):
        factor = covariance_factor(covariance)
        np.testing.assert_allclose(factor.T @ factor, covariance, atol=1e-15)
        assert np.allclose(np.tril(factor, -1), 0.0)


def test_structure_mismatch_is_refused(returns: pd.DataFrame, sectors: dict[str, str]) -> None:
    problem, _ = _problem(returns, sectors)
    with pytest.raises(DataError, match="structure differs"):
        problem.set_values(returns.cov().to_numpy(), Constraints().resolve(returns.columns))


def test_max_return_spends_the_volatility_budget(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "max_return", Constraints(target_volatility_annual=0.22))
    vector = weights.to_numpy()
    volatility = float(np.sqrt(vector @ returns.cov().to_numpy() @ vector * 252))
    assert volatility == pytest.approx(0.22, rel=1e-6)


def test_mean_variance_with_more_aversion_takes_less_risk(returns: pd.DataFrame) -> None:
    bold = optimize(returns, "mean_variance", risk_aversion=1.0)
    timid = optimize(returns, "mean_variance", risk_aversion=50.0)
    covariance = returns.cov().to_numpy()
    assert timid.to_numpy() @ covariance @ timid.to_numpy() < (
        bold.to_numpy() @ covariance @ bold.to_numpy()
    )


def test_simple_methods_and_input_errors(returns: pd.DataFrame) -> None:
    equal = optimize(returns, "equal_weight")
    assert np.allclose(equal, 1 / returns.shape[1])
    inverse = optimize(returns, "inverse_volatility")
    volatility = returns.std()
    np.testing.assert_allclose(inverse, (1 / volatility) / (1 / volatility).sum(), atol=1e-12)
    with pytest.raises(DataError, match="method: got 'magic'"):
        optimize(returns, "magic")  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"expected_returns: no value for \['AAPL'\]"):
        optimize(returns, "max_sharpe", expected_returns=returns.mean().drop("AAPL"))
    with pytest.raises(DataError, match="target_volatility_annual: method 'max_return' needs"):
        optimize(returns, "max_return")
    with pytest.raises(DataError, match=r"min_weight: got -0\.1, expected >= 0 when long_only"):
        Constraints(min_weight=-0.1)
    with pytest.raises(DataError, match=r"sectors: no sector for \['AAPL'"):
        Constraints(sectors={"AMD": "Tech"}, sector_caps={"Tech": 0.2}).resolve(returns.columns)


def test_long_short_respects_gross_limit(returns: pd.DataFrame) -> None:
    constraints = Constraints(long_only=False, min_weight=-0.3, max_weight=0.5, gross_limit=1.5)
    weights = optimize(returns, "max_sharpe", constraints)
    assert (weights < -1e-6).any()
    assert weights.abs().sum() <= 1.5 + 1e-8
