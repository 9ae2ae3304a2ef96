"""The ledger service: post fills, contributions and corporate actions; mark to market
(`rebuild` and `verify` live in `stocker.trading.ledger_audit` and are re-exported here).

Each use case takes a unit of work and commits it; the `*_in` variants work inside a unit of
work the caller already opened (a bus handler, which never commits itself). A posting is
idempotent: its entry id (and, for a fill, the broker's fill id) is derived from the event, so
a replay finds the stored entry and changes nothing, while the same id with a different payload
is refused. Writers of one portfolio are serialized by a transaction-scoped lock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, cast

from stocker.core import ledger as rules
from stocker.core.errors import DataError
from stocker.core.ledger import (
    Entry,
    Fill,
    PortfolioState,
    Position,
    Totals,
    state_of,
)
from stocker.trading.ledger_audit import (
    Difference,
    Problem,
    RebuildReport,
    VerifyReport,
    rebuild,
    verify,
)

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "Difference",
    "Posted",
    "Problem",
    "RebuildReport",
    "VerifyReport",
    "close_day_in",
    "journal",
    "mark_to_market",
    "mark_to_market_in",
    "post_actions_on_in",
    "post_contribution",
    "post_corporate_action",
    "post_corporate_action_in",
    "post_fill",
    "post_fill_in",
    "post_fills_in",
    "rebuild",
    "reverse",
    "verify",
]

ActionType = Literal["SPLIT", "DIVIDEND"]


@dataclass(frozen=True, slots=True)
class Posted:
    """An entry and whether this call wrote it (False: it was already in the journal)."""

    entry: Entry
    new: bool


def _same(stored: Entry, meant: Entry, what: str) -> Entry:
    """`stored` when it records the same event as `meant`; else the id was reused: an error."""
    same = (
        stored.portfolio_id == meant.portfolio_id
        and stored.kind == meant.kind
        and stored.date == meant.date
        and stored.description == meant.description
        and (meant.kind == "FILL" or stored.postings == meant.postings)
    )
    if not same:
        raise DataError(
            f"{what} is already in the ledger as {stored.portfolio_id} {stored.date} "
            f"{stored.kind} {stored.description!r}; now it comes as {meant.portfolio_id} "
            f"{meant.date} {meant.kind} {meant.description!r}: the same id with a different "
            "payload is refused (record a correction instead)"
        )
    return stored


def _append(uow: SqlUnitOfWork, entry: Entry, what: str) -> Posted:
    """Write `entry` unless its id is stored; a stored one must be the same event."""
    stored = uow.ledger.entry(entry.entry_id)
    if stored is None and uow.ledger.append([entry]):
        return Posted(entry, True)
    stored = stored or uow.ledger.entry(entry.entry_id)
    if stored is None:
        raise DataError(f"{what}: its fill id is posted under another entry id")
    return Posted(_same(stored, entry, what), False)


def post_fills_in(uow: SqlUnitOfWork, portfolio_id: str, fills: Sequence[Fill]) -> list[Posted]:
    """Post broker fills in order inside an open unit of work (once per fill id, ever): one
    read of what is posted, one of the positions, one write for the batch."""
    uow.ledger.lock(portfolio_id)
    stored = uow.ledger.entries_for_fills(fill.fill_id for fill in fills)
    positions = uow.ledger.positions(portfolio_id, (fill.symbol for fill in fills))
    results: list[tuple[Entry, bool]] = []
    meant_by_fill: dict[str, Entry] = {}
    for fill in fills:
        what = f"fill {fill.fill_id}"
        before = positions[fill.symbol]
        meant = rules.post_fill(portfolio_id, fill, before)
        earlier = stored.get(fill.fill_id) or meant_by_fill.get(fill.fill_id)
        if earlier is not None:
            results.append((_same(earlier, meant, what), False))
            continue
        leg = meant.postings[0]
        positions[fill.symbol] = Position(
            fill.symbol, before.quantity + leg.quantity, before.cost + leg.amount
        )
        meant_by_fill[fill.fill_id] = meant
        results.append((meant, True))
    written = set(uow.ledger.append([entry for entry, new in results if new]))
    posted = []
    for entry, new in results:
        if new and entry.entry_id not in written:
            # written by a writer that did not take the lock: it must be the same fill
            other = uow.ledger.entry_for_fill(entry.fill_id or "")
            if other is None:
                raise DataError(f"fill {entry.fill_id}: its entry id is taken by another event")
            posted.append(Posted(_same(other, entry, f"fill {entry.fill_id}"), False))
        else:
            posted.append(Posted(entry, new))
    return posted


def post_fill_in(uow: SqlUnitOfWork, portfolio_id: str, fill: Fill) -> Posted:
    """Post one broker fill inside an open unit of work (see `post_fills_in`)."""
    return post_fills_in(uow, portfolio_id, [fill])[0]


def post_fill(uow: SqlUnitOfWork, portfolio_id: str, fill: Fill) -> Posted:
    """Post a broker fill and commit: cash, the position at cost, realized P&L, commission."""
    with uow:
        posted = post_fill_in(uow, portfolio_id, fill)
        uow.commit()
    return posted


def post_contribution(
    uow: SqlUnitOfWork,
    portfolio_id: str,
    day: dt.date,
    amount: Decimal,
    *,
    currency: str = "USD",
    entry_id: uuid.UUID | None = None,
    description: str | None = None,
) -> Posted:
    """Record capital paid in (amount > 0) or withdrawn (< 0) and commit.

    Pass `entry_id` to make a retry safe: the same id posts once.
    """
    entry = rules.post_contribution(
        portfolio_id, day, amount, currency=currency, entry_id=entry_id, description=description
    )
    with uow:
        uow.ledger.lock(portfolio_id)
        posted = _append(uow, entry, f"contribution {entry.entry_id}")
        uow.commit()
    return posted


def post_corporate_action_in(
    uow: SqlUnitOfWork,
    portfolio_id: str,
    symbol: str,
    ex_date: dt.date,
    action_type: ActionType,
    value: Decimal,
    *,
    currency: str = "USD",
) -> Posted | None:
    """A split (value = new shares per old) or cash dividend (value per share) on the position
    held before `ex_date`; None when the portfolio held none."""
    uow.ledger.lock(portfolio_id)
    held = uow.ledger.position(portfolio_id, symbol, before=ex_date)
    if action_type == "SPLIT":
        # Cash in lieu of a fractional share is paid at the ex-date's close: the post-split
        # price (a close from before the split would be off by the ratio). Without that bar,
        # post_split refuses a fraction rather than price it wrongly.
        price = uow.ledger.close_on(symbol, ex_date)
        entry = rules.post_split(portfolio_id, ex_date, value, held, price=price, currency=currency)
    elif action_type == "DIVIDEND":
        entry = rules.post_dividend(
            portfolio_id, symbol, ex_date, value, held.quantity, currency=currency
        )
    else:
        raise DataError(f"corporate action {action_type!r}: expected SPLIT or DIVIDEND")
    if entry is None:
        return None
    return _append(uow, entry, f"{action_type.lower()} of {symbol} on {ex_date}")


def post_corporate_action(
    uow: SqlUnitOfWork,
    portfolio_id: str,
    symbol: str,
    ex_date: dt.date,
    action_type: ActionType,
    value: Decimal,
    *,
    currency: str = "USD",
) -> Posted | None:
    """Post a split or dividend (see `post_corporate_action_in`) and commit."""
    with uow:
        posted = post_corporate_action_in(
            uow, portfolio_id, symbol, ex_date, action_type, value, currency=currency
        )
        uow.commit()
    return posted


def post_actions_on_in(
    uow: SqlUnitOfWork, portfolio_id: str, day: dt.date, *, currency: str = "USD"
) -> list[Posted]:
    """Post the stored corporate actions with ex-date ``day`` on the positions held before it
    (dividends before splits), inside an open unit of work: what the ledger service does at a
    session's close. Idempotent: each action's entry id is derived from it."""
    posted = []
    for symbol, kind, value in uow.ledger.actions_on(day):
        action = cast(ActionType, kind)  # the table's CHECK allows only these two
        done = post_corporate_action_in(
            uow, portfolio_id, symbol, day, action, value, currency=currency
        )
        if done is not None:
            posted.append(done)
    return posted


def close_day_in(
    uow: SqlUnitOfWork, portfolio_id: str, day: dt.date, *, currency: str = "USD"
) -> PortfolioState:
    """The ledger service's close of ``day`` inside an open unit of work: post the day's
    dividends and splits (`post_actions_on_in`), then mark to market (`mark_to_market_in`)."""
    post_actions_on_in(uow, portfolio_id, day, currency=currency)
    return mark_to_market_in(uow, portfolio_id, day)


def reverse(
    uow: SqlUnitOfWork, portfolio_id: str, entry_id: uuid.UUID, day: dt.date, reason: str
) -> Posted:
    """Record a CORRECTION that undoes entry `entry_id` and commit (posting it twice is a no-op)."""
    with uow:
        uow.ledger.lock(portfolio_id)
        entry = uow.ledger.entry(entry_id)
        if entry is None or entry.portfolio_id != portfolio_id:
            raise DataError(f"no ledger entry {entry_id} in portfolio {portfolio_id}")
        posted = _append(uow, rules.reverse_entry(entry, day, reason), f"reversal of {entry_id}")
        uow.commit()
    return posted


def mark_to_market_in(
    uow: SqlUnitOfWork,
    portfolio_id: str,
    day: dt.date,
    closes: Mapping[str, Decimal] | None = None,
) -> PortfolioState:
    """Write the day's holdings and state inside an open unit of work and return the state.

    Positions are marked at `closes`, and at the stored close (on or before `day`) of any symbol
    they lack; `rebuild` uses the stored closes, so pass the closes that were stored.
    """
    journal = Totals()
    for balance in uow.ledger.balances(portfolio_id, through=day):
        journal.add_posting(balance)
    held = [position.symbol for position in journal.open_positions()]
    marks = {**uow.ledger.closes(held, day), **(closes or {})}
    previous = uow.ledger.state_before(portfolio_id, day)
    holdings, state = state_of(journal, marks, day, portfolio_id=portfolio_id, previous=previous)
    uow.ledger.write_state(holdings, state)
    return state


def mark_to_market(
    uow: SqlUnitOfWork,
    portfolio_id: str,
    day: dt.date,
    closes: Mapping[str, Decimal] | None = None,
) -> PortfolioState:
    """Mark the portfolio at the day's closes, store holdings and state, commit; returns the
    state (the caller announces it: `uow.outbox.add(state_update(state, previous))`)."""
    with uow:
        state = mark_to_market_in(uow, portfolio_id, day, closes)
        uow.commit()
    return state


def journal(uow: SqlUnitOfWork, portfolio_id: str, limit: int | None = None) -> list[Entry]:
    """The portfolio's entries in date order (the last `limit` of them when given)."""
    with uow:
        entries = uow.ledger.entries(portfolio_id)
    return entries[-limit:] if limit else entries
