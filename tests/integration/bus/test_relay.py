"""The outbox and its relay against real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, text

from stocker.bus import streams
from stocker.bus.relay import OutboxRelay
from stocker.config import Settings
from stocker.core.errors import ValidationError
from stocker.core.messages import SignalGenerated, SignalMetrics, parse
from stocker.store.repositories.outbox import enqueue, enqueue_many
from stocker.store.uow import SqlUnitOfWork


def _units(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """A unit-of-work factory on `engine`, as the App's `uow` is."""
    return lambda: SqlUnitOfWork(engine)


def _entries(client: redis.Redis, key: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (streams.as_text(entry_id), streams.text_fields(fields))
        for entry_id, fields in client.xrange(key)
    ]


def test_enqueue_when_transaction_rolls_back_publishes_nothing(
    settings: Settings, engine: Engine, redis_client: redis.Redis, effects: Any, make_bar: Any
) -> None:
    relay = OutboxRelay(_units(engine), redis_client, settings.bus())
    key = streams.stream_key(settings, "market-bars")

    with pytest.raises(RuntimeError, match="stage failed"), SqlUnitOfWork(engine) as uow:
        effects.handler("stage")(make_bar("SPY"), uow)  # the stage's state change
        uow.outbox.add(make_bar("SPY"))
        raise RuntimeError("stage failed")

    assert relay.publish_pending() == 0
    assert redis_client.exists(key) == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 0
    assert effects.counts("stage") == {}


def test_enqueue_when_transaction_commits_publishes_the_exact_json_with_its_event_id(
    settings: Settings, engine: Engine, redis_client: redis.Redis, make_bar: Any
) -> None:
    relay = OutboxRelay(_units(engine), redis_client, settings.bus())
    bar = make_bar("SPY", close="417.50")
    with engine.begin() as conn:
        event_id = enqueue(conn, bar)

    assert relay.publish_pending() == 1

    ((entry_id, fields),) = _entries(redis_client, streams.stream_key(settings, "market-bars"))
    assert fields == {"event_id": str(event_id), "data": bar.to_json()}
    assert parse("market-bars", fields["data"]) == bar
    with engine.connect() as conn:
        row = conn.execute(text("SELECT stream, stream_message_id, published_at FROM outbox")).one()
    assert row.stream == "market-bars"
    assert row.stream_message_id == entry_id and row.published_at is not None
    assert relay.publish_pending() == 0  # nothing is published twice


def test_enqueue_when_event_id_is_reused_accepts_same_message_and_rejects_a_different_one(
    engine: Engine, make_bar: Any
) -> None:
    event_id = uuid.uuid4()
    with engine.begin() as conn:
        assert enqueue(conn, make_bar("SPY"), event_id=event_id) == event_id
        assert enqueue(conn, make_bar("SPY"), event_id=event_id) == event_id
        with pytest.raises(ValidationError, match=str(event_id)):
            enqueue(conn, make_bar("QQQ"), event_id=event_id)
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar_one() == 1


def test_publish_pending_when_streams_are_mixed_keeps_outbox_order_within_each_stream(
    settings: Settings, engine: Engine, redis_client: redis.Redis, make_bar: Any
) -> None:
    def signal(symbol: str) -> SignalGenerated:
        return SignalGenerated(
            strategy="trend_v1",
            symbol=symbol,
            date=dt.date(2023, 10, 27),
            metrics=SignalMetrics(lookback_return=0.054, ewma_vol=0.145, direction=1),
            raw_weight=0.25,
        )

    with engine.begin() as conn:
        written = [
            (enqueue(conn, message), message.stream)
            for number in range(20)
            for message in (make_bar(f"B{number}"), signal(f"S{number}"))
        ]

    assert (
        OutboxRelay(_units(engine), redis_client, settings.bus()).publish_pending(batch_size=6)
        == 40
    )

    for stream in ("market-bars", "signals"):
        published = [
            fields["event_id"]
            for _, fields in _entries(redis_client, streams.stream_key(settings, stream))
        ]
        assert published == [str(event_id) for event_id, name in written if name == stream]


def test_two_relays_when_running_concurrently_publish_each_event_once(
    settings: Settings, engine: Engine, make_bar: Any, redis_url: str
) -> None:
    events = 300
    with engine.begin() as conn:
        assert enqueue_many(conn, [make_bar(f"S{number}") for number in range(events)]) == events
    start = threading.Barrier(2)
    counts: list[int] = []
    errors: list[BaseException] = []

    def relay_worker() -> None:
        client = redis.Redis.from_url(redis_url)
        try:
            relay = OutboxRelay(_units(engine), client, settings.bus())
            start.wait()
            counts.append(relay.publish_pending(batch_size=7))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            client.close()

    workers = [threading.Thread(target=relay_worker) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert errors == []
    assert sum(counts) == events
    client = redis.Redis.from_url(redis_url)
    entries = _entries(client, streams.stream_key(settings, "market-bars"))
    client.close()
    event_ids = [fields["event_id"] for _, fields in entries]
    assert len(event_ids) == events and len(set(event_ids)) == events
    with engine.connect() as conn:
        recorded = dict(
            conn.execute(text("SELECT event_id::text, stream_message_id FROM outbox")).all()
        )
    assert recorded == {fields["event_id"]: entry_id for entry_id, fields in entries}


def test_relay_run_when_events_arrive_publishes_them_until_stopped(
    settings: Settings, engine: Engine, redis_client: redis.Redis, make_bar: Any
) -> None:
    relay = OutboxRelay(_units(engine), redis_client, settings.bus())
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop, 0.02))
    worker.start()
    try:
        with engine.begin() as conn:
            enqueue_many(conn, [make_bar("SPY"), make_bar("QQQ")])
        key = streams.stream_key(settings, "market-bars")
        deadline = time.monotonic() + 10
        while redis_client.xlen(key) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        worker.join(10)

    assert not worker.is_alive()
    assert redis_client.xlen(key) == 2
