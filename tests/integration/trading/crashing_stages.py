"""The live pipeline's stages run as consumers in a forked process that SIGKILLs itself at a
seeded point; the tables they leave, compared row by row with an uninterrupted run.

Used by the crash tests (`test_pipeline_crashes.py`, `test_crash_*.py`) and `bench/faults.py`.

A scenario is a database cloned from a *warm* one (the sample loaded, two portfolios replayed by
`run_day` up to the live sessions, the outbox of that history delivered and pruned), a stream
prefix, and the live sessions. `run_stages` forks a process that feeds each live session's bars
(one transaction, as ingest does), runs the relay and every stage's consumer until the streams
are quiet, then the next session. A `Kill` makes it die with SIGKILL at the ``at``-th call of one
stage, in one of these modes:

- ``read``: the message read, nothing written;
- ``written``: the handler's rows written, not committed, not acknowledged;
- ``committed``: the batch committed, at its XACK (the messages come again);
- ``submitted`` (broker only): the broker has the order (the venue recorded it), its fills are not
  recorded;
- ``backend`` (not a kill): the handler's rows written, then the transaction's PostgreSQL backend
  is terminated from another connection (`pg_terminate_backend`); the process goes on.

The broker is a paper broker behind a *venue* that remembers every order it was sent in a
directory (like a real broker's client order ids): an order sent again answers with the
executions it already had, so a submit that was never recorded is found again, not repeated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from stocker.bus.consumer import Consumer
from stocker.bus.handlers import HandlerRegistry
from stocker.bus.relay import OutboxRelay
from stocker.config import BusSettings
from stocker.core.messages import MarketBar
from stocker.core.strategy.config import StrategyConfig
from stocker.store.db import normalize_url
from stocker.trading.brokers.base import Execution
from stocker.trading.brokers.paper import PaperBroker
from stocker.trading.stages import GROUPS, Stages
from stocker.trading.strategy_files import PortfolioSetup

STOCKS = ("AAPL", "AMD", "BAC", "CVX", "JNJ", "KO", "MSFT", "PG", "WMT", "XOM")
FAST = StrategyConfig(lookback_days=20, vol_seed_returns=10)
QUICK = StrategyConfig(lookback_days=10, vol_seed_returns=5)
LONG_SHORT = StrategyConfig(lookback_days=10, vol_seed_returns=5, long_short=True)
MODES = ("read", "written", "committed", "submitted", "backend")
KILLS = ("read", "written", "committed", "submitted")
TABLES = (
    "signals",
    "target_exposures",
    "orders",
    "order_events",
    "fills",
    "ledger_entries",
    "ledger_postings",
    "holdings",
    "portfolio_state",
    "outbox",
)


def paper_broker(*, partial_fills: bool = False) -> PaperBroker:
    """The paper broker every run of a scenario uses."""
    return PaperBroker(
        slippage_bps=5,
        commission_per_share=Decimal("0.005"),
        min_commission=Decimal(1),
        partial_fills=partial_fills,
        seed=7,
    )


def stages(portfolio: str, broker: Any = None) -> Stages:
    """One long-only trend portfolio of ten stocks."""
    setup = PortfolioSetup(portfolio, f"{portfolio}-v1", STOCKS, FAST)
    return Stages((setup,), broker or paper_broker())


def portfolios() -> tuple[PortfolioSetup, ...]:
    """The scenario's two portfolios: long-only on six stocks, long-short on four of them."""
    return (
        PortfolioSetup("trend", "trend-v1", STOCKS[:6], QUICK),
        PortfolioSetup(
            "trend-ls", "trend-ls-v1", STOCKS[2:6], LONG_SHORT, capital=Decimal(250_000)
        ),
    )


# -- the venue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Venue:
    """A paper broker that remembers the orders it was sent (one JSON file per order id)."""

    directory: Path
    inner: PaperBroker = field(default_factory=lambda: paper_broker(partial_fills=True))
    name: str = "paper"
    adjusts_for_splits: ClassVar[bool] = True  # like the paper broker it stands for

    def execute(
        self, order_id: uuid.UUID, side: str, qty: Decimal, open_price: Decimal, at: dt.datetime
    ) -> list[Execution]:
        path = self.directory / f"{order_id}.json"
        if path.exists():  # sent before: the venue answers with what it did then
            with (self.directory / "resent").open("a") as log:
                log.write(f"{order_id}\n")
            return [_execution(item) for item in json.loads(path.read_text())]
        executions = self.inner.execute(order_id, side, qty, open_price, at)
        part = path.with_suffix(".part")
        part.write_text(json.dumps([_record(e) for e in executions]))
        os.replace(part, path)
        return executions

    def sent(self) -> int:
        """Orders the venue has."""
        return len(list(self.directory.glob("*.json")))

    def resent(self) -> int:
        """Times an order already at the venue was sent again."""
        path = self.directory / "resent"
        return len(path.read_text().split()) if path.exists() else 0


def _record(execution: Execution) -> dict[str, str]:
    return {
        "fill_id": execution.fill_id,
        "qty": str(execution.qty),
        "price": str(execution.price),
        "commission": str(execution.commission),
        "timestamp": execution.timestamp.isoformat(),
    }


def _execution(item: dict[str, str]) -> Execution:
    return Execution(
        fill_id=item["fill_id"],
        qty=Decimal(item["qty"]),
        price=Decimal(item["price"]),
        commission=Decimal(item["commission"]),
        timestamp=dt.datetime.fromisoformat(item["timestamp"]),
    )


# -- scenario databases -----------------------------------------------------------------------


def url_for(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def _admin(server_url: str) -> Engine:
    return create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def create_database(server_url: str, template: str) -> str:
    """A new database cloned from ``template``; returns its name."""
    name = f"stocker_c_{uuid.uuid4().hex[:12]}"
    admin = _admin(server_url)
    for attempt in range(50):  # the template must have no other session; wait them out
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            break
        except OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    admin.dispose()
    return name


def drop_database(server_url: str, name: str) -> None:
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def cloned(server_url: str, template: str) -> Iterator[str]:
    """The URL of a throwaway clone of ``template``."""
    name = create_database(server_url, template)
    try:
        yield url_for(server_url, name)
    finally:
        drop_database(server_url, name)


def warm_up(
    engine: Engine, live: int, *, end: dt.date = dt.date(1990, 1, 25), actions: bool = False
) -> list[dt.date]:
    """Load the sample, replay the portfolios' sessions of 1990 before the ``live`` last ones
    through ``end`` with `run_day` (the first trades come after 11 sessions), and prune the
    outbox (that history was delivered). With ``actions``, store a dividend of every stock and
    a 2-for-1 split of JNJ (which has an order on it) on the last live session. Returns the
    live sessions."""
    import pandas as pd

    from stocker.data.sample import sample_frames
    from stocker.store.uow import SqlUnitOfWork
    from stocker.trading.days import replay

    frames = sample_frames()  # the stocks' bars of 1990's first quarter: a small database
    prices = frames.prices[
        frames.prices["symbol"].isin(STOCKS) & (frames.prices["date"] < pd.Timestamp(1990, 4, 1))
    ]
    uow = SqlUnitOfWork(engine)
    with uow:
        uow.derived.upsert("instrument_info", frames.instruments)
        uow.derived.upsert("prices_daily", prices)
        uow.commit()
    pipeline = Stages(portfolios(), paper_broker(partial_fills=True))
    registry = HandlerRegistry()
    pipeline.register(registry)
    with uow:
        days = uow.trading.sessions_with_bars(STOCKS, dt.date(1990, 1, 2), end)
    replay(lambda: SqlUnitOfWork(engine), registry, pipeline, days[0], days[-live - 1])
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox"))
        if actions:  # a dividend of every stock and a split of one in the last live session
            conn.execute(
                text(
                    "INSERT INTO corporate_actions (symbol, date, action_type, value, source) "
                    "SELECT s, :d, 'DIVIDEND', 0.25, 'test' FROM unnest(CAST(:s AS text[])) s "
                    "UNION ALL SELECT 'JNJ', :d, 'SPLIT', 2, 'test'"
                ),
                {"d": days[-1], "s": list(STOCKS)},
            )
    return days[-live:]


# -- the stage process ------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """Where the stage process dies: the ``at``-th call of ``stage`` (a group), in ``mode``."""

    stage: str
    mode: str
    at: int

    def __post_init__(self) -> None:
        assert self.stage in GROUPS and self.mode in MODES and self.at >= 1, self
        assert self.mode != "submitted" or self.stage == "broker", self


@dataclass(frozen=True)
class Run:
    """One stage process: its database, Redis, stream prefix, sessions and venue."""

    db_url: str
    redis_url: str
    prefix: str
    days: tuple[dt.date, ...]
    venue: Path
    groups: tuple[str, ...] = GROUPS
    name: str = "c"
    feed: bool = True
    claim_idle_ms: int = 100
    quiet_s: float = 0.3
    ack_first: bool = False
    """Acknowledge each batch as soon as it is read, before its effects commit (at-most-once:
    the shortcut `bench/faults.py` compares with)."""
    until: Path | None = None
    """Keep consuming until this file exists (another process's counts, written when it ends)
    and then until quiet: a worker beside a slower producer does not go quiet before it."""


Kills = Kill | Sequence[Kill] | None


def run_stages(run: Run, kill: Kills = None, *, counts: Path | None = None) -> int:
    """Run the stage process to the end (0), or to its kill (-SIGKILL). With ``counts``, the
    process writes there (JSON) how many handler calls and acknowledgements each stage had
    (``calls``, ``acks``) and how many orders it sent the broker (``submits``)."""
    pid = os.fork()
    if pid == 0:  # the child never returns, and never touches the parent's connections
        code = 1
        try:
            code = _serve(run, kill, counts)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def start_stages(run: Run, kill: Kills = None, *, counts: Path | None = None) -> int:
    """`run_stages` without waiting: the child's pid (wait with `wait_stages`)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _serve(run, kill, counts)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def wait_stages(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _serve(run: Run, kill: Kills, counts_path: Path | None) -> int:
    import redis

    from stocker.store.db import make_engine
    from stocker.store.uow import SqlUnitOfWork

    engine = make_engine(run.db_url)
    factory = lambda: SqlUnitOfWork(engine)  # noqa: E731
    client = redis.Redis.from_url(run.redis_url)
    bus = BusSettings(stream_prefix=run.prefix, claim_idle_ms=run.claim_idle_ms)
    calls = dict.fromkeys(GROUPS, 0)
    acks = dict.fromkeys(GROUPS, 0)
    submits = 0
    terminated: list[bool] = []

    kills = [] if kill is None else [kill] if isinstance(kill, Kill) else list(kill)

    def armed(stage: str, mode: str, count: int) -> bool:
        return any(k.stage == stage and k.mode == mode and k.at == count for k in kills)

    class KillingVenue(Venue):
        def execute(self, *args: Any) -> list[Execution]:
            nonlocal submits
            executions = super().execute(*args)
            submits += 1
            if armed("broker", "submitted", submits):
                _die()
            return executions

    def wrapped(group: str, handler: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
        def handle(message: Any, uow: Any) -> None:
            calls[group] += 1
            if armed(group, "read", calls[group]):
                _die()
            handler(message, uow)
            if armed(group, "written", calls[group]):
                _die()
            if armed(group, "backend", calls[group]):
                pid = uow.connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                with engine.connect() as other:
                    done = other.execute(
                        text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}
                    ).scalar_one()
                    other.commit()
                terminated.append(bool(done))

        return handle

    xack = client.xack

    def dying_xack(key: Any, group: str, *ids: Any) -> Any:
        acks[group] += 1
        if armed(group, "committed", acks[group]):
            _die()
        return xack(key, group, *ids)

    client.xack = dying_xack  # type: ignore[method-assign]
    pipeline = Stages(portfolios(), KillingVenue(run.venue))
    registry = HandlerRegistry()
    pipeline.register(registry)
    kind = AckFirstConsumer if run.ack_first else Consumer
    consumers = [
        kind(
            factory,
            client,
            bus,
            r.stream,
            r.group,
            f"{run.name}-{r.group}",
            wrapped(r.group, r.handler),
        )
        for r in registry.registrations()
        if r.group in run.groups
    ]
    for consumer in consumers:
        consumer.ensure_group()
    relay = OutboxRelay(factory, client, bus)
    for day in run.days:
        if run.feed:
            _feed(factory, pipeline, day)
        _pump(relay, consumers, run.quiet_s, run.until)
    if counts_path is not None:
        counts_path.write_text(
            json.dumps({"calls": calls, "acks": acks, "submits": submits, "terminated": terminated})
        )
    engine.dispose()
    return 0


class AckFirstConsumer(Consumer):
    """A consumer that acknowledges what it reads before applying it."""

    def _apply(self, entries: list[Any], report: Any) -> None:
        if entries:
            self._redis.xack(self._key, self.group, *(entry.message_id for entry in entries))
        super()._apply(entries, report)


def _feed(factory: Callable[[], Any], pipeline: Stages, day: dt.date) -> None:
    """The session's bars as ingest announces them (once: all of them in one transaction)."""
    symbols = sorted({s for p in pipeline.portfolios for s in p.symbols})
    with factory() as uow:
        fed = uow.connection.execute(
            text(
                "SELECT 1 FROM outbox WHERE stream = 'market-bars' "
                "AND payload->>'date' = :d LIMIT 1"
            ),
            {"d": day.isoformat()},
        ).first()
        if fed is not None:
            return
        bars = uow.trading.bars_on(symbols, day)
        uow.outbox.add_many(
            MarketBar(
                symbol=b.symbol, date=b.date, open=b.open, high=b.high, low=b.low,
                close=b.close, adj_close=b.adj_close, volume=b.volume, provider="sample",
            )
            for b in (bars[s] for s in symbols if s in bars)
        )  # fmt: skip
        uow.commit()


def _pump(
    relay: OutboxRelay, consumers: Sequence[Consumer], quiet_s: float, until: Path | None = None
) -> None:
    """Relay and consume until nothing has moved for ``quiet_s`` (longer than the claim idle
    time, so a dead process's pending messages are reclaimed first) and ``until`` exists."""
    quiet_since = started = time.monotonic()
    idle = True

    def waiting() -> bool:  # for the producer's file; 120 s at most, should it have died
        return until is not None and not until.exists() and time.monotonic() - started < 120

    while time.monotonic() - quiet_since < quiet_s or waiting():
        try:
            # recovery (after Redis lost data) is checked when idle, publishing every time
            moved = relay.run_once().recovered if idle else 0
            moved += relay.publish_pending()
            for consumer in consumers:
                moved += consumer.poll_once(count=50, block_ms=0).received
        except (OperationalError, InterfaceError):  # a backend killed: the messages stay pending
            moved = 1
        idle = not moved
        if moved:
            quiet_since = time.monotonic()
        else:
            time.sleep(0.02)


# -- what a run leaves ------------------------------------------------------------------------

_SNAPSHOT_SQL = {
    "signals": "SELECT strategy_version, symbol, date, lookback_return, ewma_vol, direction, "
    "target_weight, price_bar_id FROM signals",
    "target_exposures": "SELECT t.portfolio_id, t.date, t.symbol, t.target_exposure, "
    "t.scaling_factor, t.is_capped, t.reason, s.strategy_version, s.symbol, s.date "
    "FROM target_exposures t LEFT JOIN signals s ON s.id = t.signal_id",
    "orders": "SELECT o.order_id::text, o.portfolio_id, o.date, o.symbol, o.side, o.qty, o.type, "
    "o.status, o.broker_order_id, t.portfolio_id, t.symbol, t.date "
    "FROM orders o LEFT JOIN target_exposures t ON t.id = o.target_exposure_id",
    "order_events": "SELECT order_id::text, status, broker_order_id, detail::text "
    "FROM order_events",
    "fills": "SELECT fill_id, order_id::text, date, symbol, side, qty, price, commission, "
    "exchange FROM fills",
    "ledger_entries": "SELECT entry_id::text, portfolio_id, date, kind, fill_id, "
    "corrects_entry_id::text, description FROM ledger_entries",
    "ledger_postings": "SELECT entry_id::text, account, symbol, quantity, amount, currency "
    "FROM ledger_postings",
    "holdings": "SELECT portfolio_id, date, symbol, qty, cost_basis, market_value FROM holdings",
    "portfolio_state": "SELECT portfolio_id, date, nav, cash, gross_exposure, net_exposure, "
    "realized_pnl, unrealized_pnl, drawdown, high_water_mark FROM portfolio_state",
    "outbox": "SELECT stream, payload::text FROM outbox",
}


def snapshot(db_url: str, tables: Sequence[str] = TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the pipeline's tables by its natural key (surrogate ids and creation times
    left out: a rolled-back transaction uses up sequence values), sorted; the outbox as the
    multiset of (stream, payload) — an event emitted twice shows."""
    engine = create_engine(normalize_url(db_url), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                table: sorted(
                    (tuple(row) for row in conn.execute(text(_SNAPSHOT_SQL[table]))),
                    key=lambda row: tuple("" if v is None else str(v) for v in row),
                )
                for table in tables
            }
    finally:
        engine.dispose()


def differences(
    expected: dict[str, list[tuple[Any, ...]]], got: dict[str, list[tuple[Any, ...]]]
) -> dict[str, str]:
    """Per table that differs: how (counts, and the first rows only one side has)."""
    found = {}
    for table, rows in expected.items():
        other = got.get(table, [])
        if rows != other:
            missing = [row for row in rows if row not in other][:2]
            extra = [row for row in other if row not in rows][:2]
            found[table] = f"{len(rows)} vs {len(other)} rows; missing {missing}; extra {extra}"
    return found
