"""Fixtures of the live-trading tests: the Alpaca stand-in on loopback and the adapter on it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib puts no test directory on sys.path; the tests share `live_helpers`.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_helpers import connect

from stocker.bootstrap import App
from stocker.brokers.alpaca import AlpacaBroker
from stocker.brokers.alpaca_standin import Book, FaultPlan, StandIn
from stocker.trading.live_broker import LiveTrading


@pytest.fixture
def book() -> Book:
    return Book(FaultPlan(seed=0))


@pytest.fixture
def stand_in(book: Book) -> Iterator[StandIn]:
    server = StandIn(book).start()
    yield server
    server.stop()


@pytest.fixture
def broker(stand_in: StandIn) -> Iterator[AlpacaBroker]:
    adapter = connect(stand_in)
    yield adapter
    adapter.close()


@pytest.fixture
def live(app: App, broker: AlpacaBroker) -> LiveTrading:
    return LiveTrading(app.uow, broker)
