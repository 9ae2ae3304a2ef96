"""Consumers on real Redis and PostgreSQL: crashes, duplicates, malformed and failing messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, text

from stocker.bus import streams
from stocker.bus.consumer import Consumer, PollReport
from stocker.bus.relay import OutboxRelay
from stocker.bus.status import dead_letters
from stocker.config import Settings
from stocker.core.messages import BusMessage
from stocker.store.repositories.outbox import enqueue
from stocker.store.uow import SqlUnitOfWork

HERE = Path(__file__).resolve().parent


def _units(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """A unit-of-work factory on `engine`, as the App's `uow` is."""
    return lambda: SqlUnitOfWork(engine)


def _publish(
    engine: Engine, client: redis.Redis, settings: Settings, *messages: BusMessage
) -> list[uuid.UUID]:
    with engine.begin() as conn:
        event_ids = [enqueue(conn, message) for message in messages]
    OutboxRelay(_units(engine), client, settings.bus()).publish_pending()
    return event_ids


def _poll_until(consumer: Consumer, done: Any, timeout_s: float = 10.0) -> PollReport:
    """Poll until `done(total)` holds; returns the summed report."""
    total = PollReport()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        report = consumer.poll_once(count=10, block_ms=20)
        total.processed += report.processed
        total.duplicates += report.duplicates
        total.failed += report.failed
        total.dead_lettered += report.dead_lettered
        if done(total):
            return total
        time.sleep(0.02)
    raise AssertionError(f"condition not reached within {timeout_s}s: {total}")


def _inbox_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM bus_inbox")).scalar_one())


def test_consumer_when_killed_before_ack_loses_nothing_and_effect_happens_once(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    key = streams.stream_key(settings, "market-bars")
    survivor = Consumer(
        _units(engine),
        redis_client,
        settings.bus(),
        "market-bars",
        "ledger",
        "survivor",
        effects.handler("ledger"),
    )
    survivor.ensure_group()
    _publish(engine, redis_client, settings, make_bar("SPY"))
    assert settings.database_url and settings.redis_url
    environment = {
        **os.environ,
        "STOCKER_DATABASE_URL": settings.database_url,
        "STOCKER_REDIS_URL": settings.redis_url,
        "STOCKER_STREAM_PREFIX": settings.stream_prefix,
        "STOCKER_HOME": str(settings.home),
    }

    crashed = subprocess.run(
        [sys.executable, str(HERE / "crashing_consumer.py"), "ledger", "doomed"],
        env=environment,
        cwd=settings.home.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert crashed.returncode == 1, crashed.stderr
    assert "read SPY, dying" in crashed.stdout
    assert effects.counts("ledger") == {}  # its transaction died with it
    pending = redis_client.xpending_range(key, "ledger", "-", "+", 10)
    assert [(p["consumer"], p["times_delivered"]) for p in pending] == [(b"doomed", 1)]

    report = _poll_until(survivor, lambda total: total.processed == 1)

    assert effects.counts("ledger") == {"SPY": 1}
    assert report.failed == 0 and report.dead_lettered == 0
    assert redis_client.xpending(key, "ledger")["pending"] == 0
    assert _inbox_count(engine) == 1


def test_consumer_when_message_is_delivered_three_times_applies_it_once(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    key = streams.stream_key(settings, "market-bars")
    consumer = Consumer(
        _units(engine),
        redis_client,
        settings.bus(),
        "market-bars",
        "signals",
        "c1",
        effects.handler("signals"),
    )
    consumer.ensure_group()
    (event_id,) = _publish(engine, redis_client, settings, make_bar("SPY"))
    _entry_id, fields = redis_client.xrange(key)[0]
    redis_client.xadd(key, fields)  # a copy of the entry, as a retried XADD would leave
    with engine.begin() as conn:  # and the relay publishing the same outbox event again
        conn.execute(
            text("UPDATE outbox SET published_at = NULL WHERE event_id = :e"), {"e": event_id}
        )
    assert OutboxRelay(_units(engine), redis_client, settings.bus()).publish_pending() == 1
    assert redis_client.xlen(key) == 3

    report = consumer.poll_once(count=10, block_ms=100)

    assert (report.processed, report.duplicates, report.failed) == (1, 2, 0)
    assert effects.counts("signals") == {"SPY": 1}
    assert redis_client.xpending(key, "signals")["pending"] == 0
    assert _inbox_count(engine) == 1


def test_consumer_when_messages_are_malformed_dead_letters_them_and_keeps_going(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    key = streams.stream_key(settings, "market-bars")
    consumer = Consumer(
        _units(engine),
        redis_client,
        settings.bus(),
        "market-bars",
        "signals",
        "c1",
        effects.handler("signals"),
    )
    consumer.ensure_group()
    good = json.loads(make_bar("SPY").to_json())
    wrong_type = json.dumps({**good, "volume": "lots"})
    unknown_event = json.dumps({**good, "event_type": "market_crash"})
    malformed = [
        ({"event_id": str(uuid.uuid4()), "data": "{not json"}, "not valid JSON"),
        ({"event_id": str(uuid.uuid4()), "data": wrong_type}, "volume"),
        ({"event_id": str(uuid.uuid4()), "data": unknown_event}, "event_type"),
        ({"data": make_bar("QQQ").to_json()}, "event_id"),
        ({"event_id": "42", "data": make_bar("QQQ").to_json()}, "not a UUID"),
    ]
    for fields, _ in malformed:
        redis_client.xadd(key, fields)
    _publish(engine, redis_client, settings, make_bar("SPY"))

    first = consumer.poll_once(count=10, block_ms=100)
    _publish(engine, redis_client, settings, make_bar("IWM"))
    second = consumer.poll_once(count=10, block_ms=100)

    assert (first.dead_lettered, first.processed, first.failed) == (len(malformed), 1, 0)
    assert second.processed == 1
    assert effects.counts("signals") == {"SPY": 1, "IWM": 1}
    assert redis_client.xpending(key, "signals")["pending"] == 0
    letters = list(reversed(dead_letters(redis_client, settings, "market-bars")))
    assert len(letters) == len(malformed)
    for letter, (fields, expected_error) in zip(letters, malformed, strict=True):
        assert expected_error in letter.error
        assert letter.deliveries == 1 and letter.group == "signals"
        assert letter.fields["data"] == fields["data"]  # the original message travels with it


def test_consumer_when_handler_keeps_failing_dead_letters_after_max_deliveries(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    settings = settings.model_copy(update={"max_deliveries": 3, "claim_idle_ms": 50})
    key = streams.stream_key(settings, "market-bars")
    attempts: list[str] = []

    def failing(message: BusMessage, uow: Any) -> None:
        effects.handler("broker")(message, uow)  # written, then rolled back by the raise
        attempts.append(message.symbol)  # type: ignore[attr-defined]
        raise RuntimeError("broker unreachable")

    consumer = Consumer(
        _units(engine), redis_client, settings.bus(), "market-bars", "broker", "c1", failing
    )
    consumer.ensure_group()
    (event_id,) = _publish(engine, redis_client, settings, make_bar("SPY"))

    report = _poll_until(consumer, lambda total: total.dead_lettered == 1)

    assert attempts == ["SPY", "SPY", "SPY"]
    assert report.failed == 3
    (letter,) = dead_letters(redis_client, settings, "market-bars")
    assert letter.error == "RuntimeError: broker unreachable"
    assert letter.deliveries == 3
    assert letter.fields["event_id"] == str(event_id)
    assert redis_client.xpending(key, "broker")["pending"] == 0
    assert effects.counts("broker") == {}
    assert _inbox_count(engine) == 0
    assert consumer.poll_once(count=10, block_ms=100).received == 0  # it does not come back


def test_consumer_when_one_handler_in_a_batch_fails_commits_the_others_and_keeps_it_pending(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    key = streams.stream_key(settings, "market-bars")

    def picky(message: BusMessage, uow: Any) -> None:
        effects.handler("ledger")(message, uow)
        if message.symbol == "BAD":  # type: ignore[attr-defined]
            raise ValueError("no price for BAD")

    consumer = Consumer(
        _units(engine), redis_client, settings.bus(), "market-bars", "ledger", "c1", picky
    )
    consumer.ensure_group()
    _publish(engine, redis_client, settings, make_bar("SPY"), make_bar("BAD"), make_bar("QQQ"))

    report = consumer.poll_once(count=10, block_ms=100)

    assert (report.processed, report.failed, report.dead_lettered) == (2, 1, 0)
    assert effects.counts("ledger") == {"SPY": 1, "QQQ": 1}
    pending = redis_client.xpending_range(key, "ledger", "-", "+", 10)
    assert len(pending) == 1 and _inbox_count(engine) == 2
