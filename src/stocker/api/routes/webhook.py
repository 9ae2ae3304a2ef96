"""The broker's fill webhook (SigmaQLab's "Webhook/Polling" trigger of the ledger).

A delivery is JSON signed with HMAC-SHA256 over its exact bytes under the shared secret
(`STOCKER_API_WEBHOOK_SECRET`), sent as ``X-Stocker-Signature: sha256=<hex>``. A missing or
wrong signature is refused before the body is parsed; fills go down the pipeline's own
idempotent path (`stocker.trading.fill_notices`), so a replayed delivery changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel, Field, ValidationError

from stocker.api.auth import application

router = APIRouter(tags=["broker webhook"])
SIGNATURE = "X-Stocker-Signature"
MAX_BYTES = 1_000_000


class Notice(BaseModel):
    fill_id: str = Field(min_length=1, max_length=100, examples=["alpaca-9f1c-1"])
    order_id: uuid.UUID = Field(examples=["6f1c2a8e-3b7d-5e4f-9a10-2b3c4d5e6f70"])
    qty: Decimal = Field(gt=0, max_digits=16, decimal_places=4, examples=["25"])
    price: Decimal = Field(gt=0, max_digits=18, decimal_places=4, examples=["212.40"])
    commission: Decimal = Field(default=Decimal(0), ge=0, max_digits=14, decimal_places=4)
    timestamp: dt.datetime = Field(examples=["2024-06-28T13:30:00Z"])


class Delivery(BaseModel):
    fills: list[Notice] = Field(min_length=1, max_length=1000)


class Recorded(BaseModel):
    received: int = Field(examples=[1])
    recorded: int = Field(examples=[1])
    already_recorded: int = Field(examples=[0], description="Fills of a replayed delivery.")
    orders: list[str] = Field(examples=[["6f1c2a8e-3b7d-5e4f-9a10-2b3c4d5e6f70"]])


def components() -> dict[str, Any]:
    """The delivery's schemas, for the OpenAPI document's components (the body is parsed by
    hand, after the signature, so FastAPI does not see it)."""
    schema = Delivery.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"Delivery": schema, **schema.pop("$defs", {})}


def sign(secret: str, body: bytes) -> str:
    """The signature header value of `body` (what a broker, or a test, sends)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@router.post(
    "/broker/fills",
    response_model=Recorded,
    summary="Fill notifications from the broker, signed with HMAC-SHA256",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Delivery"}}},
        }
    },
)
async def fills(
    request: Request,
    signature: Annotated[
        str | None,
        Header(alias=SIGNATURE, max_length=200, description="sha256=<hex HMAC of the body>"),
    ] = None,
) -> dict[str, Any]:
    app = application(request)
    secret = app.settings.api_webhook_secret
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise HTTPException(413, f"body: {len(body)} bytes, at most {MAX_BYTES}")
    expected = sign(secret.get_secret_value(), body) if secret else None
    if expected is None or signature is None or not hmac.compare_digest(expected, signature):
        raise HTTPException(
            401, f"{SIGNATURE}: missing or wrong signature (HMAC-SHA256 of the body)"
        )
    try:
        delivery = Delivery.model_validate_json(body)
    except ValidationError as error:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError(
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors()]
        ) from None
    from starlette.concurrency import run_in_threadpool

    from stocker.trading.fill_notices import FillNotice, record_fill_notices

    notices = [FillNotice(**notice.model_dump()) for notice in delivery.fills]
    report = await run_in_threadpool(record_fill_notices, app.uow(), notices)
    return {
        "received": report.received,
        "recorded": report.recorded,
        "already_recorded": report.already_recorded,
        "orders": report.orders,
    }
