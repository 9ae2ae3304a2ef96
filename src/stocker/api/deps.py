"""What routes share: the App of a request, one paginated read, JSON without NaN.

`listing_route` declares a GET over one read model (`uow.reads`, a `Listing` in the store):
its filters become query parameters, a path parameter can name the parent (a run, a universe),
and every such route pages with `cursor` and `limit`.
"""

from __future__ import annotations

import inspect
import math
import unicodedata
from collections.abc import Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator

from stocker.api.auth import application, require_scope
from stocker.api.problems import NotFoundError
from stocker.api.schemas import Page

if TYPE_CHECKING:
    from stocker.bootstrap import App

Cursor = Annotated[
    str | None,
    Query(max_length=512, description="`next_cursor` of the previous page; omit for the first."),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page (1 to 1000).")]
Text = Annotated[str | None, Query(max_length=100)]
TICKER = r"^[A-Za-z0-9.^=/_\-]{1,20}$"
"""What a ticker may hold (BRK.B, BF-B, ^GSPC): no spaces, no invisible or non-ASCII letters."""
Symbol = Annotated[
    str | None, Query(max_length=20, pattern=TICKER, description="Ticker, e.g. AAPL.")
]


def visible(value: str) -> str:
    """A name or parameter with a control or invisible character (NUL, ZERO WIDTH SPACE, a
    no-break space) would be stored or looked up as something a person cannot read or type."""
    hidden = next((char for char in value if not char.isprintable()), None)
    if hidden is not None:
        name = unicodedata.name(hidden, "a control character")
        raise ValueError(
            f"got {value!r}, with U+{ord(hidden):04X} {name} at character "
            f"{value.index(hidden)}, which cannot be seen; use visible characters only"
        )
    return value


Visible = AfterValidator(visible)
"""For a body's names: `Annotated[str, Visible, Field(...)]`."""


def visible_parameters(request: Request) -> None:
    """Every path and query value of an API route must be visible text (see `visible`)."""
    sources = (("path", request.path_params.items()), ("query", request.query_params.multi_items()))
    for where, values in sources:
        for name, value in values:
            try:
                visible(str(value))
            except ValueError as error:
                raise RequestValidationError(
                    [{"type": "visible", "loc": (where, name), "msg": str(error), "input": value}]
                ) from None


def plain(value: Any) -> Any:
    """`value` with NaN and infinities as None (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


class SafeJSONResponse(JSONResponse):
    """JSON where a NaN (a missing research number) is null rather than a server error."""

    def render(self, content: Any) -> bytes:
        return super().render(plain(content))


def read_page(
    app: App, listing: str, filters: Mapping[str, Any], cursor: str | None, limit: int
) -> dict[str, Any]:
    with app.uow() as uow:
        page = uow.reads.page(listing, filters, cursor=cursor, limit=limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


def read_one(app: App, listing: str, filters: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The row of `listing` matching `filters`, or 404 naming `what`."""
    with app.uow() as uow:
        found = uow.reads.one(listing, filters)
    if found is None:
        raise NotFoundError(f"{what}: not found")
    return found


def listing_route(
    router: APIRouter,
    path: str,
    listing: str,
    model: Any,
    *,
    summary: str,
    filters: Mapping[str, Any] | None = None,
    parent: tuple[str, str, Any, str, str] | None = None,
    tags: list[str | Enum] | None = None,
    operation_id: str | None = None,
) -> None:
    """GET `path` → one page of `listing`. `filters` maps a filter name to its query annotation;
    `parent` is (path parameter, filter name, annotation, parent listing, its filter): the
    parent must exist (else 404) and the rows are filtered by it."""
    filters = dict(filters or {})

    def endpoint(request: Request, **arguments: Any) -> dict[str, Any]:
        app = application(request)
        cursor, limit = arguments.pop("cursor"), arguments.pop("limit")
        start, end = arguments.get("start"), arguments.get("end")
        if start is not None and end is not None and end < start:
            raise RequestValidationError(
                [
                    {
                        "type": "range",
                        "loc": ("query", "end"),
                        "msg": f"{end} is before start {start}",
                        "input": str(end),
                    }
                ]
            )
        if parent is not None:
            name, filter_name, _, parent_listing, parent_filter = parent
            value = arguments.pop(name)
            read_one(app, parent_listing, {parent_filter: value}, f"{name} {value!r}")
            arguments[filter_name] = value
        return read_page(app, listing, arguments, cursor, limit)

    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    ]
    if parent is not None:
        parameters.append(inspect.Parameter(parent[0], keyword, annotation=parent[2]))
    parameters += [
        inspect.Parameter(name, keyword, annotation=annotation, default=None)
        for name, annotation in filters.items()
    ]
    parameters += [
        inspect.Parameter("cursor", keyword, annotation=Cursor, default=None),
        inspect.Parameter("limit", keyword, annotation=Limit, default=100),
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = f"list_{listing}"
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        response_model=Page[model],
        summary=summary,
        operation_id=operation_id or f"list_{listing}",
        dependencies=[Depends(require_scope("read"))],
        tags=tags,
    )
