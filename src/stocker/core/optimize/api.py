"""`optimize(returns, method=…, constraints=…, expected_returns=…) -> pandas.Series`.

One entry point over every method. The covariance is estimated (sample, ddof=1, unless another
estimator or a matrix is given), checked for positive semi-definiteness and repaired with a
warning and a report when it is not. Convex methods reuse a compiled DPP problem per
(method, constraint structure); closed forms, Newton and bisection need no solver. A failure
raises: `InfeasibleError` (naming the constraints in conflict), `SolverFailedError` (naming every
solver tried), `DataError` (naming the input) — never a silent fallback to equal weights.

This module checks the inputs and dispatches; the convex path is in `convex_solve`, risk parity
and the trees in `heuristic`, the expected-return inputs in `expected_return_inputs`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from stocker.core.covariance import PsdReport, SampleCovariance, repair_psd
from stocker.core.errors import DataError
from stocker.core.optimize.constraints import Constraints
from stocker.core.optimize.convex import CONVEX_METHODS
from stocker.core.optimize.convex_solve import _PROBLEMS as _PROBLEMS  # cleared by tests, bench
from stocker.core.optimize.convex_solve import _convex, _finish, _objective
from stocker.core.optimize.expected_return_inputs import ExpectedReturns, _expected_returns
from stocker.core.optimize.factor_risk import FactorCovariance
from stocker.core.optimize.heuristic import _heuristic
from stocker.core.optimize.hrp import Convention, Tree
from stocker.core.optimize.inputs import (
    check_expected_inputs,
    checked_returns,
    checked_symbols,
    rank_note,
    unmatched_sector_caps,
    zero_variance_note,
)
from stocker.core.optimize.risk_parity import risk_contributions

Method = Literal[
    "equal_weight",
    "inverse_volatility",
    "min_variance",
    "max_sharpe",
    "mean_variance",
    "max_return",
    "risk_parity",
    "hrp",
    "herc",
    "min_cvar",
]
METHODS: tuple[str, ...] = (
    "equal_weight",
    "inverse_volatility",
    "min_variance",
    "max_sharpe",
    "mean_variance",
    "max_return",
    "risk_parity",
    "hrp",
    "herc",
    "min_cvar",
)
# Constraint fields each non-convex method honours; anything else set is refused, not ignored.
_SUPPORTED = {
    "equal_weight": frozenset[str](),
    "inverse_volatility": frozenset[str](),
    "risk_parity": frozenset[str](),
    "hrp": frozenset({"min_weight", "max_weight"}),
    "herc": frozenset({"min_weight", "max_weight"}),
}
# Methods whose weights need no n×n covariance (see `_without_covariance`).
_NO_COVARIANCE = frozenset({"equal_weight", "inverse_volatility"})


class CovarianceEstimator(Protocol):
    """Anything in the scikit-learn shape: `fit(returns)` then `covariance_`."""

    def fit(self, returns: pd.DataFrame) -> CovarianceEstimator: ...


@dataclass(frozen=True)
class OptimizationResult:
    """Weights and everything needed to audit them."""

    weights: pd.Series
    method: str
    solver: str
    objective: float
    objective_name: str
    sum_before_normalization: float
    psd: PsdReport
    attempts: tuple[tuple[str, str], ...] = ()
    tree: Tree | None = None
    risk_contributions: pd.Series | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    max_violation: float = 0.0
    """Largest amount any constraint is broken by in the returned weights (accuracy)."""


def optimize(
    returns: pd.DataFrame,
    method: Method = "min_variance",
    constraints: Constraints | None = None,
    expected_returns: ExpectedReturns = None,
    **options: object,
) -> pd.Series:
    """Weights indexed by symbol; `weights.attrs["result"]` holds the `OptimizationResult`.

    `options` are those of `optimize_detailed` (covariance, risk_free_rate, risk_aversion, …).
    """
    result = optimize_detailed(returns, method, constraints, expected_returns, **options)  # type: ignore[arg-type]
    weights = result.weights.copy()
    weights.attrs["result"] = result
    return weights


def optimize_detailed(
    returns: pd.DataFrame,
    method: Method = "min_variance",
    constraints: Constraints | None = None,
    expected_returns: ExpectedReturns = None,
    *,
    covariance: pd.DataFrame | FactorCovariance | None = None,
    covariance_estimator: CovarianceEstimator | None = None,
    risk_free_rate: float = 0.0,
    risk_aversion: float = 1.0,
    risk_budgets: pd.Series | None = None,
    tree: Tree | None = None,
    hrp_convention: Convention | None = None,
    linkage_method: str | None = None,
    optimal_ordering: bool = False,
    n_clusters: int | None = None,
    cvar_confidence: float = 0.95,
    solvers: Sequence[str] | None = None,
    solver_options: Mapping[str, Mapping[str, object]] | None = None,
) -> OptimizationResult:
    """Optimise and return the weights with the solver used, objective, PSD report and notes.

    Units are per period of `returns` (daily returns → daily `risk_free_rate`); the
    volatility cap is annual (`Constraints.periods_per_year`). Tree defaults follow the papers:
    HRP the López de Prado convention with single linkage, HERC the condensed distance with
    Ward linkage (Raffinot 2017). `solvers=None` takes each method's default sequence
    (`convex.default_solvers`: polished OSQP first for plain QPs, Clarabel first otherwise);
    `expected_returns` also takes "capm" or a `CAPM` / `FactorImplied` / `BlackLitterman` model.
    """
    if method not in METHODS:
        raise DataError(f"method: got {method!r}, expected one of {METHODS}")
    returns = checked_returns(returns)
    symbols = checked_symbols(returns.columns)
    constraints = constraints or Constraints()
    _refuse_unsupported(method, constraints)
    unmatched = unmatched_sector_caps(constraints.sector_caps, constraints.sectors, symbols)
    if unmatched:
        present = sorted({constraints.sectors[s] for s in symbols if s in constraints.sectors})
        raise DataError(
            f"sector_caps: {', '.join(map(repr, unmatched))} is the sector of no asset in the "
            f"returns (their sectors: {', '.join(present)}); a typo, most likely"
        )
    check_expected_inputs(expected_returns, returns, constraints.periods_per_year)
    if method in _NO_COVARIANCE:
        return _without_covariance(method, returns, covariance, covariance_estimator, symbols)
    factor = covariance if isinstance(covariance, FactorCovariance) else None
    if factor is not None:
        sigma, psd = _factor_matrix(factor, symbols)
    else:
        sigma, psd = _covariance(returns, covariance, covariance_estimator, symbols)  # type: ignore[arg-type]
    notes = [psd.reason] if psd.repaired else []
    if covariance is None and covariance_estimator is None:
        note = rank_note(returns.to_numpy(dtype=np.float64), symbols)
        notes += [note] if note else []
    resolved = constraints.resolve(symbols)
    if method in CONVEX_METHODS:
        mu = _expected_returns(returns, expected_returns, sigma, method)
        raw, solver, attempts, objective_name = _convex(
            method, resolved, sigma, mu, returns, risk_free_rate, risk_aversion,
            cvar_confidence, solvers, solver_options, factor,
        )  # fmt: skip
        weights = _finish(raw, resolved, sigma, constraints.long_only, method)
        objective = _objective(
            method, weights, sigma, mu, resolved, risk_free_rate, risk_aversion,
            returns.to_numpy(), cvar_confidence,
        )  # fmt: skip
        total = float(raw.sum())
        built_tree = None
        note = zero_variance_note(sigma, weights, symbols, method)
        notes += [note] if note else []
    else:
        attempts = []
        weights, solver, built_tree, objective_name = _heuristic(
            method, sigma, symbols, resolved, risk_budgets, tree, hrp_convention,
            linkage_method, optimal_ordering, n_clusters,
        )  # fmt: skip
        total = float(weights.sum())
        weights = weights / total
        objective = float(weights @ sigma @ weights)
    series = pd.Series(weights, index=returns.columns, name=method)
    contributions = pd.Series(risk_contributions(weights, sigma), index=returns.columns)
    return OptimizationResult(
        weights=series,
        method=method,
        solver=solver,
        objective=objective,
        objective_name=objective_name,
        sum_before_normalization=total,
        psd=psd,
        attempts=tuple(attempts),
        tree=built_tree,
        risk_contributions=contributions,
        notes=tuple(notes),
        max_violation=resolved.max_violation(weights, sigma),
    )


def _factor_matrix(factor: FactorCovariance, symbols: list[str]) -> tuple[np.ndarray, PsdReport]:
    """The dense Σ of a factor covariance (for reports and checks) and its PSD report."""
    if factor.n_assets != len(symbols):
        raise DataError(
            f"covariance: the factor covariance has {factor.n_assets} assets, the returns "
            f"{len(symbols)}"
        )
    report = PsdReport(
        is_psd=True,
        min_eigenvalue=float("nan"),
        n_negative=0,
        tolerance=0.0,
        asymmetry=0.0,
        reason=f"positive semi-definite by construction ({factor.n_factors}-factor model)",
    )
    return factor.matrix(), report


def _without_covariance(
    method: str,
    returns: pd.DataFrame,
    covariance: pd.DataFrame | FactorCovariance | None,
    estimator: CovarianceEstimator | None,
    symbols: list[str],
) -> OptimizationResult:
    """Equal weight and inverse volatility, with no n×n covariance estimated or checked.

    Equal weight needs nothing; inverse volatility needs only the variances (the sample
    variances, the diagonal of a given `covariance`, or the estimator's when one is given).
    The reported variance and risk contributions use a given `covariance`, else the sample
    covariance implicitly: (Σw)ᵢ = cov(rᵢ, rₚ) in O(T·N), never the n×n matrix (at 2,000
    symbols estimating and checking one costs about a second per rebalance).
    """
    n_assets = len(symbols)
    matrix = None
    factor = covariance if isinstance(covariance, FactorCovariance) else None
    if factor is not None and factor.n_assets != n_assets:
        raise DataError(f"covariance: the factor covariance has {factor.n_assets} assets")
    if covariance is not None and not isinstance(covariance, FactorCovariance):
        matrix = pd.DataFrame(covariance)
        if matrix.shape != (n_assets, n_assets):
            raise DataError(f"covariance: expected shape {(n_assets,) * 2}, got {matrix.shape}")
        if isinstance(covariance, pd.DataFrame) and [str(s) for s in matrix.index] != symbols:
            matrix = matrix.reindex(index=returns.columns, columns=returns.columns)
            if matrix.isna().to_numpy().any():
                raise DataError("covariance: its symbols differ from the returns' columns")
    values = returns.to_numpy(dtype=np.float64)
    if method == "equal_weight":
        raw = np.full(n_assets, 1.0 / n_assets)
    else:
        if factor is not None:
            variances = factor.diagonal()
        elif matrix is not None:
            variances = np.diag(matrix.to_numpy(dtype=np.float64))
        elif estimator is not None:
            fitted = estimator.fit(returns).covariance_  # type: ignore[attr-defined]
            variances = np.diag(np.asarray(fitted, dtype=np.float64))
        else:
            variances = values.var(axis=0, ddof=1)
        if not (np.all(np.isfinite(variances)) and np.all(variances > 0)):
            bad = [s for s, v in zip(symbols, variances, strict=True) if not v > 0]
            undefined = [s for s, v in zip(symbols, variances, strict=True) if np.isnan(v)]
            why = (
                f"undefined (NaN) for {undefined[:10]}: fewer than 2 dates or NaN in the "
                "covariance given"
                if undefined
                else "zero: returns that never move (stale prices, a suspension, or cash)"
            )
            raise DataError(
                f"returns: zero or undefined variance for {bad[:10]}; variance is {why}; "
                "inverse volatility divides by each volatility, expected > 0"
            )
        raw = 1.0 / np.sqrt(variances)
    total = float(raw.sum())
    weights = raw / total
    if factor is not None:
        marginal = factor.loadings.T @ (factor.loadings @ weights)
        marginal += factor.specific_variance * weights
        source = "the given factor covariance"
    elif matrix is not None:
        marginal = matrix.to_numpy(dtype=np.float64) @ weights
        source = "the given covariance"
    else:
        centred = values - values.mean(axis=0)
        marginal = centred.T @ (centred @ weights) / max(len(values) - 1, 1)
        source = "the sample covariance, never formed as a matrix"
    variance = float(weights @ marginal)
    contributions = weights * marginal / variance if variance > 0 else np.full(n_assets, np.nan)
    psd = PsdReport(
        is_psd=True,
        min_eigenvalue=float("nan"),
        n_negative=0,
        tolerance=0.0,
        asymmetry=0.0,
        reason=f"not checked: {method} needs no covariance (risk figures from {source})",
    )
    return OptimizationResult(
        weights=pd.Series(weights, index=returns.columns, name=method),
        method=method,
        solver="closed form",
        objective=variance,
        objective_name="variance",
        sum_before_normalization=float(weights.sum()),
        psd=psd,
        risk_contributions=pd.Series(contributions, index=returns.columns),
        max_violation=abs(float(weights.sum()) - 1.0),
    )


def _refuse_unsupported(method: str, constraints: Constraints) -> None:
    if method in _SUPPORTED:
        extra = sorted(set(constraints.non_default()) - _SUPPORTED[method])
        if extra:
            raise DataError(
                f"constraints: method {method!r} cannot apply {extra}; it honours "
                f"{sorted(_SUPPORTED[method]) or 'only long-only, fully invested'} "
                "(use a convex method such as 'min_variance' for these)"
            )


def _covariance(
    returns: pd.DataFrame,
    covariance: pd.DataFrame | None,
    estimator: CovarianceEstimator | None,
    symbols: list[str],
) -> tuple[np.ndarray, PsdReport]:
    """The covariance as an array aligned with `symbols`, PSD-checked and repaired if needed."""
    if covariance is None:
        fitted = (estimator or SampleCovariance()).fit(returns)
        covariance = fitted.covariance_  # type: ignore[attr-defined]
    frame = pd.DataFrame(covariance)
    if frame.shape != (len(symbols), len(symbols)):
        raise DataError(f"covariance: expected shape {(len(symbols),) * 2}, got {frame.shape}")
    if isinstance(covariance, pd.DataFrame) and [str(s) for s in frame.index] != symbols:
        frame = frame.reindex(index=returns.columns, columns=returns.columns)
        if frame.isna().to_numpy().any():
            raise DataError("covariance: its symbols differ from the returns' columns")
    repaired, report = repair_psd(frame.to_numpy(dtype=np.float64))
    if report.repaired:
        warnings.warn(f"covariance repaired: {report.reason}", RuntimeWarning, stacklevel=4)
    return np.asarray(repaired), report
