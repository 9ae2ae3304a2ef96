"""The broker rules of the core, value by value: statuses, wash-trade guards, netting and the
split carry of an open order (the spec's whole shares toward zero, remainder kept exactly)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest

from stocker.core.broker import (
    EVENT_STATUS,
    BrokerOrder,
    SplitAdjustment,
    adjust_for_splits,
    local_status,
    net_quantity,
    opposite_open_orders,
    split_fraction,
)
from stocker.core.clock import FixedClock, SystemClock
from stocker.core.errors import RateLimitedError


def _order(symbol: str, side: str, status: str, oid: str = "b1") -> BrokerOrder:
    return BrokerOrder(oid, "c-" + oid, symbol, side, Decimal(10), Decimal(0), status)


def test_local_status_from_fills_and_the_terminal_flag() -> None:
    assert local_status(Decimal(10), Decimal(10), False) == "FILLED"
    assert local_status(Decimal(10), Decimal(11), True) == "FILLED"
    assert local_status(Decimal(10), Decimal("9.9999"), False) == "SHIPPED"
    assert local_status(Decimal(10), Decimal("9.9999"), True) == "CANCELED"
    assert local_status(Decimal(10), Decimal(0), True) == "CANCELED"
    assert EVENT_STATUS["partial_fill"] == "PARTIALLY_FILLED"


def test_opposite_open_orders_keep_only_open_other_side_orders_of_the_symbol() -> None:
    orders = [
        _order("AAPL", "SELL", "new", "1"),
        _order("AAPL", "SELL", "filled", "2"),
        _order("AAPL", "BUY", "new", "3"),
        _order("MSFT", "SELL", "accepted", "4"),
        _order("AAPL", "SELL", "partially_filled", "5"),
        _order("AAPL", "SELL", "canceled", "6"),
    ]
    found = opposite_open_orders(orders, "AAPL", "BUY")
    assert [o.broker_order_id for o in found] == ["1", "5"]
    assert [o.broker_order_id for o in opposite_open_orders(orders, "AAPL", "SELL")] == ["3"]
    assert opposite_open_orders([], "AAPL", "BUY") == []


def test_net_quantity_is_signed_and_exact() -> None:
    assert net_quantity([]) == Decimal(0)
    assert net_quantity([("BUY", Decimal("1.5")), ("SELL", Decimal("0.25"))]) == Decimal("1.25")
    assert net_quantity([("SELL", Decimal(3)), ("SELL", Decimal(2))]) == Decimal(-5)
    assert net_quantity([("BUY", Decimal(3))]) == Decimal(3)


@pytest.mark.parametrize(
    ("stored", "ratio"),
    [
        ("2", Fraction(2)),
        ("0.3333", Fraction(1, 3)),
        ("0.6667", Fraction(2, 3)),
        ("1.5", Fraction(3, 2)),
        ("0.1000", Fraction(1, 10)),
        ("0.0500", Fraction(1, 20)),
        ("1.3333", Fraction(4, 3)),
        ("7", Fraction(7)),
        ("2.5000", Fraction(5, 2)),
        ("1", Fraction(1)),
    ],
)
def test_split_fraction_is_the_simplest_fraction_within_half_a_last_decimal(
    stored: str, ratio: Fraction
) -> None:
    assert split_fraction(Decimal(stored)) == ratio


def test_split_fraction_does_not_round_a_value_beyond_its_last_decimal() -> None:
    # 0.3334 is not 1/3 (|1/3 - 0.3334| > 0.00005): the simplest fraction near it instead.
    got = split_fraction(Decimal("0.3334"))
    assert got != Fraction(1, 3)
    assert abs(got - Fraction(3334, 10000)) <= Fraction(1, 20000)
    assert split_fraction(Decimal("0.3334")).denominator <= 10000
    # integral exponents: 2E+1 is 20
    assert split_fraction(Decimal("2E+1")) == Fraction(20)


@pytest.mark.parametrize("bad", ["0", "-2", "-0.5"])
def test_split_fraction_refuses_non_positive_ratios(bad: str) -> None:
    with pytest.raises(ValueError, match=rf"^split ratio {bad}: expected > 0 \(2 for a 2-for-1"):
        split_fraction(Decimal(bad))


def test_adjust_for_a_reverse_split_rounds_toward_zero_and_keeps_the_remainder() -> None:
    carried = adjust_for_splits(Decimal(10), [Decimal("0.3333")])
    assert carried == SplitAdjustment(
        qty_before=Decimal(10),
        ratio=Fraction(1, 3),
        exact=Decimal("3.3333"),
        qty=Decimal(3),
        remainder=Decimal("0.3333"),
    )
    assert carried.detail() == {
        "qty_before": "10",
        "ratio": "1/3",
        "exact": "3.3333",
        "qty": "3",
        "remainder": "0.3333",
    }


def test_adjust_rounds_half_up_at_the_fourth_decimal_and_multiplies_every_ratio() -> None:
    # 5 × 2/3 = 3.33333…; 1 × 1/3 × 3/2 = 0.5 → nothing left, the order is canceled.
    two_thirds = adjust_for_splits(Decimal(5), [Decimal("0.6667")])
    assert (two_thirds.exact, two_thirds.qty, two_thirds.remainder) == (
        Decimal("3.3333"),
        Decimal(3),
        Decimal("0.3333"),
    )
    half = adjust_for_splits(Decimal(1), [Decimal("0.3333"), Decimal("1.5")])
    assert half.ratio == Fraction(1, 2)
    assert (half.exact, half.qty, half.remainder) == (Decimal("0.5000"), Decimal(0), Decimal("0.5"))
    # 7 × 2/3 = 4.66666… → exact 4.6667 (half up), 4 whole shares, remainder 0.6667
    up = adjust_for_splits(Decimal(7), [Decimal("0.6667")])
    assert (up.exact, up.qty, up.remainder) == (Decimal("4.6667"), Decimal(4), Decimal("0.6667"))
    assert up.detail()["remainder"] == "0.6667"
    assert up.detail()["ratio"] == "2/3"


def test_adjust_with_no_split_keeps_the_order() -> None:
    same = adjust_for_splits(Decimal("12.5"), [])
    assert same.ratio == Fraction(1)
    assert (same.qty, same.remainder) == (Decimal(12), Decimal("0.5"))
    assert same.detail() == {
        "qty_before": "12.5",
        "ratio": "1/1",
        "exact": "12.5",
        "qty": "12",
        "remainder": "0.5",
    }
    doubled = adjust_for_splits(Decimal(3), [Decimal(2), Decimal(2)])
    assert (doubled.ratio, doubled.qty, doubled.remainder) == (Fraction(4), Decimal(12), Decimal(0))
    assert doubled.detail()["exact"] == "12"


def test_clocks() -> None:
    fixed = FixedClock.on(dt.date(2024, 3, 5))
    assert fixed.now() == dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
    assert fixed.today() == dt.date(2024, 3, 5)
    before = dt.datetime.now(dt.UTC)
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert before <= now <= dt.datetime.now(dt.UTC)


def test_rate_limited_error_keeps_the_wait() -> None:
    error = RateLimitedError("slow down", retry_after_s=2.5)
    assert str(error) == "slow down"
    assert error.retry_after_s == 2.5
    assert RateLimitedError("x").retry_after_s is None
