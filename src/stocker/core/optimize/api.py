"""`optimize(returns, method=…, constraints=…, expected_returns=…) -> pandas.Series`.

One entry point over every method. The covariance is estimated (sample, ddof=1, unless another
estimator or a matrix is given), checked for positive semi-definiteness and repaired with a
warning and a report when it is not. Convex methods reuse a compiled DPP problem per
(method, constraint structure); closed forms, Newton and bisection need no solver. A failure
raises: `InfeasibleError` (naming the constraints in conflict), `SolverFailedError` (naming every
solver tried), `DataError` (naming the input) — never a silent fallback to equal weights.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from stocker.core.covariance import (
    EWMACovariance,
    PsdReport,
    SampleCovariance,
    correlation_from_covariance,
    repair_psd,
)
from stocker.core.errors import DataError, InfeasibleError
from stocker.core.optimize.conflicts import raise_conflicts
from stocker.core.optimize.constraints import Constraints, ResolvedConstraints
from stocker.core.optimize.convex import (
    CONVEX_METHODS,
    DEFAULT_SOLVERS,
    ConvexProblem,
    SolverFailedError,
)
from stocker.core.optimize.cvar import portfolio_cvar
from stocker.core.optimize.expected_returns import (
    CAPM,
    BlackLitterman,
    ExpectedReturnModel,
    FactorImplied,
)
from stocker.core.optimize.factor_risk import FactorCovariance
from stocker.core.optimize.herc import herc_weights, optimal_cluster_count
from stocker.core.optimize.hrp import Convention, Tree, build_tree, hrp_weights
from stocker.core.optimize.risk_parity import risk_budget_weights, risk_contributions

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
ExpectedReturns = (
    pd.Series | Literal["historical_mean", "ewma_mean", "capm"] | ExpectedReturnModel | None
)
EXPECTED_RETURN_MODES = ("historical_mean", "ewma_mean", "capm")
# Modes that cannot be named alone: the model object carries what they need.
_MODELS_WITH_INPUTS = {
    "black_litterman": "views and market caps or a prior: BlackLitterman(...)",
    "factor_implied": "a score per symbol and a spread: FactorImplied(...)",
}
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
# Compiled problems per process (not thread-safe: a cached problem's parameters are shared).
_CACHE_SIZE = 8
_PROBLEMS: OrderedDict[tuple[object, ...], ConvexProblem] = OrderedDict()


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
    if not isinstance(returns, pd.DataFrame):
        raise DataError("returns: expected a DataFrame with dates as rows and symbols as columns")
    constraints = constraints or Constraints()
    symbols = [str(s) for s in returns.columns]
    if len(set(symbols)) != len(symbols):
        raise DataError("returns: duplicate symbol columns")
    _refuse_unsupported(method, constraints)
    if method in _NO_COVARIANCE:
        return _without_covariance(method, returns, covariance, covariance_estimator, symbols)
    factor = covariance if isinstance(covariance, FactorCovariance) else None
    if factor is not None:
        sigma, psd = _factor_matrix(factor, symbols)
    else:
        sigma, psd = _covariance(returns, covariance, covariance_estimator, symbols)  # type: ignore[arg-type]
    notes = [psd.reason] if psd.repaired else []
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
            raise DataError(f"returns: zero or undefined variance for {bad[:10]}")
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


def _expected_returns(
    returns: pd.DataFrame,
    expected: ExpectedReturns,
    sigma: np.ndarray,
    method: str,
) -> np.ndarray | None:
    """μ per period: a given Series, a named mode, or a model (CAPM, FactorImplied, BL)."""
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


def _problem(
    method: str,
    resolved: ResolvedConstraints,
    n_scenarios: int,
    confidence: float,
    risk_factors: int | None = None,
) -> ConvexProblem:
    """The compiled problem for this structure, built on first use and then reused."""
    key = (method, resolved.structure(), n_scenarios, confidence, risk_factors)
    problem = _PROBLEMS.get(key)
    if problem is None:
        problem = ConvexProblem(method, resolved, n_scenarios, confidence, risk_factors)
        _PROBLEMS[key] = problem
        while len(_PROBLEMS) > _CACHE_SIZE:
            _PROBLEMS.popitem(last=False)
    _PROBLEMS.move_to_end(key)
    return problem


def _convex(
    method: str,
    resolved: ResolvedConstraints,
    sigma: np.ndarray,
    mu: np.ndarray | None,
    returns: pd.DataFrame,
    risk_free_rate: float,
    risk_aversion: float,
    confidence: float,
    solvers: Sequence[str] | None,
    solver_options: Mapping[str, Mapping[str, object]] | None,
    factor: FactorCovariance | None = None,
) -> tuple[np.ndarray, str, list[tuple[str, str]], str]:
    if method == "max_sharpe" and mu is not None and resolved.lower.min() >= 0:
        best = int(np.argmax(mu))
        if mu[best] <= risk_free_rate:
            raise InfeasibleError(
                f"max_sharpe: no asset's expected return exceeds the risk-free rate "
                f"(highest is {resolved.symbols[best]} at {mu[best]:.6g} <= risk_free_rate "
                f"{risk_free_rate:.6g}); a long-only maximum-Sharpe portfolio does not exist — "
                "use min_variance, or a lower risk_free_rate"
            )
    scenarios = returns.to_numpy(dtype=np.float64) if method == "min_cvar" else None
    n_scenarios = 0 if scenarios is None else scenarios.shape[0]
    if method == "min_cvar":
        factor = None  # CVaR reads the scenarios, not the covariance
    problem = _problem(
        method, resolved, n_scenarios, confidence, None if factor is None else factor.n_factors
    )
    problem.set_values(
        sigma if factor is None else factor, resolved, mu, risk_free_rate, risk_aversion, scenarios
    )
    try:
        outcome = problem.solve(solvers, solver_options)
    except InfeasibleError:
        raise_conflicts(method, resolved, sigma, solvers or DEFAULT_SOLVERS)
        if method == "max_sharpe":
            raise InfeasibleError(
                "max_sharpe: the constraints can all hold, but no portfolio satisfying them has "
                f"expected return (net of costs) above risk_free_rate {risk_free_rate:.6g}"
            ) from None
        raise
    names = {
        "min_variance": "variance",
        "max_sharpe": "sharpe_ratio",
        "mean_variance": "utility",
        "max_return": "expected_return",
        "min_cvar": "cvar",
    }
    return outcome.weights, outcome.solver, outcome.attempts, names[method]


def _finish(
    raw: np.ndarray, resolved: ResolvedConstraints, sigma: np.ndarray, long_only: bool, method: str
) -> np.ndarray:
    """Clip solver round-off below zero (long-only), renormalise, and refuse visible violations."""
    weights = np.clip(raw, 0.0, None) if long_only else raw.copy()
    weights = weights / weights.sum()
    violations = resolved.violations(weights, sigma, tol=1e-6)
    if violations:
        raise SolverFailedError(
            f"{method}: the solver's answer breaks {violations} by more than 1e-6", []
        )
    return weights


def _objective(
    method: str,
    weights: np.ndarray,
    sigma: np.ndarray,
    mu: np.ndarray | None,
    resolved: ResolvedConstraints,
    risk_free_rate: float,
    risk_aversion: float,
    scenarios: np.ndarray,
    confidence: float,
) -> float:
    """The objective recomputed from the weights (not the solver's scaled value)."""
    variance = float(weights @ sigma @ weights)
    cost = float(resolved.cost @ np.abs(weights - resolved.previous))
    ret = float(mu @ weights) if mu is not None else 0.0
    if method == "min_variance":
        return variance + cost
    if method == "max_sharpe":
        return (ret - risk_free_rate - cost) / np.sqrt(variance)
    if method == "mean_variance":
        return ret - risk_aversion / 2 * variance - cost
    if method == "max_return":
        return ret - cost
    return portfolio_cvar(scenarios, weights, confidence) + cost


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
