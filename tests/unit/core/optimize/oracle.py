"""An independent maximum-Sharpe oracle: bisection on the Sharpe level, no homogenisation.

Sharpe level s is attainable iff max over the constraint set of μᵀw − costᵀ|w − w₀| − s·‖Fw‖ ≥ 0
(a concave maximisation, built from constants each time). Bisection on s gives the constrained
maximum Sharpe ratio to `tolerance`, by a route that shares no algebra with the optimizer.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from stocker.core.optimize.constraints import ResolvedConstraints


def max_sharpe_by_bisection(
    mu: np.ndarray,
    covariance: np.ndarray,
    constraints: ResolvedConstraints,
    tolerance: float = 1e-10,
) -> float:
    factor = np.linalg.cholesky(covariance).T
    weights = cp.Variable(len(mu))
    level = cp.Parameter(nonneg=True)
    trades = weights - constraints.previous
    rules = [
        cp.sum(weights) == 1,
        weights >= constraints.lower,
        weights <= constraints.upper,
    ]
    if constraints.sector_names:
        rules.append(constraints.sector_matrix @ weights <= constraints.sector_caps)
    if constraints.turnover_limit is not None:
        rules.append(0.5 * cp.norm1(trades) <= constraints.turnover_limit)
    if constraints.gross_limit is not None:
        rules.append(cp.norm1(weights) <= constraints.gross_limit)
    net = mu @ weights - constraints.cost @ cp.abs(trades)
    problem = cp.Problem(cp.Maximize(net - level * cp.norm(factor @ weights, 2)), rules)
    low, high = 0.0, float(np.max(mu / np.sqrt(np.diag(covariance)))) * 10 + 1.0
    while high - low > tolerance * max(1.0, high):
        level.value = (low + high) / 2
        problem.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        if problem.value >= 0:
            low = float(level.value)
        else:
            high = float(level.value)
    return low
