"""Trade: orders with their lifecycle and fills, and the `explain` view of each order."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from stocker.core.errors import StockerError
from stocker.web.csv_export import table_csv
from stocker.web.queries import orders
from stocker.web.site import table

if TYPE_CHECKING:
    from stocker.web.site import Site

ORDER_COLUMNS = (
    "order_id", "date", "portfolio_id", "symbol", "side", "qty", "type", "status", "filled_qty",
    "avg_price", "commission", "lifecycle",
)  # fmt: skip


def routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False, dependencies=site.guard("read"))

    @router.get("/trade", response_class=HTMLResponse)
    def trade_page(request: Request, portfolio: str = "") -> HTMLResponse:
        rows = orders(site.app.uow(), portfolio or None)
        return site.render(
            request,
            "trade.html",
            orders=rows,
            columns=ORDER_COLUMNS,
            portfolio=portfolio,
            portfolios=sorted({str(row["portfolio_id"]) for row in rows}),
        )

    @router.get("/trade/orders.csv")
    def orders_csv(portfolio: str = "") -> Response:
        return table_csv(
            table(orders(site.app.uow(), portfolio or None), ORDER_COLUMNS), "orders.csv"
        )

    @router.get("/trade/orders/{order_id}", response_class=HTMLResponse)
    def explain_page(request: Request, order_id: str) -> HTMLResponse:
        from stocker.trading.explain import explain

        try:
            found = explain(site.app.uow(), order_id)
        except StockerError as failure:
            return site.render(
                request, "trade.html", status_code=404, orders=[], columns=ORDER_COLUMNS,
                portfolio="", portfolios=[], error=str(failure),
            )  # fmt: skip
        return site.render(
            request,
            "explain.html",
            found=found,
            events=table(
                [
                    {"status": e.status, "at": e.created_at, "broker_order_id": e.broker_order_id}
                    for e in found.events
                ]
            ),
            fills=table([dataclasses.asdict(fill) for fill in found.fills]),
            bars=table([dataclasses.asdict(bar) for bar in found.bars]),
        )

    return router
