"""The optimizer's constraints for one rebalance, from a portfolio's stored constraints.

`check_constraints` applies the optimizer's own rules when a portfolio is created;
`rebalance_constraints` adds what a rebalance on D needs: sectors, betas and factor exposures
known on D (the latest rows at most `EXPOSURE_MAX_AGE_DAYS` old), and the previous weights.
`expected_returns_for` builds the expected-return model of a stored mode from what was known
on D (market capitalisations for Black–Litterman's prior, composite scores for factor-implied).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.errors import DataError, InfeasibleError
from stocker.store.repositories.portfolios import StoredConstraints

if TYPE_CHECKING:
    from stocker.core.optimize import Constraints
    from stocker.store.uow import SqlUnitOfWork

EXPOSURE_MAX_AGE_DAYS = 366
"""Factor exposures and betas older than this (before the rebalance date) are not used."""
PERIODS_PER_YEAR = 252
"""Annual settings (views, score spread) are divided by this: the returns are daily."""
EXPECTED_RETURN_MODES = {
    "historical": "historical_mean",
    "ewma": "ewma_mean",
    "capm": "capm",
    "black_litterman": "black_litterman",
    "factor_implied": "factor_implied",
}
"""Stored mode → the optimizer's name. The first three are the optimizer's own named modes;
the last two need inputs from the store (`expected_returns_for`)."""
MODE_ALIASES = {"historical_mean": "historical", "ewma_mean": "ewma"}
"""The optimizer's spellings, accepted wherever a mode is named and stored as the short one."""
VIEW_MODES = ("black_litterman",)
"""Modes that use a portfolio's views."""


def canonical_mode(mode: str) -> str:
    """The stored name of an expected-return mode given in either spelling (``historical`` or
    ``historical_mean``, ``ewma`` or ``ewma_mean``); an unknown one is refused listing both."""
    name = mode.strip()
    name = MODE_ALIASES.get(name, name)
    if name not in EXPECTED_RETURN_MODES:
        spellings = [
            *(f"{short} (or {long})" for long, short in MODE_ALIASES.items()),
            *(short for short in EXPECTED_RETURN_MODES if short not in MODE_ALIASES.values()),
        ]
        raise DataError(f"expected_returns: got {mode!r}, expected one of {', '.join(spellings)}")
    return name


def check_views_used(stored: StoredConstraints, mode: str) -> None:
    """Refuse views a portfolio's stored mode would never read (stored, then silently unused)."""
    if stored.views and canonical_mode(mode) not in VIEW_MODES:
        views = ", ".join(sorted(stored.views))
        raise DataError(
            f"views: expected-return mode {canonical_mode(mode)!r} does not use views (only "
            f"black_litterman does), so the view(s) on {views} would never be used; create it "
            "with --expected-returns black_litterman (`optimize --expected-returns` still "
            "overrides the mode for one rebalance), or leave out --view"
        )


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
    *,
    group: str = "",
) -> Constraints:
    """The optimizer's constraints for this rebalance, with the point-in-time inputs they need.

    Names held in `previous` but no longer among `symbols` are sold: their sale is counted in
    the turnover limit (`stocker.lab.portfolio_chain.limits_after_forced_sales`), and the
    optimizer gets the previous weights of the members only.
    """
    from stocker.lab.portfolio_chain import forced_sales, limits_after_forced_sales

    if previous is not None:
        forced = forced_sales(previous[1], symbols)
        stored = limits_after_forced_sales(stored, forced, previous_date=previous[0], group=group)
        members = set(symbols)
        kept = previous[1][[str(symbol) in members for symbol in previous[1].index]]
        previous = (previous[0], kept)
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
        # A cap naming no member's sector binds nothing (`sector_notes` says so); the core
        # refuses such a cap, so it is not passed on.
        present = set(sectors.values())
        stored = dataclasses.replace(
            stored, sector_caps={s: c for s, c in stored.sector_caps.items() if s in present}
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


def check_feasible_on_group(
    stored: StoredConstraints, group: str, symbols: list[str], sectors: dict[str, str]
) -> None:
    """Refuse, when a portfolio is created, bounds and sector caps the group cannot meet.

    What depends only on the members (weight bounds, the gross limit, sector caps) is checked
    with the optimizer's own conflict finder on the group as it is now; a rebalance checks
    again with everything it reads (betas, exposures, previous weights). A sector cap that is
    no member's sector, or a view on a symbol outside the group, is refused (a typo, most
    likely); members without a sector label skip
    the sector checks, which a rebalance then refuses by name.
    """
    from stocker.core.optimize.conflicts import describe_conflict, find_conflicts

    if not symbols:
        return
    outside = [symbol for symbol in stored.views if symbol not in symbols]
    if outside:
        verb = "is not a member" if len(outside) == 1 else "are not members"
        raise DataError(
            f"views: {', '.join(outside)} {verb} of group {group!r}; a Black–Litterman view "
            "is on one of its members"
        )
    labelled = bool(stored.sector_caps) and all(symbol in sectors for symbol in symbols)
    present = {sectors[symbol] for symbol in symbols if symbol in sectors}
    if labelled:
        unmatched = sorted(set(stored.sector_caps) - present)
        if unmatched:
            raise DataError(
                f"sector_caps: {', '.join(map(repr, unmatched))} is the sector of no member of "
                f"group {group!r} (its sectors: {', '.join(sorted(present))})"
            )
    bounds = StoredConstraints(
        min_weight=stored.min_weight,
        max_weight=stored.max_weight,
        long_only=stored.long_only,
        gross_limit=stored.gross_limit,
        sector_caps=stored.sector_caps if labelled else {},
    )
    resolved = _to_core(bounds, sectors, {}, {}, None, limit_turnover=False).resolve(symbols)
    conflicts = find_conflicts(resolved, np.eye(len(symbols)))
    if conflicts:
        raise DataError(
            f"constraints: cannot all hold on the {len(symbols)} members of group {group!r}; "
            f"in conflict (weights sum to 1 with): {describe_conflict(resolved, conflicts)}"
        )


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


def check_expected_returns(stored: StoredConstraints, mode: str) -> None:
    """A mode's settings, checked when a portfolio is created (views need a symbol each)."""
    mode = canonical_mode(mode)
    if mode == "black_litterman" and not stored.views:
        raise DataError(
            "views: black_litterman needs at least one view, e.g. --view AAPL=0.12 "
            "(an annual expected return)"
        )
    unknown = sorted(set(stored.view_confidences) - set(stored.views))
    if unknown:
        raise DataError(f"view_confidences: {unknown} have no view")
    unsure = sorted(set(stored.views) - set(stored.view_confidences))
    if stored.view_confidences and unsure:
        raise DataError(f"view_confidences: none for the view(s) {unsure}; give one per view")
    for symbol, confidence in stored.view_confidences.items():
        if not 0 <= confidence <= 1:
            raise DataError(f"view_confidences[{symbol!r}]: got {confidence}, expected 0 to 1")
    if not stored.tau > 0:
        raise DataError(f"tau: got {stored.tau}, expected > 0")
    if not stored.score_spread >= 0:
        raise DataError(f"score_spread: got {stored.score_spread}, expected >= 0")


def expected_returns_for(
    uow: SqlUnitOfWork,
    mode: str,
    stored: StoredConstraints,
    symbols: list[str],
    day: dt.date,
    risk_free_rate: float = 0.0,
) -> tuple[object, tuple[str, ...]]:
    """What to pass as `optimize(..., expected_returns=…)` for a stored mode on `day`, and notes.

    - historical, ewma, capm: the optimizer's named modes (CAPM against the equal-weighted
      group, with `risk_free_rate` per day);
    - black_litterman: the portfolio's views (annual, ÷ 252) on the prior δ·Σ·w_mkt + r_f, with
      w_mkt from each member's latest `market_cap` known on `day`; Idzorek's Ω when
      confidences are set, He–Litterman's otherwise;
    - factor_implied: each member's latest `composite_score` on or before `day` (at most
      `EXPOSURE_MAX_AGE_DAYS` old), μ = mean historical return + spread·z, spread the stored
      annual `score_spread` ÷ 252.
    """
    from stocker.core.optimize import CAPM, BlackLitterman, FactorImplied

    check_expected_returns(stored, mode)
    mode = canonical_mode(mode)
    if mode == "capm":
        return CAPM(risk_free_rate=risk_free_rate), ()
    if mode == "black_litterman":
        caps = uow.factors.fundamentals_as_of(day, symbols)
        known: dict[str, float] = {}
        if not caps.empty:
            rows = caps.dropna(subset=["market_cap"])
            values = rows["market_cap"].to_numpy(dtype=np.float64)
            known = dict(zip(rows["symbol"].astype(str), values.tolist(), strict=True))
        missing = [symbol for symbol in symbols if not known.get(symbol, 0.0) > 0]
        if missing:
            raise DataError(
                f"market_cap: no positive market capitalisation known on {day} for "
                f"{', '.join(missing[:10])}; Black–Litterman's prior needs one per member "
                "(load fundamentals)"
            )
        confidences = None
        if stored.view_confidences:
            confidences = [stored.view_confidences[symbol] for symbol in stored.views]
        model = BlackLitterman(
            absolute_views={s: v / PERIODS_PER_YEAR for s, v in stored.views.items()},
            market_caps={symbol: known[symbol] for symbol in symbols},
            risk_free_rate=risk_free_rate,
            tau=stored.tau,
            omega="idzorek" if confidences is not None else "default",
            view_confidences=confidences,
        )
        note = (
            f"expected returns: Black–Litterman with {len(stored.views)} view(s), prior from "
            f"market caps known on {day}"
        )
        return model, (note,)
    if mode == "factor_implied":
        since = day - dt.timedelta(days=EXPOSURE_MAX_AGE_DAYS)
        frame = uow.factors.exposures(since, day, symbols)
        scores = _latest_rows(frame, "composite_score", symbols, day)
        spread = stored.score_spread / PERIODS_PER_YEAR
        note = f"expected returns: implied by composite scores, spread {stored.score_spread:g}/yr"
        return FactorImplied(scores=scores, spread=spread), (note,)
    return EXPECTED_RETURN_MODES[mode], ()
