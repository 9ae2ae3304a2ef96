"""The expected returns a convex method is given, turned into one μ per symbol.

`optimize` takes a Series, a named mode or a model object; resolving and checking them is a
subject of its own, kept apart from the dispatch over methods.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from stocker.core.covariance import EWMACovariance
from stocker.core.errors import DataError
from stocker.core.optimize.expected_returns import (
    CAPM,
    BlackLitterman,
    ExpectedReturnModel,
    FactorImplied,
)

ExpectedReturns = (
    pd.Series
    | Literal["historical_mean", "ewma_mean", "capm", "historical", "ewma"]
    | ExpectedReturnModel
    | None
)
EXPECTED_RETURN_MODES = ("historical_mean", "ewma_mean", "capm")
# The lab's and the CLI's short spellings of the same modes.
MODE_ALIASES = {"historical": "historical_mean", "ewma": "ewma_mean"}
# Modes that cannot be named alone: the model object carries what they need.
_MODELS_WITH_INPUTS = {
    "black_litterman": "views and market caps or a prior: BlackLitterman(...)",
    "factor_implied": "a score per symbol and a spread: FactorImplied(...)",
}


def _expected_returns(
    returns: pd.DataFrame,
    expected: ExpectedReturns,
    sigma: np.ndarray,
    method: str,
) -> np.ndarray | None:
    """μ per period: a given Series, a named mode, or a model (CAPM, FactorImplied, BL)."""
    if isinstance(expected, str):
        expected = MODE_ALIASES.get(expected.strip(), expected.strip())  # type: ignore[assignment]
    if isinstance(expected, pd.Series):
        return _aligned(expected, returns)
    if isinstance(expected, CAPM | FactorImplied | BlackLitterman):
        return _finite(expected.estimate(returns, sigma))
    if method == "min_variance" or method == "min_cvar":
        return None
    if expected is None or expected == "historical_mean":
        return returns.to_numpy().mean(axis=0)
    if isinstance(expected, str):
        if expected == "ewma_mean":
            return np.asarray(EWMACovariance(halflife_days=63).fit(returns).location_)
        if expected == "capm":
            return _finite(CAPM().estimate(returns, sigma))
        if expected in _MODELS_WITH_INPUTS:
            raise DataError(
                f"expected_returns: {expected!r} needs its inputs "
                f"({_MODELS_WITH_INPUTS[expected]}): pass a model object instead of the name"
            )
        raise DataError(
            f"expected_returns: got {expected!r}, expected a Series, one of "
            f"{EXPECTED_RETURN_MODES}, or CAPM / FactorImplied / BlackLitterman"
        )
    raise DataError(f"expected_returns: got {type(expected).__name__}, expected a Series or a mode")


def _finite(values: np.ndarray) -> np.ndarray:
    if not np.isfinite(values).all():
        raise DataError("expected_returns: the model gave non-finite values (check its inputs)")
    return values


def _aligned(expected: pd.Series, returns: pd.DataFrame) -> np.ndarray:
    missing = [s for s in returns.columns if s not in expected.index]
    if missing:
        raise DataError(f"expected_returns: no value for {missing[:10]}")
    values = expected.reindex(returns.columns).to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise DataError("expected_returns: expected finite numbers")
    return values
