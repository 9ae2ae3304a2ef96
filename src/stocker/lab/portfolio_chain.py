"""A portfolio's rebalances as a chain: each is measured against the one before it.

Two things keep the chain consistent:

- forced sales: a name held at the previous rebalance but no longer a member of the group is
  sold (target 0). The optimizer sees only the members, so the sale is accounted for here: it
  uses ½·Σ|w_removed| of the one-way turnover limit (the members' trades get the rest), and
  reinvesting the proceeds needs as much again, so a limit below
  ½·Σ|w_removed| + ½·|Σ w_removed| cannot be met and is refused naming both figures; a name
  whose weight exceeds the per-asset turnover limit is refused the same way. The sale's cost is
  the same whatever the members' weights, so it changes no answer and is left out of the
  objective;
- later rebalances: with a turnover limit or costs, a rebalance depends on the weights before
  it, so optimizing a date before stored ones would leave them measured against weights that no
  longer precede them. That is refused unless the caller asks to delete the later ones
  (`replace_later`); without a turnover limit or costs the dates are independent and are kept,
  with a note.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from stocker.core.errors import DataError
from stocker.store.repositories.portfolios import StoredConstraints

DATES_SHOWN = 5
"""Later rebalance dates named in a message before '… and N more'."""
TOL = 1e-9


def forced_sales(previous: pd.Series | None, symbols: list[str]) -> dict[str, float]:
    """Names held (weight ≠ 0) in `previous` but not among `symbols`: sold at this rebalance."""
    if previous is None:
        return {}
    members = set(symbols)
    return {
        str(symbol): float(weight)
        for symbol, weight in previous.items()
        if str(symbol) not in members and float(weight) != 0.0
    }


def forced_turnover(forced: dict[str, float]) -> float:
    """The least one-way turnover the forced sales need: selling them and reinvesting the net."""
    return 0.5 * sum(abs(w) for w in forced.values()) + 0.5 * abs(sum(forced.values()))


def _held(forced: dict[str, float]) -> str:
    return ", ".join(f"{symbol} at {weight:.2%}" for symbol, weight in sorted(forced.items()))


def limits_after_forced_sales(
    stored: StoredConstraints,
    forced: dict[str, float],
    *,
    previous_date: dt.date | None,
    group: str,
) -> StoredConstraints:
    """`stored` with the one-way turnover limit left for the members once the forced sales are
    counted; a limit they alone break is refused naming what the sale needs and the limit."""
    if not forced:
        return stored
    where = f"held on {previous_date}, no longer in group {group!r}"
    way_out = (
        "add them back to the group to sell them over several rebalances, or create the "
        "portfolio again with a higher limit"
    )
    per_asset = stored.per_asset_turnover_limit
    if per_asset is not None:
        over = {s: w for s, w in forced.items() if abs(w) > per_asset + TOL}
        if over:
            raise DataError(
                f"per_asset_turnover_limit: the forced sale of {_held(over)} ({where}) needs "
                f"|Δw| up to {max(abs(w) for w in over.values()):.2%} against the per-asset "
                f"limit {per_asset:.2%}; {way_out}"
            )
    limit = stored.turnover_limit
    if limit is None:
        return stored
    needed = forced_turnover(forced)
    if needed > limit + TOL:
        raise DataError(
            f"turnover_limit: the forced sale of {_held(forced)} ({where}) needs at least "
            f"{needed:.2%} one-way turnover (selling and reinvesting the proceeds) against the "
            f"limit {limit:.2%}; {way_out}"
        )
    used = 0.5 * sum(abs(w) for w in forced.values())
    return replace(stored, turnover_limit=max(limit - used, 0.0))


def forced_sale_note(
    forced: dict[str, float], stored: StoredConstraints, previous_date: dt.date | None
) -> str:
    """What the report says of the forced sales."""
    counted = []
    if stored.turnover_limit is not None:
        counted.append(
            f"they use {0.5 * sum(abs(w) for w in forced.values()):.2%} of the "
            f"{stored.turnover_limit:.2%} turnover limit"
        )
    if stored.transaction_cost_bps:
        counted.append("their cost is the same whatever the weights, so not in the objective")
    tail = f"; {'; '.join(counted)}" if counted else ""
    return (
        f"sold (target 0), no longer members of the group: {_held(forced)} held on "
        f"{previous_date}; counted in the turnover{tail}"
    )


def path_dependent(stored: StoredConstraints) -> bool:
    """Whether a rebalance depends on the one before it (a turnover limit or costs)."""
    return (
        stored.turnover_limit is not None
        or stored.per_asset_turnover_limit is not None
        or bool(stored.transaction_cost_bps)
    )


def _dependence(stored: StoredConstraints) -> str:
    parts = []
    if stored.turnover_limit is not None:
        parts.append(f"turnover limit {stored.turnover_limit:g}")
    if stored.per_asset_turnover_limit is not None:
        parts.append(f"per-asset turnover limit {stored.per_asset_turnover_limit:g}")
    if stored.transaction_cost_bps:
        parts.append(f"costs {stored.transaction_cost_bps:g} bps")
    return ", ".join(parts)


def dates_text(dates: list[dt.date]) -> str:
    """'2022-06-01, 2022-09-01' (the first `DATES_SHOWN`, then how many more)."""
    shown = ", ".join(day.isoformat() for day in dates[:DATES_SHOWN])
    more = len(dates) - DATES_SHOWN
    return shown if more <= 0 else f"{shown} and {more} more"


def check_later(
    code: str, stored: StoredConstraints, day: dt.date, later: list[dt.date], *, replace_later: bool
) -> tuple[str, ...]:
    """Refuse optimizing `day` before stored rebalances that depend on it, or say what happens.

    With `replace_later` the caller deletes them (the note says which); without a turnover limit
    or costs they are kept, as each date is optimized on its own.
    """
    if not later:
        return ()
    text = dates_text(later)
    if replace_later:
        return (
            f"deleted the later rebalance(s) {text}: they were measured against the weights "
            f"before them; optimize them again in order (`stocker portfolio optimize {code} "
            f"--date {later[0]}`, …)",
        )
    if path_dependent(stored):
        raise DataError(
            f"portfolio {code!r}: rebalance(s) after {day} are stored ({text}), each measured "
            f"against the weights before it ({_dependence(stored)}); optimizing {day} now would "
            f"leave them measured against other weights. Optimize a date after {later[-1]}, or "
            f"delete them with --replace-later (replace_later=True) and optimize them again in "
            "order"
        )
    return (
        f"later rebalance(s) {text} kept: with no turnover limit or costs each date is "
        "optimized on its own, so they do not depend on this one",
    )
