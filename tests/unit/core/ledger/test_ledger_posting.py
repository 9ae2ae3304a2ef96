"""Posting rules by example: what a contribution, buy, sell, split and dividend post."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from stocker.core.errors import DataError
from stocker.core.ledger import (
    CASH,
    COMMISSIONS,
    CONTRIBUTIONS,
    DIVIDENDS,
    REALIZED_PNL,
    Entry,
    Fill,
    Position,
    Posting,
    derive_state,
    money,
    position_account,
    post_contribution,
    post_dividend,
    post_fill,
    post_split,
    reverse_entry,
    state_update,
    totals,
)

DAY = dt.date(2024, 1, 2)
AT = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)


def _fill(fill_id: str, side: str, qty: str, price: str, commission: str = "0") -> Fill:
    return Fill(fill_id, "SPY", side, Decimal(qty), Decimal(price), Decimal(commission), AT)  # type: ignore[arg-type]


def _amounts(entry: Entry) -> dict[str, Decimal]:
    return {p.account: p.amount for p in entry.postings}


def test_an_entry_that_does_not_balance_is_refused() -> None:
    with pytest.raises(DataError, match="USD postings sum to 1"):
        Entry(
            uuid.uuid4(),
            "main",
            DAY,
            "DEPOSIT",
            (Posting(CASH, "USD", Decimal(101)), Posting(CONTRIBUTIONS, "USD", Decimal(-100))),
        )


def test_balance_is_per_currency() -> None:
    with pytest.raises(DataError, match="EUR postings sum to 5"):
        Entry(
            uuid.uuid4(),
            "main",
            DAY,
            "DEPOSIT",
            (
                Posting(CASH, "USD", Decimal(5)),
                Posting(CASH, "EUR", Decimal(5)),
                Posting(CONTRIBUTIONS, "USD", Decimal(-5)),
            ),
        )


def test_kind_fill_exactly_when_a_fill_id_is_set() -> None:
    legs = (Posting(CASH, "USD", Decimal(1)), Posting(CONTRIBUTIONS, "USD", Decimal(-1)))
    with pytest.raises(DataError, match="fill_id"):
        Entry(uuid.uuid4(), "main", DAY, "DEPOSIT", legs, fill_id="x")
    with pytest.raises(DataError, match="fill_id"):
        Entry(uuid.uuid4(), "main", DAY, "FILL", legs)
    with pytest.raises(DataError, match="corrects"):
        Entry(uuid.uuid4(), "main", DAY, "CORRECTION", legs)


def test_amounts_beyond_four_places_and_floats_are_refused() -> None:
    with pytest.raises(DataError, match="four decimal places"):
        Posting(CASH, "USD", Decimal("0.00001"))
    with pytest.raises(DataError, match="Decimal"):
        Posting(CASH, "USD", 1.5)  # type: ignore[arg-type]


def test_contribution_and_withdrawal() -> None:
    deposit = post_contribution("main", DAY, Decimal("10000"))
    assert deposit.kind == "DEPOSIT"
    assert _amounts(deposit) == {CASH: Decimal(10000), CONTRIBUTIONS: Decimal(-10000)}
    assert post_contribution("main", DAY, Decimal("-5")).kind == "WITHDRAWAL"
    with pytest.raises(DataError):
        post_contribution("main", DAY, Decimal(0))


def test_buy_moves_cash_into_the_position_at_cost_and_pays_the_commission() -> None:
    entry = post_fill("main", _fill("f1", "BUY", "10", "100.50", "1"), Position("SPY"))
    assert entry.kind == "FILL" and entry.fill_id == "f1" and entry.date == DAY
    assert _amounts(entry) == {
        position_account("SPY"): Decimal("1005.00"),
        CASH: Decimal("-1006.00"),
        COMMISSIONS: Decimal(1),
    }
    assert entry.postings[0].quantity == 10


def test_sell_relieves_average_cost_and_realizes_the_difference() -> None:
    before = Position("SPY", Decimal(10), Decimal(1000))
    entry = post_fill("main", _fill("f2", "SELL", "4", "120", "0.5"), before)
    amounts = _amounts(entry)
    assert amounts[position_account("SPY")] == Decimal(-400)
    assert amounts[CASH] == Decimal("479.5")
    assert amounts[REALIZED_PNL] == Decimal(-80)  # an 80 gain is a credit to income
    assert amounts[COMMISSIONS] == Decimal("0.5")
    assert entry.postings[0].quantity == -4


def test_closing_the_whole_position_relieves_all_its_cost() -> None:
    before = Position("SPY", Decimal(3), Decimal(100))  # 33.333... a share
    entry = post_fill("main", _fill("f3", "SELL", "3", "40"), before)
    assert _amounts(entry)[position_account("SPY")] == Decimal(-100)
    assert _amounts(entry)[REALIZED_PNL] == Decimal(-20)


def test_a_fill_crossing_zero_closes_then_opens_at_the_fill_price() -> None:
    before = Position("SPY", Decimal(5), Decimal(500))
    entry = post_fill("main", _fill("f4", "SELL", "8", "110"), before)
    after = totals([entry])
    # 5 closed at 100 (50 gain), 3 opened short at 110
    assert _amounts(entry)[REALIZED_PNL] == Decimal(-50)
    assert after.position("SPY").quantity == -8
    assert after.cash == Decimal(880)


def test_split_changes_quantity_not_cost_and_posts_no_pnl() -> None:
    entry = post_split("main", DAY, Decimal(2), Position("SPY", Decimal(10), Decimal(1000)))
    assert entry is not None and entry.kind == "SPLIT"
    journal = totals([entry])
    assert journal.position("SPY").quantity == 10  # +20 - 10
    assert journal.position("SPY").cost == 0
    assert journal.cash == 0 and journal.income == 0
    assert post_split("main", DAY, Decimal(2), Position("SPY")) is None
    with pytest.raises(DataError):
        post_split("main", DAY, Decimal(0), Position("SPY", Decimal(1), Decimal(1)))


def _held_then_split(side: str, qty: str, price: str, ratio: str, ex_price: str) -> list[Entry]:
    """A fill that opens the position, then the split of ``ratio`` priced at ``ex_price``."""
    opened = post_fill("main", _fill("f-open", side, qty, price), Position("SPY"))
    before = totals([opened]).position("SPY")
    split = post_split("main", DAY, Decimal(ratio), before, price=Decimal(ex_price))
    assert split is not None and split.kind == "SPLIT"
    return [opened, split]


def test_a_one_for_three_split_keeps_33_shares_and_pays_a_third_in_lieu() -> None:
    # 100 bought at 50; the stored 0.3333 is 1/3: 33 1/3 shares, 33 kept, 1/3 paid at 153
    opened, split = _held_then_split("BUY", "100", "50", "0.3333", "153")
    after = totals([opened, split])
    assert after.position("SPY").quantity == 33
    assert after.position("SPY").cost == Decimal(4950)  # cost conserved: 4,950 + 50 relieved
    assert after.cash == Decimal(-5000) + Decimal(51)  # 1/3 x 153
    assert _amounts(split)[REALIZED_PNL] == Decimal(-1)  # a gain of 51 - 50
    # NAV at the ex-date's 153 is what 33 1/3 shares are worth: 100 x 51 - 5,000
    nav = derive_state([opened, split], {"SPY": Decimal(153)}, DAY, portfolio_id="main")[1].nav
    assert nav == Decimal(100 * 51 - 5000)
    assert "1:3" in (split.description or "") and "33 kept" in (split.description or "")


def test_a_short_position_across_a_reverse_split_pays_cash_for_its_fraction() -> None:
    opened, split = _held_then_split("SELL", "10", "50", "0.3333", "150")
    after = totals([opened, split])
    assert after.position("SPY").quantity == -3  # -10 -> -3 1/3: -3 kept
    assert after.position("SPY").cost == Decimal(-450)
    assert after.cash == Decimal(500) - Decimal(50)  # a third of a share bought back at 150
    assert REALIZED_PNL not in _amounts(split)  # 1/3 x 150 = the third's 50 of cost


def test_a_split_leaving_less_than_a_share_relieves_all_the_cost() -> None:
    opened, split = _held_then_split("BUY", "5", "20", "0.1", "300")
    after = totals([opened, split])
    assert after.position("SPY").quantity == 0 and after.position("SPY").cost == 0
    assert after.cash == Decimal(-100) + Decimal(150)  # 0.5 x 300
    assert _amounts(split)[REALIZED_PNL] == Decimal(-50)


def test_a_two_for_one_split_posts_no_cash_whatever_the_price() -> None:
    opened, split = _held_then_split("BUY", "10", "100", "2", "50")
    assert {p.account for p in split.postings} == {position_account("SPY")}
    assert totals([opened, split]).position("SPY").quantity == 20


def test_a_fractional_holding_keeps_its_fraction_to_four_places() -> None:
    # a fractional-share account: 115.2 ex 2-for-1 is 230.4 exactly, nothing paid
    opened, split = _held_then_split("BUY", "115.2", "10", "2", "5")
    assert {p.account for p in split.postings} == {position_account("SPY")}
    assert totals([opened, split]).position("SPY").quantity == Decimal("230.4")
    # 100.1 ex 1-for-3 is 33.3666..: 33.3666 kept, the 0.0000666.. beyond four places paid
    opened, split = _held_then_split("BUY", "100.1", "50", "0.3333", "150")
    after = totals([opened, split])
    assert after.position("SPY").quantity == Decimal("33.3666")
    assert after.cash == -money(Decimal("100.1") * 50) + Decimal("0.0100")


def test_a_split_with_a_fraction_and_no_price_is_refused_not_rounded_away() -> None:
    with pytest.raises(DataError, match="cash in lieu"):
        post_split("main", DAY, Decimal("0.3333"), Position("SPY", Decimal(100), Decimal(5000)))
    # a 3-for-2 split of an odd count leaves half a share
    with pytest.raises(DataError, match=r"0\.5 of a share"):
        post_split("main", DAY, Decimal("1.5"), Position("SPY", Decimal(101), Decimal(5000)))


def test_dividend_pays_cash_on_the_shares_held() -> None:
    entry = post_dividend("main", "SPY", DAY, Decimal("0.25"), Decimal(10))
    assert entry is not None
    assert _amounts(entry) == {CASH: Decimal("2.50"), DIVIDENDS: Decimal("-2.50")}
    assert post_dividend("main", "SPY", DAY, Decimal("0.25"), Decimal(0)) is None


def test_entry_ids_are_stable_so_a_retry_posts_the_same_entry() -> None:
    fill = _fill("f5", "BUY", "1", "10")
    assert post_fill("main", fill, Position("SPY")) == post_fill("main", fill, Position("SPY"))
    assert (
        post_fill("main", fill, Position("SPY")).entry_id
        != post_fill("other", fill, Position("SPY")).entry_id
    )


def test_state_marks_positions_at_the_close() -> None:
    entries = [
        post_contribution("main", DAY, Decimal(10000)),
        post_fill("main", _fill("f6", "BUY", "10", "100", "1"), Position("SPY")),
    ]
    holdings, state = derive_state(entries, {"SPY": Decimal("110.5")}, DAY, portfolio_id="main")
    assert [(h.symbol, h.qty, h.cost_basis, h.market_value) for h in holdings] == [
        ("SPY", Decimal(10), Decimal(100), Decimal(1105))
    ]
    assert state.cash == Decimal(8999)
    assert state.nav == Decimal(10104)
    assert state.unrealized_pnl == Decimal(105)
    assert state.realized_pnl == Decimal(-1)  # the commission
    assert state.gross_exposure == state.net_exposure == Decimal("0.1094")
    assert state.high_water_mark == state.nav and state.drawdown == 0
    message = state_update(state)
    assert message.nav == Decimal(10104) and message.pnl.day_total == Decimal(104)


def test_a_missing_close_is_an_error_not_a_zero() -> None:
    entries = [post_fill("main", _fill("f7", "BUY", "1", "10"), Position("SPY"))]
    with pytest.raises(DataError, match="no close for SPY"):
        derive_state(entries, {}, DAY, portfolio_id="main")


def test_a_fills_message_becomes_a_fill_with_the_orders_side() -> None:
    from stocker.core.messages import OrderFilled, parse

    message = parse(
        "fills",
        '{"event_type": "order_filled", "order_uuid": "550e8400-e29b-41d4-a716-446655440000",'
        ' "broker_id": "alpaca_12345", "symbol": "SPY", "qty": 15, "price": 418.05,'
        ' "commission": 0.00, "timestamp": "2023-10-28T09:30:01Z"}',
    )
    assert isinstance(message, OrderFilled)
    fill = Fill.from_message(message, "BUY")
    assert (fill.fill_id, fill.qty, fill.price) == ("alpaca_12345", 15, Decimal("418.05"))
    entry = post_fill("main", fill, Position("SPY"))
    assert entry.date == dt.date(2023, 10, 28)
    assert entry.description == "BUY 15 SPY @ 418.05 commission 0 USD"


def test_covering_a_short_realizes_the_gain_at_average_cost() -> None:
    before = Position("SPY", Decimal(-10), Decimal(-1000))  # shorted 10 at 100
    entry = post_fill("main", _fill("f8", "BUY", "4", "90"), before)
    amounts = _amounts(entry)
    assert amounts[position_account("SPY")] == Decimal(400)
    assert amounts[CASH] == Decimal(-360)
    assert amounts[REALIZED_PNL] == Decimal(-40)  # a 40 gain


def test_a_reversal_undoes_an_entry_and_names_it() -> None:
    original = post_fill("main", _fill("f9", "BUY", "10", "100", "1"), Position("SPY"))
    reversal = reverse_entry(original, DAY, "wrong price")
    assert reversal.kind == "CORRECTION" and reversal.corrects_entry_id == original.entry_id
    journal = totals([original, reversal])
    assert journal.cash == 0 and journal.income == 0
    assert journal.position("SPY") == Position("SPY")
