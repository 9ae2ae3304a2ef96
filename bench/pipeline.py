"""Live pipeline benchmark: consumer throughput, a day of 500 symbols through every stage, and a
year's replay of 100 symbols, each next to what a user would run instead, in one run.

1. **Consumer messages/s, trivial handler.** `--messages` market bars on a private
   redis-server, drained by one `Consumer` per row with a handler that does nothing: the
   consumer as it runs (a poll of 500 entries is one transaction, one inbox statement, one
   XACK), the same consumer reading one entry per poll (a transaction per message, what a
   consumer without batching pays), and XREADGROUP + XACK with no database (the ceiling).
2. **A day of 500 symbols.** A synthetic market (`stocker.sample`, 500 symbols, one year of
   XNYS sessions); `--days` sessions after the 126-session lookback, each fed (a) by
   `run_day` (every stage's handlers, a transaction per stage and batch) and (b) through the
   bus: the day's bars into the outbox, the relay and every stage's consumer polled until idle
   (one process). Latency p50 / p95 per session; next to it `trend_backtest` over the same
   panel through the last session (what recomputing the strategy each day costs).
3. **A year's replay of 100 symbols** (`replay`, 252 sessions after the lookback) next to
   `trend_backtest` on the same panel.

    .venv/bin/python bench/pipeline.py                 # all three, ~3-5 minutes
    .venv/bin/python bench/pipeline.py --only consumer --messages 20000

PostgreSQL: `STOCKER_DATABASE_URL` (else the embedded server); scratch databases are created,
migrated and dropped at the end. Redis: a private redis-server on a unix socket.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import numpy as np
import redis
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from _scratch import scratch_database, server_url
from stocker.bus import streams
from stocker.bus.consumer import Consumer
from stocker.bus.handlers import HandlerRegistry
from stocker.bus.relay import OutboxRelay
from stocker.config import BusSettings
from stocker.core.backtest.trend import trend_backtest
from stocker.core.messages import BusMessage, MarketBar
from stocker.core.strategy.config import StrategyConfig
from stocker.data.synthetic import load_synthetic_market
from stocker.store import migrate
from stocker.store.embedded import private_redis_server
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.days import bar_message, fund, replay, run_day
from stocker.trading.stages import Stages
from stocker.trading.strategy_files import PortfolioSetup

LOOKBACK = 126
console = Console()


@contextmanager
def private_redis() -> Iterator[redis.Redis]:
    """A client of a throwaway redis-server on a unix socket: ours to FLUSHALL."""
    with private_redis_server("stocker-bench-redis-") as url:
        client = redis.Redis.from_url(url)
        try:
            yield client
        finally:
            client.close()


@contextmanager
def scratch_engine(label: str) -> Iterator[Engine]:
    with scratch_database(server_url(), label) as url:
        engine = create_engine(url, poolclass=NullPool)
        migrate.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _bar(symbol: str, day: dt.date) -> MarketBar:
    price = Decimal("101.25")
    return MarketBar(
        symbol=symbol, date=day, open=price, high=price, low=price, close=price,
        adj_close=price, volume=1000, provider="bench",
    )  # fmt: skip


# ------------------------------------------------------------------ 1. consumer throughput


def consumer_rows(count: int) -> list[tuple[str, str, str]]:
    """Messages/s of a trivial handler: batched consumer, one per poll, Redis alone."""
    rows = []
    with scratch_engine("consumer") as engine, private_redis() as client:
        settings = BusSettings(stream_prefix="bench:")
        key = streams.stream_key(settings, "market-bars")
        pipe = client.pipeline(transaction=False)
        day = dt.date(2024, 1, 2)
        for number in range(count):
            message = _bar(f"S{number:05d}", day)
            pipe.xadd(key, streams.frame(str(uuid.uuid4()), message.to_json()))
            if number % 1000 == 999:
                pipe.execute()
        pipe.execute()

        def nothing(message: BusMessage, uow: SqlUnitOfWork) -> None:
            return None

        def drain(group: str, batch: int, limit: int) -> tuple[int, float]:
            consumer = Consumer(
                lambda: SqlUnitOfWork(engine), client, settings, "market-bars", group, group,
                nothing,
            )  # fmt: skip
            consumer.ensure_group()
            done, started = 0, time.perf_counter()
            while done < limit:
                received = consumer.poll_once(count=batch, block_ms=0).received
                if not received:
                    break
                done += received
            return done, time.perf_counter() - started

        done, seconds = drain("batched", 500, count)
        rows.append(("Consumer, 500 per poll (as it runs)", f"{done}", f"{done / seconds:,.0f}"))
        sample = min(count, 2000)  # one per poll is slow: a sample is enough for a rate
        done, seconds = drain("one-by-one", 1, sample)
        rows.append(("Consumer, 1 per poll (a commit each)", f"{done}", f"{done / seconds:,.0f}"))
        client.xgroup_create(key, "raw", id="0")
        done, started = 0, time.perf_counter()
        while True:
            response: Any = client.xreadgroup("raw", "raw", {key: ">"}, count=500)
            if not response:
                break
            ids = [message_id for _, entries in response for message_id, _ in entries]
            client.xack(key, "raw", *ids)
            done += len(ids)
        seconds = time.perf_counter() - started
        rows.append(("XREADGROUP + XACK, no database", f"{done}", f"{done / seconds:,.0f}"))
    return rows


# ------------------------------------------------------------------ 2. and 3. the pipeline


def _pipeline(engine: Engine, symbols: int, portfolio: str) -> tuple[Stages, HandlerRegistry]:
    names = tuple(f"SYN{number:04d}" for number in range(1, symbols + 1))
    broker = PaperBroker(commission_per_share=Decimal("0.005"), min_commission=Decimal(1))
    stages = Stages(
        (PortfolioSetup(portfolio, f"{portfolio}-v1", names, StrategyConfig()),), broker
    )
    registry = HandlerRegistry()
    stages.register(registry)
    return stages, registry


def _sessions(engine: Engine, stages: Stages) -> list[dt.date]:
    with SqlUnitOfWork(engine) as uow:
        return uow.trading.sessions_with_bars(
            stages.portfolios[0].symbols, dt.date(1990, 1, 1), dt.date(2100, 1, 1)
        )


def _backtest_seconds(engine: Engine, stages: Stages, through: dt.date) -> float:
    with SqlUnitOfWork(engine) as uow:
        prices = uow.trading.adj_close_history(stages.portfolios[0].symbols, through)
    started = time.perf_counter()
    trend_backtest(prices, StrategyConfig(), shares="whole", cost_per_share=0.005,
                   min_commission=1.0)  # fmt: skip
    return time.perf_counter() - started


def _pump(relay: OutboxRelay, consumers: list[Consumer]) -> None:
    """Relay and poll every consumer until a full round moves nothing."""
    idle = 0
    while idle < 2:
        moved = relay.publish_pending()
        for consumer in consumers:
            moved += consumer.poll_once(block_ms=0).received
        idle = idle + 1 if moved == 0 else 0


def day_rows(days: int) -> list[tuple[str, str, str]]:
    """Per-session latency of 500 symbols by `run_day` and through the bus."""
    rows = []
    with scratch_engine("day500") as engine, private_redis() as client:
        load_synthetic_market(SqlUnitOfWork(engine), symbols=500, years=1, seed=8)
        factory: Callable[[], SqlUnitOfWork] = lambda: SqlUnitOfWork(engine)  # noqa: E731
        direct, direct_registry = _pipeline(engine, 500, "direct")
        live, live_registry = _pipeline(engine, 500, "live")
        sessions = _sessions(engine, direct)[LOOKBACK : LOOKBACK + days]
        latencies = []
        for day in sessions:
            started = time.perf_counter()
            run_day(factory, direct_registry, direct, day)
            latencies.append(time.perf_counter() - started)
        values = np.array(latencies)
        rows.append(("run_day, p50", f"{len(values)}", f"{np.percentile(values, 50):.3f}"))
        rows.append(("run_day, p95", f"{len(values)}", f"{np.percentile(values, 95):.3f}"))

        # Through the bus: the day's bars enter the outbox as ingest announces them; the relay
        # and each stage's consumer (one group per stage) are polled until nothing moves.
        settings = BusSettings(stream_prefix="bench:")
        relay = OutboxRelay(factory, client, settings)
        consumers = [
            Consumer(
                factory, client, settings, r.stream, r.group, f"bench-{r.group}", r.handler, r.batch
            )
            for r in live_registry.registrations()
        ]
        for consumer in consumers:
            consumer.ensure_group()
        fund(factory, live, sessions[0])
        _pump(relay, consumers)
        latencies = []
        for day in sessions:
            with SqlUnitOfWork(engine) as uow:
                bars = uow.trading.bars_on(live.portfolios[0].symbols, day)
            started = time.perf_counter()
            with SqlUnitOfWork(engine) as uow:
                uow.outbox.add_many(bar_message(b, "bench") for b in bars.values())
                uow.commit()
            _pump(relay, consumers)
            latencies.append(time.perf_counter() - started)
            with SqlUnitOfWork(engine) as uow:
                if not uow.trading.has_targets("live", day):
                    raise SystemExit(f"the bus run did not decide {day}")
        values = np.array(latencies)
        rows.append(("through the bus, p50", f"{len(values)}", f"{np.percentile(values, 50):.3f}"))
        rows.append(("through the bus, p95", f"{len(values)}", f"{np.percentile(values, 95):.3f}"))
        seconds = _backtest_seconds(engine, direct, sessions[-1])
        rows.append(("trend_backtest, panel through the last day", "1", f"{seconds:.3f}"))
    return rows


def replay_rows() -> list[tuple[str, str, str]]:
    """A year's sessions of 100 symbols through the pipeline, next to trend_backtest."""
    rows = []
    with scratch_engine("replay100") as engine:
        load_synthetic_market(SqlUnitOfWork(engine), symbols=100, years=2, seed=9)
        factory: Callable[[], SqlUnitOfWork] = lambda: SqlUnitOfWork(engine)  # noqa: E731
        stages, registry = _pipeline(engine, 100, "replay")
        sessions = _sessions(engine, stages)[LOOKBACK : LOOKBACK + 252]
        started = time.perf_counter()
        reports = replay(factory, registry, stages, sessions[0], sessions[-1])
        seconds = time.perf_counter() - started
        with SqlUnitOfWork(engine) as uow:
            orders = len(uow.trading.orders_between("replay", sessions[0], sessions[-1]))
        rows.append((f"replay, {len(reports)} sessions ({orders} orders)", "1", f"{seconds:.2f}"))
        rows.append(("  per session", f"{len(reports)}", f"{seconds / len(reports):.3f}"))
        seconds = _backtest_seconds(engine, stages, sessions[-1])
        rows.append(("trend_backtest, same panel", "1", f"{seconds:.3f}"))
    return rows


def _print(title: str, columns: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == columns[0] else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=10, help="sessions of 500 symbols")
    parser.add_argument("--only", choices=("consumer", "day", "replay"))
    args = parser.parse_args()
    if args.only in (None, "consumer"):
        _print(
            "Consumer throughput, trivial handler",
            ("consumer", "messages", "messages/s"),
            consumer_rows(args.messages),
        )
    if args.only in (None, "day"):
        _print(
            "A session of 500 symbols through every stage",
            ("what", "sessions", "seconds"),
            day_rows(args.days),
        )
    if args.only in (None, "replay"):
        _print("A year of 100 symbols", ("what", "runs", "seconds"), replay_rows())


if __name__ == "__main__":
    main()
