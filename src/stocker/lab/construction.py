"""Portfolio construction: create a portfolio on a group, optimize it as of a date, show it.

`optimize_portfolio(uow, code, day=D)` reads only what was known on D:

- the adjusted closes of the group's live members dated on or before D, over the last
  `lookback_days` + 1 sessions (252 by default: one year of daily returns, the usual estimation
  window for a daily covariance). A member with no price in that window, or whose prices start
  after its first session or stop before its last, is refused with a `DataError` naming it (a
  covariance over a shorter history would be silently different). A price missing inside the
  window is bridged: the day after the gap carries the return from the last known price, and
  the missing day's return is 0 (counted in the report's notes);
- the weights stored for the latest rebalance strictly before D (the turnover limit and costs
  are measured against them). With none stored the portfolio is built from cash: costs are
  charged on the whole purchase and the turnover limits do not apply (any limit below 50%
  would make a first rebalance infeasible), which the report's notes say;
- sector labels from `instrument_info.sector` (which keeps no history: today's labels);
- for factor bounds and a beta cap, each member's latest `factor_exposures` / `risk_model` row
  dated on or before D and at most a year old
  (`stocker.lab.portfolio_constraints.EXPOSURE_MAX_AGE_DAYS`).

The optimizer is `stocker.core.optimize.optimize`; its weights replace the date's stored weights
in one transaction, and the report carries what the optimizer said (solver, attempts, the sum
before renormalisation, a PSD repair) with risk contributions and sector totals.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.returns import simple_returns
from stocker.lab.portfolio_chain import check_later, forced_sale_note, forced_sales
from stocker.lab.portfolio_constraints import (
    EXPECTED_RETURN_MODES,
    canonical_mode,
    check_constraints,
    check_expected_returns,
    check_feasible_on_group,
    check_views_used,
    expected_returns_for,
    rebalance_constraints,
    sector_notes,
)
from stocker.lab.portfolio_reports import (
    OptimizationReport,
    PortfolioView,
    sector_totals,
)
from stocker.store.repositories.portfolios import Portfolio, StoredConstraints

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
    "EXPECTED_RETURN_MODES",
    "OptimizationReport",
    "Portfolio",
    "PortfolioView",
    "StoredConstraints",
    "create_portfolio",
    "optimize_portfolio",
    "show_portfolio",
]

DEFAULT_LOOKBACK_DAYS = 252
"""Daily returns in the estimation window: one trading year."""
MIN_RETURNS = 20
"""Fewer daily returns than this make no covariance worth optimizing on."""
STALE_DAYS = 5
"""A window ending more calendar days than this before the rebalance date is noted as stale."""
DEFAULT_INITIAL_CAPITAL = 1_000_000.0
CODE_CHARACTERS = 50


def create_portfolio(
    uow: SqlUnitOfWork,
    code: str,
    *,
    group: str,
    method: str,
    constraints: StoredConstraints | None = None,
    expected_returns: str = "historical",
    name: str | None = None,
    description: str | None = None,
    initial_capital: float | None = DEFAULT_INITIAL_CAPITAL,
) -> PortfolioView:
    """Create portfolio `code` on group `group` with an optimizer and its constraints.

    The constraints are checked by the optimizer's own rules now (not at the first rebalance).
    `expected_returns` takes either spelling of a mode (``historical`` / ``historical_mean``,
    ``ewma`` / ``ewma_mean``) and stores the short one; views with a mode that does not use
    them are refused.
    """
    from stocker.core.optimize import METHODS
    from stocker.data.universes import found_universe

    code = code.strip()
    if not code or len(code) > CODE_CHARACTERS:
        raise DataError(f"code: got {code!r}, expected 1 to {CODE_CHARACTERS} characters")
    if method not in METHODS:
        raise DataError(f"method: got {method!r}, expected one of {', '.join(METHODS)}")
    if initial_capital is not None and not initial_capital > 0:
        raise DataError(f"initial_capital: got {initial_capital}, expected > 0")
    constraints = constraints or StoredConstraints()
    expected_returns = canonical_mode(expected_returns)
    check_expected_returns(constraints, expected_returns)
    check_views_used(constraints, expected_returns)
    check_constraints(constraints, method)
    with uow:
        if uow.portfolios.named(code) is not None:
            raise DataError(f"portfolio: {code!r} already exists; see `stocker portfolio show`")
        universe = found_universe(uow, group)
        symbols = [member.symbol for member in uow.universes.members(universe.id)]
        check_feasible_on_group(constraints, group, symbols, _sectors(uow, symbols))
        portfolio_id = uow.portfolios.insert(
            code,
            name=name or code,
            description=description,
            group_id=universe.id,
            optimizer_type=method,
            expected_return_mode=expected_returns,
            initial_capital=initial_capital,
        )
        uow.portfolios.save_constraints(portfolio_id, constraints)
        view = _view(uow, code)
        uow.commit()
    return view


def show_portfolio(uow: SqlUnitOfWork, code: str) -> PortfolioView:
    """The portfolio, its constraints and its latest stored weights."""
    with uow:
        return _view(uow, code)


def optimize_portfolio(
    uow: SqlUnitOfWork,
    code: str,
    *,
    day: dt.date,
    lookback_days: int = DEFAULT_LOOKBACK_DAYS,
    expected_returns: str | None = None,
    risk_free_rate: float = 0.0,
    covariance: str | None = None,
    replace_later: bool = False,
) -> OptimizationReport:
    """Optimize portfolio `code` as of `day` on data known then, store the weights, report.

    Rebalances stored after `day` were measured against the weights before them: with a
    turnover limit or costs, optimizing `day` is refused unless `replace_later` deletes them
    (the report names them); without, they are kept and noted (`stocker.lab.portfolio_chain`).

    `expected_returns` overrides the portfolio's stored mode (historical, ewma, capm,
    black_litterman with the portfolio's views, factor_implied; see `expected_returns_for`);
    `risk_free_rate` is per day, like the returns. `covariance` names an estimator of the
    covariance cache (`stocker.lab.covariance`: "sample", "ledoit_wolf", "oas", …): the matrix
    over the same window, and for HRP and HERC the clustering tree, are read from the cache or
    computed and stored there; None estimates the sample covariance of the window here. See the
    module docstring for what is read.
    """
    from stocker.core.optimize import optimize

    if lookback_days < MIN_RETURNS:
        raise DataError(f"lookback_days: got {lookback_days}, expected at least {MIN_RETURNS}")
    with uow:
        portfolio = _found(uow, code, for_update=True)
        mode = canonical_mode(expected_returns or portfolio.expected_return_mode or "historical")
        symbols = _member_symbols(uow, portfolio)
        stored = uow.portfolios.constraints(portfolio.id) or StoredConstraints()
        check_expected_returns(stored, mode)
        later = [d for d in uow.portfolios.rebalance_dates(portfolio.id) if d > day]
        notes = check_later(portfolio.code, stored, day, later, replace_later=replace_later)
        returns, window_notes = _returns(uow, symbols, day, lookback_days, portfolio.group or "")
        notes += window_notes
        sectors = _sectors(uow, symbols)
        previous = uow.portfolios.latest_weights(portfolio.id, before=day)
        constraints = rebalance_constraints(
            uow, stored, symbols, sectors, previous, day, group=portfolio.group or ""
        )
        forced = forced_sales(None if previous is None else previous[1], symbols)
        if forced:
            notes += (forced_sale_note(forced, stored, None if previous is None else previous[0]),)
        notes += sector_notes(stored, sectors)
        if previous is None and (
            stored.turnover_limit is not None or stored.per_asset_turnover_limit is not None
        ):
            notes += (
                "first rebalance (no weights stored before this date): built from cash, so the "
                "turnover limit does not apply",
            )
        options: dict[str, object] = {}
        cache_repair = None
        if covariance is not None and portfolio.optimizer_type == "equal_weight":
            notes += (f"covariance: equal_weight needs none, so {covariance} was not read",)
            covariance = None
        if covariance is not None:
            options, cache_note, cache_repair = _cached(
                uow, str(portfolio.optimizer_type), day, symbols, covariance, lookback_days
            )
            notes += (cache_note,)
            returns = returns[sorted(symbols)]  # the cache's order, which a stored tree keeps
        expected, expected_notes = expected_returns_for(
            uow, mode, stored, list(returns.columns), day, risk_free_rate
        )
        notes += expected_notes
        with warnings.catch_warnings():
            # A PSD repair is reported in the result's notes (and so in this report).
            warnings.simplefilter("ignore", RuntimeWarning)
            found = optimize(
                returns,
                method=portfolio.optimizer_type,  # type: ignore[arg-type]
                constraints=constraints,
                expected_returns=expected,  # type: ignore[arg-type]
                risk_free_rate=risk_free_rate,
                **options,
            )
        result = found.attrs["result"]
        weights = found.reindex(symbols).astype(np.float64).rename("weight")
        deleted = uow.portfolios.delete_weights_after(portfolio.id, day) if replace_later else []
        replaced = uow.portfolios.replace_weights(portfolio.id, day, weights)
        uow.commit()
    turnover = None
    if previous is not None:  # over every name held before, the forced sales included
        names = weights.index.union(previous[1].index)
        before = previous[1].reindex(names, fill_value=0.0)
        turnover = 0.5 * float(np.abs(weights.reindex(names, fill_value=0.0) - before).sum())
    contributions = result.risk_contributions.reindex(symbols)
    psd_repair = cache_repair or (result.psd.reason if result.psd.repaired else None)
    return OptimizationReport(
        code=portfolio.code,
        day=day,
        method=result.method,
        group=portfolio.group or "",
        expected_return_mode=mode,
        window_start=returns.index[0].date(),
        window_end=returns.index[-1].date(),
        observations=len(returns),
        solver=result.solver,
        attempts=tuple(result.attempts),
        objective=float(result.objective),
        objective_name=result.objective_name,
        sum_before_normalization=float(result.sum_before_normalization),
        weights=weights,
        risk_contributions=contributions.astype(np.float64).rename("risk_contribution"),
        sectors=sectors,
        sector_totals=sector_totals(weights, sectors),
        constraints=stored,
        previous_date=None if previous is None else previous[0],
        turnover=turnover,
        psd_repair=psd_repair,
        notes=(*notes, *result.notes),
        replaced=replaced,
        deleted_later=tuple(deleted),
    )


# --- inside the unit of work ---------------------------------------------------------------------


def _found(uow: SqlUnitOfWork, code: str, *, for_update: bool = False) -> Portfolio:
    portfolio = uow.portfolios.named(code, for_update=for_update)
    if portfolio is None:
        known = ", ".join(uow.portfolios.codes()[:10]) or "none yet"
        raise DataError(
            f"portfolio: {code!r} does not exist; known portfolios: {known} "
            f"(create it with `stocker portfolio create {code} --group G --method M`)"
        )
    return portfolio


def _member_symbols(uow: SqlUnitOfWork, portfolio: Portfolio) -> list[str]:
    if portfolio.group_id is None or portfolio.group is None:
        raise DataError(f"portfolio {portfolio.code!r}: its group no longer exists")
    symbols = [member.symbol for member in uow.universes.members(portfolio.group_id)]
    if not symbols:
        raise DataError(f"group {portfolio.group!r}: has no members; add some first")
    return symbols


def _cached(
    uow: SqlUnitOfWork,
    method: str,
    day: dt.date,
    symbols: list[str],
    estimator: str,
    window_days: int,
) -> tuple[dict[str, object], str, str | None]:
    """The optimizer's `covariance` (and `tree` for HRP / HERC) from the covariance cache, a
    note saying where they came from, and the cache's PSD repair if the matrix needed one."""
    from stocker.lab.covariance import covariance_in, hrp_tree_in

    found = covariance_in(
        uow, day=day, symbols=symbols, estimator=estimator, window_days=window_days
    )
    options: dict[str, object] = {"covariance": found.matrix}
    origin = "read from" if found.cached else "computed and stored in"
    note = f"covariance: {found.method} {origin} the cache (row {found.id})"
    trees = {"hrp": ("single", "lopez_de_prado"), "herc": ("ward", "condensed")}
    if method in trees:
        linkage_method, convention = trees[method]
        tree = hrp_tree_in(
            uow,
            day=day,
            symbols=symbols,
            estimator=estimator,
            window_days=window_days,
            linkage_method=linkage_method,
            convention=convention,  # type: ignore[arg-type]
        )
        options["tree"] = tree.tree
        note += f"; tree {tree.linkage} {'read from' if tree.cached else 'stored in'} the cache"
    repair = found.psd.reason if found.psd.repaired else None
    return options, note, repair


def _view(uow: SqlUnitOfWork, code: str) -> PortfolioView:
    portfolio = _found(uow, code)
    members = 0
    if portfolio.group_id is not None and portfolio.group is not None:
        members = len(uow.universes.members(portfolio.group_id))
    latest = uow.portfolios.latest_weights(portfolio.id)
    weights = latest[1] if latest is not None else pd.Series(dtype="float64", name="weight")
    sectors = _sectors(uow, [str(symbol) for symbol in weights.index])
    return PortfolioView(
        portfolio=portfolio,
        constraints=uow.portfolios.constraints(portfolio.id) or StoredConstraints(),
        members=members,
        rebalance_dates=uow.portfolios.rebalance_dates(portfolio.id),
        latest_date=None if latest is None else latest[0],
        weights=weights.sort_values(ascending=False),
        sectors=sectors,
        sector_totals=sector_totals(weights, sectors),
    )


def _sectors(uow: SqlUnitOfWork, symbols: list[str]) -> dict[str, str]:
    if not symbols:
        return {}
    found = uow.derived.sectors(symbols)
    return {symbol: sector for symbol, sector in found.items() if sector}


def _returns(
    uow: SqlUnitOfWork, symbols: list[str], day: dt.date, lookback_days: int, group: str
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Daily returns of `symbols` over the last `lookback_days` sessions up to `day`."""
    start = uow.derived.lookback_start(day, lookback_days + 1) or day
    prices = uow.derived.panel("adj_close", symbols=symbols, start=start, end=day)
    prices = prices.iloc[-(lookback_days + 1) :]
    if len(prices) < MIN_RETURNS + 1:
        raise DataError(
            f"prices: group {group!r} has {max(len(prices) - 1, 0)} daily returns up to {day}, "
            f"expected at least {MIN_RETURNS} (load prices, or optimize at a later date)"
        )
    first, last = prices.index[0].date(), prices.index[-1].date()
    present = prices.notna()
    missing = [symbol for symbol in symbols if not present[symbol].any()]
    if missing:
        raise DataError(
            f"prices: {', '.join(missing)} of group {group!r} have no prices from {first} to "
            f"{day}; load them or remove them from the group"
        )
    short = [
        f"{symbol} ({_day_of(prices[symbol].first_valid_index())} to "
        f"{_day_of(prices[symbol].last_valid_index())})"
        for symbol in symbols
        if not (present[symbol].iloc[0] and present[symbol].iloc[-1])
    ]
    if short:
        raise DataError(
            f"prices: the window is {first} to {last} ({len(prices) - 1} returns), but "
            f"{', '.join(short)} do not cover it; shorten lookback_days or remove them"
        )
    returns = simple_returns(prices, across_gaps=True).iloc[1:]
    gaps = int(returns.isna().to_numpy().sum())
    notes: tuple[str, ...] = ()
    if gaps:
        notes += (
            f"{gaps} missing prices inside the window bridged (a 0 return on the missing day)",
        )
    if (day - last).days > STALE_DAYS:
        notes += (f"the latest price is from {last}, {(day - last).days} days before {day}",)
    return returns.fillna(0.0), notes


def _day_of(stamp: object) -> str:
    return pd.Timestamp(str(stamp)).date().isoformat()
