"""Posting rules: how a contribution, a fill, a split and a dividend become balanced entries.

Pure functions of the event and, for a fill or a corporate action, the position before it (read
from the journal by the caller). Entry ids are derived from what identifies the event, so a
retried posting carries the same id and can never post twice.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from stocker.core.broker import split_fraction
from stocker.core.errors import DataError
from stocker.core.ledger.records import (
    CASH,
    COMMISSIONS,
    CONTRIBUTIONS,
    DIVIDENDS,
    REALIZED_PNL,
    ZERO,
    Entry,
    Fill,
    Kind,
    Position,
    Posting,
    entry_id_for,
    money,
    position_account,
)


def fill_entry_id(portfolio_id: str, fill_id: str) -> uuid.UUID:
    """The id of the entry that posts broker fill `fill_id`."""
    return entry_id_for(portfolio_id, "FILL", fill_id)


def post_contribution(
    portfolio_id: str,
    day: dt.date,
    amount: Decimal,
    *,
    currency: str = "USD",
    entry_id: uuid.UUID | None = None,
    description: str | None = None,
) -> Entry:
    """Capital paid in (amount > 0, DEPOSIT) or taken out (amount < 0, WITHDRAWAL)."""
    amount = Decimal(amount)
    if amount == 0 or amount != money(amount):
        raise DataError(f"contribution amount {amount}: expected non-zero, at most 4 decimals")
    kind: Kind = "DEPOSIT" if amount > 0 else "WITHDRAWAL"
    return Entry(
        entry_id=entry_id or uuid.uuid4(),
        portfolio_id=portfolio_id,
        date=day,
        kind=kind,
        postings=(
            Posting(CASH, currency, amount),
            Posting(CONTRIBUTIONS, currency, -amount),
        ),
        description=description or f"{kind.lower()} {amount} {currency}",
    )


def post_fill(portfolio_id: str, fill: Fill, position_before: Position) -> Entry:
    """A fill against the position it meets: cash moves, the position changes at cost.

    Shares that add to the position (or open it) are booked at the fill price; shares that
    reduce it relieve the position at its average cost, and the difference with the proceeds is
    realized P&L. A fill that crosses zero does both. The commission is an expense paid in cash.
    """
    if position_before.symbol != fill.symbol:
        raise DataError(
            f"fill {fill.fill_id} is {fill.symbol}, position is {position_before.symbol}"
        )
    held, cost = position_before.quantity, position_before.cost
    delta = fill.signed_qty
    closing = ZERO
    if held != 0 and (held > 0) != (delta > 0):
        closing = min(abs(delta), abs(held)) * (1 if delta > 0 else -1)
    gross = money(delta * fill.price)
    close_gross = money(closing * fill.price)
    open_cost = gross - close_gross
    relieved = ZERO
    if closing:
        relieved = -cost if abs(closing) == abs(held) else money(cost * closing / held)
    currency = fill.currency
    postings = [
        Posting(position_account(fill.symbol), currency, relieved + open_cost, fill.symbol, delta),
        Posting(CASH, currency, -gross - fill.commission),
    ]
    realized = close_gross - relieved
    if closing and realized:
        postings.append(Posting(REALIZED_PNL, currency, realized))
    if fill.commission:
        postings.append(Posting(COMMISSIONS, currency, fill.commission))
    return Entry(
        entry_id=fill_entry_id(portfolio_id, fill.fill_id),
        portfolio_id=portfolio_id,
        date=fill.timestamp.astimezone(dt.UTC).date(),
        kind="FILL",
        postings=tuple(postings),
        fill_id=fill.fill_id,
        description=fill.describe(),
    )


def post_split(
    portfolio_id: str,
    ex_date: dt.date,
    ratio: Decimal,
    position_before: Position,
    *,
    price: Decimal | None = None,
    currency: str = "USD",
) -> Entry | None:
    """A split of `ratio` new shares per old one: the shares kept, the rest paid as cash in lieu.

    The stored ratio is read as the fraction it stands for (`split_fraction`: 0.3333 is 1/3), as
    the adjusted orders read it, so 100 shares ex a 1-for-3 split are 33 1/3. A holding of whole
    shares keeps whole shares (toward zero, like an adjusted order: an issuer pays cash for the
    fraction); a fractional holding (a fractional-share account) keeps the count to the ledger's
    four places, toward zero. What is not kept is sold at `price` (the post-split price of the
    ex-date), its share of the cost relieved and the difference realized. Cost is conserved
    (kept + relieved = cost before) and, at `price`, so is the position's value to the cent:
    no quantity at four places holds 1/3, and dropping it would lose value. A split that leaves
    nothing over posts no cash and no P&L. None when flat (kind SPLIT).
    """
    ratio = Decimal(ratio)
    if ratio <= 0:
        raise DataError(f"split ratio {ratio}: expected > 0 (2 for a 2-for-1 split)")
    held = position_before.quantity
    if held == 0:
        return None
    symbol, cost = position_before.symbol, position_before.cost
    fraction = split_fraction(money(ratio))  # at the column's four places, as the orders read it
    exact = Fraction(held) * fraction
    if held == held.to_integral_value():
        whole = Decimal(math.trunc(exact))  # toward zero, a short position alike
    else:
        whole = Decimal(math.trunc(exact * 10**4)).scaleb(-4)  # the ledger's four places
    lieu = exact - Fraction(whole)  # what is not kept, signed like `held`
    account = position_account(symbol)
    said = f"split {symbol} {fraction.numerator}:{fraction.denominator}"
    postings = [Posting(account, currency, -cost, symbol, -held)]
    if lieu == 0:
        postings.append(Posting(account, currency, cost, symbol, whole))
        description = f"{said}, {held} -> {whole} shares at the same cost"
    else:
        if price is None or price <= 0:
            raise DataError(
                f"{said} on {ex_date} leaves {_decimal(lieu, 6)} of a share of the {held} held: "
                "cash in lieu of it needs the ex-date's price"
            )
        relieved = cost if whole == 0 else money(_decimal(Fraction(cost) * lieu / exact, 8))
        proceeds = money(_decimal(lieu * Fraction(price), 8))
        if whole != 0:
            postings.append(Posting(account, currency, cost - relieved, symbol, whole))
        postings.append(Posting(CASH, currency, proceeds))
        if proceeds != relieved:
            postings.append(Posting(REALIZED_PNL, currency, relieved - proceeds))
        description = (
            f"{said}, {held} -> {_decimal(exact, 6)} shares: {whole} kept at cost "
            f"{cost - relieved}, {_decimal(lieu, 6)} settled in cash at {price} = {proceeds} "
            f"(cost {relieved})"
        )
    return Entry(
        entry_id=entry_id_for(portfolio_id, "SPLIT", symbol, ex_date),
        portfolio_id=portfolio_id,
        date=ex_date,
        kind="SPLIT",
        postings=tuple(postings),
        description=description,
    )


def _decimal(value: Fraction, places: int) -> Decimal:
    """`value` to `places` decimals, half-even (for amounts and for saying a fraction)."""
    quotient = Decimal(value.numerator) / Decimal(value.denominator)
    return quotient.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN).normalize()


def post_dividend(
    portfolio_id: str,
    symbol: str,
    ex_date: dt.date,
    per_share: Decimal,
    quantity: Decimal,
    *,
    currency: str = "USD",
) -> Entry | None:
    """A cash dividend on the shares held at the ex-date (a short position pays it)."""
    amount = money(Decimal(per_share) * quantity)
    if amount == 0:
        return None
    return Entry(
        entry_id=entry_id_for(portfolio_id, "DIVIDEND", symbol, ex_date),
        portfolio_id=portfolio_id,
        date=ex_date,
        kind="DIVIDEND",
        postings=(
            Posting(CASH, currency, amount),
            Posting(DIVIDENDS, currency, -amount, symbol),
        ),
        description=f"dividend {symbol} {per_share} per share on {quantity} shares",
    )


def reverse_entry(entry: Entry, day: dt.date, reason: str) -> Entry:
    """A CORRECTION that undoes `entry` (every posting negated); the original stays on record.

    A wrong entry is never edited: reverse it, then post what should have been (a fill's id
    stays with its first entry, so a corrected fill is posted as a correction of its own).
    """
    return Entry(
        entry_id=entry_id_for(entry.portfolio_id, "CORRECTION", entry.entry_id),
        portfolio_id=entry.portfolio_id,
        date=day,
        kind="CORRECTION",
        postings=tuple(
            Posting(p.account, p.currency, -p.amount, p.symbol, -p.quantity) for p in entry.postings
        ),
        corrects_entry_id=entry.entry_id,
        description=f"reverses {entry.kind} {entry.entry_id}: {reason}",
    )
