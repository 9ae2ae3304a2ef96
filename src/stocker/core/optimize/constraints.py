"""Portfolio constraints (the `portfolio_constraints` row) and their numeric form for one universe.

`Constraints` is what a user states, by symbol and by sector/factor name; `Constraints.resolve`
turns it into arrays aligned with an ordered list of symbols, rejecting anything missing with a
`DataError` that names the field and the symbols. The groups in `GROUPS` are the units the
infeasibility diagnosis relaxes one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from numbers import Real

import numpy as np
import pandas as pd

from stocker.core.errors import DataError, InfeasibleError
from stocker.core.optimize.factor_risk import FactorCovariance, portfolio_variance
from stocker.core.optimize.inputs import check_turnover, check_volatility

# The names an InfeasibleError uses for the groups in conflict; "budget" (Σw = 1) never relaxes.
GROUPS = (
    "budget",
    "min_weight",
    "max_weight",
    "gross_limit",
    "sector_caps",
    "factor_bounds",
    "max_beta",
    "target_volatility_annual",
    "turnover_limit",
    "per_asset_turnover_limit",
)


class ConflictingConstraintsError(InfeasibleError):
    """No weights satisfy the constraints; `conflicts` names a smallest set of groups at fault."""

    def __init__(self, message: str, conflicts: Sequence[str]) -> None:
        super().__init__(message)
        self.conflicts = tuple(conflicts)


@dataclass(frozen=True, kw_only=True)
class Constraints:
    """What a portfolio must satisfy; units are weights (fractions of NAV) unless a name says so.

    Turnover is one-way, ½·Σ|w - previous|, against `previous_weights` (missing symbols are 0);
    `per_asset_turnover_limit` bounds each |Δw_i| instead. `transaction_cost_bps` is charged on
    |Δw| in the objective. `target_volatility_annual` caps the portfolio's volatility (the
    "max_return" method maximises return at it). Weights sum to 1 within `weight_sum_tolerance`.
    """

    min_weight: float | Mapping[str, float] = 0.0
    max_weight: float | Mapping[str, float] = 1.0
    long_only: bool = True
    gross_limit: float | None = None
    sectors: Mapping[str, str] = field(default_factory=dict)
    sector_caps: Mapping[str, float] = field(default_factory=dict)
    factor_exposures: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    factor_bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    betas: Mapping[str, float] = field(default_factory=dict)
    max_beta: float | None = None
    target_volatility_annual: float | None = None
    periods_per_year: int = 252
    previous_weights: Mapping[str, float] = field(default_factory=dict)
    turnover_limit: float | None = None
    per_asset_turnover_limit: float | None = None
    transaction_cost_bps: float | Mapping[str, float] = 0.0
    weight_sum_tolerance: float = 1e-6

    def __post_init__(self) -> None:
        self._plain_mappings()
        if self.long_only:
            low = _lowest(self.min_weight)
            if low < 0:
                raise DataError(f"min_weight: got {low}, expected >= 0 when long_only=True")
            if self.gross_limit is not None:
                raise DataError("gross_limit: only meaningful with long_only=False")
        for name in ("gross_limit", "turnover_limit", "per_asset_turnover_limit"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise DataError(f"{name}: got {value}, expected a finite number >= 0")
        volatility = self.target_volatility_annual
        if volatility is not None and not (math.isfinite(volatility) and volatility > 0):
            raise DataError(f"target_volatility_annual: got {volatility}, expected > 0")
        check_volatility(volatility)
        check_turnover(self.turnover_limit, "turnover_limit", self.gross_limit)
        check_turnover(self.per_asset_turnover_limit, "per_asset_turnover_limit", self.gross_limit)
        if self.max_beta is not None and not self.betas:
            raise DataError("betas: max_beta is set, expected a beta for every symbol")
        unknown = sorted(set(self.factor_bounds) - set(self.factor_exposures))
        if unknown:
            raise DataError(f"factor_exposures: no exposures for bounded factor(s) {unknown}")
        for name, (low_bound, high_bound) in self.factor_bounds.items():
            if low_bound > high_bound:
                raise DataError(
                    f"factor_bounds[{name!r}]: got ({low_bound}, {high_bound}), "
                    "expected low <= high"
                )
        if self.sector_caps and not self.sectors:
            raise DataError("sectors: sector_caps is set, expected a sector for every symbol")
        if self.periods_per_year <= 0:
            raise DataError(f"periods_per_year: got {self.periods_per_year}, expected > 0")

    def _plain_mappings(self) -> None:
        """Series and other mappings become plain dicts keyed by text, every number finite.

        The Series `optimize` returns is thus usable as the next `previous_weights`; a NaN,
        inf or non-number is refused naming the field and the key (never passed to a solver).
        """
        for name in ("min_weight", "max_weight", "transaction_cost_bps"):
            value = getattr(self, name)
            if _is_mapping(value):
                object.__setattr__(self, name, _numbers(value, name))
            else:
                _number(value, name)
        for name in ("sector_caps", "betas", "previous_weights"):
            object.__setattr__(self, name, _numbers(getattr(self, name), name))
        sectors = _keyed(self.sectors, "sectors")
        for symbol, sector in sectors.items():
            if not isinstance(sector, str) or not sector.strip():
                raise DataError(f"sectors: got {sector!r} for {symbol!r}, expected a sector name")
        object.__setattr__(self, "sectors", sectors)
        exposures = _keyed(self.factor_exposures, "factor_exposures")
        object.__setattr__(
            self,
            "factor_exposures",
            {f: _numbers(v, f"factor_exposures[{f!r}]") for f, v in exposures.items()},
        )
        bounds = {}
        for factor, pair in _keyed(self.factor_bounds, "factor_bounds").items():
            values = list(pair) if isinstance(pair, Iterable) and not isinstance(pair, str) else []
            if len(values) != 2:
                raise DataError(f"factor_bounds[{factor!r}]: got {pair!r}, expected (low, high)")
            where = f"factor_bounds[{factor!r}]"
            bounds[factor] = (_number(values[0], where), _number(values[1], where))
        object.__setattr__(self, "factor_bounds", bounds)

    def non_default(self) -> list[str]:
        """Names of the fields set away from their defaults (for methods that support few)."""
        changed = []
        for item in fields(self):
            if item.name in ("periods_per_year", "weight_sum_tolerance", "sectors", "betas"):
                continue
            if item.name in ("factor_exposures", "previous_weights"):
                continue
            default = Constraints.__dataclass_fields__[item.name]
            value = getattr(self, item.name)
            expected = (
                default.default_factory() if callable(default.default_factory) else default.default
            )
            if value != expected:
                changed.append(item.name)
        return changed

    def resolve(self, symbols: Iterable[str]) -> ResolvedConstraints:
        """Arrays aligned with `symbols`; a missing sector, exposure or beta is a DataError."""
        symbols = list(symbols)
        n_assets = len(symbols)
        lower = _per_symbol(self.min_weight, symbols, "min_weight")
        upper = _per_symbol(self.max_weight, symbols, "max_weight")
        bad = [s for s, lo, hi in zip(symbols, lower, upper, strict=True) if lo > hi]
        if bad:
            raise DataError(f"min_weight/max_weight: min exceeds max for {bad[:5]}")
        sector_names = sorted(self.sector_caps)
        sector_matrix = np.zeros((len(sector_names), n_assets))
        if self.sector_caps:
            missing = [s for s in symbols if s not in self.sectors]
            if missing:
                raise DataError(f"sectors: no sector for {missing[:10]}, expected one per symbol")
            for row, name in enumerate(sector_names):
                sector_matrix[row] = [self.sectors[s] == name for s in symbols]
        factor_names = sorted(self.factor_bounds)
        factor_matrix = np.zeros((len(factor_names), n_assets))
        for row, name in enumerate(factor_names):
            exposures = self.factor_exposures[name]
            missing = [s for s in symbols if s not in exposures]
            if missing:
                raise DataError(f"factor_exposures[{name!r}]: no exposure for {missing[:10]}")
            factor_matrix[row] = [exposures[s] for s in symbols]
        betas = None
        if self.max_beta is not None:
            missing = [s for s in symbols if s not in self.betas]
            if missing:
                raise DataError(f"betas: no beta for {missing[:10]}, expected one per symbol")
            betas = np.array([self.betas[s] for s in symbols], dtype=np.float64)
        unknown_previous = sorted(set(self.previous_weights) - set(symbols))
        limits_turnover = (self.turnover_limit, self.per_asset_turnover_limit) != (None, None)
        if unknown_previous and limits_turnover:
            # Selling a name outside the universe is turnover the problem cannot see.
            raise DataError(
                f"previous_weights: {unknown_previous[:5]} are not in the universe; "
                "expected previous weights over the same symbols"
            )
        previous = np.array([self.previous_weights.get(s, 0.0) for s in symbols])
        cost = _per_symbol(self.transaction_cost_bps, symbols, "transaction_cost_bps") / 1e4
        if np.any(cost < 0):
            raise DataError("transaction_cost_bps: expected >= 0")
        volatility = None
        if self.target_volatility_annual is not None:
            volatility = self.target_volatility_annual / math.sqrt(self.periods_per_year)
        return ResolvedConstraints(
            symbols=tuple(symbols),
            lower=lower,
            upper=upper,
            gross_limit=self.gross_limit,
            sector_names=tuple(sector_names),
            sector_matrix=sector_matrix,
            sector_caps=np.array([self.sector_caps[name] for name in sector_names]),
            factor_names=tuple(factor_names),
            factor_matrix=factor_matrix,
            factor_lower=np.array([self.factor_bounds[name][0] for name in factor_names]),
            factor_upper=np.array([self.factor_bounds[name][1] for name in factor_names]),
            betas=betas,
            max_beta=self.max_beta,
            volatility_per_period=volatility,
            previous=previous,
            turnover_limit=self.turnover_limit,
            per_asset_turnover_limit=self.per_asset_turnover_limit,
            cost=cost,
        )


@dataclass(frozen=True, eq=False)
class ResolvedConstraints:
    """Constraints as arrays over one ordered universe; `structure()` keys the built problems."""

    symbols: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    gross_limit: float | None
    sector_names: tuple[str, ...]
    sector_matrix: np.ndarray
    sector_caps: np.ndarray
    factor_names: tuple[str, ...]
    factor_matrix: np.ndarray
    factor_lower: np.ndarray
    factor_upper: np.ndarray
    betas: np.ndarray | None
    max_beta: float | None
    volatility_per_period: float | None
    previous: np.ndarray
    turnover_limit: float | None
    per_asset_turnover_limit: float | None
    cost: np.ndarray

    @property
    def has_trades(self) -> bool:
        """Whether the problem needs the trade variable Δw = w - previous."""
        return bool(
            self.turnover_limit is not None
            or self.per_asset_turnover_limit is not None
            or np.any(self.cost > 0)
        )

    def structure(self) -> tuple[object, ...]:
        """What fixes a problem's shape: same structure, same compiled problem, new values."""
        return (
            len(self.symbols),
            self.gross_limit is not None,
            len(self.sector_names),
            len(self.factor_names),
            self.max_beta is not None,
            self.volatility_per_period is not None,
            self.turnover_limit is not None,
            self.per_asset_turnover_limit is not None,
            self.has_trades,
        )

    def max_violation(
        self, weights: np.ndarray, covariance: np.ndarray | FactorCovariance
    ) -> float:
        """The largest amount by which `weights` break any constraint (0.0 when none is broken).

        In each constraint's own units (weight, exposure, per-period volatility); the budget
        counts as |Σw − 1|. This is the accuracy figure reported with every answer.
        """
        trades = weights - self.previous
        amounts = [
            abs(float(weights.sum()) - 1.0),
            float(np.max(self.lower - weights, initial=0.0)),
            float(np.max(weights - self.upper, initial=0.0)),
        ]
        if self.gross_limit is not None:
            amounts.append(float(np.abs(weights).sum()) - self.gross_limit)
        if self.sector_caps.size:
            amounts.append(float(np.max(self.sector_matrix @ weights - self.sector_caps)))
        if self.factor_names:
            exposure = self.factor_matrix @ weights
            amounts.append(float(np.max(self.factor_lower - exposure)))
            amounts.append(float(np.max(exposure - self.factor_upper)))
        if self.betas is not None and self.max_beta is not None:
            amounts.append(float(self.betas @ weights) - self.max_beta)
        if self.volatility_per_period is not None:
            volatility = math.sqrt(max(float(portfolio_variance(weights, covariance)), 0.0))
            amounts.append(volatility - self.volatility_per_period)
        if self.turnover_limit is not None:
            amounts.append(0.5 * float(np.abs(trades).sum()) - self.turnover_limit)
        if self.per_asset_turnover_limit is not None:
            amounts.append(float(np.abs(trades).max()) - self.per_asset_turnover_limit)
        return max(0.0, *amounts)

    def violations(
        self, weights: np.ndarray, covariance: np.ndarray | FactorCovariance, tol: float
    ) -> list[str]:
        """Every constraint `weights` break by more than `tol` (used by tests and as a guard)."""
        found = []
        if abs(weights.sum() - 1.0) > tol:
            found.append(f"budget: sum {weights.sum():.9f}")
        if np.any(weights < self.lower - tol):
            found.append("min_weight")
        if np.any(weights > self.upper + tol):
            found.append("max_weight")
        if self.gross_limit is not None and np.abs(weights).sum() > self.gross_limit + tol:
            found.append("gross_limit")
        if self.sector_caps.size and np.any(self.sector_matrix @ weights > self.sector_caps + tol):
            found.append("sector_caps")
        if self.factor_names:
            exposure = self.factor_matrix @ weights
            if np.any(exposure < self.factor_lower - tol) or np.any(
                exposure > self.factor_upper + tol
            ):
                found.append("factor_bounds")
        beta_cap = self.max_beta
        if (
            self.betas is not None
            and beta_cap is not None
            and self.betas @ weights > beta_cap + tol
        ):
            found.append("max_beta")
        if self.volatility_per_period is not None:
            volatility = math.sqrt(max(float(portfolio_variance(weights, covariance)), 0.0))
            if volatility > self.volatility_per_period * (1 + tol) + tol:
                found.append("target_volatility_annual")
        trades = weights - self.previous
        if (
            self.turnover_limit is not None
            and 0.5 * np.abs(trades).sum() > self.turnover_limit + tol
        ):
            found.append("turnover_limit")
        if self.per_asset_turnover_limit is not None and np.any(
            np.abs(trades) > self.per_asset_turnover_limit + tol
        ):
            found.append("per_asset_turnover_limit")
        return found


def _is_mapping(value: object) -> bool:
    return isinstance(value, Mapping | pd.Series)


def _keyed(value: object, name: str) -> dict[str, object]:
    """A mapping or Series as a dict keyed by text; keys equal once made text are refused."""
    if not _is_mapping(value):
        raise DataError(f"{name}: got {type(value).__name__}, expected a mapping or a Series")
    plain: dict[str, object] = {}
    for key, item in value.items():  # type: ignore[attr-defined]
        text = str(key)
        if text in plain:
            raise DataError(f"{name}: {text!r} appears twice, expected one value per key")
        plain[text] = item
    return plain


def _numbers(value: object, name: str) -> dict[str, float]:
    return {key: _number(item, f"{name}[{key!r}]") for key, item in _keyed(value, name).items()}


def _number(value: object, name: str) -> float:
    """`value` as a finite float, or a DataError naming `name` (field and key)."""
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise DataError(f"{name}: got {value!r}, expected a finite number")
    number = float(value)
    if not math.isfinite(number):
        raise DataError(f"{name}: got {number}, expected a finite number")
    return number


def _lowest(value: float | Mapping[str, float]) -> float:
    if isinstance(value, Mapping):
        return min(value.values(), default=0.0)
    return float(value)


def _per_symbol(
    value: float | Mapping[str, float], symbols: Sequence[str], name: str
) -> np.ndarray:
    """A scalar for everyone, or a mapping that must cover every symbol."""
    if isinstance(value, Mapping):
        missing = [s for s in symbols if s not in value]
        if missing:
            raise DataError(f"{name}: no value for {missing[:10]}, expected one per symbol")
        return np.array([float(value[s]) for s in symbols])
    if not math.isfinite(float(value)):
        raise DataError(f"{name}: got {value}, expected a finite number")
    return np.full(len(symbols), float(value))
