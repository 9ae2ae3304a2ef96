"""Dividends and splits reach the ledger through the live pipeline: stored corporate actions are
posted at their ex-date's close on the position held before it, once, and the state derived
from the journal stays exact (NAV = cash + Σ qty × close to the cent, rebuild reproduces it,
verify finds nothing)."""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from stocker.bus.handlers import HandlerRegistry
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.days import replay, run_day
from stocker.trading.ledger import rebuild, verify
from stocker.trading.stages import Stages

sys.path.insert(0, str(Path(__file__).parent))
from crashing_stages import paper_broker, portfolios, warm_up

pytestmark = pytest.mark.slow


def _store_action(engine: Engine, symbol: str, day: dt.date, kind: str, value: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO corporate_actions (symbol, date, action_type, value, source) "
                "VALUES (:s, :d, :k, :v, 'test')"
            ),
            {"s": symbol, "d": day, "k": kind, "v": Decimal(value)},
        )


def test_dividends_and_splits_are_posted_at_the_ex_date_close(
    engine: Engine, uow: SqlUnitOfWork
) -> None:
    days = warm_up(engine, 2)
    ex_date = days[0]
    with uow:  # the portfolio holding most at the ex-date (long or short)
        held_by = {
            setup: uow.ledger.positions(setup.portfolio_id, setup.symbols, before=ex_date)
            for setup in portfolios()
        }
    setup, before = max(held_by.items(), key=lambda i: sum(p.quantity != 0 for p in i[1].values()))
    held = sorted(s for s, p in before.items() if p.quantity != 0)
    assert len(held) >= 2
    paid, split = held[0], held[1]
    _store_action(engine, paid, ex_date, "DIVIDEND", "0.37")
    _store_action(engine, split, ex_date, "SPLIT", "2")
    _store_action(engine, split, ex_date, "DIVIDEND", "0.10")  # same day: before the split
    _store_action(engine, "XOM", ex_date, "DIVIDEND", "5")  # held by neither portfolio

    pipeline = Stages(portfolios(), paper_broker(partial_fills=True))
    registry = HandlerRegistry()
    pipeline.register(registry)
    factory = lambda: SqlUnitOfWork(engine)  # noqa: E731
    replay(factory, registry, pipeline, days[0], days[-1])

    portfolio = setup.portfolio_id
    with uow:
        entries = [e for e in uow.ledger.entries(portfolio) if e.date == ex_date]
        after = uow.ledger.positions(portfolio, setup.symbols, before=ex_date + dt.timedelta(1))
        state = uow.ledger.state_before(portfolio, ex_date + dt.timedelta(days=1))
        holdings = uow.ledger.holdings(portfolio)[ex_date]
        closes = uow.ledger.closes(setup.symbols, ex_date)
    kinds = sorted((e.kind, e.description or "") for e in entries if e.kind != "FILL")
    assert [k for k, _ in kinds] == ["DIVIDEND", "DIVIDEND", "SPLIT"]
    dividends = {
        p.symbol: -p.amount
        for e in entries
        if e.kind == "DIVIDEND"
        for p in e.postings
        if p.account == "income:dividends"
    }
    assert dividends == {
        paid: (Decimal("0.37") * before[paid].quantity).quantize(Decimal("0.0001")),
        split: (Decimal("0.10") * before[split].quantity).quantize(Decimal("0.0001")),
    }
    (split_entry,) = [e for e in entries if e.kind == "SPLIT"]
    assert {p.account for p in split_entry.postings} == {f"assets:positions:{split}"}
    assert sum(p.amount for p in split_entry.postings) == 0  # no cash, no P&L
    fills_today = sum(
        p.quantity or 0
        for e in entries
        if e.kind == "FILL"
        for p in e.postings
        if p.account == f"assets:positions:{split}"
    )
    assert after[split].quantity == 2 * before[split].quantity + fills_today
    assert state is not None and state.date == ex_date
    # NAV = cash + Σ qty × close, to the cent, in Decimal
    marked = sum((h.qty * closes[h.symbol] for h in holdings), Decimal(0))
    assert state.nav == state.cash + marked.quantize(Decimal("0.0001"))
    assert abs(state.nav - (state.cash + marked)) < Decimal("0.01")

    # The day again (and the whole replay): no second dividend or split.
    run_day(factory, registry, pipeline, ex_date)
    replay(factory, registry, pipeline, days[0], days[-1])
    with uow:
        again = [e for e in uow.ledger.entries(portfolio) if e.date == ex_date]
    assert sorted(e.entry_id for e in again) == sorted(e.entry_id for e in entries)
    report = rebuild(uow, portfolio)
    assert report.differences == ()
    assert verify(uow, portfolio).ok
