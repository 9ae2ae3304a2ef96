"""Agreement with skfolio and PyPortfolioOpt on the same inputs: objective 1e-6 rel., weights 1e-4.

The peers are solved with tight Clarabel tolerances so the oracle is at least as accurate as the
tolerance being tested; every comparison recomputes the objective from the weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skfolio import RiskMeasure
from skfolio.cluster import HierarchicalClustering, LinkageMethod
from skfolio.optimization import (
    HierarchicalEqualRiskContribution,
    HierarchicalRiskParity,
    MeanRisk,
    ObjectiveFunction,
    RiskBudgeting,
)
from skfolio.seriation import HierarchicalSeriation

from stocker.core.optimize import Constraints, optimize
from stocker.core.optimize.cvar import portfolio_cvar

pypfopt = pytest.importorskip("pypfopt")
TIGHT = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
WEIGHT_TOL = 1e-4
OBJECTIVE_RTOL = 1e-6


def _agree(
    ours: pd.Series, theirs: np.ndarray, ours_objective: float, theirs_objective: float
) -> None:
    np.testing.assert_allclose(ours.to_numpy(), theirs, rtol=0, atol=WEIGHT_TOL)
    assert abs(ours_objective - theirs_objective) <= OBJECTIVE_RTOL * abs(theirs_objective)


def _variance(weights: np.ndarray, returns: pd.DataFrame) -> float:
    return float(weights @ returns.cov().to_numpy() @ weights)


def _sharpe(weights: np.ndarray, returns: pd.DataFrame) -> float:
    return float(returns.mean().to_numpy() @ weights) / np.sqrt(_variance(weights, returns))


@pytest.mark.parametrize("max_weight", [1.0, 0.1])
def test_min_variance_agrees_with_skfolio_and_pyportfolioopt(
    returns: pd.DataFrame, max_weight: float
) -> None:
    weights = optimize(returns, "min_variance", Constraints(max_weight=max_weight))
    objective = weights.attrs["result"].objective
    skfolio = MeanRisk(max_weights=max_weight, solver_params=TIGHT).fit(returns).weights_
    frontier = pypfopt.EfficientFrontier(
        returns.mean(), returns.cov(), weight_bounds=(0, max_weight)
    )
    pyportfolioopt = pd.Series(frontier.min_volatility()).reindex(returns.columns).to_numpy()
    _agree(weights, skfolio, objective, _variance(skfolio, returns))
    _agree(weights, pyportfolioopt, objective, _variance(pyportfolioopt, returns))


@pytest.mark.parametrize("max_weight", [1.0, 0.1])
def test_max_sharpe_agrees_with_skfolio_and_pyportfolioopt(
    returns: pd.DataFrame, max_weight: float
) -> None:
    weights = optimize(returns, "max_sharpe", Constraints(max_weight=max_weight))
    objective = weights.attrs["result"].objective
    skfolio = (
        MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
            max_weights=max_weight,
            solver_params=TIGHT,
        )
        .fit(returns)
        .weights_
    )
    frontier = pypfopt.EfficientFrontier(
        returns.mean(), returns.cov(), weight_bounds=(0, max_weight)
    )
    raw = frontier.max_sharpe(risk_free_rate=0.0)
    pyportfolioopt = pd.Series(raw).reindex(returns.columns).to_numpy()
    _agree(weights, skfolio, objective, _sharpe(skfolio, returns))
    _agree(weights, pyportfolioopt, objective, _sharpe(pyportfolioopt, returns))


def test_mean_variance_agrees_with_skfolio_and_pyportfolioopt(returns: pd.DataFrame) -> None:
    # Ours and PyPortfolioOpt maximise μᵀw − γ/2·wᵀΣw; skfolio μᵀw − λ·wᵀΣw, so λ = γ/2.
    weights = optimize(returns, "mean_variance", risk_aversion=4.0)
    objective = weights.attrs["result"].objective
    skfolio = (
        MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_UTILITY,
            risk_aversion=2.0,
            solver_params=TIGHT,
        )
        .fit(returns)
        .weights_
    )
    frontier = pypfopt.EfficientFrontier(returns.mean(), returns.cov())
    raw = frontier.max_quadratic_utility(risk_aversion=4.0)
    pyportfolioopt = pd.Series(raw).reindex(returns.columns).to_numpy()

    def utility(w: np.ndarray) -> float:
        return float(returns.mean().to_numpy() @ w) - 2.0 * _variance(w, returns)

    _agree(weights, skfolio, objective, utility(skfolio))
    _agree(weights, pyportfolioopt, objective, utility(pyportfolioopt))


def test_min_cvar_agrees_with_skfolio_and_pyportfolioopt(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "min_cvar", cvar_confidence=0.95)
    objective = weights.attrs["result"].objective
    skfolio = MeanRisk(risk_measure=RiskMeasure.CVAR, solver_params=TIGHT).fit(returns).weights_
    efficient = pypfopt.EfficientCVaR(returns.mean(), returns, beta=0.95)
    pyportfolioopt = pd.Series(efficient.min_cvar()).reindex(returns.columns).to_numpy()
    scenarios = returns.to_numpy()
    _agree(weights, skfolio, objective, portfolio_cvar(scenarios, skfolio))
    _agree(weights, pyportfolioopt, objective, portfolio_cvar(scenarios, pyportfolioopt))


def test_portfolio_cvar_equals_skfolio_measure(returns: pd.DataFrame) -> None:
    from skfolio.measures import cvar

    weights = np.full(returns.shape[1], 1 / returns.shape[1])
    portfolio = returns.to_numpy() @ weights
    assert portfolio_cvar(returns.to_numpy(), weights, 0.95) == pytest.approx(
        cvar(portfolio, beta=0.95), rel=1e-12
    )


def test_risk_parity_agrees_with_skfolio_risk_budgeting(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "risk_parity")
    skfolio = RiskBudgeting(solver_params=TIGHT).fit(returns).weights_
    _agree(weights, skfolio, weights.attrs["result"].objective, _variance(skfolio, returns))


def test_risk_parity_with_budgets_agrees_with_skfolio(returns: pd.DataFrame) -> None:
    budgets = pd.Series(np.linspace(1.0, 3.0, returns.shape[1]), index=returns.columns)
    weights = optimize(returns, "risk_parity", risk_budgets=budgets)
    skfolio = (
        RiskBudgeting(risk_budget=budgets.to_numpy(), solver_params=TIGHT).fit(returns).weights_
    )
    _agree(weights, skfolio, weights.attrs["result"].objective, _variance(skfolio, returns))


def test_hrp_single_linkage_equals_pyportfolioopt_and_skfolio(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "hrp", hrp_convention="condensed", linkage_method="single")
    pyportfolioopt = pd.Series(pypfopt.HRPOpt(returns).optimize("single"))
    seriation = HierarchicalSeriation(
        hierarchical_clustering_estimator=HierarchicalClustering(
            linkage_method=LinkageMethod.SINGLE
        ),
        optimal_ordering=False,
    )
    skfolio = HierarchicalRiskParity(seriation_estimator=seriation).fit(returns).weights_
    np.testing.assert_allclose(weights, pyportfolioopt.reindex(returns.columns), atol=1e-12)
    np.testing.assert_allclose(weights, skfolio, atol=1e-12)


def test_hrp_ward_with_optimal_ordering_equals_skfolio_default(returns: pd.DataFrame) -> None:
    weights = optimize(
        returns, "hrp", hrp_convention="condensed", linkage_method="ward", optimal_ordering=True
    )
    skfolio = HierarchicalRiskParity().fit(returns).weights_
    np.testing.assert_allclose(weights, skfolio, atol=1e-12)


def test_hrp_bounds_match_skfolio_where_its_clipping_is_consistent(returns: pd.DataFrame) -> None:
    # A loose cap never makes skfolio's two sequential clips disagree, so both must match.
    weights = optimize(
        returns,
        "hrp",
        Constraints(max_weight=0.2),
        hrp_convention="condensed",
        linkage_method="single",
    )
    seriation = HierarchicalSeriation(
        hierarchical_clustering_estimator=HierarchicalClustering(
            linkage_method=LinkageMethod.SINGLE
        ),
        optimal_ordering=False,
    )
    skfolio = HierarchicalRiskParity(seriation_estimator=seriation, max_weights=0.2).fit(returns)
    np.testing.assert_allclose(weights, skfolio.weights_, atol=1e-12)


@pytest.mark.parametrize("n_clusters", [3, 6])
def test_herc_equals_skfolio_for_the_same_tree_and_clusters(
    returns: pd.DataFrame, n_clusters: int
) -> None:
    weights = optimize(returns, "herc", n_clusters=n_clusters)
    clustering = HierarchicalClustering(max_clusters=n_clusters, linkage_method=LinkageMethod.WARD)
    skfolio = HierarchicalEqualRiskContribution(hierarchical_clustering_estimator=clustering)
    np.testing.assert_allclose(weights, skfolio.fit(returns).weights_, atol=1e-12)


def test_herc_default_cluster_count_equals_skfolio(returns: pd.DataFrame) -> None:
    weights = optimize(returns, "herc")
    skfolio = HierarchicalEqualRiskContribution().fit(returns)
    assert weights.attrs["result"].solver == (
        f"herc ({skfolio.hierarchical_clustering_estimator_.n_clusters_} clusters)"
    )
    np.testing.assert_allclose(weights, skfolio.weights_, atol=1e-12)


def test_max_return_at_a_volatility_cap_agrees_with_skfolio_and_pyportfolioopt(
    returns: pd.DataFrame,
) -> None:
    daily_cap = 0.22 / np.sqrt(252)
    weights = optimize(returns, "max_return", Constraints(target_volatility_annual=0.22))
    objective = weights.attrs["result"].objective
    frontier = pypfopt.EfficientFrontier(returns.mean(), returns.cov())
    raw = frontier.efficient_risk(target_volatility=daily_cap)
    pyportfolioopt = pd.Series(raw).reindex(returns.columns).to_numpy()
    skfolio = (
        MeanRisk(
            objective_function=ObjectiveFunction.MAXIMIZE_RETURN,
            max_standard_deviation=daily_cap,
            solver_params=TIGHT,
        )
        .fit(returns)
        .weights_
    )
    mean = returns.mean().to_numpy()
    _agree(weights, skfolio, objective, float(mean @ skfolio))
    _agree(weights, pyportfolioopt, objective, float(mean @ pyportfolioopt))


def test_equal_weight_and_inverse_volatility_equal_skfolio(returns: pd.DataFrame) -> None:
    from skfolio.optimization import EqualWeighted, InverseVolatility

    np.testing.assert_allclose(
        optimize(returns, "equal_weight"), EqualWeighted().fit(returns).weights_, atol=1e-15
    )
    np.testing.assert_allclose(
        optimize(returns, "inverse_volatility"),
        InverseVolatility().fit(returns).weights_,
        atol=1e-12,
    )
