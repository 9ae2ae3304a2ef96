"""Bus fault benchmark: two FLUSHALLs in quick succession while the relay recovers.

Each run publishes `--events` market bars through the outbox to a private redis-server (never the
shared one), with the relay and two consumer groups (`ledger`, `audit`) running in threads. When
a seeded share of the events has been applied, Redis is flushed; once the relay starts recovering
it is flushed again after a seeded delay of 0-250 ms, while the relay republishes ("restarts"
counts recoveries that had to start over because the second flush hit them). The run then waits
until both groups have applied every event (or `--timeout-s` passes) and counts, per group, events
applied, events lost (never applied) and duplicate effects (applied twice). Target: 0 lost and
0 duplicates in every run.

    .venv/bin/python bench/bus_faults.py                      # 20 runs, seed 1
    .venv/bin/python bench/bus_faults.py --runs 5 --events 500

PostgreSQL: `STOCKER_DATABASE_URL` (else `STOCKER_TEST_DATABASE_URL`, else the embedded server);
a scratch database `stocker_bench_bus_<random>` is created, migrated and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import redis
from sqlalchemy import Engine, text

from _scratch import scratch_database, server_url
from stocker.bus.consumer import Consumer
from stocker.bus.relay import OutboxRelay
from stocker.config import BusSettings
from stocker.core.messages import BusMessage, MarketBar
from stocker.store import migrate
from stocker.store.db import make_engine
from stocker.store.embedded import private_redis_server
from stocker.store.uow import SqlUnitOfWork

GROUPS = ("ledger", "audit")
EFFECTS = "CREATE TABLE bench_effects (consumer_group TEXT NOT NULL, symbol TEXT NOT NULL)"


@dataclass(frozen=True)
class RunResult:
    """What one run saw: timing of the faults and, per group, applied / lost / duplicated."""

    run: int
    seed: int
    first_flush_after: int
    gap_ms: float
    restarts: int
    published: int
    applied: dict[str, int]
    lost: dict[str, int]
    duplicates: dict[str, int]
    converged_s: float


class _RecoveryWatch(logging.Handler):
    """Sees the relay start recovering, and counts recoveries that started over."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.started = threading.Event()
        self.restarts = 0

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("recovering "):
            self.started.set()
            if "(attempt 1)" not in message:
                self.restarts += 1


@contextmanager
def _scratch_engine() -> Iterator[Engine]:
    with scratch_database(server_url("STOCKER_TEST_DATABASE_URL"), "bus") as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                conn.execute(text(EFFECTS))
            yield engine
        finally:
            engine.dispose()


def _bar(symbol: str) -> MarketBar:
    price = Decimal("100.25")
    return MarketBar(
        symbol=symbol,
        date=dt.date(2024, 1, 2),
        open=price,
        high=price,
        low=price,
        close=price,
        adj_close=price,
        volume=1_000,
        provider="bench",
    )


def _handler(group: str) -> Callable[[BusMessage, SqlUnitOfWork], None]:
    def handle(message: BusMessage, uow: SqlUnitOfWork) -> None:
        assert isinstance(message, MarketBar)
        uow.connection.execute(
            text("INSERT INTO bench_effects (consumer_group, symbol) VALUES (:g, :s)"),
            {"g": group, "s": message.symbol},
        )

    return handle


def _applied(engine: Engine) -> dict[str, tuple[int, int]]:
    """Per group: distinct symbols applied, and effects written."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT consumer_group, count(DISTINCT symbol), count(*) FROM bench_effects "
                "GROUP BY consumer_group"
            )
        ).all()
    found = {group: (int(distinct), int(total)) for group, distinct, total in rows}
    return {group: found.get(group, (0, 0)) for group in GROUPS}


def one_run(
    engine: Engine, url: str, run: int, seed: int, events: int, timeout_s: float
) -> RunResult:
    """Publish `events`, flush Redis twice in quick succession mid-way, count what arrived."""
    rng = random.Random(seed)
    first_flush_after = rng.randint(events // 5, events * 3 // 5)
    gap_ms = rng.uniform(0.0, 250.0)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE outbox, bus_inbox, bus_consumer_groups, bench_effects"))
    admin = redis.Redis.from_url(url)
    admin.flushall()
    bus = BusSettings(stream_prefix="bench:", claim_idle_ms=2_000)

    def units() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    counter = _RecoveryWatch()
    logging.getLogger("stocker.bus.relay").addHandler(counter)
    stop = threading.Event()
    clients = [redis.Redis.from_url(url) for _ in range(len(GROUPS) + 1)]
    workers = [
        threading.Thread(
            target=Consumer(
                units, client, bus, "market-bars", group, f"{group}-1", _handler(group)
            ).run,
            args=(stop, 100, 50),
            daemon=True,
        )
        for group, client in zip(GROUPS, clients, strict=False)
    ]
    relay = OutboxRelay(units, clients[-1], bus)
    workers.append(threading.Thread(target=relay.run, args=(stop, 0.02), daemon=True))
    for worker in workers:
        worker.start()
    started = time.monotonic()
    try:
        for start in range(0, events, 250):
            with units() as uow:
                uow.outbox.add_many(
                    [_bar(f"S{number}") for number in range(start, min(start + 250, events))]
                )
                uow.commit()
        deadline = time.monotonic() + timeout_s
        while min(done for done, _ in _applied(engine).values()) < first_flush_after:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)
        admin.flushall()
        counter.started.wait(10)  # the relay noticed and is republishing
        time.sleep(gap_ms / 1000)
        admin.flushall()
        while time.monotonic() < deadline:
            if all(done == events for done, _ in _applied(engine).values()):
                break
            time.sleep(0.05)
        converged_s = time.monotonic() - started
    finally:
        stop.set()
        for worker in workers:
            worker.join(15)
        for client in clients:
            client.close()
        admin.close()
        logging.getLogger("stocker.bus.relay").removeHandler(counter)
    applied = _applied(engine)
    with engine.connect() as conn:
        published = int(conn.execute(text("SELECT count(*) FROM outbox")).scalar_one())
    return RunResult(
        run=run,
        seed=seed,
        first_flush_after=first_flush_after,
        gap_ms=gap_ms,
        restarts=counter.restarts,
        published=published,
        applied={group: done for group, (done, _) in applied.items()},
        lost={group: events - done for group, (done, _) in applied.items()},
        duplicates={group: total - done for group, (done, total) in applied.items()},
        converged_s=converged_s,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--events", type=int, default=4_000)
    parser.add_argument("--seed", type=int, default=1, help="Run i uses seed + i.")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    relay_log = logging.getLogger("stocker.bus.relay")
    relay_log.setLevel(logging.WARNING)  # seen by the recovery watch only
    relay_log.propagate = False
    print(
        f"{'run':>3} {'seed':>5} {'flush at':>8} {'gap ms':>7} {'restarts':>8} {'published':>9} "
        + " ".join(f"{g + ' applied':>14} {g + ' lost':>11} {g + ' dup':>10}" for g in GROUPS)
        + f" {'seconds':>8}"
    )
    total_lost = total_duplicates = 0
    with _scratch_engine() as engine, private_redis_server("stocker-bench-redis-") as url:
        for run in range(args.runs):
            result = one_run(engine, url, run + 1, args.seed + run, args.events, args.timeout_s)
            total_lost += sum(result.lost.values())
            total_duplicates += sum(result.duplicates.values())
            print(
                f"{result.run:>3} {result.seed:>5} {result.first_flush_after:>8} "
                f"{result.gap_ms:>7.1f} {result.restarts:>8} {result.published:>9} "
                + " ".join(
                    f"{result.applied[g]:>14} {result.lost[g]:>11} {result.duplicates[g]:>10}"
                    for g in GROUPS
                )
                + f" {result.converged_s:>8.1f}",
                flush=True,
            )
    print(f"total lost: {total_lost}, total duplicate effects: {total_duplicates}")
    return 0 if total_lost == 0 and total_duplicates == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
