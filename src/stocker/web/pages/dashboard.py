"""The dashboard: each trading portfolio's NAV and drawdown, exposures, the latest signals,
targets, orders and fills, and how fresh each source's data is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocker.core.errors import StockerError
from stocker.web import charts
from stocker.web.queries import dashboard
from stocker.web.site import table

if TYPE_CHECKING:
    from stocker.web.queries import TradingPortfolio
    from stocker.web.site import Site

NOTICE_CHARACTERS = 120
REASON_CHARACTERS = 500
ORDER_COLUMNS = (
    "date", "portfolio_id", "symbol", "side", "qty", "status", "filled_qty", "avg_price",
    "commission",
)  # fmt: skip


def _charts(portfolio: TradingPortfolio) -> dict[str, Any]:
    days = [row["date"] for row in portfolio.history]
    nav = charts.figure(
        [charts.line(days, [row["nav"] for row in portfolio.history], "NAV")],
        f"{portfolio.id}: NAV",
    )
    drawdown = charts.figure(
        [
            charts.line(
                days, [row["drawdown"] for row in portfolio.history], "drawdown", fill="tozeroy"
            )
        ],
        f"{portfolio.id}: drawdown",
        yaxis={"tickformat": ".1%"},
    )
    exposure = charts.figure(
        [
            charts.line(days, [row["gross_exposure"] for row in portfolio.history], "gross"),
            charts.line(days, [row["net_exposure"] for row in portfolio.history], "net"),
        ],
        f"{portfolio.id}: exposure",
    )
    return {"nav": nav, "drawdown": drawdown, "exposure": exposure}


def _live_broker(app: Any) -> Any:
    """The composition root's broker when it is a live one (its open orders get canceled)."""
    broker = app.broker
    return broker if getattr(broker, "live", False) else None


def routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=site.guard("read"))
    trader = APIRouter(include_in_schema=False, dependencies=site.guard("trade"))

    @trader.post("/trade/halt")
    def halt_switch(
        request: Request,
        portfolio: Annotated[str, Form()],
        action: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
    ) -> Response:
        from stocker.trading.reconcile import halt, resume

        try:
            if action == "halt":
                reason = reason.strip()
                if not reason or len(reason) > REASON_CHARACTERS:
                    raise StockerError(f"reason: say why, in 1 to {REASON_CHARACTERS} characters")
                # What `stocker trade halt` does: the halt row, then the live broker's open
                # orders of the portfolio canceled.
                canceled = halt(site.app.uow, portfolio, reason, _live_broker(site.app))
                done = f"{portfolio} halted" + (
                    f"; {len(canceled)} open order(s) canceled" if canceled else ""
                )
            elif action == "resume":
                was, open_breaks = resume(site.app.uow, portfolio)
                done = f"{portfolio} may trade again" if was else f"{portfolio} was not halted"
                if open_breaks:
                    done += f" ({open_breaks} open break(s) still halt it)"
            else:
                raise StockerError(f"action: got {action!r}, expected halt or resume")
        except StockerError as failure:
            return _home(request, None, str(failure))
        return RedirectResponse(f"/?{urlencode({'done': done})}", status_code=303)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request, done: str | None = None) -> HTMLResponse:
        return _home(request, done, None)

    def _home(request: Request, done: str | None, error: str | None) -> HTMLResponse:
        found = dashboard(site.app.uow)
        sources = [
            {
                "source": item.source,
                "symbols": item.symbols,
                "rows": item.rows,
                "first": item.first,
                "last": item.last,
            }
            for item in found.sources
        ]
        return site.render(
            request,
            "dashboard.html",
            status_code=422 if error else 200,
            notice=done[:NOTICE_CHARACTERS] if done else None,
            error=error,
            board=found,
            portfolios=[
                {
                    "item": item,
                    "charts": _charts(item),
                    "targets": table(item.targets),
                    "holdings": table(item.holdings),
                }
                for item in found.portfolios
            ],
            signals=table(found.signals),
            orders=table(found.orders, ORDER_COLUMNS),
            sources=table(sources),
            breaks=None if found.breaks is None else table(found.breaks),
        )

    merged = APIRouter()
    merged.include_router(router)
    merged.include_router(trader)
    return merged
