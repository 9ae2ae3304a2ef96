"""`stocker trade workers --processes 2`: two processes share every stage's group, and the
sessions they run end with exactly the rows of `run_day` (nothing applied twice)."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, text

from stocker.bus import streams
from stocker.bus.handlers import HandlerRegistry
from stocker.bus.relay import OutboxRelay
from stocker.config import Settings
from stocker.core.messages import MarketBar
from stocker.core.strategy.config import StrategyConfig
from stocker.data.sample import load_sample
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.days import bar_message, fund, replay, run_day
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STOCKS = ("AAPL", "AMD", "BAC", "CVX", "JNJ", "KO", "MSFT", "PG", "WMT", "XOM")
FAST = StrategyConfig(lookback_days=20, vol_seed_returns=10)
STRATEGY = (
    '[portfolio]\nid = "live"\nversion = "live-v1"\n'
    f"symbols = [{', '.join(repr(s) for s in STOCKS)}]\n".replace("'", '"')
    + "[strategy]\nlookback_days = 20\nvol_seed_returns = 10\n"
)
TOTALS = re.compile(r"stopped (\S+?-\d+-(\d))-(\S+): (\d+) applied, (\d+) already done")


def _stages(portfolio: str) -> Stages:
    from stocker.trading.brokers.paper import PaperBroker

    return Stages((PortfolioSetup(portfolio, f"{portfolio}-v1", STOCKS, FAST),), PaperBroker())


def _orders(uow: SqlUnitOfWork, portfolio: str) -> list[tuple[dt.date, str, str, Decimal]]:
    with uow:
        rows = uow.trading.orders_between(portfolio, dt.date(1900, 1, 1), dt.date(2100, 1, 1))
    return [(o.date, o.symbol, o.side, o.qty) for o in rows]


def _bars(uow: SqlUnitOfWork, day: dt.date) -> list[MarketBar]:
    with uow:
        bars = uow.trading.bars_on(STOCKS, day)
    return [bar_message(b, "sample") for b in bars.values()]


def test_two_worker_processes_share_the_groups_and_apply_each_message_once(
    engine: Engine, uow: SqlUnitOfWork, settings: Settings, tmp_path: Path
) -> None:
    load_sample(uow)
    factory = lambda: SqlUnitOfWork(engine)  # noqa: E731
    with uow:
        days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(1990, 2, 9))
    warm, live_days = days[:-3], days[-3:]
    direct = _stages("direct")
    direct_registry = HandlerRegistry()
    direct.register(direct_registry)
    replay(factory, direct_registry, direct, warm[0], live_days[-1])
    # The live portfolio: warmed up by hand, then its last sessions through the workers.
    live = Stages((PortfolioSetup("live", "live-v1", STOCKS, FAST),), direct.broker)
    live_registry = HandlerRegistry()
    live.register(live_registry)
    replay(factory, live_registry, live, warm[0], warm[-1])
    fund(factory, live, warm[0])

    strategy = tmp_path / "live.toml"
    strategy.write_text(STRATEGY)
    env = {
        **os.environ,
        "STOCKER_DATABASE_URL": settings.database_url or "",
        "STOCKER_REDIS_URL": settings.redis_url or "",
        "STOCKER_STREAM_PREFIX": settings.stream_prefix,
        "STOCKER_HOME": str(tmp_path / "home"),
        "COLUMNS": "200",
    }
    command = [sys.executable, "-c", "from stocker.cli import main; main()", "trade", "workers",
               "--processes", "2", "--batch", "5", "--strategy", str(strategy)]  # fmt: skip
    workers = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    client = redis.Redis.from_url(settings.redis_url or "")
    relay = OutboxRelay(factory, client, settings.bus())
    try:
        deadline = time.monotonic() + 60
        while not _groups_ready(client, settings, live_registry):  # the processes are up
            assert workers.poll() is None, workers.communicate()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.2)
        for day in live_days:  # one session at a time, as the market delivers them
            bars = _bars(uow, day)
            with uow:
                uow.outbox.add_many(bars)
                uow.commit()
            # The whole session settles (targets, the next session's orders, their fills)
            # before the next one's bars: the ledger takes a session's bars as the sign that
            # its orders exist, as they do overnight.
            deadline = time.monotonic() + 90
            quiet = 0
            while quiet < 3:
                assert workers.poll() is None, workers.communicate()
                assert time.monotonic() < deadline, f"{day}: the workers did not settle"
                moved = relay.publish_pending()
                quiet = quiet + 1 if moved == 0 and _settled(client, settings) else 0
                time.sleep(0.2)
            with uow:
                assert uow.trading.has_targets("live", day)
    finally:
        workers.send_signal(signal.SIGTERM)
        output, errors = workers.communicate(timeout=60)
    assert workers.returncode == 0, errors

    # Nothing applied twice: the same orders and states as run_day, each inbox row once.
    assert _orders(uow, "live") == _orders(uow, "direct") and _orders(uow, "live")
    with uow:
        live_states = [(s.date, s.nav, s.cash) for s in uow.ledger.states("live")]
        direct_states = [(s.date, s.nav, s.cash) for s in uow.ledger.states("direct")]
    assert live_states == direct_states
    with engine.connect() as conn:
        inbox = dict(
            conn.execute(
                text("SELECT consumer_group || '/' || stream, count(*) FROM bus_inbox GROUP BY 1")
            ).all()
        )
    # Both processes took entries of the groups, and what they applied adds up to the inbox.
    applied: dict[str, int] = defaultdict(int)
    by_process: dict[str, set[str]] = defaultdict(set)
    for _, index, group_stream, processed, duplicates in TOTALS.findall(output):
        group, stream = _split(group_stream)
        applied[f"{group}/{stream}"] += int(processed)
        if int(processed) + int(duplicates):
            by_process[f"{group}/{stream}"].add(index)
    assert by_process["signal-engine/market-bars"] == {"0", "1"}, output
    assert applied["signal-engine/market-bars"] > 0
    assert {key: inbox.get(key, 0) for key in applied} == dict(applied), (applied, inbox)
    run_day(factory, live_registry, live, live_days[-1])  # and once more changes nothing
    assert _orders(uow, "live") == _orders(uow, "direct")


def _groups_ready(client: redis.Redis, settings: Settings, registry: HandlerRegistry) -> bool:
    """Every stage's group exists on its stream (the workers joined)."""
    for registration in registry.registrations():
        key = f"{settings.stream_prefix}{registration.stream}"
        if not client.exists(key):
            return False
        names = {streams.as_text(group["name"]) for group in client.xinfo_groups(key)}
        if registration.group not in names:
            return False
    return True


def _settled(client: redis.Redis, settings: Settings) -> bool:
    """Every group of every stream has read and acknowledged everything."""
    from stocker.core.messages import STREAMS

    for stream in STREAMS:
        key = f"{settings.stream_prefix}{stream}"
        if not client.exists(key):
            continue
        for group in client.xinfo_groups(key):
            if group["pending"] or group.get("lag"):
                return False
    return True


def _split(group_stream: str) -> tuple[str, str]:
    """``signal-engine-market-bars`` → (``signal-engine``, ``market-bars``)."""
    for group in ("signal-engine", "portfolio-engine", "order-manager", "broker", "ledger"):
        if group_stream.startswith(f"{group}-"):
            return group, group_stream[len(group) + 1 :]
    raise AssertionError(f"unknown consumer {group_stream}")
