"""The solver fallback sequence: each installed solver in turn, and how each one did.

Shared by every convex problem and by the conflict search, so it stands apart from the
problem's formulation. An "optimal" answer that breaks a constraint counts as a failure.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence

import cvxpy as cp

from stocker.core.errors import StockerError

DEFAULT_SOLVERS = ("CLARABEL", "SCS", "ECOS", "OSQP")
# Stocker's own warm-started active-set solver for maximum Sharpe (`active_set`), always present.
ACTIVE_SET = "ACTIVE_SET"
_OPTIMAL = (cp.OPTIMAL,)
_INFEASIBLE = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)


class SolverFailedError(StockerError):
    """Every solver in the fallback sequence failed; `attempts` says how each one did."""

    def __init__(self, message: str, attempts: Sequence[tuple[str, str]]) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)


def solve_with_fallback(
    problem: cp.Problem,
    solvers: Sequence[str] = DEFAULT_SOLVERS,
    solver_options: Mapping[str, Mapping[str, object]] | None = None,
    check: Callable[[], str | None] | None = None,
    run: Callable[[str, dict[str, object]], str] | None = None,
) -> tuple[str, str, list[tuple[str, str]]]:
    """Try each installed solver in order until one answers; return (status, solver, attempts).

    An "optimal" answer that `check` rejects (e.g. SCS at its default accuracy breaking a bound
    by 1e-5) counts as a failure and the next solver is tried.
    """
    installed = _installed()
    attempts: list[tuple[str, str]] = []
    for solver in solvers:
        if solver not in installed:
            attempts.append((solver, "not installed"))
            continue
        options = dict((solver_options or {}).get(solver, {}))
        options.setdefault("warm_start", True)
        try:
            with warnings.catch_warnings():
                # "Solution may be inaccurate" is recorded in `attempts` instead.
                warnings.simplefilter("ignore", UserWarning)
                # cvxpy reads the sparse factor densely when it compiles without DPP; harmless.
                warnings.filterwarnings("ignore", "Reading from a sparse CVXPY", RuntimeWarning)
                if run is None:
                    problem.solve(solver=solver, **options)
                    status = str(problem.status)
                else:
                    status = run(solver, options)
        except (cp.error.SolverError, ValueError, ArithmeticError) as error:
            attempts.append((solver, f"error: {str(error).splitlines()[0][:120]}"))
            continue
        reason = check() if check is not None and status in _OPTIMAL else None
        if reason is not None:
            attempts.append((solver, f"rejected: {reason}"))
            continue
        attempts.append((solver, status))
        if status in _OPTIMAL or status in _INFEASIBLE:
            return status, solver, attempts
    return "failed", "", attempts


def _polished(problem: cp.Problem, solver: str, options: Mapping[str, object]) -> str:
    """The status, except that an OSQP answer whose polishing failed is only ADMM-accurate:
    refused when ADMM stopped looser than 1e-8 (the 1e-6 constraint check applies anyway)."""
    tolerances = (options.get("eps_abs", 1e-5), options.get("eps_rel", 1e-5))
    loose = any(not isinstance(eps, float | int) or eps > 1e-8 for eps in tolerances)
    status = str(problem.status)
    if solver == "OSQP" and status == cp.OPTIMAL:
        info = getattr(problem.solver_stats.extra_stats, "info", None)
        if info is not None and getattr(info, "status_polish", 1) != 1 and loose:
            return "unpolished (polishing failed; ADMM accuracy only)"
    return status


@functools.cache
def _installed() -> frozenset[str]:
    """cvxpy's installed solvers and Stocker's own active-set solver (always present)."""
    return frozenset(cp.installed_solvers()) | {ACTIVE_SET}


def describe_attempts(attempts: Sequence[tuple[str, str]]) -> str:
    return "; ".join(f"{solver}: {outcome}" for solver, outcome in attempts)
