"""What the pipeline asks of a broker: execute a market-on-open order at a session's open."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Execution:
    """One broker execution; ``fill_id`` is the broker's id, stable across retries."""

    fill_id: str
    qty: Decimal
    price: Decimal
    commission: Decimal
    timestamp: dt.datetime


class Broker(Protocol):
    """A broker adapter. ``execute`` must be deterministic in the order id: asked twice for the
    same order it answers with the same fill ids, so the fills table keeps one row each."""

    # A broker may also say ``adjusts_for_splits = True`` (a class attribute; read with getattr,
    # absent means False): its open orders are Stocker's to keep (the paper broker), so an order
    # executing on a split's ex-date is carried across the split here before ``execute`` is
    # called (`stocker.trading.execution.split_adjusted`, one ADJUSTED order event). A live
    # broker leaves it unset: Alpaca adjusts its own resting orders, and adjusting them here as
    # well would multiply twice (its quantity is recorded as it reports it, `broker_facts`).

    @property
    def name(self) -> str:
        """The broker's name (prefixes its fill ids)."""
        ...

    def execute(
        self, order_id: uuid.UUID, side: str, qty: Decimal, open_price: Decimal, at: dt.datetime
    ) -> list[Execution]:
        """Execute a market-on-open order of ``qty`` shares at the session whose open is given."""
        ...
