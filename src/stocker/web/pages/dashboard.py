"""The dashboard: each trading portfolio's NAV and drawdown, exposures, the latest signals,
targets, orders and fills, and how fresh each source's data is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from stocker.web import charts
from stocker.web.queries import dashboard
from stocker.web.site import table

if TYPE_CHECKING:
    from stocker.web.queries import TradingPortfolio
    from stocker.web.site import Site

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


def routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=site.guard("read"))

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
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

    return router
