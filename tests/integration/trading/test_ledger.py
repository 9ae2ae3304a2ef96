"""The ledger on real PostgreSQL: posting, idempotency, the database's own checks, concurrent
writers, mark to market, rebuild and verify."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from stocker.core import ledger as rules
from stocker.core.errors import DataError
from stocker.core.ledger import CASH, CONTRIBUTIONS, Fill, Posting
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.ledger import (
    mark_to_market,
    post_contribution,
    post_corporate_action,
    post_fill,
    rebuild,
    reverse,
    verify,
)

P = "main"
DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
CLOSES = {"SPY": ["100.00", "104.00", "96.00"], "QQQ": ["50.00", "51.00", "49.50"]}
ORDER = uuid.UUID("00000000-0000-0000-0000-000000000001")


def _fill(fill_id: str, symbol: str, side: str, qty: str, price: str, day: dt.date) -> Fill:
    at = dt.datetime.combine(day, dt.time(14, 30), tzinfo=dt.UTC)
    return Fill(fill_id, symbol, side, Decimal(qty), Decimal(price), Decimal("1.00"), at)  # type: ignore[arg-type]


def _record(engine: Engine, fill: Fill) -> None:
    """What the broker adapter stores before the ledger posts (the FK target)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO fills (fill_id, order_id, date, symbol, side, qty, price, commission)"
                " VALUES (:f, :o, :d, :s, :side, :q, :p, :c)"
            ),
            {
                "f": fill.fill_id,
                "o": ORDER,
                "d": fill.timestamp,
                "s": fill.symbol,
                "side": fill.side,
                "q": fill.qty,
                "p": fill.price,
                "c": fill.commission,
            },
        )


@pytest.fixture
def market(engine: Engine) -> Engine:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO instrument_info (symbol) VALUES ('SPY'), ('QQQ')"))
        for symbol, closes in CLOSES.items():
            for day, close in zip(DAYS, closes, strict=True):
                conn.execute(
                    text(
                        "INSERT INTO prices_daily (symbol, date, open, high, low, close, "
                        "adj_close, volume, source) VALUES (:s, :d, :c, :c, :c, :c, :c, 1, 't')"
                    ),
                    {"s": symbol, "d": day, "c": close},
                )
        conn.execute(
            text(
                "INSERT INTO orders (order_id, portfolio_id, date, symbol, side, qty, status) "
                "VALUES (:o, :p, :d, 'SPY', 'BUY', 1, 'FILLED')"
            ),
            {"o": ORDER, "p": P, "d": DAYS[0]},
        )
    return engine


def _trade(engine: Engine, uow: SqlUnitOfWork) -> None:
    post_contribution(
        uow, P, DAYS[0], Decimal(10000), entry_id=uuid.uuid5(uuid.NAMESPACE_URL, "seed")
    )
    fills = [
        _fill("F1", "SPY", "BUY", "30", "99.50", DAYS[0]),
        _fill("F2", "QQQ", "BUY", "40", "50.10", DAYS[0]),
        _fill("F3", "SPY", "SELL", "10", "104.20", DAYS[1]),
    ]
    for day in DAYS:
        for fill in fills:
            if fill.timestamp.date() == day:
                _record(engine, fill)
                assert post_fill(uow, P, fill).new
        if day == DAYS[2]:
            post_corporate_action(uow, P, "QQQ", day, "DIVIDEND", Decimal("0.25"))
        mark_to_market(uow, P, day)


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_fills_post_and_the_state_is_marked_at_the_close(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    _trade(market, uow)
    with uow:
        states = uow.ledger.states(P)
        holdings = uow.ledger.holdings(P)
    last = states[-1]
    # cash: 10000 - 2985 - 1 - 2004 - 1 + 1042 - 1 + 40 x 0.25
    assert last.cash == Decimal("6060")
    assert [(h.symbol, h.qty, h.market_value) for h in holdings[DAYS[2]]] == [
        ("QQQ", 40, Decimal("1980")),
        ("SPY", 20, Decimal("1920")),
    ]
    assert last.nav == Decimal("9960")
    assert last.realized_pnl + last.unrealized_pnl == last.nav - 10000
    # day 2: cash 10000 - 2986 - 2005 + 1041, SPY 20 x 104, QQQ 40 x 51
    assert states[1].high_water_mark == states[1].nav == Decimal("10170")
    assert last.high_water_mark == Decimal("10170")
    assert last.drawdown == Decimal("0.0206")  # 210 / 10170
    assert verify(uow, P).ok


def test_the_database_accepts_balanced_entries_and_refuses_unbalanced(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    entry = rules.post_contribution(P, DAYS[0], Decimal(5))
    with uow:
        assert uow.ledger.append([entry]) == [entry.entry_id]
        uow.commit()
    broken = rules.post_contribution(P, DAYS[0], Decimal(7))
    object.__setattr__(
        broken,
        "postings",
        (Posting(CASH, "USD", Decimal(7)), Posting(CONTRIBUTIONS, "USD", Decimal(-6))),
    )
    with uow, pytest.raises(DBAPIError, match="does not balance"):
        uow.ledger.append([broken])
        uow.commit()
    with market.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("UPDATE ledger_postings SET amount = 0"))
    assert _count(market, "ledger_entries") == 1


def test_a_fill_posted_twice_changes_nothing_and_a_changed_payload_is_refused(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    fill = _fill("F1", "SPY", "BUY", "30", "99.50", DAYS[0])
    _record(market, fill)
    assert post_fill(uow, P, fill).new
    again = post_fill(uow, P, fill)
    assert not again.new
    assert _count(market, "ledger_entries") == 1
    assert _count(market, "ledger_postings") == 3
    changed = _fill("F1", "SPY", "BUY", "31", "99.50", DAYS[0])
    with pytest.raises(DataError, match="different payload"):
        post_fill(uow, P, changed)
    with pytest.raises(DataError, match="different payload"):
        post_fill(uow, "other", fill)
    assert _count(market, "ledger_postings") == 3


def test_two_ledger_writers_racing_on_one_fill_post_it_once(market: Engine) -> None:
    fill = _fill("F1", "SPY", "BUY", "30", "99.50", DAYS[0])
    _record(market, fill)
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            barrier.wait()
            results.append(post_fill(SqlUnitOfWork(market), P, fill).new)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sorted(results) == [False, True]
    assert _count(market, "ledger_entries") == 1


def test_without_the_lock_the_unique_fill_id_lets_one_insert_win(market: Engine) -> None:
    """Two connections insert the same fill's entry: the second waits on the unique index,
    then sees the first's commit and writes nothing."""
    fill = _fill("F1", "SPY", "BUY", "30", "99.50", DAYS[0])
    _record(market, fill)
    entry = rules.post_fill(P, fill, rules.Position("SPY"))
    first, second = SqlUnitOfWork(market), SqlUnitOfWork(market)
    outcome: list[list[uuid.UUID]] = []
    with first:
        assert first.ledger.append([entry]) == [entry.entry_id]
        with second:
            thread = threading.Thread(target=lambda: outcome.append(second.ledger.append([entry])))
            thread.start()
            thread.join(0.5)
            assert thread.is_alive(), "the second insert waits for the first transaction"
            first.commit()
            thread.join(10)
            assert outcome == [[]]
            assert second.ledger.entry_for_fill("F1") == entry
            second.commit()
    assert _count(market, "ledger_entries") == 1


def test_rebuild_reproduces_the_stored_state_exactly(market: Engine, uow: SqlUnitOfWork) -> None:
    _trade(market, uow)
    with uow:
        before = (uow.ledger.states(P), uow.ledger.holdings(P))
    report = rebuild(uow, P)
    assert report.days == 3 and report.differences == ()
    with uow:
        assert (uow.ledger.states(P), uow.ledger.holdings(P)) == before


def test_verify_reports_a_broken_state_row_and_rebuild_repairs_it(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    _trade(market, uow)
    with market.begin() as conn:
        conn.execute(
            text("UPDATE portfolio_state SET nav = nav + 1 WHERE date = :d"), {"d": DAYS[1]}
        )
        conn.execute(
            text("UPDATE holdings SET qty = qty + 1 WHERE date = :d AND symbol = 'QQQ'"),
            {"d": DAYS[2]},
        )
    report = verify(uow)
    assert not report.ok
    text_of = "\n".join(str(problem) for problem in report.problems)
    assert f"{P} {DAYS[1]} nav: stored 10171.0000, journal gives 10170" in text_of
    assert "NAV = cash + Σ qty×close" in text_of
    assert f"{DAYS[2]} holdings[QQQ].qty" in text_of
    repaired = rebuild(uow, P)
    assert {d.field for d in repaired.differences} == {"nav", "holdings[QQQ].qty"}
    assert verify(uow, P).ok


def test_verify_reports_a_fill_the_ledger_has_not_posted(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    _record(market, _fill("F9", "SPY", "BUY", "1", "100", DAYS[0]))
    report = verify(uow, P)
    assert [str(problem) for problem in report.problems] == [
        f"{P} [fill posted once] fill F9 is not in the ledger"
    ]


def test_a_split_changes_quantity_and_cost_basis_without_pnl(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    fill = _fill("F1", "SPY", "BUY", "30", "99.50", DAYS[0])
    _record(market, fill)
    post_fill(uow, P, fill)
    before = mark_to_market(uow, P, DAYS[0], {"SPY": Decimal(100)})
    posted = post_corporate_action(uow, P, "SPY", DAYS[1], "SPLIT", Decimal(2))
    assert posted is not None and posted.new
    assert post_corporate_action(uow, P, "SPY", DAYS[1], "SPLIT", Decimal(2)) == posted.__class__(
        posted.entry, False
    )
    after = mark_to_market(uow, P, DAYS[1], {"SPY": Decimal(50)})
    with uow:
        holding = uow.ledger.holdings(P)[DAYS[1]][0]
    assert (holding.qty, holding.cost_basis) == (
        60,
        Decimal("49.75"),
    )  # 2985 / 60: commissions are expenses
    assert after.realized_pnl == before.realized_pnl
    assert after.nav == before.nav


def test_a_wrong_entry_is_reversed_by_a_correction_never_edited(
    market: Engine, uow: SqlUnitOfWork
) -> None:
    fill = _fill("F1", "SPY", "BUY", "30", "99.50", DAYS[0])
    _record(market, fill)
    original = post_fill(uow, P, fill).entry
    reversal = reverse(uow, P, original.entry_id, DAYS[1], "booked to the wrong portfolio")
    assert reversal.new and reversal.entry.corrects_entry_id == original.entry_id
    assert not reverse(uow, P, original.entry_id, DAYS[1], "booked to the wrong portfolio").new
    with uow:
        assert uow.ledger.position(P, "SPY") == rules.Position("SPY")
        assert uow.ledger.position(P, "SPY", before=DAYS[1]).quantity == 30
        assert len(uow.ledger.entries(P)) == 2
    with pytest.raises(DataError, match="no ledger entry"):
        reverse(uow, "other", original.entry_id, DAYS[1], "x")
    assert verify(uow, P).ok
