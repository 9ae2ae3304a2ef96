"""Universes and their members (SigmaQLab's groups), and the screener that fills them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import Visible, listing_route, read_one

router = APIRouter(tags=["universes and groups"])
screener = APIRouter(tags=["screener"])
Name = Annotated[str, Path(max_length=100, examples=["tech_leaders"])]
SymbolPath = Annotated[str, Path(max_length=20, examples=["AAPL"])]
Symbols = Annotated[list[Annotated[str, Field(max_length=20)]], Field(max_length=5000)]


class NewUniverse(BaseModel):
    name: Annotated[str, Visible] = Field(max_length=100, examples=["tech_leaders"])
    description: str | None = Field(default=None, max_length=1000, examples=["hand-picked"])
    symbols: Symbols = Field(default_factory=list, examples=[["AAPL", "MSFT"]])
    ranked: bool = Field(default=False, description="Keep the given order as rank 1..n.")


class Rename(BaseModel):
    new_name: Annotated[str, Visible] = Field(max_length=100, examples=["tech_core"])


class MemberSymbols(BaseModel):
    symbols: Symbols = Field(examples=[["NVDA", "AVGO"]])
    ranked: bool = Field(default=False, description="Place the new ones after the last rank.")


class MemberChange(BaseModel):
    added: int = Field(examples=[2])
    revived: int = Field(examples=[0])
    repositioned: int = Field(examples=[0])
    removed: int = Field(examples=[0])
    unchanged: int = Field(examples=[0])


class ScreenRequest(BaseModel):
    expression: str = Field(
        max_length=2000,
        examples=["pe < 20 and roe > 0.15 order by composite_score desc limit 30"],
        description="A screen (see GET /screener/fields for the names it may use).",
    )
    date: dt.date = Field(examples=["2024-06-28"], description="As of this date (point in time).")
    universe: str | None = Field(default=None, max_length=100, description="Within its members.")


class SaveScreen(ScreenRequest):
    group: Annotated[str, Visible] = Field(max_length=100, examples=["value_quality"])
    replace: bool = Field(default=False, description="Overwrite an existing group's members.")


class ScreenResult(BaseModel):
    expression: str
    date: dt.date
    universe: str | None
    columns: list[str] = Field(examples=[["rank", "symbol", "sector", "pe", "roe"]])
    rows: list[dict[str, Any]] = Field(
        examples=[[{"rank": 1, "symbol": "AAPL", "sector": "Technology", "pe": 18.2}]]
    )
    as_of: dict[str, dt.date | None] = Field(examples=[{"fundamentals": "2024-06-28"}])
    group: str | None = Field(default=None, examples=["value_quality"])


class ScreenField(BaseModel):
    name: str = Field(examples=["pe"])
    source: str = Field(examples=["fundamentals"])
    type: str = Field(examples=["number"])
    description: str = Field(examples=["Price to earnings, trailing twelve months"])


for prefix, tag in (("/universes", "universes"), ("/groups", "groups")):
    listing_route(
        router,
        prefix,
        "universes",
        schemas.Universe,
        summary=f"Live {tag}, by name",
        filters={"prefix": Annotated[str | None, Query(max_length=100)]},
        operation_id=f"list_{tag}",
    )
    listing_route(
        router,
        prefix + "/{name}/members",
        "members",
        schemas.Member,
        summary="Live members, in rank order (unranked last, by symbol)",
        parent=("name", "universe", Name, "universes", "name"),
        operation_id=f"list_{tag}_members",
    )


def _universe(request: Request, name: str) -> dict[str, Any]:
    return read_one(application(request), "universes", {"name": name}, f"name {name!r}")


@router.get(
    "/universes/{name}",
    response_model=schemas.Universe,
    summary="One universe",
    dependencies=[Depends(require_scope("read"))],
)
def get_universe(request: Request, name: Name) -> dict[str, Any]:
    return _universe(request, name)


@router.get(
    "/groups/{name}",
    response_model=schemas.Universe,
    summary="One group",
    dependencies=[Depends(require_scope("read"))],
)
def get_group(request: Request, name: Name) -> dict[str, Any]:
    return _universe(request, name)


@router.post(
    "/universes",
    status_code=201,
    response_model=schemas.Universe,
    summary="Create a universe",
    dependencies=[Depends(require_scope("research"))],
)
def create(request: Request, body: NewUniverse) -> dict[str, Any]:
    from stocker.data.universes import create_universe

    app = application(request)
    made = create_universe(
        app.uow(), body.name, body.description, symbols=body.symbols, ranked=body.ranked
    )
    return _universe(request, made.name)


@router.patch(
    "/universes/{name}",
    response_model=schemas.Universe,
    summary="Rename a universe",
    dependencies=[Depends(require_scope("research"))],
)
def rename(request: Request, name: Name, body: Rename) -> dict[str, Any]:
    from stocker.data.universes import rename_universe

    made = rename_universe(application(request).uow(), name, body.new_name)
    return _universe(request, made.name)


@router.delete(
    "/universes/{name}",
    status_code=204,
    summary="Delete a universe",
    dependencies=[Depends(require_scope("research"))],
)
def delete(request: Request, name: Name) -> Response:
    from stocker.data.universes import delete_universe

    delete_universe(application(request).uow(), name)
    return Response(status_code=204)


@router.post(
    "/universes/{name}/members",
    response_model=MemberChange,
    summary="Add members",
    dependencies=[Depends(require_scope("research"))],
)
def add(request: Request, name: Name, body: MemberSymbols) -> dict[str, Any]:
    from stocker.data.universes import add_members

    change = add_members(application(request).uow(), name, body.symbols, ranked=body.ranked)
    return dataclasses.asdict(change)


@router.put(
    "/universes/{name}/members",
    response_model=MemberChange,
    summary="Make the members exactly these (ranked in order unless ranked=false)",
    dependencies=[Depends(require_scope("research"))],
)
def replace(request: Request, name: Name, body: MemberSymbols) -> dict[str, Any]:
    from stocker.data.universes import set_members

    change = set_members(application(request).uow(), name, body.symbols, ranked=body.ranked)
    return dataclasses.asdict(change)


@router.delete(
    "/universes/{name}/members/{symbol}",
    response_model=MemberChange,
    summary="Remove one member",
    dependencies=[Depends(require_scope("research"))],
)
def remove(request: Request, name: Name, symbol: SymbolPath) -> dict[str, Any]:
    from stocker.data.universes import remove_members

    change = remove_members(application(request).uow(), name, [symbol])
    return dataclasses.asdict(change)


@router.put(
    "/universes/{name}/global",
    response_model=schemas.Universe,
    summary="Make this the global universe",
    dependencies=[Depends(require_scope("admin"))],
)
def make_global(request: Request, name: Name) -> dict[str, Any]:
    from stocker.data.universes import set_global

    set_global(application(request).uow(), name)
    return _universe(request, name)


def _result(result: Any, group: str | None = None) -> dict[str, Any]:
    rows = result.rows.astype(object).where(result.rows.notna(), None)
    for column in rows.columns:
        if column.endswith("_date"):
            rows[column] = [
                value.isoformat() if value is not None else None for value in rows[column]
            ]
    return {
        "expression": result.expression,
        "date": result.day,
        "universe": result.universe,
        "columns": result.columns,
        "rows": rows.to_dict("records"),
        "as_of": result.as_of,
        "group": group,
    }


@screener.get(
    "/screener/fields",
    response_model=list[ScreenField],
    summary="The names a screen may use",
    dependencies=[Depends(require_scope("read"))],
)
def fields() -> list[dict[str, Any]]:
    from stocker.core.screener import FIELDS

    return [
        {
            "name": info.name,
            "source": str(info.source),
            "type": str(info.type),
            "description": info.description,
        }
        for info in FIELDS.values()
    ]


@screener.post(
    "/screener/run",
    response_model=ScreenResult,
    summary="Run a screen (nothing saved)",
    dependencies=[Depends(require_scope("read"))],
)
def run(request: Request, body: ScreenRequest) -> dict[str, Any]:
    from stocker.lab.screener import screen

    found = screen(
        application(request).uow(), body.expression, day=body.date, universe=body.universe
    )
    return _result(found)


@screener.post(
    "/screener/groups",
    status_code=201,
    response_model=ScreenResult,
    summary="Run a screen and save its result as a ranked group",
    dependencies=[Depends(require_scope("research"))],
)
def save(request: Request, body: SaveScreen) -> dict[str, Any]:
    from stocker.lab.screener import screen_to_group

    found, group = screen_to_group(
        application(request).uow(),
        body.expression,
        day=body.date,
        group=body.group,
        universe=body.universe,
        replace=body.replace,
    )
    return _result(found, group.name)


router.include_router(screener)
