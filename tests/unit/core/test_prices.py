"""The one price scale: stored_price rounds like PostgreSQL, and prices one unit apart are twins."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from stocker.core.prices import rounded_apart, stored_price
from stocker.core.rules.bars import rule_non_positive


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (101.12345, "101.1235"),
        ("101.12345", "101.1235"),
        (0.00005, "0.0001"),
        (2.00005, "2.0001"),
        (99.99995, "100.0000"),
        (1.0000500000000001, "1.0001"),
    ],
)
def test_stored_price_rounds_a_fifth_decimal_of_five_away_from_zero(value, stored) -> None:
    assert stored_price(value) == Decimal(stored)


def test_rounded_apart_flags_one_price_carried_to_two_fifth_decimals_only() -> None:
    close = [101.12345001, 2.00005, 50.0, 10.0, np.nan]
    adjusted = [101.12344999, 2.0000499, 49.9998, 9.5, 10.0]
    assert rounded_apart(close, adjusted).tolist() == [True, True, False, False, False]


def test_non_positive_rule_refuses_prices_that_round_to_zero() -> None:
    typed = pd.DataFrame({"close": [0.00004, 0.00005, 1.0, 0.0, -1.0]})
    (outcome,) = rule_non_positive(typed, ("close",))
    assert outcome.bad.tolist() == [True, False, False, True, True]
    assert "rounds to 0 at 4 decimals" in outcome.reasons.iloc[0].message
    assert "must be > 0" in outcome.reasons.iloc[1].message
