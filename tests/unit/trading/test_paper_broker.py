"""The paper broker: the open moved by slippage, commission per share with a minimum per order,
seeded partial fills that add up to the order and cost what one fill would."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from stocker.trading.brokers.paper import PaperBroker

ORDER = uuid.UUID("12345678-1234-5678-1234-567812345678")
AT = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)


def test_slippage_moves_the_open_against_the_order() -> None:
    broker = PaperBroker(slippage_bps=10)
    assert broker.price("BUY", Decimal("100")) == Decimal("100.1000")
    assert broker.price("SELL", Decimal("100")) == Decimal("99.9000")


def test_commission_is_per_share_with_a_minimum() -> None:
    broker = PaperBroker(commission_per_share=Decimal("0.005"), min_commission=Decimal("1"))
    assert broker.commission(Decimal(100)) == Decimal("1.0000")
    assert broker.commission(Decimal(1000)) == Decimal("5.0000")


def test_partial_fills_are_seeded_and_add_up() -> None:
    broker = PaperBroker(
        commission_per_share=Decimal("0.005"), min_commission=Decimal("1"), partial_fills=True
    )
    fills = broker.execute(ORDER, "BUY", Decimal(1001), Decimal("10"), AT)
    assert len(fills) in (2, 3)
    assert sum(f.qty for f in fills) == Decimal(1001)
    assert sum(f.commission for f in fills) == broker.commission(Decimal(1001))
    assert [f.fill_id for f in fills] == [f"paper-{ORDER}-{n}" for n in range(1, len(fills) + 1)]
    assert broker.execute(ORDER, "BUY", Decimal(1001), Decimal("10"), AT) == fills


def test_without_partial_fills_one_fill() -> None:
    fills = PaperBroker().execute(ORDER, "SELL", Decimal(5), Decimal("10"), AT)
    assert [(f.qty, f.price, f.commission) for f in fills] == [
        (Decimal(5), Decimal("10.0000"), Decimal("0.0000"))
    ]
