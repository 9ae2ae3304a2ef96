"""The paper broker: fills market-on-open orders at the session's open, with slippage and
commission, and optionally in seeded parts so the partial-fill path runs.

Price: the open moved against the order by ``slippage_bps`` (a buy pays more, a sell gets less),
rounded as every stored price is. Commission: ``commission_per_share × qty``, at least
``min_commission``, per order; split over its parts in proportion to their shares (the last part
takes the rounding), so a partly filled order costs what a whole one does.

Splits: the paper broker is its orders' only venue, so it is asked to execute an order going
through a split's ex-date with the quantity a broker would have adjusted it to (quantity × ratio,
whole shares toward zero; `stocker.trading.execution.split_adjusted` records it as an ADJUSTED
order event): `adjusts_for_splits` says so. Live brokers adjust their open orders themselves and
do not say it.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar

from stocker.core.prices import stored_price
from stocker.trading.brokers.base import Execution

_MONEY = Decimal("0.0001")


@dataclass(frozen=True)
class PaperBroker:
    """Simulated executions; everything it answers is a function of the order and its seed."""

    slippage_bps: float = 0.0
    commission_per_share: Decimal = Decimal(0)
    min_commission: Decimal = Decimal(0)
    partial_fills: bool = False
    seed: int = 0
    name: str = "paper"
    # Stocker keeps this broker's open orders, so it carries them across splits (see above).
    adjusts_for_splits: ClassVar[bool] = True

    def price(self, side: str, open_price: Decimal) -> Decimal:
        """The fill price of a market-on-open order of ``side``."""
        move = Decimal(str(self.slippage_bps)) / Decimal(10_000)
        factor = Decimal(1) + move if side == "BUY" else Decimal(1) - move
        return stored_price(open_price * factor)

    def commission(self, qty: Decimal) -> Decimal:
        """The order's commission: per share, at least the minimum."""
        owed = max(self.commission_per_share * qty, self.min_commission)
        return owed.quantize(_MONEY, rounding=ROUND_HALF_UP)

    def parts(self, order_id: uuid.UUID, qty: Decimal) -> list[Decimal]:
        """The order's quantity in one part, or (seeded by the order id) two to three parts."""
        whole = int(qty)
        if not self.partial_fills or whole < 2 or whole != qty:
            return [qty]
        rng = random.Random(f"{self.seed}:{order_id}")
        count = min(whole, rng.randint(2, 3))
        cuts = sorted(rng.sample(range(1, whole), count - 1))
        edges = [0, *cuts, whole]
        return [Decimal(edges[i + 1] - edges[i]) for i in range(count)]

    def execute(
        self, order_id: uuid.UUID, side: str, qty: Decimal, open_price: Decimal, at: dt.datetime
    ) -> list[Execution]:
        """Fill the whole order at the open (in parts when ``partial_fills``)."""
        price = self.price(side, open_price)
        total = self.commission(qty)
        executions: list[Execution] = []
        charged = Decimal(0)
        parts = self.parts(order_id, qty)
        for number, part in enumerate(parts, start=1):
            if number == len(parts):
                commission = total - charged
            else:
                commission = (total * part / qty).quantize(_MONEY, rounding=ROUND_HALF_UP)
            charged += commission
            executions.append(
                Execution(
                    fill_id=f"{self.name}-{order_id}-{number}",
                    qty=part,
                    price=price,
                    commission=commission,
                    timestamp=at,
                )
            )
        return executions
