"""Seeded random and hypothesis-generated days of contributions, fills (batches with
redeliveries), splits and dividends through the database: the stored state equals the pure
derivation, NAV = cash + Σ qty × close to the cent, rebuild reproduces it exactly and verify
finds nothing."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from stocker.core.ledger import Fill, derive_states
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.ledger import (
    close_day_in,
    mark_to_market,
    post_contribution,
    post_corporate_action,
    post_fills_in,
    rebuild,
    verify,
)

SYMBOLS = ("AAA", "BBB", "CCC")
START = dt.date(2024, 1, 2)
DAYS = 12


def _prices(engine: Engine, rng: random.Random) -> dict[dt.date, dict[str, Decimal]]:
    closes: dict[dt.date, dict[str, Decimal]] = {}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('AAA'), ('BBB'), ('CCC')"))
        for number in range(DAYS):
            day = START + dt.timedelta(days=number)
            closes[day] = {s: Decimal(rng.randint(1000, 20000)) / 100 for s in SYMBOLS}
            for symbol, close in closes[day].items():
                conn.execute(
                    text(
                        "INSERT INTO prices_daily (symbol, date, open, high, low, close, "
                        "adj_close, volume, source) VALUES (:s, :d, :c, :c, :c, :c, :c, 1, 't')"
                    ),
                    {"s": symbol, "d": day, "c": close},
                )
    return closes


def _store_fills(engine: Engine, fills: list[Fill]) -> None:
    with engine.begin() as conn:
        for fill in fills:
            conn.execute(
                text(
                    "INSERT INTO fills (fill_id, date, symbol, side, qty, price, commission) "
                    "VALUES (:f, :d, :s, :side, :q, :p, :c) ON CONFLICT (fill_id) DO NOTHING"
                ),
                {
                    "f": fill.fill_id,
                    "d": fill.timestamp,
                    "s": fill.symbol,
                    "side": fill.side,
                    "q": fill.qty,
                    "p": fill.price,
                    "c": fill.commission,
                },
            )


@pytest.mark.parametrize("seed", range(4))
def test_a_random_run_is_reproduced_by_rebuild(
    engine: Engine, uow: SqlUnitOfWork, seed: int
) -> None:
    rng = random.Random(seed)
    closes = _prices(engine, rng)
    portfolio = f"p{seed}"
    post_contribution(uow, portfolio, START, Decimal(100_000))
    for number, day in enumerate(sorted(closes)):
        if rng.random() < 0.2:
            post_contribution(uow, portfolio, day, Decimal(rng.randint(-2000, 5000) or 1))
        for symbol in SYMBOLS:
            if rng.random() < 0.15:
                action = rng.choice(["SPLIT", "DIVIDEND"])
                value = Decimal(rng.choice([2, 3])) if action == "SPLIT" else Decimal("0.37")
                post_corporate_action(uow, portfolio, symbol, day, action, value)  # type: ignore[arg-type]
        at = dt.datetime.combine(day, dt.time(14, 30), tzinfo=dt.UTC)
        fills = []
        for k in range(rng.randint(0, 6)):
            symbol = rng.choice(SYMBOLS)
            side = rng.choice(["BUY", "BUY", "SELL"])
            quantity = Decimal(rng.randint(1, 4000)) / 10
            commission = Decimal(rng.randint(0, 300)) / 100
            fill_id = f"{portfolio}-{number}-{k}"
            price = closes[day][symbol]
            fills.append(Fill(fill_id, symbol, side, quantity, price, commission, at))  # type: ignore[arg-type]
        _store_fills(engine, fills)
        redelivered = fills + fills[: rng.randint(0, len(fills))]
        with uow:
            posted = post_fills_in(uow, portfolio, redelivered)
            uow.commit()
        assert [p.new for p in posted] == [True] * len(fills) + [False] * (
            len(redelivered) - len(fills)
        )
        mark_to_market(uow, portfolio, day)

    with uow:
        entries = uow.ledger.entries(portfolio)
        stored = [
            (uow.ledger.holdings(portfolio).get(s.date, ()), s)
            for s in uow.ledger.states(portfolio)
        ]
    derived = derive_states(entries, closes, portfolio_id=portfolio)
    assert stored == derived
    report = rebuild(uow, portfolio)
    assert report.days == DAYS and report.differences == ()
    assert verify(uow, portfolio).ok
    last = derived[-1][1]
    contributions = sum(
        (
            p.amount
            for e in entries
            for p in e.postings
            if p.account == "assets:cash" and e.kind in ("DEPOSIT", "WITHDRAWAL")
        ),
        Decimal(0),
    )
    assert last.realized_pnl + last.unrealized_pnl == last.nav - contributions


# -- hypothesis: generated days through the database ------------------------------------------

_quantities = st.integers(min_value=1, max_value=40_000).map(lambda n: Decimal(n) / 100)
_events = st.one_of(
    st.tuples(st.just("contribute"), st.integers(-3_000, 50_000).filter(bool).map(Decimal)),
    st.tuples(
        st.just("fill"),
        st.sampled_from(SYMBOLS),
        st.sampled_from(("BUY", "BUY", "SELL")),
        _quantities,
        st.integers(0, 300).map(lambda n: Decimal(n) / 100),
    ),
    st.tuples(st.just("split"), st.sampled_from(SYMBOLS), st.sampled_from(("2", "3", "0.5"))),
    st.tuples(st.just("dividend"), st.sampled_from(SYMBOLS), st.sampled_from(("0.37", "1.05"))),
)
_days = st.lists(st.lists(_events, max_size=5), min_size=2, max_size=6)


@pytest.fixture
def market(engine: Engine) -> dict[dt.date, dict[str, Decimal]]:
    return _prices(engine, random.Random(99))


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(days=_days)
def test_generated_fills_splits_and_dividends_keep_every_invariant(
    engine: Engine,
    uow: SqlUnitOfWork,
    market: dict[dt.date, dict[str, Decimal]],
    days: list[list[tuple[object, ...]]],
) -> None:
    """Each example is a new portfolio; splits and dividends are stored corporate actions that
    the ledger service's close of the day posts (`close_day_in`), as in the live pipeline."""
    portfolio = f"h{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM corporate_actions"))
    post_contribution(uow, portfolio, START, Decimal(100_000))
    sessions = sorted(market)
    fills_posted = 0
    for number, events in enumerate(days):
        day = sessions[number]
        at = dt.datetime.combine(day, dt.time(14, 30), tzinfo=dt.UTC)
        fills = []
        for k, event in enumerate(events):
            if event[0] == "contribute":
                post_contribution(uow, portfolio, day, event[1])  # type: ignore[arg-type]
            elif event[0] == "fill":
                _, symbol, side, quantity, commission = event
                fills.append(
                    Fill(f"{portfolio}-{number}-{k}", symbol, side, quantity,  # type: ignore[arg-type]
                         market[day][symbol], commission, at)  # type: ignore[index]
                )  # fmt: skip
            else:
                kind = "SPLIT" if event[0] == "split" else "DIVIDEND"
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            "INSERT INTO corporate_actions (symbol, date, action_type, value) "
                            "VALUES (:s, :d, :k, :v) ON CONFLICT DO NOTHING"
                        ),
                        {"s": event[1], "d": day, "k": kind, "v": Decimal(str(event[2]))},
                    )
        _store_fills(engine, fills)
        with uow:
            post_fills_in(uow, portfolio, fills + fills[:1])  # one redelivered
            state = close_day_in(uow, portfolio, day)
            uow.commit()
        fills_posted += len(fills)
        with uow:
            holdings = uow.ledger.holdings(portfolio).get(day, ())
        marked = sum((h.qty * market[day][h.symbol] for h in holdings), Decimal(0))
        # NAV = cash + Σ qty × close, to the cent, in Decimal
        assert abs(state.nav - (state.cash + marked)) < Decimal("0.01")
        assert state.nav == state.cash + sum((h.market_value for h in holdings), Decimal(0))

    with uow:
        entries = uow.ledger.entries(portfolio)
        stored = [
            (uow.ledger.holdings(portfolio).get(s.date, ()), s)
            for s in uow.ledger.states(portfolio)
        ]
    assert sum(e.kind == "FILL" for e in entries) == fills_posted
    assert stored == derive_states(entries, market, portfolio_id=portfolio)[: len(stored)]
    assert rebuild(uow, portfolio).differences == ()
    report = verify(uow, portfolio)
    assert report.ok, report
