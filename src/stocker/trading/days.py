"""Run sessions through the pipeline synchronously: the same handlers the consumers run.

`run_day` builds the session's `MarketBar` messages from the stored bars and hands them, batch by
batch as a consumer reads them, to every handler registered for their type (registration order):
one unit of work per handler and batch (its batch handler when it has one), one commit. It
follows the messages the handlers emit until none is left, then closes the session (the cut-off
of a bar that never arrived). Each handler's events also go to the outbox, so workers
that later receive them find the rows already written and change nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from stocker.core.errors import DataError
from stocker.core.ledger import PortfolioState
from stocker.core.messages import BusMessage, MarketBar
from stocker.store.repositories.outbox import OutboxRepository
from stocker.trading.brokers.base import Broker
from stocker.trading.stages import Stages

if TYPE_CHECKING:
    from stocker.bus.handlers import HandlerRegistry, Registration
    from stocker.store.repositories.trading import BarRow
    from stocker.store.uow import SqlUnitOfWork

UowFactory = Callable[[], "SqlUnitOfWork"]
CAPITAL_NAMESPACE = uuid.UUID("3c0a4f5e-9d1b-5e7a-b2c4-6f8e0d1a2b3c")


class _Recording(OutboxRepository):
    """The outbox, also remembering what a handler emitted so `run_day` can pass it on."""

    def __init__(self, inner: OutboxRepository, sink: list[BusMessage]) -> None:
        self._inner, self._sink = inner, sink

    def add(self, message: BusMessage, *, event_id: uuid.UUID | None = None) -> uuid.UUID:
        self._sink.append(message)
        return self._inner.add(message, event_id=event_id)

    def add_many(self, messages: Iterable[BusMessage]) -> int:
        listed = list(messages)
        self._sink.extend(listed)
        return self._inner.add_many(listed)


@dataclass
class DayReport:
    """One session's run: messages handled per type and each portfolio's state."""

    day: dt.date
    handled: dict[str, int] = field(default_factory=dict)
    states: dict[str, PortfolioState] = field(default_factory=dict)


def _apply(
    uow_factory: UowFactory, registration: Registration, messages: list[BusMessage]
) -> list[BusMessage]:
    """Apply a handler to a batch as a consumer does: one transaction, the batch handler when
    the stage has one. A failure is not retried here: it propagates to the caller."""
    emitted: list[BusMessage] = []
    uow = uow_factory()
    with uow:
        uow.outbox = _Recording(uow.outbox, emitted)
        if registration.batch is not None:
            registration.batch(messages, uow)
        else:
            for message in messages:
                registration.handler(message, uow)
        uow.commit()
    return emitted


def fund(uow_factory: UowFactory, stages: Stages, day: dt.date) -> None:
    """Contribute each portfolio's capital once (a fixed entry id), dated ``day``."""
    from stocker.trading.ledger import post_contribution

    for setup in stages.portfolios:
        entry_id = uuid.uuid5(CAPITAL_NAMESPACE, setup.portfolio_id)
        uow = uow_factory()
        with uow:
            if uow.ledger.entry(entry_id) is not None:
                continue
        post_contribution(
            uow_factory(),
            setup.portfolio_id,
            day,
            setup.capital,
            currency=setup.currency,
            entry_id=entry_id,
            description="initial capital",
        )


def bar_message(bar: BarRow, provider: str | None = None) -> MarketBar:
    """The `MarketBar` event of a stored bar, from `provider` (default: the bar's source)."""
    return MarketBar(
        symbol=bar.symbol,
        date=bar.date,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        adj_close=bar.adj_close,
        volume=bar.volume,
        provider=(bar.source if provider is None else provider)[:50],
    )


def run_day(
    uow_factory: UowFactory, registry: HandlerRegistry, stages: Stages, day: dt.date
) -> DayReport:
    """Feed session ``day`` through every stage and return the portfolios' states."""
    report = DayReport(day)
    fund(uow_factory, stages, day)
    symbols = sorted({symbol for setup in stages.portfolios for symbol in setup.symbols})
    uow = uow_factory()
    with uow:
        bars = uow.trading.bars_on(symbols, day)
    queue: deque[BusMessage] = deque(
        bar_message(bars[symbol]) for symbol in symbols if symbol in bars
    )
    registrations = registry.registrations()

    def drain() -> None:
        # Batch by batch, like the consumers: every queued message of a type goes to each of
        # its handlers (registration order) in one transaction; what they emit is the next batch.
        while queue:
            batch = list(queue)
            queue.clear()
            for message in batch:
                name = type(message).__name__
                report.handled[name] = report.handled.get(name, 0) + 1
            for registration in registrations:
                mine = [m for m in batch if type(m) is registration.message_type]
                if mine:
                    queue.extend(_apply(uow_factory, registration, mine))

    drain()
    closed: list[BusMessage] = []
    uow = uow_factory()
    with uow:
        uow.outbox = _Recording(uow.outbox, closed)
        stages.close_session(uow, day)
        uow.commit()
    queue.extend(closed)
    drain()
    uow = uow_factory()
    with uow:
        for setup in stages.portfolios:
            state = uow.ledger.state_before(setup.portfolio_id, day + dt.timedelta(days=1))
            if state is not None and state.date == day:
                report.states[setup.portfolio_id] = state
    return report


def replay(
    uow_factory: UowFactory,
    registry: HandlerRegistry,
    stages: Stages,
    start: dt.date,
    end: dt.date,
    *,
    progress: Callable[[DayReport], None] | None = None,
) -> list[DayReport]:
    """Run every session from start to end
    (the sessions are the dates with stored bars of the portfolios' symbols)."""
    if end < start:
        raise DataError(f"replay: end {end} is before start {start}")
    symbols = sorted({symbol for setup in stages.portfolios for symbol in setup.symbols})
    uow = uow_factory()
    with uow:
        days = uow.trading.sessions_with_bars(symbols, start, end)
    if not days:
        raise DataError(f"no stored bars of the portfolios' symbols between {start} and {end}")
    reports = []
    for day in days:
        report = run_day(uow_factory, registry, stages, day)
        reports.append(report)
        if progress is not None:
            progress(report)
    return reports


def load_pipeline(
    uow_factory: UowFactory, paths: Iterable[Path], broker: Broker | None = None
) -> tuple[Stages, HandlerRegistry]:
    """The stages of the portfolios in ``paths`` (strategy files, or directories of them) and
    their handler registry; the broker defaults to the paper broker."""
    from stocker.bus.handlers import HandlerRegistry
    from stocker.trading.brokers.paper import PaperBroker
    from stocker.trading.strategy_files import load_strategy_file

    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    if not files:
        raise DataError("no strategy files: pass --strategy FILE (a TOML with a [portfolio] table)")
    setups = tuple(load_strategy_file(uow_factory(), file) for file in files)
    ids = [setup.portfolio_id for setup in setups]
    if len(set(ids)) != len(ids):
        raise DataError(f"two strategy files name the same portfolio: {', '.join(ids)}")
    stages = Stages(setups, broker or PaperBroker())
    registry = HandlerRegistry()
    stages.register(registry)
    return stages, registry


def run_day_from_files(
    uow_factory: UowFactory, paths: Iterable[Path], day: dt.date, broker: Broker | None = None
) -> DayReport:
    """`run_day` for the portfolios of the strategy files (`stocker trade run-day`)."""
    stages, registry = load_pipeline(uow_factory, paths, broker)
    return run_day(uow_factory, registry, stages, day)


def replay_from_files(
    uow_factory: UowFactory,
    paths: Iterable[Path],
    start: dt.date,
    end: dt.date,
    broker: Broker | None = None,
    progress: Callable[[DayReport], None] | None = None,
) -> list[DayReport]:
    """`replay` for the portfolios of the strategy files (`stocker trade replay`)."""
    stages, registry = load_pipeline(uow_factory, paths, broker)
    return replay(uow_factory, registry, stages, start, end, progress=progress)
