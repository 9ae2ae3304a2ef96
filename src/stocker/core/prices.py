"""How Stocker stores a price: NUMERIC(14, 4), one rounding rule for every price it computes.

`close` from a vendor and `adj_close` derived from actions must round the same way, or an
unadjusted bar shows `adj_close != close` by one in the fourth decimal (a fifth decimal of 5
rounded half-even in one place and half away from zero in the other). PostgreSQL rounds NUMERIC
half away from zero, so every price Stocker computes goes through `stored_price`, which does too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np

PRICE_DECIMALS = 4
"""Decimal places of every stored price (the spec's NUMERIC(14, 4))."""
PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_DECIMALS)
SMALLEST_PRICE = float(PRICE_QUANTUM)
"""The smallest positive stored price; a computed price is never rounded below it."""


def stored_price(value: float | Decimal | str) -> Decimal:
    """`value` as the database stores it: 4 decimals, half away from zero, at least 0.0001.

    A float is taken by its shortest repr (``str``), as PostgreSQL reads a float8, so
    ``101.12345`` becomes ``101.1235`` here and there.
    """
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    return max(exact.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP), PRICE_QUANTUM)


def rounded_apart(first: Any, second: Any) -> np.ndarray:
    """Which pairs of prices are less than one stored unit (0.0001) apart: one price that two
    computations carried to different fifth decimals (a vendor's close 101.12345001 and its
    adjusted close 101.12344999), which the store would round to two prices."""
    left = np.asarray(first, dtype=np.float64)
    right = np.asarray(second, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.asarray(np.abs(left - right) < SMALLEST_PRICE, dtype=bool)
