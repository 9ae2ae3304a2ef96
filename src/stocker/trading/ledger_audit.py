"""Rebuild and verify: the derived rows recomputed from the journal, and every ledger invariant.

`rebuild` replaces what differs; `verify` only reports. Both compare the stored `holdings` and
`portfolio_state` rows with what the journal and the stored closes give, value by value.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from stocker.core.errors import DataError
from stocker.core.ledger import (
    Holding,
    PortfolioState,
    Totals,
    currency_totals,
    derive_states,
    money,
)

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


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
    entries = sorted(uow.ledger.entries(portfolio_id), key=lambda entry: entry.date)
    states = uow.ledger.states(portfolio_id)
    journal, read = Totals(), 0
    holdings = uow.ledger.holdings(portfolio_id)
    mark = None
    for state in states:
        day, values = state.date, [h.market_value for h in holdings.get(state.date, ())]
        while read < len(entries) and entries[read].date <= day:
            journal.add(entries[read])
            read += 1
        checks = {
            "NAV = cash + Σ qty×close": state.nav == state.cash + sum(values, Decimal(0)),
            "realized + unrealized = NAV − contributions": state.total_pnl
            == state.nav - journal.contributions,
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
