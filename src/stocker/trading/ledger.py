"""The ledger service: post fills, contributions and corporate actions; mark to market; rebuild
the derived rows from the journal; verify every invariant.

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
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from stocker.core import ledger as rules
from stocker.core.errors import DataError
from stocker.core.ledger import (
    Entry,
    Fill,
    Holding,
    PortfolioState,
    currency_totals,
    derive_states,
    money,
    state_of,
    totals,
)

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

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


def post_fill_in(uow: SqlUnitOfWork, portfolio_id: str, fill: Fill) -> Posted:
    """Post a broker fill inside an open unit of work (once per fill id, ever)."""
    uow.ledger.lock(portfolio_id)
    what = f"fill {fill.fill_id}"
    stored = uow.ledger.entry_for_fill(fill.fill_id)
    position = uow.ledger.position(portfolio_id, fill.symbol)
    meant = rules.post_fill(portfolio_id, fill, position)
    if stored is not None:
        return Posted(_same(stored, meant, what), False)
    return _append(uow, meant, what)


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
        entry = rules.post_split(portfolio_id, ex_date, value, held, currency=currency)
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
    journal = totals(uow.ledger.entries(portfolio_id), day)
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


@dataclass(frozen=True, slots=True)
class Difference:
    """A stored derived value that the journal does not reproduce."""

    portfolio_id: str
    date: dt.date
    field: str
    stored: str
    journal: str

    def __str__(self) -> str:
        return (
            f"{self.portfolio_id} {self.date} {self.field}: stored {self.stored}, "
            f"journal gives {self.journal}"
        )


@dataclass(frozen=True, slots=True)
class RebuildReport:
    """What `rebuild` recomputed and which stored values differed (now replaced)."""

    portfolio_id: str
    days: int
    differences: tuple[Difference, ...]

    def as_json(self) -> dict[str, object]:
        """The report as plain JSON values."""
        return {
            "portfolio_id": self.portfolio_id,
            "days": self.days,
            "differences": [
                {
                    "date": d.date.isoformat(),
                    "field": d.field,
                    "stored": d.stored,
                    "journal": d.journal,
                }
                for d in self.differences
            ],
        }


def _text(value: object) -> str:
    return "-" if value is None else str(value)


def _compare_holdings(
    portfolio_id: str,
    day: dt.date,
    stored: Sequence[Holding],
    derived: Sequence[Holding],
) -> list[Difference]:
    found: list[Difference] = []
    stored_by = {h.symbol: h for h in stored}
    derived_by = {h.symbol: h for h in derived}
    for symbol in sorted(stored_by.keys() | derived_by.keys()):
        old, new = stored_by.get(symbol), derived_by.get(symbol)
        for name in ("qty", "cost_basis", "market_value"):
            was = getattr(old, name) if old else None
            now = getattr(new, name) if new else None
            if was != now:
                field_name = f"holdings[{symbol}].{name}"
                found.append(Difference(portfolio_id, day, field_name, _text(was), _text(now)))
    return found


_STATE_FIELDS = (
    "nav",
    "cash",
    "gross_exposure",
    "net_exposure",
    "realized_pnl",
    "unrealized_pnl",
    "drawdown",
    "high_water_mark",
)


def _derive_stored_days(
    uow: SqlUnitOfWork, portfolio_id: str
) -> tuple[list[tuple[tuple[Holding, ...], PortfolioState]], list[Difference]]:
    """Every stored state day recomputed from the journal and stored closes, and the values
    that differ from the stored rows."""
    entries = uow.ledger.entries(portfolio_id)
    stored_states = uow.ledger.states(portfolio_id)
    stored_holdings = uow.ledger.holdings(portfolio_id)
    symbols = sorted({p.symbol for e in entries for p in e.postings if p.symbol})
    closes = {s.date: uow.ledger.closes(symbols, s.date) for s in stored_states}
    derived = derive_states(entries, closes, portfolio_id=portfolio_id)
    differences: list[Difference] = []
    for stored, (holdings, state) in zip(stored_states, derived, strict=True):
        for name in _STATE_FIELDS:
            was, now = getattr(stored, name), getattr(state, name)
            if was != now:
                differences.append(Difference(portfolio_id, state.date, name, str(was), str(now)))
        differences += _compare_holdings(
            portfolio_id, state.date, stored_holdings.get(state.date, ()), holdings
        )
    return derived, differences


def rebuild(uow: SqlUnitOfWork, portfolio_id: str) -> RebuildReport:
    """Recompute every stored holdings and portfolio_state row from the journal and the stored
    closes, replace the days that differ, commit; reports what differed (nothing, when sound)."""
    with uow:
        uow.ledger.lock(portfolio_id)
        derived, differences = _derive_stored_days(uow, portfolio_id)
        changed = {difference.date for difference in differences}
        for holdings, state in derived:
            if state.date in changed:
                uow.ledger.write_state(holdings, state)
        uow.commit()
    return RebuildReport(portfolio_id, len(derived), tuple(differences))


@dataclass(frozen=True, slots=True)
class Problem:
    """A broken invariant: which portfolio, which check, what is wrong."""

    portfolio_id: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.portfolio_id} [{self.check}] {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Every invariant checked, per portfolio; `ok` when nothing broke."""

    portfolios: tuple[str, ...]
    entries: int
    states: int
    problems: tuple[Problem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when every invariant holds."""
        return not self.problems

    def as_json(self) -> dict[str, object]:
        """The report as plain JSON values."""
        return {
            "ok": self.ok,
            "portfolios": list(self.portfolios),
            "entries": self.entries,
            "states": self.states,
            "problems": [
                {"portfolio_id": p.portfolio_id, "check": p.check, "message": p.message}
                for p in self.problems
            ],
        }


def _journal_problems(uow: SqlUnitOfWork, portfolio_id: str) -> tuple[int, list[Problem]]:
    """Entries balance per currency; every fill of the portfolio is posted exactly once."""
    problems = []
    raw = uow.ledger.raw_entries(portfolio_id)
    for entry_id, _kind, postings in raw:
        if len(postings) < 2:
            problems.append(
                Problem(
                    portfolio_id, "balanced", f"entry {entry_id} has {len(postings)} posting(s)"
                )
            )
        for currency, total in sorted(currency_totals(tuple(postings)).items()):
            if total != 0:
                message = f"entry {entry_id}: {currency} postings sum to {total}, expected 0"
                problems.append(Problem(portfolio_id, "balanced", message))
    for fill_id, count in sorted(uow.ledger.fill_counts(portfolio_id).items()):
        if count != 1:
            message = f"fill {fill_id} is posted {count} times"
            problems.append(Problem(portfolio_id, "fill posted once", message))
    for fill_id in uow.ledger.unposted_fills(portfolio_id):
        message = f"fill {fill_id} is not in the ledger"
        problems.append(Problem(portfolio_id, "fill posted once", message))
    return len(raw), problems


def _row_problems(uow: SqlUnitOfWork, portfolio_id: str) -> tuple[int, list[Problem]]:
    """Stored rows agree with each other: NAV = cash + Σ market value, P&L = NAV − capital,
    the high-water mark never falls and the drawdown is measured from it."""
    problems = []
    entries = uow.ledger.entries(portfolio_id)
    states = uow.ledger.states(portfolio_id)
    holdings = uow.ledger.holdings(portfolio_id)
    mark = None
    for state in states:
        day, values = state.date, [h.market_value for h in holdings.get(state.date, ())]
        checks = {
            "NAV = cash + Σ qty×close": state.nav == state.cash + sum(values, Decimal(0)),
            "realized + unrealized = NAV − contributions": state.total_pnl
            == state.nav - totals(entries, day).contributions,
            "high-water mark ≥ NAV": state.high_water_mark >= state.nav,
            "high-water mark never falls": mark is None or state.high_water_mark >= mark,
            "drawdown from the high-water mark": state.drawdown
            == (
                money((state.high_water_mark - state.nav) / state.high_water_mark)
                if state.high_water_mark > 0
                else 0
            ),
        }
        for check, holds in checks.items():
            if not holds:
                problems.append(Problem(portfolio_id, check, f"{day}: {state}"))
        mark = state.high_water_mark
    return len(states), problems


def verify(uow: SqlUnitOfWork, portfolio_id: str | None = None) -> VerifyReport:
    """Check every ledger invariant for one portfolio or all; changes nothing."""
    with uow:
        portfolios = [portfolio_id] if portfolio_id else uow.ledger.portfolios()
        problems: list[Problem] = []
        entry_count = state_count = 0
        for portfolio in portfolios:
            count, found = _journal_problems(uow, portfolio)
            entry_count += count
            problems += found
            count, found = _row_problems(uow, portfolio)
            state_count += count
            problems += found
            try:
                _, differences = _derive_stored_days(uow, portfolio)
            except DataError as exc:
                problems.append(Problem(portfolio, "state = journal", str(exc)))
                continue
            problems += [Problem(portfolio, "state = journal", str(d)) for d in differences]
    return VerifyReport(tuple(portfolios), entry_count, state_count, tuple(problems))


def journal(uow: SqlUnitOfWork, portfolio_id: str, limit: int | None = None) -> list[Entry]:
    """The portfolio's entries in date order (the last `limit` of them when given)."""
    with uow:
        entries = uow.ledger.entries(portfolio_id)
    return entries[-limit:] if limit else entries
