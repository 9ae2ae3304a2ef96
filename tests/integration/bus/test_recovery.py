"""Losing Redis loses nothing: a restarted relay republishes what consumers had not processed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from sqlalchemy import Engine

from stocker.bus import streams
from stocker.bus.consumer import Consumer
from stocker.bus.relay import OutboxRelay
from stocker.config import Settings
from stocker.store.repositories.outbox import enqueue
from stocker.store.uow import SqlUnitOfWork

SYMBOLS = ("SPY", "QQQ", "IWM", "GLD", "TLT")


def _units(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """A unit-of-work factory on `engine`, as the App's `uow` is."""
    return lambda: SqlUnitOfWork(engine)


def _stream_event_ids(client: redis.Redis, settings: Settings) -> list[str]:
    key = streams.stream_key(settings, "market-bars")
    return [streams.text_fields(fields)["event_id"] for _, fields in client.xrange(key)]


def _publish_bars(
    engine: Engine, client: redis.Redis, settings: Settings, make_bar: Any
) -> list[str]:
    with engine.begin() as conn:
        event_ids = [str(enqueue(conn, make_bar(symbol))) for symbol in SYMBOLS]
    assert OutboxRelay(_units(engine), client, settings.bus()).publish_pending() == len(SYMBOLS)
    return event_ids


def test_relay_when_test_keys_were_deleted_republishes_only_unprocessed_events(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    consumer = Consumer(
        _units(engine),
        redis_client,
        settings.bus(),
        "market-bars",
        "ledger",
        "c1",
        effects.handler("ledger"),
    )
    consumer.ensure_group()
    event_ids = _publish_bars(engine, redis_client, settings, make_bar)
    assert consumer.poll_once(count=2, block_ms=100).processed == 2
    keys = list(redis_client.scan_iter(match=f"{settings.stream_prefix}*"))
    redis_client.delete(*keys)  # this test's share of a flush

    restarted = OutboxRelay(_units(engine), redis_client, settings.bus())
    report = restarted.run_once()

    assert report.recovered == 3 and report.published == 0
    assert _stream_event_ids(redis_client, settings) == event_ids[2:]
    assert consumer.poll_once(count=10, block_ms=100).processed == 3
    assert effects.counts("ledger") == dict.fromkeys(SYMBOLS, 1)
    assert restarted.run_once().recovered == 0  # the stream is whole again
    assert consumer.poll_once(count=10, block_ms=50).received == 0


def test_relay_when_stream_was_trimmed_behind_recorded_ids_detects_the_loss(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    consumer = Consumer(
        _units(engine),
        redis_client,
        settings.bus(),
        "market-bars",
        "ledger",
        "c1",
        effects.handler("ledger"),
    )
    consumer.ensure_group()
    _publish_bars(engine, redis_client, settings, make_bar)
    key = streams.stream_key(settings, "market-bars")
    # Redis restored from an older snapshot: the stream and its group exist, but end earlier.
    redis_client.delete(key)
    redis_client.xadd(key, {"old": "entry"}, id="1-1")
    redis_client.xgroup_create(key, "ledger", id="0")

    assert OutboxRelay(_units(engine), redis_client, settings.bus()).recover() == len(SYMBOLS)
    report = consumer.poll_once(count=10, block_ms=100)

    assert report.processed == len(SYMBOLS)
    assert report.dead_lettered == 1  # the stray old entry is not a message
    assert effects.counts("ledger") == dict.fromkeys(SYMBOLS, 1)


def test_relay_when_redis_was_flushed_republishes_and_consumers_apply_exactly_the_missing(
    settings: Settings,
    engine: Engine,
    effects: Any,
    make_bar: Any,
    private_redis: tuple[redis.Redis, str],
) -> None:
    client, url = private_redis
    settings = settings.model_copy(update={"redis_url": url})
    ledger = Consumer(
        _units(engine),
        client,
        settings.bus(),
        "market-bars",
        "ledger",
        "l1",
        effects.handler("ledger"),
    )
    audit = Consumer(
        _units(engine),
        client,
        settings.bus(),
        "market-bars",
        "audit",
        "a1",
        effects.handler("audit"),
    )
    event_ids = _publish_bars(engine, client, settings, make_bar)
    assert ledger.poll_once(count=2, block_ms=100).processed == 2
    assert audit.poll_once(count=10, block_ms=100).processed == len(SYMBOLS)

    client.flushall()
    # A consumer notices first: its group is gone, and it recreates it on an empty stream.
    assert ledger.poll_once(count=10, block_ms=50).received == 0
    restarted = OutboxRelay(_units(engine), client, settings.bus())
    report = restarted.run_once()

    assert report.recovered == 3  # only the ledger still needed these; audit had all five
    assert _stream_event_ids(client, settings) == event_ids[2:]
    assert ledger.poll_once(count=10, block_ms=100).processed == 3
    audit_report = audit.poll_once(count=10, block_ms=100)
    assert (audit_report.processed, audit_report.duplicates) == (0, 3)
    assert effects.counts("ledger") == dict.fromkeys(SYMBOLS, 1)
    assert effects.counts("audit") == dict.fromkeys(SYMBOLS, 1)
    assert restarted.run_once() == type(report)(recovered=0, published=0)
