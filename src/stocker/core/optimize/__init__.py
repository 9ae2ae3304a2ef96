"""Portfolio construction: one `optimize` entry point over convex, Newton and hierarchical methods.

Pure numerics (numpy, scipy, cvxpy): no database, bus or clock. See docs/optimize.md.
"""

from stocker.core.optimize.api import METHODS, OptimizationResult, optimize, optimize_detailed
from stocker.core.optimize.constraints import ConflictingConstraintsError, Constraints
from stocker.core.optimize.convex import DEFAULT_SOLVERS, ConvexProblem, SolverFailedError
from stocker.core.optimize.expected_returns import CAPM, BlackLitterman, FactorImplied
from stocker.core.optimize.factor_risk import FactorCovariance
from stocker.core.optimize.hrp import Tree, build_tree, hrp_weights
from stocker.core.optimize.risk_parity import risk_budget_weights, risk_contributions

__all__ = [
    "CAPM",
    "DEFAULT_SOLVERS",
    "METHODS",
    "BlackLitterman",
    "ConflictingConstraintsError",
    "Constraints",
    "ConvexProblem",
    "FactorCovariance",
    "FactorImplied",
    "OptimizationResult",
    "SolverFailedError",
    "Tree",
    "build_tree",
    "hrp_weights",
    "optimize",
    "optimize_detailed",
    "risk_budget_weights",
    "risk_contributions",
]
