"""Risk budgeting (equal risk contribution by default) by Newton's method, no general solver.

The budgeted portfolio is the normalised minimiser of the strictly convex
f(x) = ½ xᵀΣx − Σ bᵢ log xᵢ over x > 0 (Spinu 2013; Roncalli 2013, ch. 2): at the optimum
xᵢ(Σx)ᵢ = bᵢ, so risk contributions are proportional to the budgets. f is self-concordant, so the
damped Newton step x ← x − Δ/(1 + λ) keeps x > 0 and converges quadratically once λ < ¼;
a few dozen n×n solves at most, no cvxpy. (Only uncorrelated assets have a closed form,
wᵢ ∝ √bᵢ/σᵢ; a test checks that Newton reproduces it.)
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from stocker.core.errors import DataError, StockerError


def risk_contributions(weights: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Each asset's share of portfolio variance, wᵢ(Σw)ᵢ / wᵀΣw; they sum to 1."""
    marginal = covariance @ weights
    total = float(weights @ marginal)
    return weights * marginal / total


def risk_budget_weights(
    covariance: np.ndarray,
    budgets: np.ndarray | None = None,
    tolerance: float = 1e-10,
    max_iterations: int = 100,
) -> tuple[np.ndarray, int]:
    """Long-only weights whose risk contributions equal `budgets`; returns (weights, iterations).

    Stops when every risk contribution is within `tolerance` (relative) of its budget:
    max |xᵢ(Σx)ᵢ/bᵢ − 1| ≤ tolerance, which is the stationarity condition itself.
    """
    covariance = np.asarray(covariance, dtype=np.float64)
    n_assets = covariance.shape[0]
    if budgets is None:
        budgets = np.full(n_assets, 1.0 / n_assets)
    budgets = np.asarray(budgets, dtype=np.float64)
    if budgets.shape != (n_assets,) or np.any(budgets <= 0) or not np.all(np.isfinite(budgets)):
        raise DataError(
            f"risk_budgets: expected {n_assets} positive finite numbers, got {budgets!r}"
        )
    budgets = budgets / budgets.sum()
    variances = np.diag(covariance)
    if np.any(variances <= 0):
        bad = np.flatnonzero(variances <= 0).tolist()
        raise DataError(f"covariance: assets {bad} have variance <= 0, expected > 0")
    # Start from the budgets scaled by inverse volatility, sized so xᵀΣx = Σb (the optimum's).
    x = budgets / np.sqrt(variances)
    x *= np.sqrt(budgets.sum() / float(x @ covariance @ x))
    for iteration in range(1, max_iterations + 1):
        marginal = covariance @ x
        if float(np.max(np.abs(x * marginal / budgets - 1.0))) <= tolerance:
            return x / x.sum(), iteration
        gradient = marginal - budgets / x
        hessian = covariance + np.diag(budgets / x**2)
        step = linalg.cho_solve(linalg.cho_factor(hessian, check_finite=False), gradient)
        decrement = float(np.sqrt(max(gradient @ step, 0.0)))
        x = x - step / (1.0 + decrement) if decrement > 0.25 else x - step
    raise StockerError(
        f"risk_parity: Newton did not reach tolerance {tolerance:g} in {max_iterations} "
        "iterations; the covariance may be singular"
    )
