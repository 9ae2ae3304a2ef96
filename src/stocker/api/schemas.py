"""Response models of the listings: one per read model, with examples for the schema.

Money and prices are `Decimal` (strings in JSON, exact); research numbers (weights, factor
z-scores, risk) are floats, as they are stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

T = TypeVar("T")
DAY = dt.date(2024, 6, 28)
AT = dt.datetime(2024, 6, 28, 20, 0, tzinfo=dt.UTC)


def ex(value: Any, description: str | None = None) -> Any:
    """A field with one example (and a description)."""
    return Field(examples=[value], description=description)


class Page(BaseModel, Generic[T]):
    """One page of a listing; pass `next_cursor` as `cursor` for the next (null: last page)."""

    items: list[T]
    next_cursor: str | None = ex("WyJwcmljZXMiLFsiQUFQTCIsIjIwMjQtMDYtMjgiXV0")


class Row(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class Instrument(Row):
    symbol: str = ex("AAPL")
    name: str | None = ex("Apple Inc.")
    asset_class: str | None = ex("US_EQUITY")
    sector: str | None = ex("Technology")
    industry: str | None = ex("Consumer Electronics")
    exchange: str | None = ex("NASDAQ")
    currency: str | None = ex("USD")
    active: bool | None = ex(True)


class Price(Row):
    symbol: str = ex("AAPL")
    date: dt.date = ex(DAY)
    open: Decimal = ex(Decimal("210.5000"))
    high: Decimal = ex(Decimal("214.0000"))
    low: Decimal = ex(Decimal("209.8000"))
    close: Decimal = ex(Decimal("212.4000"))
    adj_close: Decimal = ex(Decimal("212.4000"))
    volume: int = ex(51_200_000)
    source: str = ex("yahoo")


class CorporateAction(Row):
    symbol: str = ex("NVDA")
    date: dt.date = ex(dt.date(2024, 6, 10))
    action_type: str = ex("SPLIT", "SPLIT (value = new shares per old) or DIVIDEND (cash/share)")
    value: Decimal = ex(Decimal("10.0000"))
    source: str | None = ex("yahoo")


_METRIC_NUMBERS = [
    "market_cap",
    "enterprise_value",
    "beta",
    "pe_ttm",
    "pe_forward",
    "price_to_book",
    "price_to_sales",
    "ev_to_ebitda",
    "fcf_yield",
    "dividend_yield",
    "revenue",
    "ebitda",
    "net_income",
    "free_cash_flow",
    "gross_margin",
    "operating_margin",
    "net_margin",
    "roe",
    "roa",
    "roic",
    "roce",
    "revenue_growth_yoy",
    "earnings_growth_yoy",
    "eps_growth_yoy",
    "debt_to_equity",
    "current_ratio",
]
Metrics: Any = create_model(  # type: ignore[call-overload]
    "Metrics",
    __base__=Row,
    symbol=(str, ex("AAPL")),
    as_of_date=(dt.date, ex(DAY)),
    period_type=(str, ex("TTM")),
    source=(str, ex("screener_in")),
    currency=(str | None, ex("USD")),
    sector=(str | None, ex("Technology")),
    industry=(str | None, ex("Consumer Electronics")),
    **{name: (Decimal | None, ex(Decimal("1.2500"))) for name in _METRIC_NUMBERS},
)


class Universe(Row):
    name: str = ex("tech_leaders")
    description: str | None = ex("screen on 2024-06-28: pe < 30 and roe > 0.15")
    is_global: bool = ex(False)
    created_at: dt.datetime | None = ex(AT)
    members: int = ex(25)


class Member(Row):
    symbol: str = ex("MSFT")
    position: int | None = ex(1, "rank from the screener, 1 = first (null: unranked)")
    created_at: dt.datetime | None = ex(AT)


class TradingUniverseRow(Row):
    as_of_date: dt.date = ex(DAY)
    symbol: str = ex("AAPL")
    rank: int = ex(1)
    avg_dollar_volume: Decimal | None = ex(Decimal("10876543210.00"))
    source: str = ex("derived")
    lookback_days: int | None = ex(20)


class Breadth(Row):
    date: dt.date = ex(DAY)
    metric: str = ex("pct_above_sma200")
    scope: str | None = ex("US_ALL")
    value: Decimal = ex(Decimal("0.6125"))


class Sentiment(Row):
    id: int = ex(1)
    symbol: str | None = ex("AAPL", "null: market-wide")
    date: dt.date = ex(DAY)
    source: str = ex("news")
    sentiment_score: Decimal = ex(Decimal("0.3500"), "-1 (negative) to 1 (positive)")
    sentiment_magnitude: Decimal | None = ex(Decimal("2.1000"))
    article_count: int | None = ex(14)


class Factors(Row):
    symbol: str = ex("AAPL")
    as_of_date: dt.date = ex(DAY)
    value: float | None = ex(-0.42)
    quality: float | None = ex(1.31)
    momentum: float | None = ex(0.88)
    low_vol: float | None = ex(0.12)
    size: float | None = ex(2.05)
    composite_score: float | None = ex(0.74)
    null_reasons: dict[str, str] = ex({"value": "no fundamentals as of 2024-06-28"})


class Risk(Row):
    symbol: str = ex("AAPL")
    as_of_date: dt.date = ex(DAY)
    volatility: float | None = ex(0.24)
    beta: float | None = ex(1.12)
    tail_beta: float | None = ex(1.3)
    skew: float | None = ex(-0.2)
    kurtosis: float | None = ex(4.1)
    null_reasons: dict[str, str] = ex({})


class CovarianceEntry(Row):
    id: int = ex(3)
    as_of_date: dt.date = ex(DAY)
    universe_hash: str = ex("9f2c0e…", "sha256 of the comma-joined symbols")
    method: str = ex("ledoit_wolf/252d")
    size: int = ex(25)
    created_at: dt.datetime = ex(AT)


class HrpTreeEntry(Row):
    id: int = ex(2)
    as_of_date: dt.date = ex(DAY)
    universe_hash: str = ex("9f2c0e…")
    linkage: str = ex("single")
    symbols: list[str] = ex(["AAPL", "MSFT", "XOM"])
    tree: Any = ex({"order": ["XOM", "AAPL", "MSFT"]})
    created_at: dt.datetime = ex(AT)


class PortfolioRow(Row):
    code: str = ex("tech_minvar")
    name: str = ex("Tech minimum variance")
    description: str | None = ex(None)
    group: str | None = ex("tech_leaders")
    method: str | None = ex("min_variance")
    expected_return_mode: str | None = ex("historical")
    initial_capital: Decimal | None = ex(Decimal("1000000.0000"))
    created_at: dt.datetime = ex(AT)


class Weight(Row):
    portfolio: str = ex("tech_minvar")
    date: dt.date = ex(DAY)
    symbol: str = ex("MSFT")
    weight: float = ex(0.12)


class BacktestRow(Row):
    id: int = ex(7)
    portfolio: str = ex("tech_minvar")
    start_date: dt.date = ex(dt.date(2021, 1, 4))
    end_date: dt.date = ex(DAY)
    rebalance_frequency: str = ex("MONTHLY")
    transaction_cost: float = ex(0.001)
    initial_capital: Decimal = ex(Decimal("1000000.0000"))
    status: str = ex("COMPLETED", "PENDING, RUNNING, COMPLETED or FAILED")
    created_at: dt.datetime = ex(AT)
    finished_at: dt.datetime | None = ex(AT)
    error: str | None = ex(None)


class TimeseriesRow(Row):
    date: dt.date = ex(DAY)
    nav: Decimal = ex(Decimal("1183402.1100"))
    return_: float | None = Field(default=None, alias="return", examples=[0.0031])
    cumulative_return: float | None = ex(0.1834)
    drawdown: float | None = ex(-0.042)
    volatility_rolling: float | None = ex(0.15)


class BacktestHolding(Row):
    date: dt.date = ex(DAY)
    symbol: str = ex("MSFT")
    shares: float = ex(310.5)
    weight: float = ex(0.12)
    sector: str | None = ex("Technology")


class BacktestTrade(Row):
    rebalance_date: dt.date = ex(DAY)
    symbol: str = ex("MSFT")
    shares_delta: float = ex(-12.0)
    trade_value: Decimal = ex(Decimal("-5021.3300"))
    transaction_cost: Decimal = ex(Decimal("5.0200"))


class SectorExposure(Row):
    date: dt.date = ex(DAY)
    sector: str = ex("Technology")
    weight: float = ex(0.48)


class FactorExposure(Row):
    date: dt.date = ex(DAY)
    value: float | None = ex(-0.1)
    quality: float | None = ex(0.6)
    momentum: float | None = ex(0.4)
    low_vol: float | None = ex(0.9)
    size: float | None = ex(1.2)


class Signal(Row):
    id: int = ex(1)
    strategy_version: str = ex("trend-v1")
    symbol: str = ex("AAPL")
    date: dt.date = ex(DAY)
    lookback_return: Decimal | None = ex(Decimal("0.124000"))
    ewma_vol: Decimal | None = ex(Decimal("0.018000"))
    direction: int | None = ex(1, "-1 short, 0 flat, 1 long")
    target_weight: Decimal | None = ex(Decimal("0.050000"))


class Target(Row):
    id: int = ex(1)
    portfolio: str = ex("trend")
    date: dt.date = ex(DAY)
    symbol: str = ex("AAPL")
    target_exposure: Decimal = ex(Decimal("0.050000"))
    scaling_factor: Decimal | None = ex(Decimal("1.0000"))
    is_capped: bool | None = ex(False)
    reason: str | None = ex(None)
    signal_id: int | None = ex(1)


class Order(Row):
    order_id: str = ex("6f1c2a8e-3b7d-5e4f-9a10-2b3c4d5e6f70")
    portfolio: str = ex("trend")
    date: dt.date = ex(DAY)
    symbol: str = ex("AAPL")
    side: str | None = ex("BUY")
    qty: Decimal = ex(Decimal("25.0000"))
    type: str | None = ex("MOO")
    status: str | None = ex("FILLED")
    broker_order_id: str | None = ex(None)
    created_at: dt.datetime | None = ex(AT)
    updated_at: dt.datetime | None = ex(AT)


class Fill(Row):
    fill_id: str = ex("paper-6f1c2a8e-1")
    order_id: str | None = ex("6f1c2a8e-3b7d-5e4f-9a10-2b3c4d5e6f70")
    date: dt.datetime = ex(AT)
    symbol: str = ex("AAPL")
    side: str = ex("BUY")
    qty: Decimal = ex(Decimal("25.0000"))
    price: Decimal = ex(Decimal("212.4000"))
    commission: Decimal | None = ex(Decimal("0.0000"))
    exchange: str | None = ex(None)


class Holding(Row):
    portfolio: str = ex("trend")
    date: dt.date = ex(DAY)
    symbol: str = ex("AAPL")
    qty: Decimal = ex(Decimal("25.0000"))
    cost_basis: Decimal = ex(Decimal("212.4000"))
    market_value: Decimal = ex(Decimal("5310.0000"))


class PortfolioState(Row):
    portfolio: str = ex("trend")
    date: dt.date = ex(DAY)
    nav: Decimal = ex(Decimal("100250.0000"))
    cash: Decimal = ex(Decimal("94940.0000"))
    gross_exposure: Decimal = ex(Decimal("0.0530"))
    net_exposure: Decimal = ex(Decimal("0.0530"))
    realized_pnl: Decimal = ex(Decimal("0.0000"))
    unrealized_pnl: Decimal = ex(Decimal("250.0000"))
    drawdown: Decimal = ex(Decimal("0.0000"))
    high_water_mark: Decimal = ex(Decimal("100250.0000"))


class Posting(Row):
    account: str = ex("assets:cash")
    symbol: str | None = ex(None)
    quantity: str | None = ex(None)
    amount: str = ex("-5310.0000")
    currency: str = ex("USD")


class JournalEntry(Row):
    entry_id: str = ex("0b8f…")
    portfolio: str = ex("trend")
    date: dt.date = ex(DAY)
    kind: str = ex("FILL")
    fill_id: str | None = ex("paper-6f1c2a8e-1")
    corrects_entry_id: str | None = ex(None)
    description: str | None = ex("BUY 25 AAPL @ 212.40")
    postings: list[Posting]


class QuarantineRow(Row):
    id: int = ex(12)
    batch_id: str | None = ex("5c0e…")
    table: str = ex("prices_daily")
    source: str = ex("csv")
    row_number: int | None = ex(42)
    symbol: str | None = ex("AAPL")
    status: str = ex("QUARANTINED", "QUARANTINED, RELEASED or DISCARDED")
    reasons: list[str] = ex(["high_is_highest: high 10.0 < close 11.0"])
    raw_row: Any = ex({"symbol": "AAPL", "date": "2024-06-28", "high": "10.0"})
    created_at: dt.datetime = ex(AT)
    resolved_at: dt.datetime | None = ex(None)
    resolution_note: str | None = ex(None)


class Break(Row):
    id: int = ex(3)
    portfolio: str = ex("live")
    kind: str = ex("position", "position, outside_order, in_flight or late_fill")
    symbol: str | None = ex("AAPL")
    order_id: str | None = ex(None)
    broker_order_id: str | None = ex(None)
    ours: dict[str, Any] = ex({"qty": "25"})
    broker: dict[str, Any] = ex({"qty": "20"})
    reason: str = ex("position AAPL: ours 25, broker 20")
    found_at: dt.datetime = ex(AT)
    resolved_at: dt.datetime | None = ex(None)
    resolution: str | None = ex(None, "broker or ours, once resolved")
    note: str | None = ex(None)


class Halt(Row):
    portfolio: str = ex("live")
    reason: str = ex("halted by the operator")
    halted_at: dt.datetime = ex(AT)
