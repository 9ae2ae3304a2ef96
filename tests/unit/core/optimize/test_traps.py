"""The peers' failure inputs (issue 10, item 3), each with Stocker's answer."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import InfeasibleError
from stocker.core.optimize import (
    DEFAULT_SOLVERS,
    ConflictingConstraintsError,
    Constraints,
    SolverFailedError,
    optimize,
)

from .oracle import max_sharpe_by_bisection

CAPS = {"Health": 0.2, "Tech": 0.1, "Staples": 0.3}


def test_max_sharpe_with_sector_caps_holds_caps_and_is_the_constrained_maximum(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    # PyPortfolioOpt #427: max_sharpe failed once sector constraints were added.
    constraints = Constraints(sectors=sectors, sector_caps=CAPS, max_weight=0.25)
    weights = optimize(returns, "max_sharpe", constraints)
    totals = weights.groupby(pd.Series(sectors)).sum()
    for sector, cap in CAPS.items():
        assert totals[sector] <= cap + 1e-8
    assert totals["Staples"] == pytest.approx(0.3, abs=1e-6)  # the cap binds
    oracle = max_sharpe_by_bisection(
        returns.mean().to_numpy(), returns.cov().to_numpy(), constraints.resolve(returns.columns)
    )
    assert weights.attrs["result"].objective == pytest.approx(oracle, rel=1e-6)


def test_max_sharpe_with_sector_caps_agrees_with_pyportfolioopt(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    pypfopt = pytest.importorskip("pypfopt")
    weights = optimize(returns, "max_sharpe", Constraints(sectors=sectors, sector_caps=CAPS))
    frontier = pypfopt.EfficientFrontier(returns.mean(), returns.cov())
    frontier.add_sector_constraints(sectors, {}, CAPS)
    theirs = pd.Series(frontier.max_sharpe(risk_free_rate=0.0)).reindex(returns.columns)
    np.testing.assert_allclose(weights, theirs, atol=1e-4)


def test_max_sharpe_with_turnover_and_costs_is_the_net_sharpe_maximum(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    # PyPortfolioOpt #523/#526: the transformed problem stops being max-Sharpe once other terms
    # are added; #350/#555: no turnover constraint. Both scale with κ here.
    previous = dict.fromkeys(returns.columns, 1 / returns.shape[1])
    constraints = Constraints(
        sectors=sectors,
        sector_caps=CAPS,
        previous_weights=previous,
        turnover_limit=0.15,
        transaction_cost_bps=25.0,
    )
    weights = optimize(returns, "max_sharpe", constraints)
    trades = weights - pd.Series(previous)
    assert 0.5 * trades.abs().sum() <= 0.15 + 1e-8
    oracle = max_sharpe_by_bisection(
        returns.mean().to_numpy(), returns.cov().to_numpy(), constraints.resolve(returns.columns)
    )
    assert weights.attrs["result"].objective == pytest.approx(oracle, rel=1e-6)


def test_max_sharpe_when_every_expected_return_is_below_rf_says_so(returns: pd.DataFrame) -> None:
    # PyPortfolioOpt #468: an obscure solver failure. Here: which asset is best, and the rate.
    with pytest.raises(InfeasibleError, match="no asset's expected return exceeds the risk-free"):
        optimize(returns, "max_sharpe", risk_free_rate=0.01)
    try:
        optimize(returns, "max_sharpe", risk_free_rate=0.01)
    except InfeasibleError as error:
        best = returns.mean().idxmax()
        assert f"highest is {best}" in str(error) and "risk_free_rate 0.01" in str(error)


def test_max_sharpe_long_short_with_no_excess_return_reachable_names_the_cause(
    returns: pd.DataFrame,
) -> None:
    expected = pd.Series(-0.001, index=returns.columns)  # every asset loses the same
    constraints = Constraints(long_only=False, min_weight=-0.2, gross_limit=1.6)
    with pytest.raises(InfeasibleError, match="constraints can all hold, but no portfolio"):
        optimize(returns, "max_sharpe", constraints, expected_returns=expected)


def test_non_psd_covariance_is_repaired_and_reported(returns: pd.DataFrame) -> None:
    covariance = returns.cov()
    eigenvalues, vectors = np.linalg.eigh(covariance.to_numpy())
    eigenvalues[:2] = [-2e-5, -1e-6]  # what pairwise estimates on gappy data produce
    broken = pd.DataFrame(
        (vectors * eigenvalues) @ vectors.T, index=covariance.index, columns=covariance.columns
    )
    with pytest.warns(RuntimeWarning, match="covariance repaired: not positive semi-definite"):
        weights = optimize(returns, "min_variance", covariance=broken)
    result = weights.attrs["result"]
    assert result.psd.repaired and result.psd.n_clipped == 2
    assert result.psd.min_eigenvalue == pytest.approx(-2e-5, rel=1e-6)
    assert any("clipped 2 eigenvalue" in note for note in result.notes)
    assert weights.sum() == pytest.approx(1.0) and (weights >= 0).all()


def test_failing_solver_falls_back_and_says_which_answered(returns: pd.DataFrame) -> None:
    weights = optimize(
        returns,
        "min_variance",
        Constraints(max_weight=0.1),
        solvers=DEFAULT_SOLVERS,  # min_variance's own default starts with OSQP
        solver_options={"CLARABEL": {"max_iter": 1}, "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9}},
    )
    result = weights.attrs["result"]
    assert result.solver == "SCS"
    assert result.attempts[0] == ("CLARABEL", "user_limit")
    assert result.attempts[-1] == ("SCS", "optimal")
    reference = optimize(returns, "min_variance", Constraints(max_weight=0.1))
    np.testing.assert_allclose(weights, reference, atol=1e-4)


def test_inaccurate_answers_are_rejected_and_the_next_solver_is_tried(
    returns: pd.DataFrame,
) -> None:
    weights = optimize(
        returns,
        "max_sharpe",
        Constraints(max_weight=0.1),
        solvers=("CLARABEL", "SCS", "OSQP"),
        solver_options={"CLARABEL": {"max_iter": 1}, "SCS": {"max_iters": 5}},
    )
    result = weights.attrs["result"]
    assert [name for name, _ in result.attempts] == ["CLARABEL", "SCS", "OSQP"]
    assert result.solver == "OSQP"


def test_when_every_solver_fails_the_error_lists_each_one(returns: pd.DataFrame) -> None:
    with pytest.raises(SolverFailedError) as caught:
        optimize(
            returns,
            "min_variance",
            Constraints(max_weight=0.1),
            solvers=("CLARABEL", "NOT_A_SOLVER"),
            solver_options={"CLARABEL": {"max_iter": 1}},
        )
    assert caught.value.attempts == (("CLARABEL", "user_limit"), ("NOT_A_SOLVER", "not installed"))
    assert "CLARABEL: user_limit" in str(caught.value)


def test_infeasible_constraints_name_the_groups_in_conflict(
    returns: pd.DataFrame, sectors: dict[str, str]
) -> None:
    # Riskfolio-Lib #18/#88: None weights. Five Health names at ≥ 4% cannot fit a 10% cap.
    constraints = Constraints(
        min_weight=0.04, max_weight=0.2, sectors=sectors, sector_caps={"Health": 0.1}
    )
    with pytest.raises(ConflictingConstraintsError) as caught:
        optimize(returns, "max_sharpe", constraints)
    assert caught.value.conflicts == ("budget", "min_weight", "sector_caps")
    assert re.search(r"min_weight .*sector_caps \{'Health': .*0\.1", str(caught.value))
    assert "max_weight" not in str(caught.value)


def test_volatility_cap_below_the_minimum_variance_is_named(returns: pd.DataFrame) -> None:
    with pytest.raises(ConflictingConstraintsError) as caught:
        optimize(returns, "max_return", Constraints(target_volatility_annual=0.05))
    assert caught.value.conflicts == ("budget", "target_volatility_annual")


def test_hrp_bounds_hold_inside_the_bisection(returns: pd.DataFrame) -> None:
    # skfolio #141: bounds applied wrongly in HRP. Tight caps and floors, no renormalisation.
    lower = dict(zip(returns.columns, np.linspace(0.0, 0.04, 20), strict=True))
    upper = dict(zip(returns.columns, np.linspace(0.05, 0.09, 20), strict=True))
    for method in ("hrp", "herc"):
        weights = optimize(returns, method, Constraints(min_weight=lower, max_weight=upper))
        assert (weights >= pd.Series(lower) - 1e-12).all()
        assert (weights <= pd.Series(upper) + 1e-12).all()
        assert weights.attrs["result"].sum_before_normalization == pytest.approx(1.0, abs=1e-12)


def test_herc_applies_max_weight(returns: pd.DataFrame) -> None:
    # skfolio #91: HERC ignored max_weights.
    free = optimize(returns, "herc")
    assert free.max() > 0.08
    capped = optimize(returns, "herc", Constraints(max_weight=0.08))
    assert capped.max() <= 0.08 + 1e-12


def test_methods_refuse_constraints_they_cannot_apply(returns: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"method 'risk_parity' cannot apply \['max_weight'\]"):
        optimize(returns, "risk_parity", Constraints(max_weight=0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimize(returns, "hrp", Constraints(max_weight=0.1))
