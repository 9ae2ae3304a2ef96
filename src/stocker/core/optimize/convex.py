"""Convex portfolio problems, built once as DPP cvxpy problems and re-solved with new values.

A `ConvexProblem` is compiled for one method and one constraint *structure* (universe size,
which groups are present, number of sectors and factors); every number — covariance factor,
expected returns, bounds, caps, previous weights, costs — is a `cp.Parameter`, so a walk-forward
re-solve only rewrites parameter values (cvxpy reuses its cached canonicalisation) and warm-starts
the solvers that support it (SCS, OSQP; Clarabel starts cold but skips the compile).

Maximum Sharpe is solved through the homogenised problem (Cornuejols & Tütüncü): with y = κ·w,
minimise yᵀΣy subject to (μ - r_f)ᵀy - costᵀ|Δy| ≥ 1 and EVERY other constraint's constant side
multiplied by κ — bounds, gross, sector caps, factor bounds, beta, volatility and turnover —
so the answer is the maximum-Sharpe portfolio of the constrained set, not of a looser one.

Numbers are rescaled before solving (covariance by its mean variance, scenarios by their typical
size) so that objectives are O(1) and solver tolerances mean the same for every universe.

The named constraint groups are built in `constraint_groups` and the solver fallback sequence
runs in `solvers`; both are shared with the conflict search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
from scipy import linalg, sparse

from stocker.core.errors import DataError, InfeasibleError
from stocker.core.optimize.active_set import (
    ActiveSet,
    Declined,
    DenseRisk,
    FactorRisk,
    SharpeAnswer,
    SharpeInputs,
    active_set_from,
    solve_max_sharpe,
)
from stocker.core.optimize.active_set_primal import solve_max_sharpe_primal
from stocker.core.optimize.constraint_groups import build_groups
from stocker.core.optimize.constraints import ResolvedConstraints
from stocker.core.optimize.factor_risk import FactorCovariance
from stocker.core.optimize.solvers import (
    _INFEASIBLE,
    ACTIVE_SET,
    DEFAULT_SOLVERS,
    SolverFailedError,
    _polished,
    describe_attempts,
    solve_with_fallback,
)

# QPs without a volatility cone: OSQP (ADMM, factorises once, warm-starts, polished) first.
QP_SOLVERS = ("OSQP", "CLARABEL", "SCS", "ECOS")
# OSQP runs ADMM to 1e-9 and then *polishes*: it solves the KKT system of the active set it
# found, exact to round-off. Polishing can fail on a degenerate active set (warm-started
# turnover problems); the 1e-9 ADMM answer is then kept, but one stopped looser than 1e-8 is
# refused (`_polished`), and every answer still faces the 1e-6 constraint check.
OSQP_OPTIONS: dict[str, object] = {
    "eps_abs": 1e-9,
    "eps_rel": 1e-9,
    "polishing": True,
    "max_iter": 10000,
}
# Solvers that take a quadratic objective ½xᵀPx: they receive Σ as P directly.
_QUADRATIC = frozenset({"CLARABEL", "OSQP", "SCS", "PIQP", "PROXQP", "QOCO", "DAQP", "GUROBI"})
CONVEX_METHODS = ("min_variance", "max_sharpe", "mean_variance", "max_return", "min_cvar")
ACCEPT_TOLERANCE = 1e-6


@dataclass
class SolveOutcome:
    """The solved weights and how they were obtained."""

    weights: np.ndarray
    solver: str
    attempts: list[tuple[str, str]] = field(default_factory=list)
    status: str = cp.OPTIMAL
    max_violation: float = 0.0


def default_solvers(method: str, constraints: ResolvedConstraints) -> tuple[str, ...]:
    """OSQP first for plain QPs (min variance, mean-variance), Clarabel first otherwise.

    The homogenised max-Sharpe problem converges slowly under ADMM (thousands of iterations
    for 1e-9), and cones (volatility cap, CVaR's LP is fine but large) suit the interior point.
    """
    if method in ("min_variance", "mean_variance") and constraints.volatility_per_period is None:
        return QP_SOLVERS
    return DEFAULT_SOLVERS


def covariance_factor(covariance: np.ndarray) -> np.ndarray:
    """Upper-triangular F with FᵀF = Σ: Cholesky, or for a singular Σ the R of QR(eigen root).

    Triangular so the parameter can be declared with that sparsity: half the nonzeros the
    solver has to factor, at every re-solve.
    """
    try:
        return np.linalg.cholesky(covariance).T
    except np.linalg.LinAlgError:
        eigenvalues, vectors = np.linalg.eigh(covariance)
        root = (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))).T
        return np.asarray(linalg.qr(root, mode="r")[0])


class ConvexProblem:
    """One method's problem for one constraint structure; `solve` only sets parameter values."""

    def __init__(
        self,
        method: str,
        constraints: ResolvedConstraints,
        n_scenarios: int = 0,
        cvar_confidence: float = 0.95,
        risk_factors: int | None = None,
    ) -> None:
        """`risk_factors=k` builds the risk as ‖B·w‖² + ‖√d ∘ w‖² for a `FactorCovariance`
        with k factors (B a k × N parameter); None takes a dense covariance."""
        if method not in CONVEX_METHODS:
            raise DataError(f"method: got {method!r}, expected one of {CONVEX_METHODS}")
        if method == "max_return" and constraints.volatility_per_period is None:
            raise DataError("target_volatility_annual: method 'max_return' needs a volatility cap")
        if method == "min_cvar" and n_scenarios < 2:
            raise DataError(f"returns: min_cvar needs >= 2 scenarios, got {n_scenarios}")
        if risk_factors is not None and not risk_factors > 0:
            raise DataError(f"risk_factors: got {risk_factors}, expected a positive count")
        self.method = method
        self.structure = constraints.structure()
        n_assets = len(constraints.symbols)
        self.n_assets = n_assets
        self.risk_factors = risk_factors
        # The factor form of the covariance (used when risk_factors is set): B and √d, scaled.
        self.loadings = cp.Parameter((risk_factors or 1, n_assets), name="factor_loadings")
        self.specific = cp.Parameter(n_assets, nonneg=True, name="specific_volatility")
        self._upper = np.triu_indices(n_assets)
        self.factor = cp.Parameter(
            (n_assets, n_assets), name="covariance_factor", sparsity=self._upper
        )
        self.mu = cp.Parameter(n_assets, name="expected_return")
        self.lower = cp.Parameter(n_assets, name="min_weight")
        self.upper = cp.Parameter(n_assets, name="max_weight")
        self.previous = cp.Parameter(n_assets, name="previous_weights")
        self.cost = cp.Parameter(n_assets, nonneg=True, name="transaction_cost")
        self.gross = cp.Parameter(nonneg=True, name="gross_limit")
        n_sectors = len(constraints.sector_names)
        self.sector_matrix = cp.Parameter((max(n_sectors, 1), n_assets), name="sectors")
        self.sector_caps = cp.Parameter(max(n_sectors, 1), name="sector_caps")
        n_factors = len(constraints.factor_names)
        self.factor_matrix = cp.Parameter((max(n_factors, 1), n_assets), name="exposures")
        self.factor_lower = cp.Parameter(max(n_factors, 1), name="factor_lower")
        self.factor_upper = cp.Parameter(max(n_factors, 1), name="factor_upper")
        self.betas = cp.Parameter(n_assets, name="betas")
        self.max_beta = cp.Parameter(name="max_beta")
        self.volatility = cp.Parameter(nonneg=True, name="volatility_cap")
        self.turnover = cp.Parameter(nonneg=True, name="turnover_limit")
        self.asset_turnover = cp.Parameter(nonneg=True, name="per_asset_turnover_limit")
        self.scenarios = cp.Parameter((max(n_scenarios, 1), n_assets), name="scenarios")
        self.weights = cp.Variable(n_assets, name="weights")
        self.scale: cp.Variable | None = None
        self.cvar_confidence = cvar_confidence
        self.n_scenarios = n_scenarios
        self._warm: ActiveSet | None = None
        self._last_active: ActiveSet | None = None
        self.problem = self._build(constraints)
        assert self.problem.is_dcp(dpp=True), "portfolio problem must be DPP"  # type: ignore[call-arg]

    def _build(self, constraints: ResolvedConstraints) -> cp.Problem:
        if self.method == "max_sharpe":
            self.scale = cp.Variable(nonneg=True, name="kappa")
        self.groups, self._trade_cost = build_groups(self, self.weights, self.scale, constraints)
        if self.method == "max_sharpe":
            self.groups["excess_return"] = [self.mu @ self.weights - self._trade_cost >= 1.0]
        # The risk term is ‖w‖² here and Σ is written into the solver's P at solve time
        # (`_run`): a dense n×n P factorises ~4× cheaper than the factor form's KKT system,
        # and cvxpy has no DPP form of quad_form with a parameter matrix. Solvers without a
        # quadratic objective get the factor form ‖F·w‖² (`_factor_problem`). A factor
        # covariance needs neither: its risk is already sparse, ‖B·w‖² + ‖√d ∘ w‖².
        self.quadratic = self.risk_factors is None and self.method in (
            "min_variance",
            "mean_variance",
            "max_sharpe",
        )
        self._factor: cp.Problem | None = None
        if self.risk_factors is not None:
            return self._with_risk(cp.sum_squares(self.risk_root(self.weights)))
        return self._with_risk(cp.sum_squares(self.weights))

    def risk_root(self, weights: cp.Expression) -> cp.Expression:
        """An expression whose squared norm is wᵀΣw (scaled): F·w, or [B·w; √d ∘ w]."""
        if self.risk_factors is None:
            return self.factor @ weights
        return cp.hstack([self.loadings @ weights, cp.multiply(self.specific, weights)])

    def _with_risk(self, risk: cp.Expression) -> cp.Problem:
        weights, trade_cost = self.weights, self._trade_cost
        objective: cp.Minimize | cp.Maximize
        if self.method == "min_variance":
            objective = cp.Minimize(risk + trade_cost)
        elif self.method == "mean_variance":
            # γ/2 is folded into Σ's scale (F·√(γ/2), P·γ/2) so the objective stays DPP.
            objective = cp.Maximize(self.mu @ weights - risk - trade_cost)
        elif self.method == "max_return":
            objective = cp.Maximize(self.mu @ weights - trade_cost)
        elif self.method == "min_cvar":
            var_level = cp.Variable(name="value_at_risk")
            excess = cp.pos(-self.scenarios @ weights - var_level)
            tail = 1.0 / ((1.0 - self.cvar_confidence) * self.n_scenarios)
            objective = cp.Minimize(var_level + tail * cp.sum(excess) + trade_cost)
        else:
            objective = cp.Minimize(risk)
        return cp.Problem(objective, [item for group in self.groups.values() for item in group])

    def _factor_problem(self) -> cp.Problem:
        """The same problem with the risk as ‖F·w‖² (for solvers without a quadratic term)."""
        if not self.quadratic:
            return self.problem
        if self._factor is None:
            self._factor = self._with_risk(cp.sum_squares(self.factor @ self.weights))
        return self._factor

    def set_values(
        self,
        covariance: np.ndarray | FactorCovariance,
        constraints: ResolvedConstraints,
        expected_returns: np.ndarray | None = None,
        risk_free_rate: float = 0.0,
        risk_aversion: float = 1.0,
        scenarios: np.ndarray | None = None,
    ) -> None:
        """Write this rebalance's numbers into the parameters (scaled so objectives are O(1)).

        `covariance` is a dense matrix, or a `FactorCovariance` when built with `risk_factors`.
        """
        factored = isinstance(covariance, FactorCovariance)
        if factored != (self.risk_factors is not None) or (
            isinstance(covariance, FactorCovariance) and covariance.n_factors != self.risk_factors
        ):
            built = (
                "a dense matrix" if self.risk_factors is None else f"{self.risk_factors} factors"
            )
            raise DataError(f"covariance: this problem was built for {built}")
        if constraints.structure() != self.structure:
            raise DataError(
                "constraints: structure differs from the one this problem was built for"
            )
        if self.method == "min_cvar":
            if scenarios is None or scenarios.shape != (self.n_scenarios, self.n_assets):
                raise DataError(f"scenarios: expected shape {(self.n_scenarios, self.n_assets)}")
            unit = float(np.sqrt(np.mean(scenarios**2))) or 1.0
            self.scenarios.value = scenarios / unit
        elif isinstance(covariance, FactorCovariance):
            unit = float(np.mean(covariance.diagonal())) or 1.0
        else:
            unit = float(np.mean(np.diag(covariance))) or 1.0
        self.unit = unit
        self._covariance = covariance
        self._constraints = constraints
        risk_unit = unit if self.method != "min_cvar" else unit**2
        if self.method == "mean_variance":
            if not risk_aversion > 0:
                raise DataError(f"risk_aversion: got {risk_aversion}, expected > 0")
            risk_unit /= risk_aversion / 2.0
        if isinstance(covariance, FactorCovariance):
            root = math.sqrt(risk_unit)
            self.loadings.value = covariance.loadings / root
            self.specific.value = np.sqrt(covariance.specific_variance) / root
        else:
            self._risk_matrix = covariance / risk_unit
            self._factor_stale = True
            if constraints.volatility_per_period is not None or not self.quadratic:
                self._set_factor()
        mu = np.zeros(self.n_assets) if expected_returns is None else expected_returns
        self.mu.value = (mu - risk_free_rate) / unit
        self.cost.value = constraints.cost / unit
        self.lower.value = constraints.lower
        self.upper.value = constraints.upper
        self.previous.value = constraints.previous
        self.gross.value = constraints.gross_limit or 0.0
        if constraints.sector_names:
            self.sector_matrix.value = constraints.sector_matrix
            self.sector_caps.value = constraints.sector_caps
        else:
            self.sector_matrix.value = np.zeros(self.sector_matrix.shape)
            self.sector_caps.value = np.zeros(self.sector_caps.shape)
        if constraints.factor_names:
            self.factor_matrix.value = constraints.factor_matrix
            self.factor_lower.value = constraints.factor_lower
            self.factor_upper.value = constraints.factor_upper
        else:
            self.factor_matrix.value = np.zeros(self.factor_matrix.shape)
            self.factor_lower.value = np.zeros(self.factor_lower.shape)
            self.factor_upper.value = np.zeros(self.factor_upper.shape)
        self.betas.value = (
            constraints.betas if constraints.betas is not None else np.zeros(self.n_assets)
        )
        self.max_beta.value = constraints.max_beta or 0.0
        volatility = constraints.volatility_per_period or 0.0
        self.volatility.value = volatility / math.sqrt(risk_unit)
        self.turnover.value = constraints.turnover_limit or 0.0
        self.asset_turnover.value = constraints.per_asset_turnover_limit or 0.0

    def _set_factor(self) -> None:
        """F (FᵀF = Σ scaled) into its parameter; only the factor form and the cone need it."""
        if self.risk_factors is None and self._factor_stale:
            factor = covariance_factor(self._risk_matrix)
            rows, columns = self._upper
            self.factor.value_sparse = sparse.coo_array(
                (factor[rows, columns], (rows, columns)), shape=factor.shape
            )
            self._factor_stale = False

    def solve(
        self,
        solvers: Sequence[str] | None = None,
        solver_options: Mapping[str, Mapping[str, object]] | None = None,
    ) -> SolveOutcome:
        """Solve with the fallback sequence; infeasible is the model's answer, not a failure.

        `solvers=None` takes `default_solvers(method, constraints)`.
        """
        if solvers is None:
            solvers = default_solvers(self.method, self._constraints)
            if self._warm is not None and self._active_set_applies():
                solvers = (ACTIVE_SET, *solvers)
        status, solver, attempts = solve_with_fallback(
            self.problem, solvers, solver_options, self._check, self._run
        )
        if status in _INFEASIBLE:
            raise InfeasibleError(f"{self.method}: solver {solver} reports the problem infeasible")
        if status != cp.OPTIMAL:
            raise SolverFailedError(
                f"{self.method}: no solver found a solution ({describe_attempts(attempts)})",
                attempts,
            )
        weights = self._weights()
        if self._active_set_applies():
            weights = self._polish(weights)
        return SolveOutcome(
            weights=weights,
            solver=solver,
            attempts=attempts,
            status=status,
            max_violation=self._constraints.max_violation(weights, self._covariance),
        )

    def _polish(self, weights: np.ndarray) -> np.ndarray:
        """Remember the answer's active set for the next rebalance; another solver's answer is
        first polished on the active set it implies (one linear solve, kept only with its KKT
        certificate): the exact optimum whichever solver answered and whatever came before."""
        active = self._last_active
        if active is None:
            inputs = self._sharpe_inputs()
            polished = solve_max_sharpe(inputs, active_set_from(inputs, weights), max_iterations=8)
            if isinstance(polished, SharpeAnswer):
                weights, active = polished.y / polished.kappa, polished.active
            else:
                active = active_set_from(inputs, weights)
        self._warm = active
        return weights

    def _active_set_applies(self) -> bool:
        """Maximum Sharpe with linear limits only (no gross limit or volatility cap), which
        is what `active_set` solves."""
        constraints = self._constraints
        return (
            self.method == "max_sharpe"
            and constraints.gross_limit is None
            and constraints.volatility_per_period is None
        )

    def _sharpe_inputs(self) -> SharpeInputs:
        """This rebalance's parameter values in the active-set solver's terms."""
        constraints = self._constraints
        risk: FactorRisk | DenseRisk
        if self.risk_factors is not None:
            risk = FactorRisk(np.asarray(self.loadings.value), np.asarray(self.specific.value))
        else:
            risk = DenseRisk(self._risk_matrix)
        rows, limits = [constraints.sector_matrix], [constraints.sector_caps]
        if constraints.factor_names:
            rows += [constraints.factor_matrix, -constraints.factor_matrix]
            limits += [constraints.factor_upper, -constraints.factor_lower]
        if constraints.max_beta is not None and constraints.betas is not None:
            rows.append(constraints.betas[None, :])
            limits.append(np.array([constraints.max_beta]))
        trades = constraints.has_trades
        lower, upper = constraints.lower, constraints.upper
        if constraints.per_asset_turnover_limit is not None:
            # |Δwᵢ| <= a is a tighter box around the previous weights.
            limit = constraints.per_asset_turnover_limit
            lower = np.maximum(lower, constraints.previous - limit)
            upper = np.minimum(upper, constraints.previous + limit)
        return SharpeInputs(
            risk=risk,
            mu=np.asarray(self.mu.value),
            cost=np.asarray(self.cost.value) if trades else np.zeros(self.n_assets),
            lower=lower,
            upper=upper,
            # Without trades there is no kink at the previous weights: put it at the bound.
            previous=constraints.previous if trades else constraints.lower,
            rows=np.vstack(rows).reshape(-1, self.n_assets),
            limits=np.concatenate(limits),
            turnover=constraints.turnover_limit if trades else None,
        )

    def _run_active_set(self) -> str:
        """The warm-started active-set solve; "optimal" only with its KKT certificate."""
        self._last_active = None
        if not self._active_set_applies():
            return "not applicable (a gross limit or a volatility cap)"
        inputs = self._sharpe_inputs()
        # The primal-dual iteration from the previous answer's active set (fast); failing
        # that, the primal method from the previous weights (cannot get lost, more steps).
        answer: SharpeAnswer | Declined = Declined("no previous answer to start from")
        reasons = []
        if self._warm is not None:
            answer = solve_max_sharpe(inputs, self._warm)
            if isinstance(answer, Declined):
                reasons.append(f"from the previous active set: {answer.reason}")
        if not isinstance(answer, SharpeAnswer):
            answer = solve_max_sharpe_primal(inputs)
            if isinstance(answer, Declined):
                reasons.append(f"from the previous weights: {answer.reason}")
                answer = Declined("; ".join(reasons))
        if isinstance(answer, Declined):
            return f"declined: {answer.reason}"
        assert self.scale is not None
        self.weights.value = answer.y
        self.scale.value = np.float64(answer.kappa)
        self._last_active = answer.active
        return cp.OPTIMAL

    def _run(self, solver: str, options: dict[str, object]) -> str:
        """Solve once with `solver` (Σ injected as P when it takes one); return the status."""
        self._last_active = None
        if solver == ACTIVE_SET:
            return self._run_active_set()
        if solver == "OSQP":
            options = {**OSQP_OPTIONS, **options}
        data = None
        if self.quadratic and solver in _QUADRATIC:
            chosen = dict(options)
            ignore_dpp = bool(chosen.pop("ignore_dpp", False))
            warm_start = bool(chosen.pop("warm_start", True))
            data, chain, inverse = self.problem.get_problem_data(
                solver, ignore_dpp=ignore_dpp, solver_opts=dict(chosen)
            )
            quadratic = self._quadratic(data.get("P"))
        if data is None or quadratic is None:
            # No quadratic objective in this solver's form: the factor form instead.
            self._set_factor()
            problem = self._factor_problem()
            problem.solve(solver=solver, **options)
            return _polished(problem, solver, options)
        options = chosen
        data["P"] = quadratic
        raw = chain.solve_via_data(self.problem, data, warm_start, False, options)
        self.problem.unpack_results(raw, chain, inverse)
        return _polished(self.problem, solver, options)

    def _quadratic(self, placeholder: sparse.sparray | None) -> sparse.csc_array | None:
        """The solver's P with the ‖w‖² placeholder (2·I on w) replaced by 2·Σ (upper triangle).

        None if the canonical form holds anything else (the caller then uses the factor form).
        """
        if placeholder is None:
            return None
        pattern = sparse.coo_array(placeholder)
        if pattern.nnz != self.n_assets or np.any(pattern.row != pattern.col):
            return None
        slots = np.sort(pattern.row)
        rows, columns = self._upper
        matrix = sparse.csc_array(
            (2.0 * self._risk_matrix[rows, columns], (slots[rows], slots[columns])),
            shape=placeholder.shape,
        )
        matrix.sort_indices()
        return matrix

    def _weights(self) -> np.ndarray:
        """The solution in weight space (y/κ for the homogenised problem)."""
        weights = np.asarray(self.weights.value, dtype=np.float64)
        if self.scale is not None:
            kappa = float(np.asarray(self.scale.value))
            weights = weights / kappa if kappa > 0 else np.full_like(weights, np.nan)
        return weights

    def _check(self) -> str | None:
        """Why an 'optimal' answer is unacceptable (a constraint broken beyond 1e-6), if it is."""
        weights = self._weights()
        if not np.all(np.isfinite(weights)):
            return "non-finite weights"
        broken = self._constraints.violations(weights, self._covariance, ACCEPT_TOLERANCE)
        return f"breaks {broken} by more than {ACCEPT_TOLERANCE:g}" if broken else None
