"""The web app (Jinja2 + HTMX, server-rendered): pages parse, call one use case or read model,
render. The API's application factory mounts it with `mount(api, app)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stocker.bootstrap import App


def mount(api: FastAPI, app: App) -> None:
    """Add the web app's pages and static files to the FastAPI application `api`."""
