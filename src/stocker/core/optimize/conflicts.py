"""Which constraint groups are in conflict: a deletion filter over the feasibility problem."""

from __future__ import annotations

from collections.abc import Sequence

import cvxpy as cp
import numpy as np

from stocker.core.optimize.constraints import ConflictingConstraintsError, ResolvedConstraints
from stocker.core.optimize.convex import (
    _INFEASIBLE,
    DEFAULT_SOLVERS,
    ConvexProblem,
    SolverFailedError,
    build_groups,
    describe_attempts,
    solve_with_fallback,
)


def find_conflicts(
    constraints: ResolvedConstraints,
    covariance: np.ndarray,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
) -> list[str]:
    """A smallest set of constraint groups that cannot hold together (deletion filter).

    Start from every group; drop one group at a time and keep it dropped if what remains is still
    infeasible. What survives is irreducible: removing any one of its groups restores feasibility.
    Returns [] when the constraints are feasible.
    """
    probe = ConvexProblem("min_variance", constraints)
    probe.set_values(covariance, constraints)
    candidates = [name for name in probe.groups if name not in ("budget", "trades")]
    if _feasible(probe, constraints, frozenset(), solvers):
        return []
    dropped: set[str] = set()
    for name in candidates:
        if not _feasible(probe, constraints, frozenset(dropped | {name}), solvers):
            dropped.add(name)
    return [name for name in candidates if name not in dropped]


def _feasible(
    probe: ConvexProblem,
    constraints: ResolvedConstraints,
    skip: frozenset[str],
    solvers: Sequence[str],
) -> bool:
    weights = cp.Variable(probe.n_assets)
    groups, _ = build_groups(probe, weights, None, constraints, skip)
    problem = cp.Problem(cp.Minimize(0), [item for group in groups.values() for item in group])
    status, _, attempts = solve_with_fallback(problem, solvers)
    if status == "failed":
        raise SolverFailedError(
            f"feasibility check failed ({describe_attempts(attempts)})", attempts
        )
    return status not in _INFEASIBLE


def describe_conflict(constraints: ResolvedConstraints, conflicts: Sequence[str]) -> str:
    """A sentence naming each conflicting group with its values."""
    parts = []
    for name in conflicts:
        if name == "min_weight":
            parts.append(f"min_weight (sum of minimums {constraints.lower.sum():.4g})")
        elif name == "max_weight":
            parts.append(f"max_weight (sum of maximums {constraints.upper.sum():.4g})")
        elif name == "sector_caps":
            caps = {
                name: float(cap)
                for name, cap in zip(
                    constraints.sector_names, constraints.sector_caps.round(4), strict=True
                )
            }
            parts.append(f"sector_caps {caps}")
        elif name == "factor_bounds":
            parts.append(f"factor_bounds on {list(constraints.factor_names)}")
        elif name == "gross_limit":
            parts.append(f"gross_limit {constraints.gross_limit}")
        elif name == "max_beta":
            parts.append(f"max_beta {constraints.max_beta}")
        elif name == "target_volatility_annual":
            parts.append("target_volatility_annual")
        elif name == "turnover_limit":
            parts.append(f"turnover_limit {constraints.turnover_limit}{_previous_sum(constraints)}")
        elif name == "per_asset_turnover_limit":
            limit = constraints.per_asset_turnover_limit
            parts.append(f"per_asset_turnover_limit {limit}{_previous_sum(constraints)}")
        else:
            parts.append(name)
    return ", ".join(parts)


def _previous_sum(constraints: ResolvedConstraints) -> str:
    """Why a turnover limit may be unreachable: the previous weights do not sum to 1."""
    total = float(constraints.previous.sum())
    if abs(total - 1.0) <= 1e-6:
        return ""
    return (
        f" (the previous weights sum to {total:.6g}, not 1, so reaching a fully invested "
        f"portfolio trades at least {abs(total - 1.0) / 2:.4g} one-way)"
    )


def raise_conflicts(
    method: str,
    constraints: ResolvedConstraints,
    covariance: np.ndarray,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
) -> None:
    """Raise ConflictingConstraintsError naming the groups in conflict, if there is one."""
    conflicts = find_conflicts(constraints, covariance, solvers)
    if conflicts:
        raise ConflictingConstraintsError(
            f"{method}: the constraints cannot all hold; in conflict (weights sum to 1 with): "
            f"{describe_conflict(constraints, conflicts)}",
            ["budget", *conflicts],
        )
