"""Market data: instruments, prices, corporate actions, metrics and fundamentals, the trading
universe, breadth and sentiment (all read models, paged by cursor)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import Symbol, Text, listing_route, read_one

router = APIRouter(tags=["market data"])
Day = Annotated[dt.date | None, Query(description="On or after (start) / on or before (end).")]
SymbolPath = Annotated[str, Path(max_length=20, examples=["AAPL"])]
DATES = {"start": Day, "end": Day}

listing_route(
    router,
    "/instruments",
    "instruments",
    schemas.Instrument,
    summary="Instruments (the master list), by symbol",
    filters={
        "sector": Text,
        "exchange": Text,
        "active": bool | None,
        "prefix": Annotated[str | None, Query(max_length=20, description="Symbol prefix.")],
    },
)


@router.get(
    "/instruments/{symbol}",
    response_model=schemas.Instrument,
    summary="One instrument",
    dependencies=[Depends(require_scope("read"))],
)
def get_instrument(request: Request, symbol: SymbolPath) -> dict[str, Any]:
    return read_one(application(request), "instruments", {"symbol": symbol}, f"symbol {symbol!r}")


listing_route(
    router,
    "/prices",
    "prices",
    schemas.Price,
    summary="Daily bars, by symbol then date",
    filters={"symbol": Symbol, **DATES},
)
listing_route(
    router,
    "/instruments/{symbol}/prices",
    "prices",
    schemas.Price,
    summary="Daily bars of one instrument, by date",
    filters=DATES,
    parent=("symbol", "symbol", SymbolPath, "instruments", "symbol"),
    operation_id="list_prices_of_instrument",
)
listing_route(
    router,
    "/corporate-actions",
    "corporate_actions",
    schemas.CorporateAction,
    summary="Splits and dividends, by symbol and ex-date",
    filters={
        "symbol": Symbol,
        "action_type": Annotated[str | None, Query(pattern="^(SPLIT|DIVIDEND)$")],
        **DATES,
    },
)
listing_route(
    router,
    "/metrics",
    "metrics",
    schemas.Metrics,
    summary="Fundamentals and valuation metrics, point in time",
    filters={
        "symbol": Symbol,
        "period_type": Annotated[str | None, Query(pattern="^(DAILY|TTM|FQ|FY)$")],
        **DATES,
    },
)
listing_route(
    router,
    "/trading-universe",
    "trading_universe",
    schemas.TradingUniverseRow,
    summary="The dynamic trading universe (top N by dollar volume), by date and rank",
    filters={"date": dt.date | None, "source": Text},
)
listing_route(
    router,
    "/breadth",
    "breadth",
    schemas.Breadth,
    summary="Market breadth per date, metric and scope",
    filters={"metric": Text, "scope": Text, **DATES},
)
listing_route(
    router,
    "/sentiment",
    "sentiment",
    schemas.Sentiment,
    summary="News and social sentiment per symbol (or market-wide) and date",
    filters={"symbol": Symbol, "source": Text, "market_wide": bool | None, **DATES},
)
