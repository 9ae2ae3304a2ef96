"""Field types for bus messages and the exact JSON they travel as.

The spec fixes each field's JSON type: bar prices are JSON strings, fill prices and portfolio
values are JSON numbers, dates are ``YYYY-MM-DD`` strings. Python code sees ``Decimal`` for money
either way. Two things pydantic does not do for us, so this module does them:

* JSON numbers are parsed straight to ``Decimal`` (``json.loads(parse_float=Decimal)``) and
  written back from the ``Decimal``'s own digits, so ``418.05`` never passes through a float.
* Messages read from the wire are type-checked strictly (a price sent as a number where the spec
  says string is an error, ``"15"`` is not a quantity), while Python callers may still pass the
  natural Python objects (``Decimal``, ``date``, ``UUID``). Validators learn which case they are
  in from the validation context key `WIRE`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, SerializationInfo, ValidationInfo
from pydantic_core import PydanticCustomError

WIRE = "stocker.bus.wire"
"""Validation/serialization context key set when a message is read from or written to JSON."""

WIRE_CONTEXT: Mapping[str, bool] = {WIRE: True}

_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _from_wire(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(WIRE))


def _type_name(value: object) -> str:
    return type(value).__name__


def _finite(value: Decimal, expected: str) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError(
            "finite_decimal",
            "expected {expected}, got {value}",
            {"expected": expected, "value": str(value)},
        )
    return value


def _decimal_text(value: object, info: ValidationInfo) -> Decimal:
    expected = 'a decimal number in a JSON string such as "415.20"'
    if isinstance(value, str):
        try:
            return _finite(Decimal(value.strip()), expected)
        except InvalidOperation:
            raise PydanticCustomError(
                "decimal_text",
                "expected {expected}, got {value}",
                {"expected": expected, "value": repr(value)},
            ) from None
    if not _from_wire(info) and isinstance(value, Decimal | int) and not isinstance(value, bool):
        return _finite(Decimal(value), expected)
    raise PydanticCustomError(
        "decimal_text",
        "expected {expected}, got JSON {kind} {value}",
        {"expected": expected, "kind": _json_kind(value), "value": str(value)},
    )


def _decimal_number(value: object, info: ValidationInfo) -> Decimal:
    expected = "a JSON number (parsed as an exact Decimal)"
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        return _finite(Decimal(value), expected)
    if isinstance(value, float) and not _from_wire(info):
        raise PydanticCustomError(
            "decimal_number",
            "expected a Decimal, got float {value}: pass Decimal(str) so money is not rounded",
            {"value": repr(value)},
        )
    raise PydanticCustomError(
        "decimal_number",
        "expected {expected}, got {kind} {value}",
        {"expected": expected, "kind": _json_kind(value), "value": repr(value)},
    )


def _float_number(value: object) -> float:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        number = float(value)
        if number == number and number not in (float("inf"), float("-inf")):
            return number
    raise PydanticCustomError(
        "float_number",
        "expected a finite JSON number, got {kind} {value}",
        {"kind": _json_kind(value), "value": repr(value)},
    )


def _strict_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError(
        "json_integer",
        "expected a JSON integer, got {kind} {value}",
        {"kind": _json_kind(value), "value": repr(value)},
    )


def _strict_text(value: object) -> str:
    if isinstance(value, str):
        return value
    raise PydanticCustomError(
        "json_string",
        "expected a JSON string, got {kind} {value}",
        {"kind": _json_kind(value), "value": repr(value)},
    )


def _date_value(value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _DATE_TEXT.match(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError(
        "date_text",
        'expected a date as "YYYY-MM-DD", got {kind} {value}',
        {"kind": _json_kind(value), "value": repr(value)},
    )


def _timestamp_value(value: object) -> dt.datetime:
    parsed: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and "T" in value:
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is not None and parsed.utcoffset() is not None:
        return parsed
    raise PydanticCustomError(
        "timestamp_text",
        'expected an ISO 8601 timestamp with a time zone such as "2023-10-28T09:30:01Z", '
        "got {kind} {value}",
        {"kind": _json_kind(value), "value": str(value)},
    )


def _uuid_value(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    raise PydanticCustomError(
        "uuid_text",
        "expected a UUID string, got {kind} {value}",
        {"kind": _json_kind(value), "value": str(value)},
    )


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return _type_name(value)


def _serialize_decimal_text(value: Decimal, info: SerializationInfo) -> Decimal | str:
    wire = bool(info.context and info.context.get(WIRE))
    return str(value) if wire or info.mode == "json" else value


DecimalText = Annotated[
    Decimal, BeforeValidator(_decimal_text), PlainSerializer(_serialize_decimal_text)
]
"""Money sent as a JSON string (``"415.20"``), kept digit for digit."""

DecimalNumber = Annotated[Decimal, BeforeValidator(_decimal_number)]
"""Money sent as a JSON number (``418.05``), parsed and written without a float in between."""

FloatNumber = Annotated[float, BeforeValidator(_float_number)]
"""A research figure sent as a JSON number (returns, volatilities, weights)."""

Integer = Annotated[int, BeforeValidator(_strict_int)]
"""A JSON integer; ``15.0`` and ``"15"`` are rejected."""

DateText = Annotated[dt.date, BeforeValidator(_date_value)]
"""A calendar date sent as ``"YYYY-MM-DD"``."""

Timestamp = Annotated[dt.datetime, BeforeValidator(_timestamp_value)]
"""A time-zone-aware instant sent as ISO 8601 (UTC written with ``Z``)."""

UuidText = Annotated[uuid.UUID, BeforeValidator(_uuid_value)]
"""A UUID sent as its canonical string."""


StrictText = Annotated[str, BeforeValidator(_strict_text), Field(min_length=1)]
"""A non-empty JSON string; give the column's width with ``Annotated[StrictText, Field(...)]``."""


def decimal_number_text(value: Decimal) -> str:
    """The JSON number text of a finite Decimal, with its digits as they are (no exponent)."""
    if not value.is_finite():
        raise ValueError(f"cannot write {value} as a JSON number")
    return format(value, "f")


def timestamp_text(value: dt.datetime) -> str:
    """ISO 8601 text of an aware datetime, with UTC written as ``Z`` as in the spec."""
    text_value = value.isoformat()
    if value.utcoffset() == dt.timedelta(0):
        text_value = text_value.removesuffix("+00:00") + "Z"
    return text_value


def encode_json(value: object) -> str:
    """Compact JSON of a python-mode model dump: Decimals become numbers without a float."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return decimal_number_text(value)
    if isinstance(value, int | float | str):
        return json.dumps(value, allow_nan=False, ensure_ascii=False)
    if isinstance(value, dt.datetime):
        return json.dumps(timestamp_text(value))
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    if isinstance(value, uuid.UUID):
        return json.dumps(str(value))
    if isinstance(value, Mapping):
        items = (
            f"{json.dumps(str(key), ensure_ascii=False)}:{encode_json(item)}"
            for key, item in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r} in JSON object")
        result[key] = value
    return result


def decode_json(raw: str | bytes) -> Any:
    """Parse JSON with every non-integer number as an exact Decimal; reject NaN and duplicates."""
    return json.loads(
        raw,
        parse_float=Decimal,
        parse_constant=_reject_constant,
        object_pairs_hook=_unique_keys,
    )
