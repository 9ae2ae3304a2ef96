"""State derived from the journal: positions, holdings and the daily portfolio state.

Everything here is a sum over postings, so the order entries were written in does not matter,
and `rebuild` reproduces stored rows exactly. Values are at the columns' scale (4 places):
market value = qty x close rounded once, NAV = cash + sum of market values exactly.

`realized_pnl` is cumulative realized income: trading gains at average cost, plus dividends,
minus commissions; `unrealized_pnl` is market value minus cost. Hence
realized + unrealized = NAV - net contributions, to the last digit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from stocker.core.errors import DataError
from stocker.core.ledger.records import (
    CASH,
    CONTRIBUTIONS,
    POSITIONS,
    ZERO,
    Entry,
    Position,
    Posting,
    money,
)
from stocker.core.messages import ProfitAndLoss, StateUpdate


@dataclass(frozen=True, slots=True)
class Holding:
    """A `holdings` row: a position marked at the day's close."""

    portfolio_id: str
    date: dt.date
    symbol: str
    qty: Decimal
    cost_basis: Decimal
    market_value: Decimal


@dataclass(frozen=True, slots=True)
class PortfolioState:
    """A `portfolio_state` row (see the module docstring for what the P&L figures mean)."""

    portfolio_id: str
    date: dt.date
    nav: Decimal
    cash: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    drawdown: Decimal
    high_water_mark: Decimal

    @property
    def total_pnl(self) -> Decimal:
        """Realized plus unrealized P&L since inception."""
        return self.realized_pnl + self.unrealized_pnl


@dataclass
class Totals:
    """Running sums of a journal: cash, contributions, other P&L accounts, positions."""

    cash: Decimal = ZERO
    contributions: Decimal = ZERO
    income: Decimal = ZERO
    quantities: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    costs: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def add(self, entry: Entry) -> None:
        """Fold one entry's postings in."""
        for posting in entry.postings:
            self.add_posting(posting)

    def add_posting(self, posting: Posting) -> None:
        """Fold one posting in (also a balance summed by the database)."""
        if posting.account == CASH:
            self.cash += posting.amount
        elif posting.account == CONTRIBUTIONS:
            self.contributions -= posting.amount
        elif posting.account.startswith(POSITIONS):
            symbol = posting.symbol or posting.account[len(POSITIONS) :]
            self.quantities[symbol] += posting.quantity
            self.costs[symbol] += posting.amount
        else:
            # income (credit, negative) and expenses (debit, positive): realized P&L
            self.income -= posting.amount

    def position(self, symbol: str) -> Position:
        """The position in `symbol` (flat if never held)."""
        return Position(symbol, self.quantities.get(symbol, ZERO), self.costs.get(symbol, ZERO))

    def open_positions(self) -> list[Position]:
        """Every position with shares, by symbol."""
        return [self.position(s) for s in sorted(self.quantities) if self.quantities[s] != 0]


def totals(entries: Iterable[Entry], day: dt.date | None = None) -> Totals:
    """The journal summed over entries dated on or before `day` (all of them when None)."""
    result = Totals()
    for entry in entries:
        if day is None or entry.date <= day:
            result.add(entry)
    return result


def _ratio(numerator: Decimal, nav: Decimal) -> Decimal:
    return money(numerator / nav) if nav > 0 else ZERO


def state_of(
    journal: Totals,
    closes: Mapping[str, Decimal],
    day: dt.date,
    *,
    portfolio_id: str,
    previous: PortfolioState | None = None,
) -> tuple[tuple[Holding, ...], PortfolioState]:
    """Holdings and state of a summed journal marked at `closes`, after `previous` day's."""
    holdings = []
    for position in journal.open_positions():
        close = closes.get(position.symbol)
        if close is None:
            raise DataError(f"no close for {position.symbol} on {day}: cannot mark it to market")
        holdings.append(
            Holding(
                portfolio_id=portfolio_id,
                date=day,
                symbol=position.symbol,
                qty=position.quantity,
                cost_basis=money(position.average_cost),
                market_value=money(position.quantity * Decimal(close)),
            )
        )
    values = [holding.market_value for holding in holdings]
    nav = journal.cash + sum(values, ZERO)
    unrealized = sum(values, ZERO) - sum(journal.costs.values(), ZERO)
    high_water_mark = max(nav, previous.high_water_mark) if previous is not None else nav
    drawdown = _ratio(high_water_mark - nav, high_water_mark)
    state = PortfolioState(
        portfolio_id=portfolio_id,
        date=day,
        nav=nav,
        cash=journal.cash,
        gross_exposure=_ratio(sum((abs(v) for v in values), ZERO), nav),
        net_exposure=_ratio(sum(values, ZERO), nav),
        realized_pnl=journal.income,
        unrealized_pnl=unrealized,
        drawdown=drawdown,
        high_water_mark=high_water_mark,
    )
    return tuple(holdings), state


def derive_state(
    entries: Iterable[Entry],
    closes: Mapping[str, Decimal],
    day: dt.date,
    *,
    portfolio_id: str,
    previous: PortfolioState | None = None,
) -> tuple[tuple[Holding, ...], PortfolioState]:
    """Holdings and portfolio state on `day` from the journal and that day's closes.

    The high-water mark carries over from `previous` (the state of the last earlier day).
    """
    return state_of(totals(entries, day), closes, day, portfolio_id=portfolio_id, previous=previous)


def derive_states(
    entries: Sequence[Entry],
    closes_by_day: Mapping[dt.date, Mapping[str, Decimal]],
    *,
    portfolio_id: str,
) -> list[tuple[tuple[Holding, ...], PortfolioState]]:
    """The state of every day of `closes_by_day`, in date order, in one pass over the journal."""
    ordered = sorted(entries, key=lambda entry: entry.date)
    journal, position, previous = Totals(), 0, None
    result = []
    for day in sorted(closes_by_day):
        while position < len(ordered) and ordered[position].date <= day:
            journal.add(ordered[position])
            position += 1
        holdings, state = state_of(
            journal, closes_by_day[day], day, portfolio_id=portfolio_id, previous=previous
        )
        result.append((holdings, state))
        previous = state
    return result


def state_update(state: PortfolioState, previous: PortfolioState | None = None) -> StateUpdate:
    """The `portfolio-state` message of `state`; day_total is the P&L since `previous`."""
    day_total = state.total_pnl - (previous.total_pnl if previous is not None else ZERO)
    return StateUpdate(
        portfolio_id=state.portfolio_id,
        date=state.date,
        nav=state.nav,
        cash=state.cash,
        pnl=ProfitAndLoss(
            realized=state.realized_pnl, unrealized=state.unrealized_pnl, day_total=day_total
        ),
    )
