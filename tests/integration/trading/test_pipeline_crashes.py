"""Crash safety of the live pipeline against real Redis and PostgreSQL.

Two portfolios trade two live sessions through every stage's consumer in a forked process
(`crashing_stages`). The process dies with SIGKILL at seeded points — a message read and nothing
written, rows written and not committed, a batch committed and not acknowledged, an order at the
broker and its fills not recorded — and is restarted; Redis is flushed mid-day; a PostgreSQL
backend is terminated mid-transaction; every message is delivered twice; the same days run
again; two ledger workers share a group. Every scenario must end with exactly the rows of an
uninterrupted run: every row of signals, target_exposures, orders, order_events, fills, the
ledger (fills, and a dividend and a split on the last session), holdings and portfolio_state,
and the outbox's events (none emitted twice).
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text

from stocker.bus.handlers import HandlerRegistry
from stocker.core.messages import parse
from stocker.store.db import make_engine
from stocker.store.embedded import private_redis_server
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.days import run_day
from stocker.trading.ledger import rebuild, verify
from stocker.trading.stages import Stages

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from crashing_stages import (  # noqa: E402
    Kill,
    Run,
    Venue,
    cloned,
    create_database,
    differences,
    drop_database,
    portfolios,
    run_stages,
    snapshot,
    start_stages,
    url_for,
    wait_stages,
    warm_up,
)

pytestmark = pytest.mark.slow
SIGKILLED = -9
Rows = dict[str, list[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def warm(server_url: str, template_database: str) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """A database with the sample and the portfolios' history before the live sessions."""
    name = create_database(server_url, template_database)
    engine = make_engine(url_for(server_url, name))
    days = tuple(warm_up(engine, 2, actions=True))
    engine.dispose()
    yield name, days
    drop_database(server_url, name)


@pytest.fixture(scope="module")
def reference(
    server_url: str,
    redis_url: str,
    warm: tuple[str, tuple[Any, ...]],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Rows, dict[str, int]]:
    """The rows of an uninterrupted run, and each stage's handler calls in it."""
    name, days = warm
    directory = tmp_path_factory.mktemp("reference")
    with cloned(server_url, name) as url:
        run = Run(url, redis_url, f"t{uuid.uuid4().hex[:10]}:", days, directory / "venue")
        run.venue.mkdir()
        assert run_stages(run, counts=directory / "counts.json") == 0
        rows = snapshot(url)
        sent = Venue(run.venue).sent()
        engine = make_engine(url)
        for setup in portfolios():  # the journal explains the stored state
            assert rebuild(SqlUnitOfWork(engine), setup.portfolio_id).differences == ()
        assert verify(SqlUnitOfWork(engine)).ok
        engine.dispose()
    kinds = {row[3] for row in rows["ledger_entries"]}
    assert {"FILL", "DIVIDEND", "SPLIT"} <= kinds
    # the split's session has an order of the split stock: the venue's order is adjusted once
    adjusted = [row for row in rows["order_events"] if row[1] == "ADJUSTED"]
    assert len(adjusted) == 1 and '"ratio": "2/1"' in adjusted[0][3], adjusted
    assert rows["fills"] and rows["portfolio_state"] and rows["holdings"] and sent
    return rows, {**json.loads((directory / "counts.json").read_text())["calls"], "sent": sent}


@pytest.fixture
def scenario(
    server_url: str, redis_url: str, warm: tuple[str, tuple[Any, ...]], tmp_path: Path
) -> Iterator[Run]:
    """A fresh clone of the warm database, a stream prefix and a venue of its own."""
    name, days = warm
    with cloned(server_url, name) as url:
        prefix = f"t{uuid.uuid4().hex[:10]}:"
        (tmp_path / "venue").mkdir()
        yield Run(url, redis_url, prefix, days, tmp_path / "venue")
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def private_redis() -> Iterator[tuple[redis.Redis, str]]:
    """A redis-server of this test's own on a unix socket: ours to FLUSHALL."""
    with private_redis_server() as url:
        client = redis.Redis.from_url(url)
        try:
            yield client, url
        finally:
            client.close()


def _assert_same(reference: tuple[Rows, dict[str, int]], run: Run) -> None:
    assert differences(reference[0], snapshot(run.db_url)) == {}


def _seeded_kills(seed: int, counts: dict[str, int]) -> list[Kill]:
    """Four kills in the order a session flows, at seeded calls early enough to be reached
    after the earlier kills' restarts."""
    rng = random.Random(f"crash-{seed}")
    groups = [group for group in counts if group != "sent"]
    stages = sorted(rng.sample(groups, 4), key=groups.index)
    kills = []
    for number, stage in enumerate(stages):
        modes = ["read", "written", "committed"] + (["submitted"] if stage == "broker" else [])
        mode = rng.choice(modes)
        top = 1 if mode == "committed" else max(1, counts[stage] // (3 * (number + 1)))
        kills.append(Kill(stage, mode, rng.randint(1, top)))
    return kills


@pytest.mark.parametrize("seed", range(5))
def test_killed_stages_resume_to_the_rows_of_an_uninterrupted_run(
    scenario: Run, reference: tuple[Rows, dict[str, int]], seed: int
) -> None:
    kills = _seeded_kills(seed, reference[1])
    statuses = [run_stages(scenario, kill) for kill in kills]
    assert run_stages(scenario) == 0
    _assert_same(reference, scenario)
    # Each seeded point was reached: the process died there (20 kills over the five seeds, 24
    # with the broker and FLUSHALL scenarios below).
    assert statuses == [SIGKILLED] * len(kills), list(zip(kills, statuses, strict=True))


def test_an_order_sent_to_the_broker_but_not_recorded_is_not_sent_twice(
    scenario: Run, reference: tuple[Rows, dict[str, int]]
) -> None:
    venue = Venue(scenario.venue)
    assert run_stages(scenario, Kill("broker", "submitted", 1)) == SIGKILLED
    assert venue.sent() == 1
    assert run_stages(scenario, Kill("broker", "submitted", 3)) == SIGKILLED
    assert run_stages(scenario) == 0
    _assert_same(reference, scenario)
    assert venue.sent() == reference[1]["sent"] and venue.resent() >= 2


def test_flushall_mid_day_then_a_restart_loses_nothing(
    scenario: Run,
    reference: tuple[Rows, dict[str, int]],
    private_redis: tuple[redis.Redis, str],
) -> None:
    client, url = private_redis
    run = Run(scenario.db_url, url, scenario.prefix, scenario.days, scenario.venue)
    assert run_stages(run, Kill("portfolio-engine", "written", 12)) == SIGKILLED
    client.flushall()
    assert run_stages(run, Kill("ledger", "committed", 2)) == SIGKILLED
    client.flushall()
    assert run_stages(run) == 0
    _assert_same(reference, scenario)


def test_a_postgres_backend_killed_mid_transaction_loses_nothing(
    scenario: Run, reference: tuple[Rows, dict[str, int]], tmp_path: Path
) -> None:
    terminated = [
        Kill("signal-engine", "backend", 3),
        Kill("order-manager", "backend", 1),
        Kill("broker", "backend", 4),
        Kill("ledger", "backend", 6),
    ]
    assert run_stages(scenario, terminated, counts=tmp_path / "counts.json") == 0
    assert json.loads((tmp_path / "counts.json").read_text())["terminated"] == [True] * 4
    assert run_stages(scenario) == 0  # nothing left to do
    _assert_same(reference, scenario)


def _registry(run: Run) -> tuple[Stages, HandlerRegistry]:
    pipeline = Stages(portfolios(), Venue(run.venue))
    registry = HandlerRegistry()
    pipeline.register(registry)
    return pipeline, registry


def test_every_message_delivered_twice_changes_nothing(
    scenario: Run, reference: tuple[Rows, dict[str, int]]
) -> None:
    assert run_stages(scenario) == 0
    # Through the consumers: every entry of every stream added again (same event id).
    client = redis.Redis.from_url(scenario.redis_url)
    streams = [key for key in client.scan_iter(match=f"{scenario.prefix}*") if b":" in key]
    copied = 0
    for key in streams:
        if client.type(key) != b"stream" or key.endswith((b":dead",)):
            continue
        for _, fields in client.xrange(key):
            client.xadd(key, fields)
            copied += 1
    client.close()
    assert copied == len(reference[0]["outbox"])
    assert run_stages(scenario) == 0
    _assert_same(reference, scenario)
    # Past the inbox: every event handled again by every stage's handler, in a new transaction.
    _, registry = _registry(scenario)
    engine = make_engine(scenario.db_url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT stream, payload::text FROM outbox ORDER BY id")).all()
    for stream, payload in events:
        message = parse(stream, payload)
        for registration in registry.registrations():
            if registration.message_type is type(message):
                uow = SqlUnitOfWork(engine)
                with uow:
                    registration.handler(message, uow)
                    uow.commit()
    engine.dispose()
    _assert_same(reference, scenario)


def test_the_same_days_run_again_create_no_new_order_or_fill(
    scenario: Run, reference: tuple[Rows, dict[str, int]]
) -> None:
    assert run_stages(scenario) == 0
    pipeline, registry = _registry(scenario)
    engine = make_engine(scenario.db_url)
    for day in scenario.days:
        run_day(lambda: SqlUnitOfWork(engine), registry, pipeline, day)
    # and the bars announced again as new events, through the consumers
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE stream = 'market-bars'"))
    engine.dispose()
    assert run_stages(scenario) == 0
    got = snapshot(scenario.db_url)
    assert differences(reference[0], got) == {}
    assert Venue(scenario.venue).sent() == reference[1]["sent"]


def test_two_ledger_workers_never_post_a_fill_twice(
    scenario: Run, reference: tuple[Rows, dict[str, int]], tmp_path: Path
) -> None:
    """Two processes in the ledger group beside the upstream stages' process, each taking over
    the other's pending messages once idle for 60 ms (so both may handle one fill)."""
    upstream = tuple(g for g in reference[1] if g not in ("ledger", "sent"))
    done = tmp_path / "up.json"  # the upstream process's counts, written when it ends
    ledger = {
        "claim_idle_ms": 60,
        "quiet_s": 1.5,
        "groups": ("ledger",),
        "feed": False,
        "until": done,  # a loaded machine's slow upstream must not outlast the ledger workers
    }
    counts = [tmp_path / "l1.json", tmp_path / "l2.json"]
    pids = [
        start_stages(replace(scenario, groups=upstream, name="up"), counts=done),
        start_stages(replace(scenario, **ledger, name="l1"), counts=counts[0]),  # type: ignore[arg-type]
        start_stages(replace(scenario, **ledger, name="l2"), counts=counts[1]),  # type: ignore[arg-type]
    ]
    assert [wait_stages(pid) for pid in pids] == [0, 0, 0]
    assert run_stages(scenario) == 0  # whatever the ledger workers left when they went quiet
    _assert_same(reference, scenario)
    calls = [json.loads(path.read_text())["calls"]["ledger"] for path in counts]
    assert all(calls), calls  # both workers handled fills
    engine = make_engine(scenario.db_url)
    with engine.connect() as conn:
        fills = conn.execute(text("SELECT count(*) FROM fills")).scalar_one()
        posted = conn.execute(
            text("SELECT count(*), count(DISTINCT fill_id) FROM ledger_entries WHERE kind='FILL'")
        ).one()
    assert tuple(posted) == (fills, fills)
    assert verify(SqlUnitOfWork(engine)).ok
    engine.dispose()
