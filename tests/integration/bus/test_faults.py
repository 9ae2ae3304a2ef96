"""Faults the bus must survive without losing an event (issue 7, items 11-15)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import Engine

from stocker.bus import streams
from stocker.bus.consumer import Consumer
from stocker.bus.relay import OutboxRelay
from stocker.config import Settings
from stocker.store.uow import SqlUnitOfWork

SYMBOLS = ("SPY", "QQQ", "IWM", "GLD", "TLT")


def _units(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """A unit-of-work factory on `engine`, as the App's `uow` is."""
    return lambda: SqlUnitOfWork(engine)


def _wait_for(condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout_s}s")
        time.sleep(0.02)


def _blocked_readers(client: redis.Redis) -> int:
    return sum(1 for item in client.client_list() if item.get("cmd") == "xreadgroup")


def test_consumer_when_idle_and_redis_is_flushed_recreates_its_group_and_goes_on(
    settings: Settings,
    engine: Engine,
    effects: Any,
    make_bar: Any,
    private_redis: tuple[redis.Redis, str],
) -> None:
    client, url = private_redis
    bus = settings.bus()
    consumer_client = redis.Redis.from_url(url)
    consumer = Consumer(
        _units(engine),
        consumer_client,
        bus,
        "market-bars",
        "ledger",
        "l1",
        effects.handler("ledger"),
    )
    consumer.ensure_group()
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run(stop, count=10, block_ms=2000)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        _wait_for(lambda: _blocked_readers(client) == 1)  # idle, blocked in XREADGROUP
        client.flushall()
        time.sleep(0.3)
        assert errors == [] and worker.is_alive()
        with SqlUnitOfWork(engine) as uow:
            uow.outbox.add_many([make_bar(symbol) for symbol in SYMBOLS])
            uow.commit()
        relay = OutboxRelay(_units(engine), client, bus)
        assert relay.run_once().published == len(SYMBOLS)
        _wait_for(lambda: effects.counts("ledger") == dict.fromkeys(SYMBOLS, 1))
    finally:
        stop.set()
        worker.join(10)
        consumer_client.close()

    assert errors == []
    assert client.xpending(streams.stream_key(bus, "market-bars"), "ledger")["pending"] == 0
