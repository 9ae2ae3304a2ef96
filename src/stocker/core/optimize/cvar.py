"""Conditional value at risk of historical scenarios (Rockafellar & Uryasev 2000).

The minimum-CVaR problem itself is in `convex.py` (it shares the constraint groups); this module
evaluates CVaR exactly, so a reported objective is recomputed from the weights rather than read
back from a solver's tolerance.
"""

from __future__ import annotations

import numpy as np

from stocker.core.errors import DataError


def portfolio_cvar(scenarios: np.ndarray, weights: np.ndarray, confidence: float = 0.95) -> float:
    """min over α of α + E[(loss − α)⁺]/(1 − β): the LP's optimal value, positive for a loss.

    The function is piecewise linear and convex in α, so its minimum is at one of the losses;
    all of them are evaluated at once from sorted suffix sums.
    """
    if not 0.0 < confidence < 1.0:
        raise DataError(f"cvar_confidence: got {confidence}, expected a number in (0, 1)")
    losses = np.sort(-(np.asarray(scenarios, dtype=np.float64) @ weights))
    n_scenarios = losses.size
    suffix = np.cumsum(losses[::-1])[::-1]
    beyond = n_scenarios - np.arange(n_scenarios)
    # For α = losses[j], Σ(loss − α)⁺ over the scenarios above it (ties contribute zero).
    excess = suffix - beyond * losses
    values = losses + excess / ((1.0 - confidence) * n_scenarios)
    return float(values.min())
