"""Live trading's safety: the kill switch (halt and resume a portfolio) and the reconciliation
breaks that halt one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import listing_route

router = APIRouter(tags=["trading"])
PortfolioPath = Annotated[str, Path(min_length=1, max_length=50, examples=["live"])]
Portfolio = Annotated[str | None, Query(max_length=50, examples=["live"])]
TRADE = [Depends(require_scope("trade"))]


class HaltRequest(BaseModel):
    reason: str = Field(
        default="halted by the operator", min_length=1, max_length=1000, examples=["earnings"]
    )


listing_route(
    router,
    "/trading/breaks",
    "breaks",
    schemas.Break,
    summary="Reconciliation breaks (disagreements with the broker), by id",
    filters={"portfolio": Portfolio, "open": Annotated[bool | None, Query()]},
)
listing_route(
    router,
    "/trading/halts",
    "halts",
    schemas.Halt,
    summary="Halted portfolios and why",
    filters={"portfolio": Portfolio},
)


def _live_broker(app: Any) -> Any:
    """The composition root's broker when it is a live one (its open orders get canceled)."""
    broker = app.broker
    return broker if getattr(broker, "live", False) else None


@router.post(
    "/trading/portfolios/{portfolio}/halt",
    summary="Kill switch: no new orders for the portfolio; its open broker orders canceled",
    dependencies=TRADE,
)
def halt(request: Request, portfolio: PortfolioPath, body: HaltRequest) -> dict[str, Any]:
    from stocker.trading.reconcile import halt as stop

    app = application(request)
    canceled = stop(app.uow, portfolio, body.reason, _live_broker(app))
    return {"portfolio": portfolio, "halted": True, "canceled": canceled}


@router.post(
    "/trading/portfolios/{portfolio}/resume",
    summary="Lift the kill switch (open breaks still halt the portfolio)",
    dependencies=TRADE,
)
def resume(request: Request, portfolio: PortfolioPath) -> dict[str, Any]:
    from stocker.trading.reconcile import resume as lift

    was, breaks = lift(application(request).uow, portfolio)
    return {"portfolio": portfolio, "was_halted": was, "open_breaks": breaks}
