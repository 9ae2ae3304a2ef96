"""What every page shares: the App, the templates, the scope guard, background jobs, errors.

A page handler parses its input, calls one use case or read model through `Site`, and renders a
template. Use-case errors (`StockerError`) become the page again with the message shown, never
a traceback.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from stocker.web.jobs import Jobs

if TYPE_CHECKING:
    from stocker.bootstrap import App

HERE = Path(__file__).resolve().parent
COOKIE = "stocker_key"
"""The HttpOnly cookie the login page stores the API key in (read by the API's key check)."""
ScopeGuard = Callable[[str], Callable[..., Any]]
"""`require_scope(scope)` of the API: a FastAPI dependency refusing a request without the scope."""

NAVIGATION = (
    ("/", "Dashboard"),
    ("/data", "Data"),
    ("/screener", "Screener"),
    ("/groups", "Groups"),
    ("/builder", "Portfolio builder"),
    ("/backtests", "Backtests"),
    ("/trade", "Trade"),
)


def number(value: Any, digits: int = 4) -> str:
    """A number for a table cell: blank for missing, thousands separated when large."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | decimal.Decimal):
        as_float = float(value)
        if math.isnan(as_float):
            return ""
        if isinstance(value, int) or abs(as_float) >= 1000:
            return f"{as_float:,.{0 if isinstance(value, int) else 2}f}"
        return f"{as_float:.{digits}g}"
    return str(value)


def percent(value: Any, digits: int = 2) -> str:
    if value is None:
        return ""
    as_float = float(value)
    return "" if math.isnan(as_float) else f"{as_float:.{digits}%}"


def cell(value: Any) -> str:
    """Any stored value as table text (dates as ISO, numbers via `number`)."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "date") and callable(value.date) and hasattr(value, "hour"):
        return str(value.date()) if value.hour == 0 and value.minute == 0 else str(value)
    return number(value)


@dataclass
class Site:
    """The web app's state: one per mounted FastAPI application."""

    app: App
    require_scope: ScopeGuard | None
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates"))
    )
    jobs: Jobs = field(default_factory=Jobs)

    def __post_init__(self) -> None:
        env = self.templates.env
        env.filters["number"] = number
        env.filters["percent"] = percent
        env.filters["cell"] = cell
        env.globals["navigation"] = NAVIGATION

    def guard(self, scope: str) -> list[Any]:
        """The dependencies a route needs for `scope` (none when mounted without a key check)."""
        if self.require_scope is None:
            return []
        return [Depends(self.require_scope(scope))]

    def render(
        self,
        request: Request,
        template: str,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("notice", None)
        context["path"] = request.url.path
        return self.templates.TemplateResponse(request, template, context, status_code=status_code)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> dict[str, Any]:
    """Rows as a template table: its columns and each row's cells in that order."""
    names = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    return {"columns": names, "rows": [[row.get(name) for name in names] for row in rows]}


def frame_table(frame: Any, columns: Sequence[str] | None = None) -> dict[str, Any]:
    """A pandas frame as a template table (the index kept as a column when it is named)."""
    if frame.index.name is not None:
        frame = frame.reset_index()
    names = [str(name) for name in (columns or frame.columns)]
    return {
        "columns": names,
        "rows": [list(values) for values in frame[names].itertuples(index=False, name=None)],
    }
