"""The web app (Jinja2 + HTMX, server-rendered): pages parse, call one use case or read model,
render. The API's application factory mounts it with
`mount(api, app, require_scope=require_scope)`.

Pages sit at the root (`/`, `/data`, `/screener`, `/groups`, `/builder`, `/backtests`,
`/trade`), static files under `/static` (htmx vendored, plotly.js served from the installed
`plotly` package: no CDN). Each page depends on the API's key check for its scope
(`require_scope`, passed in by the API's factory): reads need ``read``,
research work ``research``, orders and the halt switch ``trade``, quarantine decisions
``admin``. The key comes from the `stocker_key` HttpOnly cookie the login page sets. A page
refused for a missing or wrong key redirects the browser to the login page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stocker.bootstrap import App
    from stocker.web.site import ScopeGuard

PAGE_PREFIXES = ("/data", "/screener", "/groups", "/builder", "/backtests", "/trade")


def _is_page(path: str) -> bool:
    return path == "/" or any(
        path == prefix or path.startswith(prefix + "/") for prefix in PAGE_PREFIXES
    )


def mount(api: FastAPI, app: App, *, require_scope: ScopeGuard) -> None:
    """Add the web app's pages and static files to the FastAPI application `api`; every page
    depends on `require_scope(scope)`, the API's key check (the web app sits below the API)."""
    from urllib.parse import quote

    from fastapi import Request
    from fastapi.responses import RedirectResponse, Response

    from stocker.web import static_files
    from stocker.web.pages import backtests, dashboard, data, login, research, trade
    from stocker.web.site import Site

    site = Site(app=app, require_scope=require_scope)
    api.state.web = site
    for module in (static_files, login, dashboard, data, research, backtests, trade):
        api.include_router(module.routes(site))

    @api.middleware("http")
    async def login_on_refusal(request: Request, call_next: Any) -> Response:
        """A page refused for its key sends the browser to the login page instead."""
        response: Response = await call_next(request)
        if response.status_code in (401, 403) and _is_page(request.url.path):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            location = f"/login?next={quote(target)}&refused={response.status_code}"
            if request.headers.get("HX-Request"):
                return Response(status_code=204, headers={"HX-Redirect": location})
            return RedirectResponse(location, status_code=303)
        return response
