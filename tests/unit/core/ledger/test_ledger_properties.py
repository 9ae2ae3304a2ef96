"""Generated sequences of contributions, fills (buys, sells, partial, crossing zero), splits and
dividends keep every ledger invariant, checked against an independent running model."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from stocker.core.ledger import (
    Entry,
    Fill,
    currency_totals,
    derive_state,
    derive_states,
    money,
    post_contribution,
    post_dividend,
    post_fill,
    post_split,
    totals,
)

SYMBOLS = ("AAA", "BBB", "CCC")
# a split's stored ratio (NUMERIC(14,4)) and the ratio it stands for, written out by hand
RATIOS = {
    Decimal(2): Fraction(2),
    Decimal(3): Fraction(3),
    Decimal("1.5000"): Fraction(3, 2),
    Decimal("0.5000"): Fraction(1, 2),
    Decimal("0.3333"): Fraction(1, 3),
    Decimal("0.1000"): Fraction(1, 10),
}
START = dt.date(2024, 1, 1)

cents = st.integers(min_value=1, max_value=50_000).map(lambda n: Decimal(n) / 100)
quantities = st.integers(min_value=1, max_value=20_000).map(lambda n: Decimal(n) / 100)
events = st.one_of(
    st.tuples(st.just("contribute"), st.integers(-5_000, 100_000).filter(bool).map(Decimal)),
    st.tuples(
        st.just("fill"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(("BUY", "SELL")),
        quantities,
        cents,
        st.integers(0, 500).map(lambda n: Decimal(n) / 100),
    ),
    st.tuples(st.just("split"), st.sampled_from(SYMBOLS), st.sampled_from(tuple(RATIOS)), cents),
    st.tuples(st.just("dividend"), st.sampled_from(SYMBOLS), cents),
)


def _kept(held: Decimal, exact: Fraction) -> Decimal:
    """What a split keeps of ``exact`` shares: whole shares of a whole holding, else four
    places; toward zero either way."""
    if held == int(held):
        return Decimal(math.trunc(exact))
    return Decimal(math.trunc(exact * 10_000)) / 10_000


class Model:
    """What the journal must say, computed without the ledger."""

    def __init__(self) -> None:
        self.cash = Decimal(0)
        self.contributions = Decimal(0)
        self.quantity: dict[str, Decimal] = defaultdict(Decimal)


def _run(sequence: list[tuple[object, ...]]) -> tuple[list[Entry], Model, list[dt.date]]:
    entries: list[Entry] = []
    model = Model()
    days = []
    for number, event in enumerate(sequence):
        day = START + dt.timedelta(days=number)
        days.append(day)
        journal = totals(entries)
        entry: Entry | None
        match event:
            case ("contribute", amount):
                entry = post_contribution("p", day, amount)  # type: ignore[arg-type]
                model.cash += amount  # type: ignore[operator]
                model.contributions += amount  # type: ignore[operator]
            case ("fill", symbol, side, qty, price, commission):
                at = dt.datetime.combine(day, dt.time(14, 30), tzinfo=dt.UTC)
                fill = Fill(f"f{number}", symbol, side, qty, price, commission, at)  # type: ignore[arg-type]
                entry = post_fill("p", fill, journal.position(str(symbol)))
                gross = money(qty * price)  # type: ignore[operator]
                model.cash += (gross if side == "SELL" else -gross) - commission  # type: ignore[operator]
                model.quantity[str(symbol)] += qty if side == "BUY" else -qty  # type: ignore[operator]
            case ("split", symbol, ratio, price):
                before = journal.position(str(symbol))
                entry = post_split("p", day, ratio, before, price=price)  # type: ignore[arg-type]
                # kept toward zero, whole shares or four places; the rest paid at the price
                held = model.quantity[str(symbol)]
                exact = Fraction(held) * RATIOS[ratio]  # type: ignore[index]
                kept = _kept(held, exact)
                paid = (exact - Fraction(kept)) * Fraction(price)  # type: ignore[arg-type]
                model.quantity[str(symbol)] = kept
                model.cash += money(Decimal(paid.numerator) / Decimal(paid.denominator))
            case ("dividend", symbol, per_share):
                held = journal.position(str(symbol)).quantity
                entry = post_dividend("p", str(symbol), day, per_share, held)  # type: ignore[arg-type]
                model.cash += money(per_share * held)  # type: ignore[operator]
            case _:
                raise AssertionError(event)
        if entry is not None:
            entries.append(entry)
    return entries, model, days


@settings(max_examples=150, deadline=None)
@given(
    st.lists(events, min_size=1, max_size=40),
    st.lists(cents, min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
)
def test_every_invariant_holds_after_any_sequence(
    sequence: list[tuple[object, ...]], prices: list[Decimal]
) -> None:
    entries, model, days = _run(sequence)
    for entry in entries:
        assert len(entry.postings) >= 2
        assert all(total == 0 for total in currency_totals(entry.postings).values())
    journal = totals(entries)
    for symbol in SYMBOLS:
        assert journal.position(symbol).quantity == model.quantity[symbol]
    assert journal.cash == model.cash
    assert journal.contributions == model.contributions

    closes = dict(zip(SYMBOLS, prices, strict=True))
    holdings, state = derive_state(entries, closes, days[-1], portfolio_id="p")
    marked = sum((money(model.quantity[s] * closes[s]) for s in SYMBOLS), Decimal(0))
    assert state.nav == model.cash + marked
    assert state.nav == state.cash + sum((h.market_value for h in holdings), Decimal(0))
    assert state.realized_pnl + state.unrealized_pnl == state.nav - model.contributions
    assert {h.symbol: h.qty for h in holdings} == {
        s: q for s, q in model.quantity.items() if q != 0
    }


@settings(max_examples=60, deadline=None)
@given(st.lists(events, min_size=1, max_size=25), st.randoms(use_true_random=False))
def test_state_is_the_same_whatever_order_entries_are_read_in(
    sequence: list[tuple[object, ...]], rng: random.Random
) -> None:
    entries, _, days = _run(sequence)
    closes = dict.fromkeys(SYMBOLS, Decimal("12.34"))
    shuffled = list(entries)
    rng.shuffle(shuffled)
    day = days[-1]
    assert derive_state(shuffled, closes, day, portfolio_id="p") == derive_state(
        entries, closes, day, portfolio_id="p"
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(events, min_size=1, max_size=25),
    st.lists(st.lists(cents, min_size=3, max_size=3), min_size=1, max_size=10),
)
def test_high_water_mark_and_drawdown_over_the_days(
    sequence: list[tuple[object, ...]], paths: list[list[Decimal]]
) -> None:
    entries, _, days = _run(sequence)
    last = days[-1]
    by_day = {
        last + dt.timedelta(days=n): dict(zip(SYMBOLS, prices, strict=True))
        for n, prices in enumerate(paths)
    }
    derived = derive_states(entries, by_day, portfolio_id="p")
    previous = None
    for (holdings, state), day in zip(derived, sorted(by_day), strict=True):
        alone = derive_state(entries, by_day[day], day, portfolio_id="p", previous=previous)
        assert (holdings, state) == alone
        expected_mark = state.nav if previous is None else max(previous.high_water_mark, state.nav)
        assert state.high_water_mark == expected_mark >= state.nav
        if state.high_water_mark > 0:
            drop = state.high_water_mark - state.nav
            assert state.drawdown == money(drop / state.high_water_mark)
        previous = state


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-50_000, 50_000).filter(bool).map(lambda n: Decimal(n) / 100),
    st.integers(1, 5_000_000).map(lambda n: Decimal(n) / 100),
    st.sampled_from(tuple(RATIOS)),
    st.integers(1, 500_000).map(lambda n: Decimal(n) / 100),
)
def test_a_split_conserves_cost_and_value_to_the_cent(
    held: Decimal, average: Decimal, ratio: Decimal, price: Decimal
) -> None:
    """Whatever is held and whatever the ratio: the cost leaves the position only as far as
    cash in lieu takes it (realized against that cash), and at the ex-date's price the shares
    kept plus the cash are worth the exact shares after the split, to the cent."""
    cost = money(held * average)
    at = dt.datetime.combine(START, dt.time(14, 30), tzinfo=dt.UTC)
    side = "BUY" if held > 0 else "SELL"
    opened = post_fill(
        "p", Fill("f", "AAA", side, abs(held), average, Decimal(0), at), totals([]).position("AAA")
    )
    split = post_split("p", START, ratio, totals([opened]).position("AAA"), price=price)
    assert split is not None
    journal = totals([opened, split])
    after = journal.position("AAA")
    received = journal.cash + cost  # the fill paid `cost`
    realized = journal.income  # the gain on the fraction paid
    relieved = received - realized
    assert after.cost + relieved == cost  # cost basis conserved
    exact = Fraction(held) * RATIOS[ratio]
    assert after.quantity == _kept(held, exact)
    worth = Fraction(after.quantity * price + received)
    assert abs(worth - exact * Fraction(price)) <= Fraction(1, 20_000)  # half a unit of 0.0001
    nav = derive_state([opened, split], {"AAA": price}, START, portfolio_id="p")[1].nav
    assert abs(Fraction(nav + cost) - exact * Fraction(price)) < Fraction(1, 200)  # the cent
