"""The trading pipeline's rows as values: one frozen dataclass per table the trading repository
reads or writes, with its column list and its mapper from a result row.

They live apart from `trading.py` (the SQL) so the repository stays about the statements; every
name here is re-exported by `stocker.store.repositories.trading`, where callers import them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping


@dataclass(frozen=True, slots=True)
class SignalRow:
    """A `signals` row (``target_weight`` is the raw, unnormalized ``direction / ewma_vol``)."""

    id: int
    strategy_version: str
    symbol: str
    date: dt.date
    lookback_return: Decimal | None
    ewma_vol: Decimal | None
    direction: int | None
    target_weight: Decimal | None
    price_bar_id: int | None


@dataclass(frozen=True, slots=True)
class TargetRow:
    """A `target_exposures` row."""

    id: int
    portfolio_id: str
    date: dt.date
    symbol: str
    target_exposure: Decimal
    scaling_factor: Decimal | None
    is_capped: bool
    reason: str | None
    signal_id: int | None


@dataclass(frozen=True, slots=True)
class OrderRow:
    """An `orders` row; ``date`` is the session the order executes in (market on open)."""

    order_id: uuid.UUID
    portfolio_id: str
    date: dt.date
    symbol: str
    side: str
    qty: Decimal
    type: str
    status: str
    target_exposure_id: int | None


@dataclass(frozen=True, slots=True)
class OrderEventRow:
    """An `order_events` row."""

    order_id: uuid.UUID
    status: str
    broker_order_id: str | None
    detail: dict[str, Any] | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class FillRow:
    """A `fills` row."""

    fill_id: str
    order_id: uuid.UUID | None
    date: dt.datetime
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    commission: Decimal


@dataclass(frozen=True, slots=True)
class SignalValues:
    """One symbol's signal values for `add_signals` (None where there is no signal)."""

    symbol: str
    lookback_return: float | None
    ewma_vol: float | None
    direction: int | None
    target_weight: float | None
    price_bar_id: int | None


@dataclass(frozen=True, slots=True)
class BarRow:
    """A stored daily bar with its provenance (what a decision was computed from)."""

    id: int
    symbol: str
    date: dt.date
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    adj_close: Decimal
    volume: int
    source: str
    source_hash: str | None


SIGNAL_COLUMNS = (
    "id, strategy_version, symbol, date, lookback_return, ewma_vol, direction, target_weight, "
    "price_bar_id"
)
TARGET_COLUMNS = (
    "id, portfolio_id, date, symbol, target_exposure, scaling_factor, is_capped, reason, signal_id"
)
ORDER_COLUMNS = "order_id, portfolio_id, date, symbol, side, qty, type, status, target_exposure_id"
FILL_COLUMNS = "fill_id, order_id, date, symbol, side, qty, price, commission"
BAR_COLUMNS = "id, symbol, date, open, high, low, close, adj_close, volume, source, source_hash"


def signal_row(row: RowMapping) -> SignalRow:
    return SignalRow(**dict(row))


def target_row(row: RowMapping) -> TargetRow:
    return TargetRow(**{**dict(row), "is_capped": bool(row["is_capped"])})


def order_row(row: RowMapping) -> OrderRow:
    return OrderRow(**dict(row))


def fill_row(row: RowMapping) -> FillRow:
    return FillRow(**dict(row))


def bar_row(row: RowMapping) -> BarRow:
    return BarRow(**dict(row))
