"""Data: coverage per symbol and source, the quarantine with its reasons, release and discard."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocker.core.errors import StockerError
from stocker.web.csv_export import table_csv
from stocker.web.queries import coverage
from stocker.web.site import table

if TYPE_CHECKING:
    from stocker.web.site import Site

QUARANTINE_SHOWN = 200


def routes(site: Site) -> APIRouter:
    reader = APIRouter(include_in_schema=False, dependencies=site.guard("read"))
    admin = APIRouter(include_in_schema=False, dependencies=site.guard("admin"))

    def _page(request: Request, status: str, **extra: Any) -> HTMLResponse:
        from stocker.data.quarantine import STATUSES, list_entries

        error = extra.pop("error", None)
        entries = []
        try:
            entries = list_entries(
                site.app.uow(), status=None if status == "ALL" else status, limit=QUARANTINE_SHOWN
            )
        except StockerError as failure:
            error = str(failure)
        rows = [
            {
                "id": entry.id,
                "table": entry.target_table,
                "source": entry.source,
                "symbol": entry.symbol,
                "row": json.dumps(entry.raw_row, default=str, sort_keys=True),
                "reasons": "; ".join(entry.reasons),
                "status": entry.status,
                "note": entry.resolution_note,
            }
            for entry in entries
        ]
        return site.render(
            request,
            "data.html",
            coverage=table(coverage(site.app.uow())),
            entries=rows,
            status=status,
            statuses=(*STATUSES, "ALL"),
            error=error,
            **extra,
        )

    @reader.get("/data", response_class=HTMLResponse)
    def data_page(
        request: Request, status: str = "QUARANTINED", done: str | None = None
    ) -> HTMLResponse:
        return _page(request, status.upper(), notice=done)

    @reader.get("/data/coverage.csv")
    def coverage_csv() -> Response:
        return table_csv(table(coverage(site.app.uow())), "coverage.csv")

    @admin.post("/data/quarantine")
    def decide(
        request: Request,
        action: Annotated[str, Form()],
        ids: Annotated[list[int] | None, Form()] = None,
        note: Annotated[str, Form()] = "",
        accept: Annotated[list[str] | None, Form()] = None,
    ) -> Response:
        from stocker.data.quarantine import discard, release

        chosen = ids or []
        try:
            if not chosen:
                raise StockerError("ids: tick at least one quarantined row")
            if action == "release":
                report = release(
                    site.app.uow(),
                    chosen,
                    today=site.app.clock.today(),
                    note=note.strip() or None,
                    accept=accept or (),
                )
                still = report.still_quarantined
                message = f"released {len(report.released)} row(s)" + (
                    f"; still quarantined: {', '.join(map(str, still))}" if still else ""
                )
            elif action == "discard":
                changed = discard(site.app.uow(), chosen, note)
                message = f"discarded {changed} row(s)"
            else:
                raise StockerError(f"action: got {action!r}, expected release or discard")
        except StockerError as failure:
            return _page(request, "QUARANTINED", error=str(failure))
        return RedirectResponse(f"/data?done={message}", status_code=303)

    router = APIRouter()
    router.include_router(reader)
    router.include_router(admin)
    return router
