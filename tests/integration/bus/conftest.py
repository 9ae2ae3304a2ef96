"""Fixtures for bus tests: bars to send, and a table where handlers leave their effects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine, text

from stocker.core.messages import BusMessage, MarketBar
from stocker.store.embedded import private_redis_server
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
    """A throwaway redis-server on a unix socket: ours to FLUSHALL."""
    with private_redis_server() as url:
        client = redis.Redis.from_url(url)
        try:
            yield client, url
        finally:
            client.close()
