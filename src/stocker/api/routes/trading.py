"""Trading: signals, targets, orders (with their `explain` lineage), fills, holdings, portfolio
state, running a session; the ledger's journal and its verification."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import Symbol, listing_route

router = APIRouter(tags=["trading"])
ledger = APIRouter(tags=["ledger"])
Day = Annotated[dt.date | None, Query()]
Portfolio = Annotated[str | None, Query(max_length=50, examples=["trend"])]
DATES = {"start": Day, "end": Day}
READ = [Depends(require_scope("read"))]


class RunDay(BaseModel):
    date: dt.date = Field(examples=["2024-06-28"], description="The session to run.")


listing_route(
    router,
    "/trading/signals",
    "signals",
    schemas.Signal,
    summary="Signals per strategy version, symbol and date",
    filters={"strategy": Annotated[str | None, Query(max_length=50)], "symbol": Symbol, **DATES},
)
listing_route(
    router,
    "/trading/targets",
    "targets",
    schemas.Target,
    summary="Target exposures per portfolio, symbol and date",
    filters={"portfolio": Portfolio, "symbol": Symbol, **DATES},
)
listing_route(
    router,
    "/trading/orders",
    "orders",
    schemas.Order,
    summary="Orders, by session date",
    filters={
        "portfolio": Portfolio,
        "symbol": Symbol,
        "status": Annotated[str | None, Query(pattern="^(PENDING|SHIPPED|FILLED|CANCELED)$")],
        **DATES,
    },
)
listing_route(
    router,
    "/trading/fills",
    "fills",
    schemas.Fill,
    summary="Fills, as recorded",
    filters={"symbol": Symbol, "order_id": Annotated[str | None, Query(max_length=36)]},
)
listing_route(
    router,
    "/trading/holdings",
    "holdings",
    schemas.Holding,
    summary="Holdings per portfolio and date",
    filters={"portfolio": Portfolio, "date": Day},
)
listing_route(
    router,
    "/trading/state",
    "portfolio_state",
    schemas.PortfolioState,
    summary="Portfolio state (NAV, cash, exposure, P&L, drawdown) per date",
    filters={"portfolio": Portfolio, **DATES},
)


@router.get(
    "/trading/orders/{order_id}/explain",
    summary="Why an order exists and why its size: order → target → signal → bars",
    dependencies=READ,
)
def explain(request: Request, order_id: Annotated[str, Path(max_length=36)]) -> dict[str, Any]:
    from stocker.trading.explain import explain as lineage

    return lineage(application(request).uow(), order_id).as_json()


@router.post(
    "/trading/run-day",
    summary="Run one session through every stage (strategies from the server's "
    "STOCKER_API_STRATEGIES); the portfolio states after it",
    dependencies=[Depends(require_scope("trade"))],
)
def run_day(request: Request, body: RunDay) -> dict[str, Any]:
    from stocker.trading.days import run_day_from_files

    app = application(request)
    report = run_day_from_files(app.uow, [app.settings.api_strategies], body.date, app.broker)
    return {
        "date": report.day.isoformat(),
        "handled": report.handled,
        "states": {
            portfolio: {
                "nav": str(state.nav),
                "cash": str(state.cash),
                "gross_exposure": str(state.gross_exposure),
                "drawdown": str(state.drawdown),
            }
            for portfolio, state in report.states.items()
        },
    }


listing_route(
    ledger,
    "/ledger/journal",
    "journal",
    schemas.JournalEntry,
    summary="Journal entries with their postings, in the order written",
    filters={"portfolio": Portfolio, "kind": Annotated[str | None, Query(max_length=20)]},
)


@ledger.get(
    "/ledger/verify", summary="Check every ledger invariant (changes nothing)", dependencies=READ
)
def verify(request: Request, portfolio: Portfolio = None) -> dict[str, Any]:
    from stocker.trading.ledger import verify as check

    return check(application(request).uow(), portfolio).as_json()


router.include_router(ledger)
