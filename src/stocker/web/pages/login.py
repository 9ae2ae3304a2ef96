"""The login page: the API key goes into the `stocker_key` HttpOnly cookie, never into a page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocker.web.site import COOKIE

if TYPE_CHECKING:
    from stocker.web.site import Site

COOKIE_DAYS = 30
REFUSALS = {
    "401": "That page needs an API key: paste one below (`stocker api-key create`).",
    "403": "Your API key lacks the scope that page needs; log in with a key that has it.",
}


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never another host) is a place to return to."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/", refused: str | None = None) -> Response:
        return site.render(
            request,
            "login.html",
            next=_safe_next(next),
            error=REFUSALS.get(refused or ""),
            logged_in=COOKIE in request.cookies,
        )

    @router.post("/login")
    def login(
        request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
    ) -> Response:
        key = key.strip()
        if not key or len(key) > 200 or not key.isprintable():
            return site.render(
                request,
                "login.html",
                status_code=422,
                next=_safe_next(next),
                error="key: paste the API key `stocker api-key create` printed",
                logged_in=False,
            )
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            COOKIE,
            key,
            max_age=COOKIE_DAYS * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router
