"""The application factory: `create_app(app)` builds the FastAPI application on a Stocker App.

Routes live under `/api/v1` (one router per resource family), the schema at `/openapi.json`, the
web app is mounted by `stocker.web.mount`. Errors are problem+json (`stocker.api.problems`);
CORS is off unless origins are configured (`STOCKER_API_CORS_ORIGINS`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import stocker
from stocker.api import problems
from stocker.api.auth import KeyCache, require_scope
from stocker.api.deps import SafeJSONResponse, visible_parameters
from stocker.api.jobs import Jobs
from stocker.api.routes import (
    backtests,
    data,
    live,
    market,
    research,
    trading,
    universes,
    webhook,
)

if TYPE_CHECKING:
    from stocker.bootstrap import App

PREFIX = "/api/v1"
DESCRIPTION = """Every Stocker capability over HTTP.

Authenticate with an API key (`stocker api-key create`) as `Authorization: Bearer <key>`,
`X-API-Key: <key>` or the `stocker_key` cookie. Scopes: `read` (every GET), `research`,
`trade`, `admin`. Lists are paged: pass a page's `next_cursor` as `cursor`. Errors are
RFC 9457 `application/problem+json` naming the field and the reason.
"""


def create_app(app: App) -> FastAPI:
    """The HTTP API (and the web app) over `app`'s use cases and read models."""
    jobs = Jobs(app.settings.api_backtest_workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.shutdown()

    api = FastAPI(
        lifespan=lifespan,
        title="Stocker API",
        version=stocker.__version__,
        description=DESCRIPTION,
        default_response_class=SafeJSONResponse,
        openapi_url="/openapi.json",
    )
    api.state.stocker = app
    api.state.jobs = jobs
    api.state.key_cache = KeyCache(app.settings.api_key_cache_seconds)
    problems.install(api, app)
    api.add_middleware(HeadAsGet)
    for module in (market, universes, research, backtests, trading, live, data, webhook):
        api.include_router(module.router, prefix=PREFIX, dependencies=[Depends(visible_parameters)])
    origins = [origin.strip() for origin in app.settings.api_cors_origins.split(",")]
    if any(origins):
        from fastapi.middleware.cors import CORSMiddleware

        api.add_middleware(
            CORSMiddleware,
            allow_origins=[origin for origin in origins if origin],
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-None-Match"],
        )

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            schema = get_openapi(
                title=api.title,
                version=api.version,
                description=api.description,
                routes=api.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                webhook.components()
            )
            api.openapi_schema = problems.document(schema)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]
    from stocker.web import mount

    mount(api, app, require_scope=require_scope)
    return api


class HeadAsGet:
    """ASGI middleware: HEAD on any GET endpoint answers as GET would (status, headers, the
    same key check), without the body (RFC 9110 §9.3.2); the routes declare only GET."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self._app(scope, receive, send)
            return

        async def bodiless(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self._app({**scope, "method": "GET"}, receive, bodiless)


def from_environment() -> FastAPI:
    """The application on an App built from the environment (`stocker serve --workers N`
    starts one per server process)."""
    from stocker.bootstrap import build

    return create_app(build())
