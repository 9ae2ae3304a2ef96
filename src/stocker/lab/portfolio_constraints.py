"""The optimizer's constraints for one rebalance, from a portfolio's stored constraints.

`check_constraints` applies the optimizer's own rules when a portfolio is created;
`rebalance_constraints` adds what a rebalance on D needs: sectors, betas and factor exposures
known on D (the latest rows at most `EXPOSURE_MAX_AGE_DAYS` old), and the previous weights.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING

import pandas as pd

from stocker.core.errors import DataError, InfeasibleError
from stocker.store.repositories.portfolios import StoredConstraints

if TYPE_CHECKING:
    from stocker.core.optimize import Constraints
    from stocker.store.uow import SqlUnitOfWork

EXPOSURE_MAX_AGE_DAYS = 366
"""Factor exposures and betas older than this (before the rebalance date) are not used."""


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


def rebalance_constraints(
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


def check_constraints(stored: StoredConstraints, method: str) -> None:
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


def sector_notes(stored: StoredConstraints, sectors: dict[str, str]) -> tuple[str, ...]:
    """A cap naming no member's sector binds nothing: say so rather than look applied."""
    present = set(sectors.values())
    unmatched = sorted(set(stored.sector_caps) - present)
    if not unmatched:
        return ()
    return (
        f"sector cap(s) {', '.join(unmatched)} match no member's sector "
        f"(sectors here: {', '.join(sorted(present)) or 'none'})",
    )
