"""Static files: the stylesheet, the page script, vendored htmx and plotly.js from `plotly`."""

from __future__ import annotations

from importlib.resources import files
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

from stocker.web.site import HERE

if TYPE_CHECKING:
    from stocker.web.site import Site

TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
SERVED = ("app.css", "app.js", "htmx.min.js")
CACHE = "public, max-age=3600"


def _plotly_js() -> bytes:
    """plotly.js as shipped inside the installed `plotly` Python package (no CDN)."""
    return files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


def routes(site: Site) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    cache: dict[str, bytes] = {}

    @router.get("/static/{name}")
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            body = cache.get(name) or cache.setdefault(name, _plotly_js())
        elif name in SERVED:
            body = (HERE / "static" / name).read_bytes()
        else:
            raise HTTPException(404, f"no static file {name!r}")
        suffix = name[name.rfind(".") :]
        return Response(body, media_type=TYPES[suffix], headers={"Cache-Control": CACHE})

    return router
