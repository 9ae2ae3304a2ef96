"""An open order across a split: quantity × ratio in whole shares toward zero, the remainder
kept, the stored ratio read as the fraction it was rounded from."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from stocker.core.broker import adjust_for_splits, split_fraction


@pytest.mark.parametrize(
    ("stored", "meant"),
    [
        ("2.0000", Fraction(2)),
        ("1.5000", Fraction(3, 2)),
        ("0.3333", Fraction(1, 3)),
        ("0.6667", Fraction(2, 3)),
        ("0.1000", Fraction(1, 10)),
        ("0.0667", Fraction(1, 15)),
        ("1.0526", Fraction(20, 19)),
        ("7", Fraction(7)),
        # Short decimals are what they say: 0.33 is 33/100 (four places: 0.3300), 0.1 is 1/10
        # (not 1/7, the simplest fraction within 0.05 of it), a 3.25% stock split is 413/400.
        ("0.33", Fraction(33, 100)),
        ("0.1", Fraction(1, 10)),
        ("1.0325", Fraction(413, 400)),
        ("0.005", Fraction(1, 200)),
    ],
)
def test_a_stored_ratio_is_the_fraction_it_stands_for(stored: str, meant: Fraction) -> None:
    assert split_fraction(Decimal(stored)) == meant


def test_a_ratio_that_is_not_positive_is_refused() -> None:
    with pytest.raises(ValueError, match="expected > 0"):
        split_fraction(Decimal(0))


def test_a_forward_split_multiplies_the_quantity() -> None:
    adjusted = adjust_for_splits(Decimal(100), [Decimal("2.0000")])
    assert adjusted.qty == Decimal(200)
    assert adjusted.remainder == 0
    assert adjusted.detail() == {
        "qty_before": "100",
        "ratio": "2/1",
        "exact": "200",
        "qty": "200",
        "remainder": "0",
    }


def test_a_reverse_split_rounds_toward_zero_and_keeps_the_remainder() -> None:
    adjusted = adjust_for_splits(Decimal(100), [Decimal("0.3333")])
    assert adjusted.ratio == Fraction(1, 3)
    assert adjusted.qty == Decimal(33)
    assert adjusted.exact == Decimal("33.3333")
    assert adjusted.remainder == Decimal("0.3333")
    # 3 old shares are one new share exactly (0.3333 taken literally would leave nothing)
    assert adjust_for_splits(Decimal(3), [Decimal("0.3333")]).qty == Decimal(1)
    assert adjust_for_splits(Decimal(2), [Decimal("0.3333")]).qty == Decimal(0)


def test_a_three_for_two_split_of_an_odd_order_drops_half_a_share() -> None:
    adjusted = adjust_for_splits(Decimal(101), [Decimal("1.5")])
    assert (adjusted.qty, adjusted.remainder) == (Decimal(151), Decimal("0.5"))


def test_two_splits_of_one_session_multiply() -> None:
    adjusted = adjust_for_splits(Decimal(10), [Decimal(2), Decimal("1.5")])
    assert adjusted.ratio == Fraction(3)
    assert adjusted.qty == Decimal(30)
