"""A session through real consumers (each stage its own group, on a test stream prefix) ends
with the rows `run_day` writes, and every message handled again changes nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine

from stocker.bus.consumer import Consumer
from stocker.bus.handlers import HandlerRegistry
from stocker.bus.relay import OutboxRelay
from stocker.bus.streams import DATA_FIELD, text_fields
from stocker.config import Settings
from stocker.core.messages import parse
from stocker.core.strategy.config import StrategyConfig
from stocker.data.sample import load_sample
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.days import bar_message, fund, replay, run_day
from stocker.trading.explain import explain
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

pytestmark = pytest.mark.integration

STOCKS = ("AAPL", "AMD", "BAC", "CVX", "JNJ", "KO", "MSFT", "PG", "WMT", "XOM")
FAST = StrategyConfig(lookback_days=20, vol_seed_returns=10)
BROKER = PaperBroker(
    slippage_bps=5, commission_per_share=Decimal("0.005"), min_commission=Decimal(1)
)


def _stages(portfolio: str) -> tuple[Stages, HandlerRegistry]:
    stages = Stages((PortfolioSetup(portfolio, f"{portfolio}-v1", STOCKS, FAST),), BROKER)
    registry = HandlerRegistry()
    stages.register(registry)
    return stages, registry


def _orders(uow: SqlUnitOfWork, portfolio: str) -> list[tuple[dt.date, str, str, Decimal]]:
    with uow:
        rows = uow.trading.orders_between(portfolio, dt.date(1900, 1, 1), dt.date(2100, 1, 1))
    return [(o.date, o.symbol, o.side, o.qty) for o in rows]


def test_a_day_through_consumers_equals_run_day(
    engine: Engine, uow: SqlUnitOfWork, redis_client: redis.Redis, settings: Settings
) -> None:
    load_sample(uow)
    factory = lambda: SqlUnitOfWork(engine)  # noqa: E731
    with uow:
        days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(1990, 3, 1))
    warm, day = days[:-1], days[-1]
    by_hand, by_hand_registry = _stages("direct")
    live, live_registry = _stages("live")
    replay(factory, by_hand_registry, by_hand, warm[0], day)
    replay(factory, live_registry, live, warm[0], warm[-1])
    fund(factory, live, warm[0])

    # The day's bars as ingest announces them; everything earlier is already published.
    bus = settings.bus()
    relay = OutboxRelay(factory, redis_client, bus)
    consumers = [
        Consumer(factory, redis_client, bus, r.stream, r.group, f"t-{r.group}", r.handler)
        for r in live_registry.registrations()
    ]
    for consumer in consumers:
        consumer.ensure_group()
    relay.publish_pending()
    for consumer in consumers:  # earlier sessions' events: already applied, no-ops now
        while consumer.poll_once(count=200, block_ms=10).received:
            pass
    with uow:
        bars = uow.trading.bars_on(STOCKS, day)
        uow.outbox.add_many(bar_message(b, "sample") for b in bars.values())
        uow.commit()
    idle = 0
    while idle < 3:
        moved = relay.publish_pending()
        for consumer in consumers:
            moved += consumer.poll_once(count=50, block_ms=10).received
        idle = idle + 1 if moved == 0 else 0

    assert _orders(uow, "live") == _orders(uow, "direct") and _orders(uow, "live")
    with uow:
        live_states = uow.ledger.states("live")
        direct_states = uow.ledger.states("direct")
        before = uow.trading.counts()
    # (Bars of later sessions are stored already, so the orders due next session fill at once.)
    assert day in {s.date for s in live_states}
    assert [(s.date, s.nav, s.cash) for s in live_states] == [
        (s.date, s.nav, s.cash) for s in direct_states
    ]

    # Every message on every stream, handled again by every stage: nothing changes.
    for registration in live_registry.registrations():
        key = f"{bus.stream_prefix}{registration.stream}"
        for _, fields in redis_client.xrange(key):
            message = parse(registration.stream, text_fields(fields)[DATA_FIELD])
            with uow:
                registration.handler(message, uow)
                uow.commit()
    run_day(factory, live_registry, live, day)
    with uow:
        assert uow.trading.counts() == before
        assert uow.ledger.states("live") == live_states

    # The lineage of an order.
    order_id = next(o for o in _orders_ids(uow, "live"))
    text = "\n".join(explain(uow, order_id).lines())
    assert "target #" in text and "signal #" in text and "hash" in text
    assert "shares wanted" in text


def _orders_ids(uow: SqlUnitOfWork, portfolio: str) -> list[str]:
    with uow:
        rows = uow.trading.orders_between(portfolio, dt.date(1900, 1, 1), dt.date(2100, 1, 1))
    return [str(o.order_id) for o in rows]
