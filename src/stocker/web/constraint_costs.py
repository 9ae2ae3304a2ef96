"""What each constraint of a portfolio costs: the optimizer's objective with every constraint,
and again with each one dropped, on the same data as the stored rebalance.

A what-if only: nothing is stored. It reads exactly what `optimize_portfolio` reads (members,
the returns window, sectors, the previous weights, point-in-time exposures) through the
construction use case's own helpers, and solves with `stocker.core.optimize.optimize`. The cost
of a constraint is the change of the objective when it is dropped (for a minimum-variance
portfolio: the variance it adds; for maximum Sharpe: the Sharpe it gives up).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stocker.core.errors import StockerError

UnitOfWork = Any
"""The store's unit of work (`App.uow()`); the web app does not import the store."""

if TYPE_CHECKING:
    from stocker.lab.construction import StoredConstraints


@dataclass(frozen=True)
class ConstraintCost:
    """One constraint: the objective without it, and the change it makes (None if infeasible)."""

    constraint: str
    objective_without: float | None
    change: float | None
    note: str = ""


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
    uow: UnitOfWork, code: str, *, day: dt.date, lookback_days: int = 252
) -> tuple[float, str, list[ConstraintCost]]:
    """The objective with every constraint, its name, and each constraint's cost on `day`."""
    from stocker.core.optimize import optimize
    from stocker.lab import construction
    from stocker.lab.portfolio_constraints import rebalance_constraints

    with uow:
        portfolio = construction._found(uow, code)
        symbols = construction._member_symbols(uow, portfolio)
        stored = uow.portfolios.constraints(portfolio.id) or construction.StoredConstraints()
        returns, _ = construction._returns(uow, symbols, day, lookback_days, portfolio.group or "")
        sectors = construction._sectors(uow, symbols)
        previous = uow.portfolios.latest_weights(portfolio.id, before=day)
        mode = construction.EXPECTED_RETURN_MODES[portfolio.expected_return_mode or "historical"]

        def solve(constraints: StoredConstraints) -> Any:
            built = rebalance_constraints(uow, constraints, symbols, sectors, previous, day)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                found = optimize(
                    returns,
                    method=portfolio.optimizer_type,  # type: ignore[arg-type]
                    constraints=built,
                    expected_returns=mode,  # type: ignore[arg-type]
                )
            return found.attrs["result"]

        base = solve(stored)
        costs = []
        for label, relaxed in relaxations(stored):
            try:
                without = float(solve(relaxed).objective)
            except StockerError as error:
                costs.append(ConstraintCost(label, None, None, str(error)))
                continue
            costs.append(ConstraintCost(label, without, float(base.objective) - without))
    return float(base.objective), str(base.objective_name), costs
