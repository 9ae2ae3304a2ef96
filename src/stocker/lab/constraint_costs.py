"""What each constraint of a portfolio costs: the optimizer's objective with every constraint,
and again with each one dropped, on the same data as the rebalance `optimize_portfolio` stores.

A what-if only: nothing is stored. It reads exactly what `optimize_portfolio` reads (members,
the returns window, sectors, the previous weights, point-in-time exposures and the expected
returns of the portfolio's mode, Black–Litterman's and factor-implied included, through
`expected_returns_for`), and solves with `stocker.core.optimize.optimize`. The cost of a
constraint is the change of the objective when it alone is dropped (for a minimum-variance
portfolio: the variance it adds; for maximum Sharpe: the Sharpe it gives up). A relaxation the
optimizer cannot solve is reported with its reason rather than failing the whole comparison.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stocker.core.errors import DataError, StockerError
from stocker.lab.construction import (
    DEFAULT_LOOKBACK_DAYS,
    MIN_RETURNS,
    _found,
    _member_symbols,
    _returns,
    _sectors,
)
from stocker.lab.portfolio_constraints import (
    canonical_mode,
    check_expected_returns,
    expected_returns_for,
    rebalance_constraints,
)
from stocker.store.repositories.portfolios import StoredConstraints

if TYPE_CHECKING:
    import pandas as pd

    from stocker.store.uow import SqlUnitOfWork

__all__ = ["ConstraintCost", "ConstraintCosts", "constraint_costs", "relaxations"]


@dataclass(frozen=True)
class ConstraintCost:
    """One constraint: the objective without it and the change it makes (None if unsolvable)."""

    constraint: str
    objective_without: float | None
    change: float | None
    note: str = ""


@dataclass(frozen=True)
class ConstraintCosts:
    """The objective with every constraint, its name, and what each constraint costs."""

    code: str
    day: dt.date
    method: str
    expected_return_mode: str
    objective: float
    objective_name: str
    costs: tuple[ConstraintCost, ...]
    notes: tuple[str, ...] = ()


def relaxations(stored: StoredConstraints) -> list[tuple[str, StoredConstraints]]:
    """Each active constraint with the constraints that remain when it alone is dropped."""
    replace = dataclasses.replace
    found: list[tuple[str, StoredConstraints]] = []
    if stored.max_weight < 1.0:
        found.append((f"max weight {stored.max_weight:g}", replace(stored, max_weight=1.0)))
    if stored.long_only and stored.min_weight > 0:
        found.append((f"min weight {stored.min_weight:g}", replace(stored, min_weight=0.0)))
    for sector, cap in stored.sector_caps.items():
        rest = {name: value for name, value in stored.sector_caps.items() if name != sector}
        found.append((f"{sector} ≤ {cap:g}", replace(stored, sector_caps=rest)))
    for factor, (low, high) in stored.factor_bounds.items():
        rest_bounds = {k: v for k, v in stored.factor_bounds.items() if k != factor}
        found.append((f"{low:g} ≤ {factor} ≤ {high:g}", replace(stored, factor_bounds=rest_bounds)))
    for name, label in (
        ("gross_limit", "gross ≤ {:g}"),
        ("max_beta", "beta ≤ {:g}"),
        ("target_volatility", "volatility ≤ {:g}/yr"),
        ("turnover_limit", "turnover ≤ {:g}"),
        ("per_asset_turnover_limit", "|Δw| ≤ {:g}"),
    ):
        value = getattr(stored, name)
        if value is not None:
            found.append((label.format(value), replace(stored, **{name: None})))
    if stored.transaction_cost_bps:
        found.append(
            (
                f"costs {stored.transaction_cost_bps:g} bps",
                replace(stored, transaction_cost_bps=0.0),
            )
        )
    return found


def constraint_costs(
    uow: SqlUnitOfWork,
    code: str,
    *,
    day: dt.date,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    expected_returns: str | None = None,
    risk_free_rate: float = 0.0,
) -> ConstraintCosts:
    """What each constraint of portfolio `code` costs on `day` (see the module docstring).

    `expected_returns` overrides the portfolio's stored mode, like `optimize_portfolio`'s.
    """
    if lookback_days < MIN_RETURNS:
        raise DataError(f"lookback_days: got {lookback_days}, expected at least {MIN_RETURNS}")
    with uow:
        portfolio = _found(uow, code)
        mode = canonical_mode(expected_returns or portfolio.expected_return_mode or "historical")
        symbols = _member_symbols(uow, portfolio)
        stored = uow.portfolios.constraints(portfolio.id) or StoredConstraints()
        check_expected_returns(stored, mode)
        returns, notes = _returns(uow, symbols, day, lookback_days, portfolio.group or "")
        sectors = _sectors(uow, symbols)
        previous = uow.portfolios.latest_weights(portfolio.id, before=day)
        expected, expected_notes = expected_returns_for(
            uow, mode, stored, list(returns.columns), day, risk_free_rate
        )

        def solve(constraints: StoredConstraints) -> Any:
            built = rebalance_constraints(
                uow, constraints, symbols, sectors, previous, day, group=portfolio.group or ""
            )
            return _solve(returns, str(portfolio.optimizer_type), built, expected, risk_free_rate)

        base = solve(stored)
        costs: list[ConstraintCost] = []
        for label, relaxed in relaxations(stored):
            try:
                without = float(solve(relaxed).objective)
            except StockerError as error:
                costs.append(ConstraintCost(label, None, None, str(error)))
                continue
            costs.append(ConstraintCost(label, without, float(base.objective) - without))
    return ConstraintCosts(
        code=portfolio.code,
        day=day,
        method=str(portfolio.optimizer_type),
        expected_return_mode=mode,
        objective=float(base.objective),
        objective_name=str(base.objective_name),
        costs=tuple(costs),
        notes=(*notes, *expected_notes),
    )


def _solve(
    returns: pd.DataFrame, method: str, constraints: Any, expected: object, risk_free_rate: float
) -> Any:
    """The optimizer's result (objective and its name) for one constraint set."""
    from stocker.core.optimize import optimize

    with warnings.catch_warnings():
        # A PSD repair is the rebalance's to report; the what-if only compares objectives.
        warnings.simplefilter("ignore", RuntimeWarning)
        found = optimize(
            returns,
            method=method,  # type: ignore[arg-type]
            constraints=constraints,
            expected_returns=expected,  # type: ignore[arg-type]
            risk_free_rate=risk_free_rate,
        )
    return found.attrs["result"]
