"""Risk parity, HRP and HERC: the methods solved by Newton's method or over a clustering tree.

They need no convex solver; `optimize` hands them the covariance and the bounds and gets back
raw weights with how they were found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from stocker.core.covariance import correlation_from_covariance
from stocker.core.errors import DataError
from stocker.core.optimize.constraints import ResolvedConstraints
from stocker.core.optimize.expected_return_inputs import _aligned
from stocker.core.optimize.herc import herc_weights, optimal_cluster_count
from stocker.core.optimize.hrp import Convention, Tree, build_tree, hrp_weights
from stocker.core.optimize.inputs import zero_variance_symbols
from stocker.core.optimize.risk_parity import risk_budget_weights


def _heuristic(
    method: str,
    sigma: np.ndarray,
    symbols: list[str],
    resolved: ResolvedConstraints,
    risk_budgets: pd.Series | None,
    tree: Tree | None,
    convention: Convention | None,
    linkage_method: str | None,
    optimal_ordering: bool,
    n_clusters: int | None,
) -> tuple[np.ndarray, str, Tree | None, str]:
    name = {"risk_parity": "risk parity", "hrp": "HRP", "herc": "HERC"}[method]
    flat = zero_variance_symbols(sigma, symbols)
    if flat:
        raise DataError(
            f"returns: zero variance for {flat[:10]} (returns that never move: stale prices, a "
            f"suspension, or cash); {name} divides by each asset's volatility, expected > 0 "
            "(drop them or use a convex method such as 'min_variance')"
        )
    if method != "risk_parity" and len(symbols) < 2:
        raise DataError(f"returns: {name} needs at least 2 assets, got {len(symbols)}")
    if method == "risk_parity":
        budgets = None
        if risk_budgets is not None:
            budgets = _aligned(risk_budgets, pd.DataFrame(columns=symbols))
        weights, iterations = risk_budget_weights(sigma, budgets)
        return weights, f"newton ({iterations} iterations)", None, "variance"
    correlation = correlation_from_covariance(sigma)
    if convention is None:
        convention = "lopez_de_prado" if method == "hrp" else "condensed"
    if linkage_method is None:
        linkage_method = "single" if method == "hrp" else "ward"
    if tree is None:
        tree = build_tree(correlation, symbols, convention, linkage_method, optimal_ordering)
    elif list(tree.labels) != symbols:
        raise DataError(
            f"tree: labels {list(tree.labels)[:5]}… differ from the returns' symbols "
            f"{symbols[:5]}…; expected a tree built for this universe"
        )
    if method == "hrp":
        weights = hrp_weights(sigma, tree, resolved.lower, resolved.upper)
        return weights, "bisection", tree, "variance"
    clusters = n_clusters or optimal_cluster_count(correlation, tree)
    weights = herc_weights(sigma, tree, clusters, resolved.lower, resolved.upper)
    return weights, f"herc ({clusters} clusters)", tree, "variance"
