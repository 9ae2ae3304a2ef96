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
  dated on or before D and at most `EXPOSURE_MAX_AGE_DAYS` old.

The optimizer is `stocker.core.optimize.optimize`; its weights replace the date's stored weights
in one transaction, and the report carries what the optimizer said (solver, attempts, the sum
before renormalisation, a PSD repair) with risk contributions and sector totals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.errors import DataError, InfeasibleError
from stocker.core.returns import simple_returns
from stocker.lab.portfolio_reports import (
    OptimizationReport,
    PortfolioView,
    sector_totals,
)
from stocker.store.repositories.portfolios import Portfolio, StoredConstraints

if TYPE_CHECKING:
    from stocker.core.optimize import Constraints
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "DEFAULT_LOOKBACK_DAYS",
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
EXPOSURE_MAX_AGE_DAYS = 366
"""Factor exposures and betas older than this (before the rebalance date) are not used."""
STALE_DAYS = 5
"""A window ending more calendar days than this before the rebalance date is noted as stale."""
DEFAULT_INITIAL_CAPITAL = 1_000_000.0
CODE_CHARACTERS = 50
EXPECTED_RETURN_MODES = {"historical": "historical_mean", "ewma": "ewma_mean"}
"""Stored mode → the optimizer's name (historical mean, or EWMA mean with a 63-day half-life)."""


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
    """
    from stocker.core.optimize import METHODS
    from stocker.data.universes import found_universe

    code = code.strip()
    if not code or len(code) > CODE_CHARACTERS:
        raise DataError(f"code: got {code!r}, expected 1 to {CODE_CHARACTERS} characters")
    if method not in METHODS:
        raise DataError(f"method: got {method!r}, expected one of {', '.join(METHODS)}")
    if expected_returns not in EXPECTED_RETURN_MODES:
        raise DataError(
            f"expected_returns: got {expected_returns!r}, expected one of "
            f"{', '.join(EXPECTED_RETURN_MODES)}"
        )
    if initial_capital is not None and not initial_capital > 0:
        raise DataError(f"initial_capital: got {initial_capital}, expected > 0")
    constraints = constraints or StoredConstraints()
    _check_constraints(constraints, method)
    with uow:
        if uow.portfolios.named(code) is not None:
            raise DataError(f"portfolio: {code!r} already exists; see `stocker portfolio show`")
        universe = found_universe(uow, group)
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
) -> OptimizationReport:
    """Optimize portfolio `code` as of `day` on data known then, store the weights, report.

    `expected_returns` overrides the portfolio's stored mode ("historical" or "ewma");
    `risk_free_rate` is per day, like the returns. See the module docstring for what is read.
    """
    from stocker.core.optimize import optimize

    if lookback_days < MIN_RETURNS:
        raise DataError(f"lookback_days: got {lookback_days}, expected at least {MIN_RETURNS}")
    with uow:
        portfolio = _found(uow, code, for_update=True)
        mode = expected_returns or portfolio.expected_return_mode or "historical"
        if mode not in EXPECTED_RETURN_MODES:
            raise DataError(
                f"expected_returns: got {mode!r}, expected one of "
                f"{', '.join(EXPECTED_RETURN_MODES)}"
            )
        symbols = _member_symbols(uow, portfolio)
        stored = uow.portfolios.constraints(portfolio.id) or StoredConstraints()
        returns, notes = _returns(uow, symbols, day, lookback_days, portfolio.group or "")
        sectors = _sectors(uow, symbols)
        previous = uow.portfolios.latest_weights(portfolio.id, before=day)
        constraints = _constraints(uow, stored, symbols, sectors, previous, day)
        notes += _sector_notes(stored, sectors)
        if previous is None and (
            stored.turnover_limit is not None or stored.per_asset_turnover_limit is not None
        ):
            notes += (
                "first rebalance (no weights stored before this date): built from cash, so the "
                "turnover limit does not apply",
            )
        with warnings.catch_warnings():
            # A PSD repair is reported in the result's notes (and so in this report).
            warnings.simplefilter("ignore", RuntimeWarning)
            weights = optimize(
                returns,
                method=portfolio.optimizer_type,  # type: ignore[arg-type]
                constraints=constraints,
                expected_returns=EXPECTED_RETURN_MODES[mode],  # type: ignore[arg-type]
                risk_free_rate=risk_free_rate,
            )
        result = weights.attrs["result"]
        weights = pd.Series(weights.to_numpy(dtype=np.float64), index=symbols, name="weight")
        replaced = uow.portfolios.replace_weights(portfolio.id, day, weights)
        uow.commit()
    turnover = None
    if previous is not None:
        before = previous[1].reindex(symbols, fill_value=0.0)
        turnover = 0.5 * float(np.abs(weights - before).sum())
    contributions = result.risk_contributions
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
        risk_contributions=pd.Series(
            np.asarray(contributions, dtype=np.float64), index=symbols, name="risk_contribution"
        ),
        sectors=sectors,
        sector_totals=sector_totals(weights, sectors),
        constraints=stored,
        previous_date=None if previous is None else previous[0],
        turnover=turnover,
        psd_repair=result.psd.reason if result.psd.repaired else None,
        notes=(*notes, *result.notes),
        replaced=replaced,
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


def _latest_rows(
    frame: pd.DataFrame, column: str, symbols: list[str], day: dt.date
) -> dict[str, float]:
    """Each symbol's latest non-null `column` on or before `day`; a DataError names any missing."""
    rows = frame.dropna(subset=[column]).sort_values("as_of_date")
    latest = rows.groupby("symbol")[column].last()
    missing = [symbol for symbol in symbols if symbol not in latest.index]
    if missing:
        raise DataError(
            f"{column}: no value for {', '.join(missing[:10])} in the {EXPOSURE_MAX_AGE_DAYS} "
            f"days to {day}; compute it first (`stocker factors compute` / `stocker risk compute`)"
        )
    return {symbol: float(latest[symbol]) for symbol in symbols}


def _constraints(
    uow: SqlUnitOfWork,
    stored: StoredConstraints,
    symbols: list[str],
    sectors: dict[str, str],
    previous: tuple[dt.date, pd.Series] | None,
    day: dt.date,
) -> Constraints:
    """The optimizer's constraints for this rebalance, with the point-in-time inputs they need."""
    since = day - dt.timedelta(days=EXPOSURE_MAX_AGE_DAYS)
    exposures: dict[str, dict[str, float]] = {}
    if stored.factor_bounds:
        frame = uow.factors.exposures(since, day, symbols)
        for name in stored.factor_bounds:
            if name not in frame.columns or name in ("symbol", "as_of_date"):
                raise DataError(f"factor_bounds: unknown factor {name!r}")
            exposures[name] = _latest_rows(frame, name, symbols, day)
    betas: dict[str, float] = {}
    if stored.max_beta is not None:
        betas = _latest_rows(uow.factors.risk(since, day, symbols), "beta", symbols, day)
    if stored.sector_caps:
        unlabelled = [symbol for symbol in symbols if symbol not in sectors]
        if unlabelled:
            raise DataError(
                f"sectors: {', '.join(unlabelled[:10])} have no sector in instrument_info; "
                "sector caps need one for every member"
            )
    return _to_core(
        stored, sectors, exposures, betas, previous, limit_turnover=previous is not None
    )


def _to_core(
    stored: StoredConstraints,
    sectors: dict[str, str],
    exposures: dict[str, dict[str, float]],
    betas: dict[str, float],
    previous: tuple[dt.date, pd.Series] | None,
    *,
    limit_turnover: bool,
) -> Constraints:
    """The core's `Constraints`; turnover limits apply only when `limit_turnover`."""
    from stocker.core.optimize import Constraints

    return Constraints(
        min_weight=stored.min_weight,
        max_weight=stored.max_weight,
        long_only=stored.long_only,
        gross_limit=stored.gross_limit,
        sectors=sectors if stored.sector_caps else {},
        sector_caps=dict(stored.sector_caps),
        factor_exposures=exposures,
        factor_bounds=dict(stored.factor_bounds),
        betas=betas,
        max_beta=stored.max_beta,
        target_volatility_annual=stored.target_volatility,
        previous_weights={}
        if previous is None
        else {str(k): float(v) for k, v in previous[1].items()},
        turnover_limit=stored.turnover_limit if limit_turnover else None,
        per_asset_turnover_limit=stored.per_asset_turnover_limit if limit_turnover else None,
        transaction_cost_bps=stored.transaction_cost_bps,
    )


def _check_constraints(stored: StoredConstraints, method: str) -> None:
    """Check a constraint set by the optimizer's own rules before it is stored.

    The core validates a `Constraints` built with placeholder sectors, betas and exposures; a
    method that cannot honour a constraint (risk parity with a sector cap, say) is found by
    running it on a two-asset probe, where the core refuses such a set before any numerics (a
    convex method's problem is only built, which checks its requirements, such as max_return's
    volatility cap). Only the probe's infeasibility is ignored: it says nothing about the group.
    """
    from stocker.core.factors import COLUMNS
    from stocker.core.optimize import ConvexProblem, optimize
    from stocker.core.optimize.convex import CONVEX_METHODS

    if stored.max_weight > 1:
        raise DataError(f"max_weight: got {stored.max_weight}, expected at most 1")
    if stored.min_weight > stored.max_weight:
        raise DataError(f"min_weight: got {stored.min_weight} above max_weight {stored.max_weight}")
    for sector, cap in stored.sector_caps.items():
        if not 0 <= cap <= 1:
            raise DataError(f"sector_caps[{sector!r}]: got {cap}, expected between 0 and 1")
    unknown = sorted(set(stored.factor_bounds) - set(COLUMNS))
    if unknown:
        raise DataError(f"factor_bounds: unknown factor(s) {unknown}, expected {list(COLUMNS)}")
    probe = ["_a", "_b"]
    constraints = _to_core(
        stored,
        dict.fromkeys(probe, "_"),
        {name: dict.fromkeys(probe, 0.0) for name in stored.factor_bounds},
        dict.fromkeys(probe, 0.0) if stored.max_beta is not None else {},
        None,
        limit_turnover=True,
    )
    if method in CONVEX_METHODS:
        # Building (not solving) the problem applies the method's own requirements.
        ConvexProblem(method, constraints.resolve(probe), 3 if method == "min_cvar" else 0)
        return
    returns = pd.DataFrame([[0.01, -0.02], [-0.01, 0.01], [0.02, 0.0]], columns=probe)
    with contextlib.suppress(InfeasibleError):
        optimize(returns, method=method, constraints=constraints)  # type: ignore[arg-type]


def _sector_notes(stored: StoredConstraints, sectors: dict[str, str]) -> tuple[str, ...]:
    """A cap naming no member's sector binds nothing: say so rather than look applied."""
    present = set(sectors.values())
    unmatched = sorted(set(stored.sector_caps) - present)
    if not unmatched:
        return ()
    return (
        f"sector cap(s) {', '.join(unmatched)} match no member's sector "
        f"(sectors here: {', '.join(sorted(present)) or 'none'})",
    )
