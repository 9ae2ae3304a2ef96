"""A consumer's batch: one transaction and one inbox statement; a batch handler when the group
has one, and one message at a time (a savepoint each) only after a failure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import redis
from sqlalchemy import Engine, text

from stocker.bus import streams
from stocker.bus.consumer import Consumer
from stocker.config import Settings
from stocker.core.messages import BusMessage
from stocker.store.uow import SqlUnitOfWork


def _consumer(
    engine: Engine, client: redis.Redis, settings: Settings, handler: Any, batch: Any
) -> Consumer:
    consumer = Consumer(
        lambda: SqlUnitOfWork(engine), client, settings.bus(), "market-bars", "ledger", "c1",
        handler, batch,
    )  # fmt: skip
    consumer.ensure_group()
    return consumer


def _send(client: redis.Redis, settings: Settings, *pairs: tuple[uuid.UUID, BusMessage]) -> None:
    key = streams.stream_key(settings.bus(), "market-bars")
    for event_id, message in pairs:
        client.xadd(key, streams.frame(str(event_id), message.to_json()))


def _inbox(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM bus_inbox")).scalar_one())


def test_a_batch_handler_gets_the_new_messages_once_and_a_repeated_event_is_skipped(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    calls: list[list[str]] = []
    single = effects.handler("ledger")

    def batch(messages: Sequence[BusMessage], uow: Any) -> None:
        calls.append([m.symbol for m in messages])  # type: ignore[attr-defined]
        for message in messages:
            single(message, uow)

    consumer = _consumer(engine, redis_client, settings, single, batch)
    repeated = uuid.uuid4()
    _send(
        redis_client, settings,
        (uuid.uuid4(), make_bar("SPY")), (repeated, make_bar("QQQ")), (repeated, make_bar("QQQ")),
        (uuid.uuid4(), make_bar("IWM")),
    )  # fmt: skip

    report = consumer.poll_once(count=10, block_ms=100)

    assert (report.processed, report.duplicates, report.failed) == (3, 1, 0)
    assert calls == [["SPY", "QQQ", "IWM"]]
    assert effects.counts("ledger") == {"SPY": 1, "QQQ": 1, "IWM": 1} and _inbox(engine) == 3
    key = streams.stream_key(settings.bus(), "market-bars")
    assert redis_client.xpending(key, "ledger")["pending"] == 0


def test_a_failing_batch_is_redone_one_by_one_and_only_the_bad_message_stays_pending(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    single_calls: list[str] = []

    def single(message: BusMessage, uow: Any) -> None:
        single_calls.append(message.symbol)  # type: ignore[attr-defined]
        effects.handler("ledger")(message, uow)
        if message.symbol == "BAD":  # type: ignore[attr-defined]
            raise ValueError("no price for BAD")

    def batch(messages: Sequence[BusMessage], uow: Any) -> None:
        for message in messages:
            effects.handler("ledger")(message, uow)  # written, then rolled back by the raise
        raise ValueError("one of them is bad")

    consumer = _consumer(engine, redis_client, settings, single, batch)
    _send(
        redis_client, settings,
        (uuid.uuid4(), make_bar("SPY")), (uuid.uuid4(), make_bar("BAD")),
        (uuid.uuid4(), make_bar("QQQ")),
    )  # fmt: skip

    report = consumer.poll_once(count=10, block_ms=100)

    assert (report.processed, report.failed, report.dead_lettered) == (2, 1, 0)
    assert single_calls == ["SPY", "BAD", "QQQ"]
    assert effects.counts("ledger") == {"SPY": 1, "QQQ": 1} and _inbox(engine) == 2
    key = streams.stream_key(settings.bus(), "market-bars")
    assert len(redis_client.xpending_range(key, "ledger", "-", "+", 10)) == 1
