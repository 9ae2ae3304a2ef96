"""The messages of each Redis stream, exactly as the Stocker spec (section 3) shapes them.

One frozen model per stream; `to_json()` writes the spec's JSON and `parse(stream, raw)` reads
it back, rejecting unknown fields and wrong JSON types with an error naming the field. Money is
``Decimal`` in Python whether the spec sends it as a JSON string (bar prices) or a JSON number
(fills, portfolio state); see `stocker.core.wire_types` for how numbers avoid floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from stocker.core.errors import ValidationError
from stocker.core.wire_types import (
    WIRE_CONTEXT,
    DateText,
    DecimalNumber,
    DecimalText,
    FloatNumber,
    Integer,
    StrictText,
    Timestamp,
    UuidText,
    decode_json,
    encode_json,
)

Symbol = Annotated[StrictText, Field(max_length=20)]
PortfolioId = Annotated[StrictText, Field(max_length=50)]


class _Frozen(BaseModel):
    """Immutable and closed: an unknown field is an error, not something to drop silently."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class BusMessage(_Frozen):
    """A message of one stream; `stream` names it and `event_type` is fixed per model."""

    stream: ClassVar[str]

    def to_json(self) -> str:
        """The message as the spec's JSON (compact, keys in the spec's order)."""
        return encode_json(self.model_dump(mode="python", context=dict(WIRE_CONTEXT)))


class MarketBar(BusMessage):
    """A daily bar from ingest (`market-bars`); prices travel as JSON strings."""

    stream: ClassVar[str] = "market-bars"

    event_type: Literal["market_bar"] = "market_bar"
    symbol: Symbol
    date: DateText
    open: DecimalText
    high: DecimalText
    low: DecimalText
    close: DecimalText
    adj_close: DecimalText
    volume: Annotated[Integer, Field(ge=0)]
    provider: Annotated[StrictText, Field(max_length=50)]


class SignalMetrics(_Frozen):
    """The trend metrics behind one signal."""

    lookback_return: FloatNumber
    ewma_vol: Annotated[FloatNumber, Field(ge=0)]
    direction: Annotated[Integer, Field(ge=-1, le=1)]


class SignalGenerated(BusMessage):
    """One symbol's signal for one day from the signal engine (`signals`)."""

    stream: ClassVar[str] = "signals"

    event_type: Literal["signal_generated"] = "signal_generated"
    strategy: Annotated[StrictText, Field(max_length=50)]
    symbol: Symbol
    date: DateText
    metrics: SignalMetrics
    raw_weight: FloatNumber


class TargetExposure(_Frozen):
    """One symbol's target exposure and why it was capped or cut (``None`` when it was not)."""

    symbol: Symbol
    target_exposure: FloatNumber
    reason: Annotated[StrictText, Field(max_length=1000)] | None


class TargetsMeta(_Frozen):
    """Portfolio-level figures behind the targets."""

    scaling_factor: FloatNumber
    drawdown: FloatNumber


class PortfolioTargets(BusMessage):
    """A portfolio's target exposures for one day from the portfolio engine (`targets`)."""

    stream: ClassVar[str] = "targets"

    event_type: Literal["portfolio_targets"] = "portfolio_targets"
    portfolio_id: PortfolioId
    date: DateText
    targets: tuple[TargetExposure, ...]
    meta: TargetsMeta


class OrderCreated(BusMessage):
    """An order from the order manager (`orders`)."""

    stream: ClassVar[str] = "orders"

    event_type: Literal["order_created"] = "order_created"
    order_uuid: UuidText
    portfolio_id: PortfolioId
    symbol: Symbol
    side: Literal["BUY", "SELL"]
    qty: Annotated[DecimalNumber, Field(gt=0)]
    order_type: Literal["MOO", "MARKET", "LIMIT"]
    target_date: DateText


class OrderFilled(BusMessage):
    """A broker execution (`fills`); quantities and money travel as exact JSON numbers."""

    stream: ClassVar[str] = "fills"

    event_type: Literal["order_filled"] = "order_filled"
    order_uuid: UuidText
    broker_id: Annotated[StrictText, Field(max_length=100)]
    symbol: Symbol
    qty: Annotated[DecimalNumber, Field(gt=0)]
    price: Annotated[DecimalNumber, Field(gt=0)]
    commission: Annotated[DecimalNumber, Field(ge=0)]
    timestamp: Timestamp


class ProfitAndLoss(_Frozen):
    """A day's profit and loss."""

    realized: DecimalNumber
    unrealized: DecimalNumber
    day_total: DecimalNumber


class StateUpdate(BusMessage):
    """A portfolio's end-of-day state from the ledger (`portfolio-state`)."""

    stream: ClassVar[str] = "portfolio-state"

    event_type: Literal["state_update"] = "state_update"
    portfolio_id: PortfolioId
    date: DateText
    nav: DecimalNumber
    cash: DecimalNumber
    pnl: ProfitAndLoss


MESSAGE_TYPES: tuple[type[BusMessage], ...] = (
    MarketBar,
    SignalGenerated,
    PortfolioTargets,
    OrderCreated,
    OrderFilled,
    StateUpdate,
)

STREAMS: Mapping[str, type[BusMessage]] = MappingProxyType(
    {model.stream: model for model in MESSAGE_TYPES}
)
"""Stream name (without the installation's prefix) → the model of its messages."""


def model_for(stream: str) -> type[BusMessage]:
    """The message model of `stream`; raises ValidationError for a stream the spec lacks."""
    try:
        return STREAMS[stream]
    except KeyError:
        raise ValidationError(
            f"unknown stream {stream!r}; expected one of {', '.join(sorted(STREAMS))}",
            [f"stream: unknown stream {stream!r}"],
        ) from None


def stream_of(message: BusMessage) -> str:
    """The stream a message belongs on; rejects objects that are not registered messages."""
    model = type(message)
    if (
        not isinstance(message, BusMessage)
        or STREAMS.get(getattr(model, "stream", "")) is not model
    ):
        raise ValidationError(
            f"expected one of the bus messages ({', '.join(m.__name__ for m in MESSAGE_TYPES)}),"
            f" got {model.__name__}",
            [f"message: {model.__name__} is not a bus message"],
        )
    return model.stream


def _reasons(error: PydanticValidationError) -> list[str]:
    reasons = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "message"
        reasons.append(f"{location}: {item['msg']}")
    return reasons


def parse(stream: str, raw: str | bytes) -> BusMessage:
    """Read one message of `stream` from its JSON; ValidationError names every bad field."""
    model = model_for(stream)
    try:
        document: Any = decode_json(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"invalid {stream} message: not valid JSON ({exc})", [f"message: invalid JSON: {exc}"]
        ) from None
    if not isinstance(document, dict):
        kind = type(document).__name__
        raise ValidationError(
            f"invalid {stream} message: expected a JSON object, got {kind}",
            [f"message: expected a JSON object, got {kind}"],
        )
    if "event_type" not in document:
        raise ValidationError(
            f"invalid {stream} message: event_type is missing; expected "
            f"{model.model_fields['event_type'].default!r}",
            ["event_type: field required"],
        )
    try:
        return model.model_validate(document, context=dict(WIRE_CONTEXT))
    except PydanticValidationError as exc:
        raise ValidationError(f"invalid {stream} message: {exc}", _reasons(exc)) from None
