"""The constraint groups of a convex portfolio problem, by name.

Named groups are what the conflict search drops one at a time, so they are built here for both
`ConvexProblem` and `conflicts.find_conflicts`; with a scale κ (the homogenised max-Sharpe
problem) every constant side is multiplied by κ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cvxpy as cp
import numpy as np

from stocker.core.optimize.constraints import ResolvedConstraints

if TYPE_CHECKING:
    from stocker.core.optimize.convex import ConvexProblem


def build_groups(
    problem: ConvexProblem,
    weights: cp.Variable,
    scale: cp.Variable | None,
    constraints: ResolvedConstraints,
    skip: frozenset[str] = frozenset(),
) -> tuple[dict[str, list[cp.Constraint]], cp.Expression]:
    """Constraint groups over `weights`; with `scale` (κ) every constant side is multiplied by κ."""

    def times(value: cp.Expression) -> cp.Expression:
        if scale is None:
            return value
        return cp.multiply(value, scale)

    one = 1.0 if scale is None else scale
    groups: dict[str, list[cp.Constraint]] = {"budget": [cp.sum(weights) == one]}
    if "min_weight" not in skip:
        groups["min_weight"] = [weights >= times(problem.lower)]
    if "max_weight" not in skip:
        groups["max_weight"] = [weights <= times(problem.upper)]
    if constraints.gross_limit is not None and "gross_limit" not in skip:
        groups["gross_limit"] = [cp.norm1(weights) <= times(problem.gross)]
    if constraints.sector_names and "sector_caps" not in skip:
        groups["sector_caps"] = [problem.sector_matrix @ weights <= times(problem.sector_caps)]
    if constraints.factor_names and "factor_bounds" not in skip:
        exposure = problem.factor_matrix @ weights
        groups["factor_bounds"] = [
            exposure >= times(problem.factor_lower),
            exposure <= times(problem.factor_upper),
        ]
    if constraints.max_beta is not None and "max_beta" not in skip:
        groups["max_beta"] = [problem.betas @ weights <= times(problem.max_beta)]
    if constraints.volatility_per_period is not None and "target_volatility_annual" not in skip:
        groups["target_volatility_annual"] = [
            cp.norm(problem.risk_root(weights), 2) <= times(problem.volatility)
        ]
    trade_cost: cp.Expression = cp.Constant(0.0)
    if constraints.has_trades:
        # Δw is its own variable so costᵀ|Δw| stays DPP (parameter × parameter-free expression).
        trades = cp.Variable(weights.shape[0], name="trades")
        groups["trades"] = [trades == weights - times(problem.previous)]
        if constraints.turnover_limit is not None and "turnover_limit" not in skip:
            groups["turnover_limit"] = [0.5 * cp.norm1(trades) <= times(problem.turnover)]
        if constraints.per_asset_turnover_limit is not None and (
            "per_asset_turnover_limit" not in skip
        ):
            groups["per_asset_turnover_limit"] = [cp.abs(trades) <= times(problem.asset_turnover)]
        if np.any(constraints.cost > 0):
            trade_cost = problem.cost @ cp.abs(trades)
    return groups, trade_cost
