"""Broker fault campaign: every misbehaviour of the Alpaca stand-in combined with SIGKILL of the
broker worker, Redis FLUSHALL and PostgreSQL backend kills at seeded points, over replayed days.

Each run is one fault kind and one seed: a fresh stand-in whose orders get that fault (half of
them, seeded), and a broker worker (a forked process: the live stage over the Alpaca adapter)
that trades `--days` sessions of `--symbols` orders each. The worker kills itself with SIGKILL
right after its N-th call to the broker returned (N seeded: after an order was accepted and
before it was recorded, after fills were fetched and before they were posted, ...); a new
worker then resumes until every session is done. The end state is then compared with the
broker's: no order twice at the broker, every fill once in `fills` and the ledger, every
order's final state the broker's, the ledger's positions the broker's. A run whose end state
matches on all four is "identical".

In the same run, at two more seeded broker calls, the worker flushes the bus's Redis (a private
redis-server on a unix socket, never a shared one) and arms a PostgreSQL backend kill: a few
statements later its backend is terminated from another connection (`pg_terminate_backend`),
inside whatever transaction is open; the worker dies of the error and is restarted, as a
supervisor would. The outbox relay and a consumer of the `fills` stream run in their own
process throughout; "identical" also needs every posted fill's `OrderFilled` applied exactly
once by that consumer.

Next to it, the same orders through what a user would write without this stage (a submit with
no client order id, retried on any error) count the duplicate orders that produces.

    .venv/bin/python bench/faults_broker.py                    # 28 runs per kind (252 runs)
    .venv/bin/python bench/faults_broker.py --runs 3 --days 2  # a quick look

PostgreSQL: `STOCKER_DATABASE_URL` (else `STOCKER_TEST_DATABASE_URL`, else the embedded server);
a scratch database `stocker_bench_broker_<random>` is created, migrated and dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import signal
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

from _scratch import scratch_database, server_url
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import FAULTS, Book, FaultPlan, StandIn
from stocker.bus.consumer import Consumer
from stocker.bus.relay import OutboxRelay
from stocker.config import BusSettings
from stocker.core.broker import BrokerError
from stocker.core.messages import BusMessage, OrderFilled
from stocker.store import migrate
from stocker.store.db import make_engine
from stocker.store.embedded import private_redis_server
from stocker.store.repositories.trading import OrderRow
from stocker.store.uow import SqlUnitOfWork
from stocker.trading.live_broker import LiveTrading

START = dt.date(2024, 1, 2)
BUS = BusSettings(stream_prefix="bench-broker:", claim_idle_ms=2_000)
EFFECTS = "CREATE TABLE bench_fill_effects (order_uuid UUID NOT NULL, broker_id TEXT NOT NULL)"


@contextmanager
def _scratch_database() -> Iterator[str]:
    with scratch_database(server_url("STOCKER_TEST_DATABASE_URL"), "broker") as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with engine.begin() as conn:
                conn.execute(text(EFFECTS))
        finally:
            engine.dispose()
        yield url


def _effect(message: BusMessage, uow: SqlUnitOfWork) -> None:
    assert isinstance(message, OrderFilled)
    uow.connection.execute(
        text("INSERT INTO bench_fill_effects (order_uuid, broker_id) VALUES (:o, :b)"),
        {"o": message.order_uuid, "b": message.broker_id},
    )


def _bus(url: str, redis_url: str) -> None:
    """The outbox relay and a consumer of `fills`, until SIGTERM (runs in a forked child)."""
    logging.disable(logging.CRITICAL)
    engine = make_engine(url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def units() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    relay = OutboxRelay(units, redis.Redis.from_url(redis_url), BUS)
    consumer = Consumer(
        units, redis.Redis.from_url(redis_url), BUS, "fills", "bench", "bench-1", _effect
    )
    threads = [
        threading.Thread(target=relay.run, args=(stop, 0.02), daemon=True),
        threading.Thread(target=consumer.run, args=(stop, 100, 50), daemon=True),
    ]
    for thread in threads:
        thread.start()
    while not stop.is_set():
        stop.wait(0.2)
    for thread in threads:
        thread.join(10)


def _arm_backend_kill(engine: Engine, admin_url: str, after: int, done: Path) -> Any:
    """Terminate the worker's backend from another connection at its `after`-th statement
    once armed (inside whatever transaction is open); returns the arming function."""
    state = {"armed": False, "left": after}

    @event.listens_for(engine, "before_cursor_execute")
    def _maybe_kill(conn: Any, cursor: Any, *args: Any) -> None:
        if not state["armed"]:
            return
        state["left"] -= 1
        if state["left"] > 0:
            return
        state["armed"] = False
        pid = cursor.connection.info.backend_pid
        other = create_engine(admin_url, poolclass=NullPool)
        with other.connect() as killer:
            killed = killer.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
            ).scalar_one()
            killer.commit()
        other.dispose()
        if killed:
            with done.open("a") as out:
                out.write("backend\n")

    def arm() -> None:
        state["armed"] = True

    return arm


class KillingBroker:
    """The adapter, killing its process with SIGKILL right after its `kill_at`-th call (and
    running `at[n]` right after its n-th: a FLUSHALL, the arming of a backend kill)."""

    def __init__(
        self,
        broker: AlpacaBroker,
        kill_at: int | None,
        at: dict[int, Any] | None = None,
    ) -> None:
        self._broker = broker
        self.name = broker.name
        self.kill_at = kill_at
        self.at = at or {}
        self.calls = 0

    def _after_call(self) -> None:
        self.calls += 1
        if self.calls in self.at:
            self.at.pop(self.calls)()
        if self.kill_at is not None and self.calls >= self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._broker, name)
        if name in ("connections", "events", "close") or not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            self._after_call()
            return result

        return call


def _orders(portfolio: str, seed: int, day: dt.date, symbols: int) -> list[OrderRow]:
    rng = random.Random(f"{seed}:{day}")
    return [
        OrderRow(
            order_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{portfolio}|S{n:02d}|{day}"),
            portfolio_id=portfolio,
            date=day,
            symbol=f"S{n:02d}",
            side=rng.choice(["BUY", "SELL"]),
            qty=Decimal(rng.randint(1, 40)),
            type="MOO",
            status="PENDING",
            target_exposure_id=None,
        )
        for n in range(symbols)
    ]


def _control(rest: str, path: str) -> None:
    request = urllib.request.Request(rest + path, data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        reply.read()


def _settle(live: LiveTrading, rounds: int = 2) -> None:
    quiet = 0
    while quiet < rounds:
        quiet = quiet + 1 if live.pump(0.03) == 0 else 0


def _worker(
    url: str,
    rest: str,
    stream: str,
    portfolio: str,
    seed: int,
    days: int,
    symbols: int,
    disruptions: dict[str, int],
    redis_url: str,
    done: Path,
) -> None:
    """One broker worker: every session not done yet, in order (runs in a forked child).
    `disruptions`: the broker call after which to SIGKILL (`kill`), FLUSHALL (`flush`), arm
    a backend kill (`backend`, `backend_after` statements later)."""
    logging.disable(logging.CRITICAL)
    try:
        _work(url, rest, stream, portfolio, seed, days, symbols, disruptions, redis_url, done)
    except Exception:
        with done.open("a") as out:
            out.write("error " + traceback.format_exc().replace("\n", " | ") + "\n")
        raise


def _work(
    url: str,
    rest: str,
    stream: str,
    portfolio: str,
    seed: int,
    days: int,
    symbols: int,
    disruptions: dict[str, int],
    redis_url: str,
    done: Path,
) -> None:
    engine = make_engine(url)
    at: dict[int, Any] = {}
    if "flush" in disruptions:

        def flush() -> None:
            client = redis.Redis.from_url(redis_url)
            client.flushall()
            client.close()
            with done.open("a") as out:
                out.write("flush\n")

        at[disruptions["flush"]] = flush
    if "backend" in disruptions:
        at.setdefault(
            disruptions["backend"],
            _arm_backend_kill(engine, url, disruptions.get("backend_after", 1), done),
        )
    broker = AlpacaBroker(
        "k",
        "s",
        trading_url=rest,
        stream_url=stream,
        timeout_s=2,
        backoff_s=0.01,
        reconnect_s=0.05,
    )
    deadline = time.monotonic() + 5
    while broker.connections() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    killing = KillingBroker(broker, disruptions.get("kill"), at)
    live = LiveTrading(lambda: SqlUnitOfWork(engine), killing, slack_s=2)
    live.pump()  # started: backfill
    live.recover_unrecorded(portfolio)
    for number in range(days):
        day = START + dt.timedelta(days=number)
        with SqlUnitOfWork(engine) as uow:
            session = uow.live_trading.claim_session(portfolio, day)
            if session.status == "done":
                continue
            for order in _orders(portfolio, seed, day, symbols):
                if uow.trading.add_order(order):
                    uow.trading.add_order_event(order.order_id, "PENDING")
            uow.commit()
        live.submit(portfolio_id=portfolio)
        _settle(live, 1)
        _control(rest, "/_standin/open")
        _settle(live)
        with SqlUnitOfWork(engine) as uow:
            uow.live_trading.finish_session(portfolio, day, {})
            uow.commit()
    live.sync()
    _settle(live)


def _fork(target: Any, *args: Any) -> int:
    """Run `target(*args)` in a child; its exit status (negative: killed by that signal)."""
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            target(*args)
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


@dataclass
class RunResult:
    kind: str
    seed: int
    kill_at: int
    killed: bool
    identical: bool
    duplicate_orders: int
    fills: int
    missing_fills: int
    double_posted: int
    state_mismatches: int
    position_mismatches: int
    naive_duplicates: int
    flushed: bool = False
    backend_killed: bool = False
    workers: int = 0
    bus_lost: int = 0
    bus_duplicates: int = 0
    errors: list[str] | None = None


def _bus_effects(url: str, portfolio: str, timeout_s: float = 30.0) -> tuple[int, int]:
    """Posted fills of the portfolio whose `OrderFilled` the consumer never applied, and
    effects applied more than once (waits up to `timeout_s` for the bus to catch up)."""
    engine = make_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            with engine.connect() as conn:
                posted = {
                    row[0]
                    for row in conn.execute(
                        text(
                            "SELECT fill_id FROM ledger_entries "
                            "WHERE portfolio_id = :p AND fill_id IS NOT NULL"
                        ),
                        {"p": portfolio},
                    )
                }
                applied = Counter(
                    row[0]
                    for row in conn.execute(
                        text(
                            "SELECT e.broker_id FROM bench_fill_effects e "
                            "JOIN orders o ON o.order_id = e.order_uuid WHERE o.portfolio_id = :p"
                        ),
                        {"p": portfolio},
                    )
                )
            lost = len(posted - set(applied))
            if lost == 0 or time.monotonic() > deadline:
                return lost, sum(n - 1 for n in applied.values())
            time.sleep(0.1)
    finally:
        engine.dispose()


def _compare(url: str, book: Book, portfolio: str) -> tuple[int, int, int, int, int]:
    engine = make_engine(url)
    try:
        with SqlUnitOfWork(engine) as uow:
            rows = uow.connection.execute(
                text(
                    "SELECT o.order_id, o.status, f.fill_id, f.qty FROM orders o "
                    "LEFT JOIN fills f USING (order_id) WHERE o.portfolio_id = :p"
                ),
                {"p": portfolio},
            ).all()
            posted = uow.ledger.fill_counts(portfolio)
            symbols = sorted({o.symbol for o in book.orders.values()} | set(book.positions))
            positions = uow.ledger.positions(portfolio, symbols)
    finally:
        engine.dispose()
    statuses = {row[0]: row[1] for row in rows}
    local_fills: dict[str, Decimal] = {row[2]: row[3] for row in rows if row[2]}
    broker_fills = {a["id"].split("::")[1] for a in book.activities}
    missing = len(broker_fills - set(local_fills))
    double = sum(1 for n in posted.values() if n != 1) + len(broker_fills - set(posted))
    mismatches = 0
    for order_id, status in statuses.items():
        at_broker = book.by_client(str(order_id))
        want = (
            "PENDING"
            if at_broker is None
            else "FILLED"
            if at_broker.status == "filled"
            else "SHIPPED"
            if at_broker.open
            else "CANCELED"
        )
        if status != want:
            mismatches += 1
    theirs = {s: q for s, (q, _) in book.positions.items() if q != 0}
    ours = {s: p.quantity for s, p in positions.items() if p.quantity != 0}
    position_mismatches = len(set(theirs.items()) ^ set(ours.items()))
    return missing, double, mismatches, position_mismatches, len(broker_fills)


def _naive_duplicates(kind: str, seed: int, days: int, symbols: int) -> int:
    """Duplicate orders from a submit with no client order id, retried on any error."""
    book = Book(FaultPlan(seed=seed, rates={kind: 0.5}))
    stand_in = StandIn(book).start()
    broker = AlpacaBroker(
        "k", "s", trading_url=stand_in.url, stream=False, timeout_s=2, backoff_s=0.01
    )
    try:
        for number in range(days):
            for order in _orders("naive", seed, START + dt.timedelta(days=number), symbols):
                # the fault plan draws by client order id: give each attempt the order's draw
                fault = FaultPlan(seed=seed, rates={kind: 0.5}).kind_for(str(order.order_id))
                for attempt in range(3):
                    client_id = f"{order.order_id}-{attempt}"
                    book.plan.scripted[client_id] = (
                        fault if fault in ("timeout", "http_5xx", "http_429") else "none"
                    )
                    try:
                        broker._client.submit_order(  # what a naive integration calls
                            _request(order, client_id)
                        )
                        break
                    except Exception:
                        continue
            _control(stand_in.url, "/_standin/open")
        placed = Counter(o.client_order_id.rsplit("-", 1)[0] for o in book.orders.values())
        return sum(n - 1 for n in placed.values())
    finally:
        broker.close()
        stand_in.stop()


def _request(order: OrderRow, client_id: str) -> Any:
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    return MarketOrderRequest(
        symbol=order.symbol,
        qty=float(order.qty),
        side=OrderSide.BUY if order.side == "BUY" else OrderSide.SELL,
        time_in_force=TimeInForce.OPG,
        client_order_id=client_id,
    )


def run_one(
    url: str, kind: str, seed: int, days: int, symbols: int, redis_url: str, max_workers: int = 6
) -> RunResult:
    book = Book(FaultPlan(seed=seed, rates={kind: 0.5}))
    stand_in = StandIn(book).start()
    portfolio = f"b-{kind}-{seed}"[:50]
    rng = random.Random(f"kill:{kind}:{seed}")
    calls = days * (symbols + 2)
    kill_at = rng.randint(1, calls)
    left = {
        "kill": kill_at,
        "flush": rng.randint(1, calls // 2),
        "backend": rng.randint(1, calls // 2),
        "backend_after": rng.randint(1, 6),
    }
    killed = flushed = backend_killed = False
    errors: list[str] = []
    workers = 0
    with tempfile.TemporaryDirectory(prefix="stocker-bench-broker-") as scratch:
        done = Path(scratch) / "done"
        try:
            args = (url, stand_in.url, stand_in.stream_url, portfolio, seed, days, symbols)
            status = None
            while workers < max_workers:
                done.write_text("")
                status = _fork(_worker, *args, dict(left), redis_url, done)
                workers += 1
                lines = done.read_text().splitlines()
                if "flush" in lines:
                    flushed = True
                    left.pop("flush", None)
                if "backend" in lines:
                    backend_killed = True
                    left.pop("backend", None)
                elif status != 0:
                    errors += [line for line in lines if line.startswith("error")]
                if status == -signal.SIGKILL:
                    killed = True
                    left.pop("kill", None)
                if status == 0:
                    break
            if status != 0:
                raise BrokerError(f"the last worker ended with {status}: {errors[-1:]}")
            missing, double, states, positions, fills = _compare(url, book, portfolio)
            bus_lost, bus_duplicates = _bus_effects(url, portfolio)
        finally:
            stand_in.stop()
    summary = book.summary()
    duplicates = summary["duplicate_orders"] + summary["duplicate_submissions"]
    identical = not (
        missing or double or states or positions or duplicates or bus_lost or bus_duplicates
    )
    return RunResult(
        kind,
        seed,
        kill_at,
        killed,
        identical,
        duplicates,
        fills,
        missing,
        double,
        states,
        positions,
        0,
        flushed,
        backend_killed,
        workers,
        bus_lost,
        bus_duplicates,
        errors,
    )


def _start_bus(url: str, redis_url: str) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            _bus(url, redis_url)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=28, help="runs per fault kind")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--symbols", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(FAULTS), help="comma-separated fault kinds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    kinds = [kind for kind in args.kinds.split(",") if kind]
    results: list[RunResult] = []
    started = time.perf_counter()
    with (
        _scratch_database() as url,
        private_redis_server() as redis_url,
    ):
        bus = _start_bus(url, redis_url)
        try:
            for kind in kinds:
                naive = 0
                for run in range(args.runs):
                    seed = args.seed * 1000 + run
                    result = run_one(url, kind, seed, args.days, args.symbols, redis_url)
                    if run < 3:
                        naive += _naive_duplicates(kind, seed, args.days, args.symbols)
                    results.append(result)
                    if not result.identical and not args.json:
                        print(f"not identical: {result.__dict__}", flush=True)
                results[-1].naive_duplicates = naive
                if not args.json:
                    print(
                        f"{kind}: {args.runs} runs, {time.perf_counter() - started:.0f} s",
                        flush=True,
                    )
        finally:
            os.kill(bus, signal.SIGTERM)
            os.waitpid(bus, 0)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=2))
        return
    print(
        f"\n{len(results)} runs, {args.days} days x {args.symbols} orders each; per run at seeded "
        f"broker calls: SIGKILL of the broker worker, FLUSHALL of the bus's Redis, "
        f"pg_terminate_backend of the worker's backend mid-transaction; {elapsed:.0f} s\n"
    )
    header = (
        f"{'fault':<14}{'runs':>6}{'killed':>8}{'flushed':>9}{'pg kill':>9}{'workers':>9}"
        f"{'identical':>11}{'dup ord':>9}{'fills':>7}{'missing':>9}{'posted≠1':>10}"
        f"{'state≠':>8}{'pos≠':>6}{'bus lost':>10}{'bus dup':>9}{'naive dup':>11}"
    )
    print(header)
    print("-" * len(header))
    for kind in kinds:
        rows = [r for r in results if r.kind == kind]
        print(
            f"{kind:<14}{len(rows):>6}{sum(r.killed for r in rows):>8}"
            f"{sum(r.flushed for r in rows):>9}{sum(r.backend_killed for r in rows):>9}"
            f"{sum(r.workers for r in rows):>9}"
            f"{sum(r.identical for r in rows):>11}{sum(r.duplicate_orders for r in rows):>9}"
            f"{sum(r.fills for r in rows):>7}{sum(r.missing_fills for r in rows):>9}"
            f"{sum(r.double_posted for r in rows):>10}{sum(r.state_mismatches for r in rows):>8}"
            f"{sum(r.position_mismatches for r in rows):>6}"
            f"{sum(r.bus_lost for r in rows):>10}{sum(r.bus_duplicates for r in rows):>9}"
            f"{sum(r.naive_duplicates for r in rows):>11}"
        )
    total = len(results)
    print(f"\nidentical end states: {sum(r.identical for r in results)} / {total}")
    print("naive dup: duplicate orders of a submit with no client order id, retried (3 runs/kind)")


if __name__ == "__main__":
    main()
