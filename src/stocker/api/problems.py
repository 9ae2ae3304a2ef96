"""Errors as RFC 9457 problem details (`application/problem+json`): a title, the status, a
detail naming the field and the reason, and for request validation every field at fault.

No stack trace reaches a client: Stocker's own errors become 4xx with their message, an
infrastructure failure is described by the composition root (503), and anything else is a bug,
answered with a generic 500 and logged here with its traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stocker.core.errors import (
    BrokerError,
    ConfigError,
    DataError,
    InfeasibleError,
    ServiceError,
    SourceError,
    StockerError,
)

if TYPE_CHECKING:
    from fastapi import FastAPI

    from stocker.bootstrap import App

PROBLEM = "application/problem+json"
log = logging.getLogger("stocker.api")


class FieldError(BaseModel):
    """One field at fault and why."""

    field: str = Field(examples=["query.limit"])
    reason: str = Field(examples=["Input should be less than or equal to 1000"])


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Bad Request"])
    status: int = Field(examples=[400])
    detail: str = Field(examples=["end: 2024-01-01 is before start 2024-06-30"])
    instance: str | None = Field(default=None, examples=["/api/v1/backtests"])
    field: str | None = Field(default=None, examples=["end"])
    errors: list[FieldError] = Field(default_factory=list)


class NotFoundError(StockerError):
    """The resource a path names does not exist."""


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    502: "Bad Gateway",
    503: "Service Unavailable",
    500: "Internal Server Error",
}
_FIELD = re.compile(r"^([A-Za-z_][\w.\-]*)(?:\s+(?:'[^']*'|\S+))?\s*:")
"""A message's leading `name:` or `name value:` names the field at fault."""
_NAMED = re.compile(r"^([A-Za-z_]\w*): (.+)$", re.DOTALL)
DATE_ERRORS = frozenset(
    {"date_from_datetime_parsing", "date_from_datetime_inexact", "date_parsing", "date_type"}
)


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The problem+json response for `status`; `field` is the message's leading `name:`."""
    found = _FIELD.match(detail)
    field = found.group(1) if found else (errors[0]["field"] if errors else None)
    if field is None:
        # "order id 'x' is not a UUID": the path parameter whose value the message quotes.
        field = next(
            (name for name, value in request.path_params.items() if repr(str(value)) in detail),
            None,
        )
    body = Problem(
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        field=field,
        errors=[FieldError(**error) for error in errors or []],
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, media_type=PROBLEM, headers=headers
    )


def status_of(exc: StockerError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InfeasibleError):
        return 422
    if isinstance(exc, ServiceError):
        return 503
    if isinstance(exc, SourceError | BrokerError):
        return 502
    if isinstance(exc, DataError | ConfigError):
        return 400
    return 400


def _location(parts: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in parts) or "request"


def field_error(error: Mapping[str, Any]) -> dict[str, str]:
    """One pydantic error as the field at fault and a reason a person can act on."""
    location = tuple(error.get("loc", ()))
    kind = str(error.get("type", ""))
    reason = str(error.get("msg"))
    if kind == "json_invalid":
        # loc is ("body", offset): the body is the field; the offset is where it breaks.
        at = location[1] if len(location) > 1 else 0
        cause = (error.get("ctx") or {}).get("error", "")
        return {
            "field": "body",
            "reason": f"malformed JSON at character {at}" + (f" ({cause})" if cause else ""),
        }
    if kind in DATE_ERRORS:
        reason += f" (got {error.get('input')!r}; expected YYYY-MM-DD)"
    elif kind == "string_pattern_mismatch":
        reason += f" (got {error.get('input')!r})"
    elif kind == "value_error":
        # A model's own check says which of its fields is at fault: "end: … before start …".
        reason = reason.removeprefix("Value error, ")
        named = _NAMED.match(reason)
        if named:
            location, reason = (*location, named.group(1)), named.group(2)
    return {"field": _location(location), "reason": reason}


def _names_missing_path_resource(request: Request, detail: str) -> bool:
    """A use case's "X 'name' does not exist" about a name the request's path gives: 404."""
    return "does not exist" in detail and any(
        repr(str(value)) in detail for value in request.path_params.values()
    )


def install(api: FastAPI, app: App) -> None:
    """Register the handlers on `api`: validation, HTTP errors, Stocker errors, anything else."""

    @api.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [field_error(error) for error in exc.errors()]
        first = errors[0] if errors else {"field": "request", "reason": "invalid"}
        detail = f"{first['field']}: {first['reason']}"
        return problem(request, 422, detail, errors=errors)

    @api.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's own (routing) errors too: an unknown path, a method the path lacks.
        detail, headers = str(exc.detail), dict(exc.headers or {})
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"path: {request.url.path} is not an endpoint of this API"
        elif exc.status_code == 405 and detail == "Method Not Allowed":
            allowed = headers.get("Allow", "")
            detail = f"method: {request.method} is not allowed here; allowed: {allowed}"
        return problem(request, exc.status_code, detail, headers=headers)

    @api.exception_handler(StockerError)
    async def stocker_error(request: Request, exc: StockerError) -> JSONResponse:
        status, detail = status_of(exc), str(exc)
        if status == 400 and _names_missing_path_resource(request, detail):
            status = 404
        return problem(request, status, detail)

    def anything_else(request: Request, exc: Exception) -> JSONResponse:
        described = app.describe_failure(exc)
        if described:
            return problem(request, 503, described)
        refused = _database_refusal(exc)
        if refused:
            return problem(request, *refused)
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(request, 500, "unexpected error; the server log has the details")

    api.add_middleware(CatchAll, handler=anything_else)


def _database_refusal(exc: BaseException) -> tuple[int, str] | None:
    """A value the database refused (too long, out of range, a NUL character: 400) or a write
    that lost a race to a unique key (409), without importing the database driver here."""
    names = {(kind.__module__, kind.__name__) for kind in type(exc).__mro__}
    original = getattr(exc, "orig", None)
    reason = str(getattr(getattr(original, "diag", None), "message_primary", "") or original)
    reason = reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
    if ("sqlalchemy.exc", "DataError") in names or isinstance(original, ValueError):
        return 400, f"request: a value the database cannot hold ({reason})"
    if ("sqlalchemy.exc", "IntegrityError") in names:
        return 409, f"request: conflicts with stored data ({reason})"
    return None


class CatchAll:
    """ASGI middleware: an exception no handler took becomes a problem response here, so it
    never reaches the server's error page (and no traceback reaches a client)."""

    def __init__(self, app: ASGIApp, handler: Callable[[Request, Exception], JSONResponse]) -> None:
        self._app = app
        self._handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            await self._handler(Request(scope), exc)(scope, receive, send)


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every operation's error responses `application/problem+json` of `Problem`, and
    document 401/403 on operations that need a key."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = components["Problem"].pop("$defs", {})
    components.update(defs)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    reference = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.setdefault("responses", {})
            codes = {"400", "422", "500", "503"}
            if operation.get("security"):
                codes |= {"401", "403"}
            if "{" in str(operation.get("operationId", "")) or any(
                parameter.get("in") == "path" for parameter in operation.get("parameters", [])
            ):
                codes.add("404")
            codes |= {code for code in responses if code[0] in "45"}
            for code in codes:
                title = TITLES.get(int(code), "Error")
                responses[code] = {"description": title, "content": reference}
    return schema
