"""Ledger records: immutable postings and entries that balance per currency (beancount style).

Amounts are signed like beancount's: a positive amount debits an account (assets and expenses
grow), a negative one credits it (income, equity). Every entry's amounts sum to zero per
currency, which the database checks again at commit. Money is `Decimal` at the columns' scale
of four places; no float ever touches an amount.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from stocker.core.errors import DataError
from stocker.core.messages import OrderFilled

CASH = "assets:cash"
POSITIONS = "assets:positions:"
COMMISSIONS = "expenses:commissions"
DIVIDENDS = "income:dividends"
REALIZED_PNL = "income:realized_pnl"
CONTRIBUTIONS = "equity:contributions"

KINDS = ("FILL", "DEPOSIT", "WITHDRAWAL", "DIVIDEND", "SPLIT", "FEE", "CORRECTION")
Kind = Literal["FILL", "DEPOSIT", "WITHDRAWAL", "DIVIDEND", "SPLIT", "FEE", "CORRECTION"]
Side = Literal["BUY", "SELL"]

SCALE = Decimal("0.0001")
"""The scale of every stored amount and quantity (NUMERIC(…, 4))."""

ZERO = Decimal(0)

# Deterministic entry ids: a retried posting reuses its id (TigerBeetle's rule).
_NAMESPACE = uuid.UUID("5f0c7a52-4d1e-4b8a-9c61-0d2f3b8e6a17")


def money(value: Decimal) -> Decimal:
    """`value` at the stored scale (four places, half-even)."""
    return value.quantize(SCALE, rounding=ROUND_HALF_EVEN)


def position_account(symbol: str) -> str:
    """The account holding `symbol` at cost."""
    return f"{POSITIONS}{symbol}"


def entry_id_for(*parts: object) -> uuid.UUID:
    """A stable entry id from what identifies the event (portfolio, kind, key...)."""
    return uuid.uuid5(_NAMESPACE, "|".join(str(part) for part in parts))


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of an entry: `amount` of `currency` on `account` (and shares of `symbol`)."""

    account: str
    currency: str
    amount: Decimal
    symbol: str | None = None
    quantity: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("amount", "quantity"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise DataError(f"posting {name} must be a finite Decimal, got {value!r}")
            if value != money(value):
                raise DataError(f"posting {name} {value} has more than four decimal places")


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal entry: postings that balance per currency, never edited once written."""

    entry_id: uuid.UUID
    portfolio_id: str
    date: dt.date
    kind: Kind
    postings: tuple[Posting, ...]
    fill_id: str | None = None
    corrects_entry_id: uuid.UUID | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        problems = entry_problems(self)
        if problems:
            raise DataError(f"ledger entry {self.entry_id}: " + "; ".join(problems))


def entry_problems(entry: Entry) -> list[str]:
    """Every rule `entry` breaks (empty when it is sound); verify reports these for stored rows."""
    problems: list[str] = []
    if entry.kind not in KINDS:
        problems.append(f"kind {entry.kind!r} is not one of {', '.join(KINDS)}")
    if (entry.kind == "FILL") != (entry.fill_id is not None):
        problems.append("a FILL entry, and only one, carries a fill_id")
    if (entry.kind == "CORRECTION") != (entry.corrects_entry_id is not None):
        problems.append("a CORRECTION entry, and only one, names the entry it corrects")
    if len(entry.postings) < 2:
        problems.append(f"has {len(entry.postings)} posting(s); expected at least 2")
    for currency, total in sorted(currency_totals(entry.postings).items()):
        if total != 0:
            problems.append(f"{currency} postings sum to {total}, expected 0")
    return problems


def currency_totals(postings: tuple[Posting, ...]) -> dict[str, Decimal]:
    """Sum of the amounts per currency."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for posting in postings:
        totals[posting.currency] += posting.amount
    return dict(totals)


@dataclass(frozen=True, slots=True)
class Fill:
    """A broker execution as the ledger needs it; `fill_id` is the broker's execution id."""

    fill_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    commission: Decimal = ZERO
    timestamp: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.side not in ("BUY", "SELL"):
            raise DataError(f"fill {self.fill_id}: side {self.side!r}; expected BUY or SELL")
        if self.qty <= 0 or self.price <= 0 or self.commission < 0:
            raise DataError(
                f"fill {self.fill_id}: qty {self.qty} and price {self.price} must be > 0, "
                f"commission {self.commission} >= 0"
            )

    @classmethod
    def from_message(cls, message: OrderFilled, side: Side, currency: str = "USD") -> Fill:
        """The fill a `fills` message reports; the message has no side, the order has."""
        return cls(
            fill_id=message.broker_id,
            symbol=message.symbol,
            side=side,
            qty=message.qty,
            price=message.price,
            commission=message.commission,
            timestamp=message.timestamp,
            currency=currency,
        )

    @property
    def signed_qty(self) -> Decimal:
        """Shares bought (positive) or sold (negative)."""
        return self.qty if self.side == "BUY" else -self.qty

    def describe(self) -> str:
        """The fill's payload as one canonical line; a re-post must match it exactly."""
        return (
            f"{self.side} {_plain(self.qty)} {self.symbol} @ {_plain(self.price)} "
            f"commission {_plain(self.commission)} {self.currency}"
        )


def _plain(value: Decimal) -> str:
    """`value` without trailing zeros or exponent (10.5000 → 10.5, 1E+1 → 10)."""
    text = format(value.normalize(), "f")
    return text


@dataclass(frozen=True, slots=True)
class Position:
    """Shares of a symbol and their total cost, as the journal holds them."""

    symbol: str
    quantity: Decimal = ZERO
    cost: Decimal = ZERO

    @property
    def average_cost(self) -> Decimal:
        """Cost per share (zero for a flat position)."""
        return self.cost / self.quantity if self.quantity else ZERO
