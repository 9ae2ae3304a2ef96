"""The unit of work: one PostgreSQL transaction and the repositories that write in it.

A use case opens it, works through its repositories and commits::

    with uow:
        uow.bars.upsert_daily(frame)
        uow.outbox.add_many(events)
        uow.commit()

Leaving the block without `commit()` rolls everything back, so an exception anywhere leaves
nothing behind. Shells never open a transaction; use cases never see a connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from stocker.store.repositories.api_keys import ApiKeyRepository
from stocker.store.repositories.backtests import BacktestRepository
from stocker.store.repositories.bars import BarRepository
from stocker.store.repositories.covariances import CovarianceRepository
from stocker.store.repositories.derived import DerivedRepository
from stocker.store.repositories.factors import FactorRepository
from stocker.store.repositories.inbox import InboxRepository
from stocker.store.repositories.instruments import InstrumentRepository
from stocker.store.repositories.ledger import LedgerRepository
from stocker.store.repositories.live_trading import LiveTradingRepository
from stocker.store.repositories.news import NewsRepository
from stocker.store.repositories.outbox import OutboxRepository
from stocker.store.repositories.portfolios import PortfolioRepository
from stocker.store.repositories.quarantine import QuarantineRepository
from stocker.store.repositories.reads import ReadRepository
from stocker.store.repositories.screens import ScreenRepository
from stocker.store.repositories.trading import TradingRepository
from stocker.store.repositories.universes import UniverseRepository


class SqlUnitOfWork:
    """A transaction on `engine` with every repository bound to it (see the module docstring)."""

    bars: BarRepository
    instruments: InstrumentRepository
    quarantine: QuarantineRepository
    universes: UniverseRepository
    derived: DerivedRepository
    outbox: OutboxRepository
    inbox: InboxRepository
    factors: FactorRepository
    screens: ScreenRepository
    covariances: CovarianceRepository
    portfolios: PortfolioRepository
    ledger: LedgerRepository
    trading: TradingRepository
    backtests: BacktestRepository
    api_keys: ApiKeyRepository
    live_trading: LiveTradingRepository
    news: NewsRepository
    reads: ReadRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None

    def __enter__(self) -> Self:
        if self._conn is not None:
            raise RuntimeError("this unit of work is already open; make a new one per use")
        conn = self._engine.connect()
        conn.begin()
        self._conn = conn
        self.bars = BarRepository(conn)
        self.instruments = InstrumentRepository(conn)
        self.quarantine = QuarantineRepository(conn)
        self.universes = UniverseRepository(conn)
        self.derived = DerivedRepository(conn)
        self.outbox = OutboxRepository(conn)
        self.inbox = InboxRepository(conn)
        self.factors = FactorRepository(conn)
        self.screens = ScreenRepository(conn)
        self.covariances = CovarianceRepository(conn)
        self.portfolios = PortfolioRepository(conn)
        self.ledger = LedgerRepository(conn)
        self.trading = TradingRepository(conn)
        self.backtests = BacktestRepository(conn)
        self.api_keys = ApiKeyRepository(conn)
        self.live_trading = LiveTradingRepository(conn)
        self.news = NewsRepository(conn)
        self.reads = ReadRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.in_transaction():
                conn.rollback()
        finally:
            conn.close()

    @property
    def connection(self) -> Connection:
        """The open connection, for repositories and store functions only (never use cases)."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open: use it as `with uow: ...`")
        return self._conn

    def commit(self) -> None:
        """Commit everything written so far and start a new transaction on the same connection."""
        self.connection.commit()
        self.connection.begin()

    def rollback(self) -> None:
        """Undo everything written since the last commit."""
        self.connection.rollback()
        self.connection.begin()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested transaction: an exception inside undoes only what was written inside."""
        with self.connection.begin_nested():
            yield
