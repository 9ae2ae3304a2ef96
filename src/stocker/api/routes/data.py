"""Data quarantine: refused rows with their reasons, released (re-validated, with corrections)
or discarded by a decision."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from stocker.api import schemas
from stocker.api.auth import application, require_scope
from stocker.api.deps import Symbol, listing_route, read_one

router = APIRouter(tags=["data quarantine"])
Ids = Annotated[list[Annotated[int, Field(ge=1, le=2**62)]], Field(min_length=1, max_length=10000)]
ADMIN = [Depends(require_scope("admin"))]


class Release(BaseModel):
    ids: Ids = Field(examples=[[12, 13]])
    corrections: dict[str, str | None] = Field(
        default_factory=dict,
        max_length=50,
        examples=[{"close": "101.5"}],
        description="Field → corrected value (null clears it), by column or the file's header.",
    )
    accept: list[str] = Field(
        default_factory=list,
        max_length=10,
        examples=[["price_jump"]],
        description="Judgment rules to overrule: price_jump, stale_bar or not_a_session.",
    )
    note: str | None = Field(default=None, max_length=1000, examples=["vendor confirmed"])


class Discard(BaseModel):
    ids: Ids = Field(examples=[[14]])
    note: str = Field(min_length=1, max_length=1000, examples=["duplicate of a later file"])


listing_route(
    router,
    "/quarantine",
    "quarantine",
    schemas.QuarantineRow,
    summary="Quarantined rows with every reason",
    filters={
        "status": Annotated[str | None, Query(pattern="^(QUARANTINED|RELEASED|DISCARDED)$")],
        "table": Annotated[str | None, Query(max_length=63)],
        "symbol": Symbol,
    },
)


@router.get(
    "/quarantine/{entry_id}",
    response_model=schemas.QuarantineRow,
    summary="One quarantined row",
    dependencies=[Depends(require_scope("read"))],
)
def show(request: Request, entry_id: Annotated[int, Path(ge=1, le=2**62)]) -> dict[str, Any]:
    return read_one(application(request), "quarantine", {"id": entry_id}, f"entry_id {entry_id}")


@router.post(
    "/quarantine/release",
    summary="Re-validate rows (with corrections); land those that pass",
    dependencies=ADMIN,
)
def release(request: Request, body: Release) -> dict[str, Any]:
    from stocker.data import quarantine

    app = application(request)
    report = quarantine.release(
        app.uow(),
        body.ids,
        body.corrections or None,
        today=app.clock.today(),
        note=body.note,
        accept=tuple(body.accept),
    )
    return {
        "outcomes": [
            {"id": outcome.id, "released": outcome.released, "reasons": list(outcome.reasons)}
            for outcome in report.outcomes
        ],
        "still_quarantined": report.still_quarantined,
    }


@router.post(
    "/quarantine/discard", summary="Mark rows discarded (kept as a record)", dependencies=ADMIN
)
def discard(request: Request, body: Discard) -> dict[str, Any]:
    from stocker.data import quarantine

    return {"discarded": quarantine.discard(application(request).uow(), body.ids, body.note)}
