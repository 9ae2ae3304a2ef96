"""Faults the bus must survive without losing an event (issue 7, items 11-15)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from stocker.bus import streams
from stocker.bus.consumer import Consumer
from stocker.bus.relay import OutboxRelay
from stocker.bus.status import dead_letters, redis_obstacle
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


def _drain(consumer: Consumer) -> None:
    """Poll until a poll receives nothing."""
    while consumer.poll_once(count=200, block_ms=20).received:
        pass


def test_relay_when_a_group_lags_beyond_maxlen_keeps_what_it_has_not_acknowledged(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    bus = settings.model_copy(update={"stream_maxlen": 50}).bus()
    key = streams.stream_key(bus, "market-bars")
    consumer = Consumer(
        _units(engine), redis_client, bus, "market-bars", "ledger", "l1", effects.handler("ledger")
    )
    consumer.ensure_group()  # registered, then down while 600 events are published
    symbols = [f"S{number}" for number in range(600)]
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([make_bar(symbol) for symbol in symbols])
        uow.commit()
    relay = OutboxRelay(_units(engine), redis_client, bus)

    assert relay.publish_pending(batch_size=100) == len(symbols)
    assert redis_client.xlen(key) == len(symbols)  # nothing the group lacks was trimmed
    _drain(consumer)

    assert effects.counts("ledger") == dict.fromkeys(symbols, 1)
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add(make_bar("LAST"))
        uow.commit()
    assert relay.run_once().published == 1
    assert redis_client.xlen(key) == 50  # once acknowledged, the stream is trimmed to MAXLEN
    _drain(consumer)
    assert effects.counts("ledger")["LAST"] == 1


def test_consumer_when_pending_entries_were_deleted_reports_them_and_applies_the_outbox_copy(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    bus = settings.bus()
    key = streams.stream_key(bus, "market-bars")
    survivor = Consumer(
        _units(engine), redis_client, bus, "market-bars", "ledger", "l2", effects.handler("ledger")
    )
    survivor.ensure_group()
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([make_bar(symbol) for symbol in ("SPY", "QQQ", "IWM")])
        uow.commit()
    OutboxRelay(_units(engine), redis_client, bus).publish_pending()
    redis_client.xadd(key, {"event_id": str(uuid.uuid4()), "data": make_bar("ZZZ").to_json()})
    redis_client.xreadgroup("ledger", "doomed", {key: ">"}, count=10)  # read, then it died
    redis_client.xtrim(key, maxlen=0, approximate=False)  # trimmed before anyone acknowledged
    time.sleep(bus.claim_idle_ms / 1000 + 0.1)

    report = survivor.poll_once(count=10, block_ms=20)

    assert report.deleted == 4
    assert (report.processed, report.dead_lettered, report.failed) == (3, 1, 0)
    assert effects.counts("ledger") == {"SPY": 1, "QQQ": 1, "IWM": 1}
    (letter,) = dead_letters(redis_client, bus, "market-bars")
    assert "was deleted from" in letter.error and "no outbox event" in letter.error
    assert redis_client.xpending(key, "ledger")["pending"] == 0


def test_relay_when_redis_is_out_of_memory_waits_says_why_and_resumes(
    settings: Settings,
    engine: Engine,
    make_bar: Any,
    private_redis: tuple[redis.Redis, str],
) -> None:
    client, url = private_redis
    bus = settings.bus()
    key = streams.stream_key(bus, "market-bars")
    symbols = [f"S{number}" for number in range(50)]
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([make_bar(symbol) for symbol in symbols])
        uow.commit()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")  # every write is refused with OOM
    relay_client = redis.Redis.from_url(url)
    relay = OutboxRelay(_units(engine), relay_client, bus)
    stop = threading.Event()
    waits: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            relay.run(stop, poll_interval_s=0.02, on_wait=waits.append)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        _wait_for(lambda: len(waits) >= 2 or bool(errors))
        assert errors == [] and worker.is_alive()
        assert "out of memory" in waits[0] and relay.waiting is not None
        obstacle = redis_obstacle(client)
        assert obstacle is not None and "out of memory" in obstacle
        assert client.exists(key) == 0
        with SqlUnitOfWork(engine) as uow:
            assert uow.outbox.unpublished_counts() == {"market-bars": len(symbols)}

        client.config_set("maxmemory", "0")  # memory freed
        _wait_for(lambda: client.exists(key) == 1 and client.xlen(key) == len(symbols))
    finally:
        stop.set()
        worker.join(15)
        relay_client.close()

    assert errors == [] and relay.waiting is None
    assert redis_obstacle(client) is None
    with SqlUnitOfWork(engine) as uow:
        assert uow.outbox.unpublished_counts() == {}


def test_consumer_when_event_id_is_not_a_uuid_dead_letters_it_with_decoded_text(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any
) -> None:
    bus = settings.bus()
    key = streams.stream_key(bus, "market-bars")
    consumer = Consumer(
        _units(engine), redis_client, bus, "market-bars", "ledger", "l3", effects.handler("ledger")
    )
    consumer.ensure_group()
    redis_client.xadd(key, {"event_id": "42", "data": "{}"})
    redis_client.xadd(key, {"event_id": b"\xff-not-utf8", "data": "{}"})

    assert consumer.poll_once(count=10, block_ms=20).dead_lettered == 2

    first, second = reversed(dead_letters(redis_client, bus, "market-bars"))
    assert "event_id '42' is not a UUID" in first.error
    assert "event_id '\ufffd-not-utf8' is not a UUID" in second.error
    assert "b'" not in first.error + second.error


class _FlushAfterFirstBatch:
    """A Redis client whose first pipeline to execute is followed by `fault()` (once)."""

    def __init__(self, client: redis.Redis, fault: Callable[[], None]) -> None:
        self._client = client
        self._fault: Callable[[], None] | None = fault

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        pipe = self._client.pipeline(*args, **kwargs)
        execute = pipe.execute

        def execute_then_fault(*call_args: Any, **call_kwargs: Any) -> Any:
            result = execute(*call_args, **call_kwargs)
            fault, self._fault = self._fault, None
            if fault is not None:
                fault()
            return result

        pipe.execute = execute_then_fault  # type: ignore[method-assign]
        return pipe


def test_relay_when_redis_is_flushed_again_during_recovery_loses_nothing(
    settings: Settings,
    engine: Engine,
    effects: Any,
    make_bar: Any,
    private_redis: tuple[redis.Redis, str],
) -> None:
    client, _url = private_redis
    bus = settings.bus()
    ledger = Consumer(
        _units(engine), client, bus, "market-bars", "ledger", "l1", effects.handler("ledger")
    )
    ledger.ensure_group()  # registered, then down while the events are published
    symbols = [f"S{number}" for number in range(1_200)]
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([make_bar(symbol) for symbol in symbols])
        uow.commit()
    assert OutboxRelay(_units(engine), client, bus).publish_pending() == len(symbols)
    client.flushall()  # the first loss

    def second_flush() -> None:  # after the first 500 events are republished
        client.flushall()
        ledger.poll_once(count=1, block_ms=10)  # a consumer notices and recreates its group

    flaky = _FlushAfterFirstBatch(client, second_flush)
    OutboxRelay(_units(engine), flaky, bus).recover()  # type: ignore[arg-type]
    OutboxRelay(_units(engine), client, bus).run_once()
    _drain(ledger)

    assert effects.counts("ledger") == dict.fromkeys(symbols, 1)


def test_relay_when_a_recovery_died_halfway_finishes_it_on_the_next_pass(
    settings: Settings,
    engine: Engine,
    effects: Any,
    make_bar: Any,
    private_redis: tuple[redis.Redis, str],
) -> None:
    client, _url = private_redis
    bus = settings.bus()
    ledger = Consumer(
        _units(engine), client, bus, "market-bars", "ledger", "l1", effects.handler("ledger")
    )
    ledger.ensure_group()
    symbols = [f"S{number}" for number in range(1_200)]
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([make_bar(symbol) for symbol in symbols])
        uow.commit()
    assert OutboxRelay(_units(engine), client, bus).publish_pending() == len(symbols)
    client.flushall()

    def relay_dies() -> None:
        raise KeyboardInterrupt("the relay process was stopped halfway through recovery")

    flaky = _FlushAfterFirstBatch(client, relay_dies)
    with pytest.raises(KeyboardInterrupt):
        OutboxRelay(_units(engine), flaky, bus).recover()  # type: ignore[arg-type]
    report = OutboxRelay(_units(engine), client, bus).run_once()
    _drain(ledger)

    assert report.recovered == len(symbols)
    assert effects.counts("ledger") == dict.fromkeys(symbols, 1)


def test_consumer_when_redis_is_out_of_memory_waits_and_then_dead_letters(
    settings: Settings, engine: Engine, effects: Any, private_redis: tuple[redis.Redis, str]
) -> None:
    client, url = private_redis
    bus = settings.bus()
    key = streams.stream_key(bus, "market-bars")
    consumer_client = redis.Redis.from_url(url)
    consumer = Consumer(
        _units(engine),
        consumer_client,
        bus,
        "market-bars",
        "ledger",
        "l4",
        effects.handler("ledger"),
    )
    consumer.ensure_group()
    client.xadd(key, {"event_id": str(uuid.uuid4()), "data": "{not json"})
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")  # the dead letter cannot be written
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            consumer.run(stop, count=10, block_ms=50)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        time.sleep(0.5)
        assert errors == [] and worker.is_alive()
        client.config_set("maxmemory", "0")
        _wait_for(lambda: client.xlen(streams.dead_letter_key(bus, "market-bars")) == 1)
    finally:
        stop.set()
        worker.join(15)
        consumer_client.close()

    assert errors == []
    assert client.xpending(key, "ledger")["pending"] == 0
