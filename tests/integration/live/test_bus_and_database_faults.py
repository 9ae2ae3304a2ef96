"""A broker session against the stand-in while the bus's Redis is flushed (FLUSHALL, on a
redis-server of the test's own) and the broker stage's PostgreSQL backend is terminated from
another connection in the middle of recording fills: nothing lost, nothing posted or applied
twice, the ledger's positions the broker's."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from live_helpers import START, add_order, control, settle
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import StandIn
from stocker.bus.consumer import Consumer
from stocker.bus.relay import OutboxRelay
from stocker.config import BusSettings
from stocker.core.messages import BusMessage, OrderFilled
from stocker.store.db import make_engine
from stocker.store.embedded import private_redis_server
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.ledger_audit import verify
from stocker.trading.live_broker import LiveTrading

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PORTFOLIO = "faults"
BUS = BusSettings(stream_prefix="live-faults:", claim_idle_ms=1_000)


@pytest.fixture
def own_redis() -> Iterator[str]:
    """A redis-server of this test's own on a unix socket: ours to FLUSHALL."""
    with private_redis_server("stocker-live-redis-") as url:
        yield url


def _effect(message: BusMessage, uow: SqlUnitOfWork) -> None:
    assert isinstance(message, OrderFilled)
    uow.connection.execute(
        text("INSERT INTO test_fill_effects (broker_id) VALUES (:b)"), {"b": message.broker_id}
    )


def _applied(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(r[0] for r in conn.execute(text("SELECT broker_id FROM test_fill_effects")))


def _kill_backend_at_fills(engine: Engine, db_url: str) -> list[bool]:
    """Terminate the backend from another connection when it next writes a fill."""
    killed: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _kill(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if killed or not statement.lstrip().upper().startswith("INSERT INTO FILLS"):
            return
        other = create_engine(db_url, poolclass=NullPool)
        with other.connect() as killer:
            done = killer.execute(
                text("SELECT pg_terminate_backend(:p)"),
                {"p": cursor.connection.info.backend_pid},
            ).scalar_one()
            killer.commit()
        other.dispose()
        killed.append(bool(done))

    return killed


def test_flushall_and_a_backend_kill_lose_and_duplicate_nothing(
    app: App, stand_in: StandIn, broker: AlpacaBroker, db_url: str, own_redis: str
) -> None:
    with app.uow() as uow:
        uow.connection.execute(text("CREATE TABLE test_fill_effects (broker_id TEXT NOT NULL)"))
        uow.commit()
    bus_engine, stage_engine = make_engine(db_url), make_engine(db_url)
    stop = threading.Event()

    def bus_units() -> SqlUnitOfWork:
        return SqlUnitOfWork(bus_engine)

    relay = OutboxRelay(bus_units, redis.Redis.from_url(own_redis), BUS)
    consumer = Consumer(
        bus_units, redis.Redis.from_url(own_redis), BUS, "fills", "test", "test-1", _effect
    )
    workers = [
        threading.Thread(target=relay.run, args=(stop, 0.02), daemon=True),
        threading.Thread(target=consumer.run, args=(stop, 100, 50), daemon=True),
    ]
    for worker in workers:
        worker.start()
    try:
        live = LiveTrading(lambda: SqlUnitOfWork(stage_engine), broker)
        live.pump()
        # day 1: fills recorded, relayed and applied; then Redis loses everything
        for symbol, qty in (("AAPL", 5), ("KO", 7), ("MSFT", 3)):
            add_order(app, symbol, "BUY", qty, START, PORTFOLIO)
        assert len(live.submit().submitted) == 3
        control(stand_in, "/_standin/open")
        settle(live)
        deadline = time.monotonic() + 15
        while len(_applied(bus_engine)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_applied(bus_engine)) == 3
        redis.Redis.from_url(own_redis).flushall()
        # day 2: the stage's backend is terminated while it writes the first fill
        killed = _kill_backend_at_fills(stage_engine, db_url)
        day2 = START.replace(day=START.day + 1)
        for symbol, qty in (("AAPL", 2), ("XOM", 4), ("KO", 1)):
            add_order(app, symbol, "BUY", qty, day2, PORTFOLIO)
        assert len(live.submit().submitted) == 3
        control(stand_in, "/_standin/open")
        with pytest.raises(DBAPIError):
            settle(live)
        assert killed == [True]
        # the stage restarts: its first pump backfills what the dead one had read
        settle(LiveTrading(lambda: SqlUnitOfWork(stage_engine), broker))
        with app.uow() as uow:
            posted = uow.ledger.fill_counts(PORTFOLIO)
            local = {f.fill_id for o in uow.trading.orders_between(PORTFOLIO, START, day2)
                     for f in uow.trading.fills_of(o.order_id)}  # fmt: skip
            positions = uow.ledger.positions(PORTFOLIO, ["AAPL", "KO", "MSFT", "XOM"])
        broker_fills = {a["id"].split("::")[1] for a in stand_in.book.activities}
        assert len(broker_fills) == 6
        assert local == broker_fills and posted == dict.fromkeys(broker_fills, 1)
        theirs = {s: q for s, (q, _) in stand_in.book.positions.items() if q != 0}
        assert {s: p.quantity for s, p in positions.items() if p.quantity != 0} == theirs
        assert stand_in.book.summary()["duplicate_orders"] == 0
        assert verify(app.uow(), PORTFOLIO).ok
        deadline = time.monotonic() + 20
        while set(_applied(bus_engine)) != broker_fills and time.monotonic() < deadline:
            time.sleep(0.05)
        applied = _applied(bus_engine)
        assert set(applied) == broker_fills  # the flushed stream was republished
        assert set(applied.values()) == {1}  # and nothing applied twice
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
        bus_engine.dispose()
        stage_engine.dispose()
