"""How `optimize` runs a convex method on a `ConvexProblem`.

The compiled problem for a constraint structure is kept in a small per-process cache and
reused; an infeasible answer is turned into the constraints in conflict; solver round-off is
clipped and checked; the objective is recomputed from the weights.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from stocker.core.errors import InfeasibleError
from stocker.core.optimize.conflicts import raise_conflicts
from stocker.core.optimize.constraints import ResolvedConstraints
from stocker.core.optimize.convex import DEFAULT_SOLVERS, ConvexProblem, SolverFailedError
from stocker.core.optimize.cvar import portfolio_cvar
from stocker.core.optimize.factor_risk import FactorCovariance

_CACHE_SIZE = 8


class _ThreadProblems(threading.local):
    """Compiled problems per thread: a cached problem's parameters (and the solvers' state)
    are written on every solve, so two threads — a Dask worker running tasks in threads, a
    threaded web server — must never share one."""

    def __init__(self) -> None:
        self.problems: OrderedDict[tuple[object, ...], ConvexProblem] = OrderedDict()

    def get(self, key: tuple[object, ...]) -> ConvexProblem | None:
        return self.problems.get(key)

    def __setitem__(self, key: tuple[object, ...], problem: ConvexProblem) -> None:
        self.problems[key] = problem

    def __len__(self) -> int:
        return len(self.problems)

    def popitem(self, last: bool = True) -> tuple[tuple[object, ...], ConvexProblem]:
        return self.problems.popitem(last=last)

    def move_to_end(self, key: tuple[object, ...]) -> None:
        self.problems.move_to_end(key)

    def values(self) -> list[ConvexProblem]:
        return list(self.problems.values())

    def clear(self) -> None:
        self.problems.clear()


_PROBLEMS = _ThreadProblems()


def _problem(
    method: str,
    resolved: ResolvedConstraints,
    n_scenarios: int,
    confidence: float,
    risk_factors: int | None = None,
) -> ConvexProblem:
    """The compiled problem for this structure, built on first use and then reused."""
    key = (method, resolved.structure(), n_scenarios, confidence, risk_factors)
    problem = _PROBLEMS.get(key)
    if problem is None:
        problem = ConvexProblem(method, resolved, n_scenarios, confidence, risk_factors)
        _PROBLEMS[key] = problem
        while len(_PROBLEMS) > _CACHE_SIZE:
            _PROBLEMS.popitem(last=False)
    _PROBLEMS.move_to_end(key)
    return problem


def _convex(
    method: str,
    resolved: ResolvedConstraints,
    sigma: np.ndarray,
    mu: np.ndarray | None,
    returns: pd.DataFrame,
    risk_free_rate: float,
    risk_aversion: float,
    confidence: float,
    solvers: Sequence[str] | None,
    solver_options: Mapping[str, Mapping[str, object]] | None,
    factor: FactorCovariance | None = None,
) -> tuple[np.ndarray, str, list[tuple[str, str]], str]:
    if method == "max_sharpe" and mu is not None and resolved.lower.min() >= 0:
        best = int(np.argmax(mu))
        if mu[best] <= risk_free_rate:
            raise InfeasibleError(
                f"max_sharpe: no asset's expected return exceeds the risk-free rate "
                f"(highest is {resolved.symbols[best]} at {mu[best]:.6g} <= risk_free_rate "
                f"{risk_free_rate:.6g}); a long-only maximum-Sharpe portfolio does not exist — "
                "use min_variance, or a lower risk_free_rate"
            )
    scenarios = returns.to_numpy(dtype=np.float64) if method == "min_cvar" else None
    n_scenarios = 0 if scenarios is None else scenarios.shape[0]
    if method == "min_cvar":
        factor = None  # CVaR reads the scenarios, not the covariance
    problem = _problem(
        method, resolved, n_scenarios, confidence, None if factor is None else factor.n_factors
    )
    problem.set_values(
        sigma if factor is None else factor, resolved, mu, risk_free_rate, risk_aversion, scenarios
    )
    try:
        outcome = problem.solve(solvers, solver_options)
    except InfeasibleError:
        raise_conflicts(method, resolved, sigma, solvers or DEFAULT_SOLVERS)
        if method == "max_sharpe":
            raise InfeasibleError(
                "max_sharpe: the constraints can all hold, but no portfolio satisfying them has "
                f"expected return (net of costs) above risk_free_rate {risk_free_rate:.6g}"
            ) from None
        raise
    names = {
        "min_variance": "variance",
        "max_sharpe": "sharpe_ratio",
        "mean_variance": "utility",
        "max_return": "expected_return",
        "min_cvar": "cvar",
    }
    return outcome.weights, outcome.solver, outcome.attempts, names[method]


def _finish(
    raw: np.ndarray, resolved: ResolvedConstraints, sigma: np.ndarray, long_only: bool, method: str
) -> np.ndarray:
    """Clip solver round-off below zero (long-only), renormalise, and refuse visible violations."""
    weights = np.clip(raw, 0.0, None) if long_only else raw.copy()
    weights = weights / weights.sum()
    violations = resolved.violations(weights, sigma, tol=1e-6)
    if violations:
        raise SolverFailedError(
            f"{method}: the solver's answer breaks {violations} by more than 1e-6", []
        )
    return weights


def _objective(
    method: str,
    weights: np.ndarray,
    sigma: np.ndarray,
    mu: np.ndarray | None,
    resolved: ResolvedConstraints,
    risk_free_rate: float,
    risk_aversion: float,
    scenarios: np.ndarray,
    confidence: float,
) -> float:
    """The objective recomputed from the weights (not the solver's scaled value)."""
    variance = float(weights @ sigma @ weights)
    cost = float(resolved.cost @ np.abs(weights - resolved.previous))
    ret = float(mu @ weights) if mu is not None else 0.0
    if method == "min_variance":
        return variance + cost
    if method == "max_sharpe":
        return (ret - risk_free_rate - cost) / np.sqrt(variance)
    if method == "mean_variance":
        return ret - risk_aversion / 2 * variance - cost
    if method == "max_return":
        return ret - cost
    return portfolio_cvar(scenarios, weights, confidence) + cost
