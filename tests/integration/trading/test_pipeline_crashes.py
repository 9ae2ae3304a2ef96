"""A stage process killed with SIGKILL at seeded points (a message read and nothing written; rows
written but not committed or acknowledged; a batch committed but not acknowledged) resumes and
ends with the rows of an uninterrupted run (`run_day` of the same portfolio under another id)."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from stocker.bus.handlers import HandlerRegistry
from stocker.config import Settings
from stocker.core.messages import MarketBar
from stocker.data.sample import load_sample
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.days import replay

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from crashing_stages import STOCKS, stages  # noqa: E402

pytestmark = pytest.mark.slow


def _orders(uow: SqlUnitOfWork, portfolio: str) -> list[tuple[dt.date, str, str, Decimal]]:
    with uow:
        rows = uow.trading.orders_between(portfolio, dt.date(1900, 1, 1), dt.date(2100, 1, 1))
    return [(o.date, o.symbol, o.side, o.qty) for o in rows]


def _registry(portfolio: str) -> tuple[object, HandlerRegistry]:
    pipeline = stages(portfolio)
    registry = HandlerRegistry()
    pipeline.register(registry)
    return pipeline, registry


@pytest.mark.parametrize("where", ["before", "after", "unacked"])
def test_killed_stages_resume_to_the_uninterrupted_rows(
    engine: Engine, uow: SqlUnitOfWork, settings: Settings, where: str
) -> None:
    load_sample(uow)
    factory = lambda: SqlUnitOfWork(engine)  # noqa: E731
    with uow:
        days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 1), dt.date(1990, 3, 1))
    warm, day = days[:-1], days[-1]
    direct, direct_registry = _registry("direct")
    live, live_registry = _registry("live")
    replay(factory, direct_registry, direct, warm[0], day)  # type: ignore[arg-type]
    replay(factory, live_registry, live, warm[0], warm[-1])  # type: ignore[arg-type]
    with uow:
        bars = uow.trading.bars_on(STOCKS, day)
        uow.outbox.add_many(
            MarketBar(
                symbol=b.symbol, date=b.date, open=b.open, high=b.high, low=b.low,
                close=b.close, adj_close=b.adj_close, volume=b.volume, provider="sample",
            )
            for b in bars.values()
        )  # fmt: skip
        uow.commit()
    assert settings.database_url and settings.redis_url
    environment = {
        **os.environ,
        "STOCKER_DATABASE_URL": settings.database_url,
        "STOCKER_REDIS_URL": settings.redis_url,
        "STOCKER_STREAM_PREFIX": settings.stream_prefix,
        "STOCKER_HOME": str(settings.home),
        "STOCKER_CLAIM_IDLE_MS": "200",
    }

    def run(kill_at: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(HERE / "crashing_stages.py"), str(kill_at), where],
            env=environment,
            cwd=settings.home.parent,
            capture_output=True,
            text=True,
            timeout=300,
        )

    rng = random.Random(f"crash-{where}")
    kills = 0
    points = range(1, 20) if where == "unacked" else range(1, 60)
    for kill_at in sorted(rng.sample(points, 3)):
        crashed = run(kill_at)
        assert crashed.returncode in (-signal.SIGKILL, 0), crashed.stderr
        kills += crashed.returncode == -signal.SIGKILL
    assert kills >= 1
    finished = run(0)
    assert finished.returncode == 0, finished.stderr

    assert _orders(uow, "live") == _orders(uow, "direct")
    with uow:
        live_states = [(s.date, s.nav, s.cash) for s in uow.ledger.states("live")]
        direct_states = [(s.date, s.nav, s.cash) for s in uow.ledger.states("direct")]
    assert live_states == direct_states
