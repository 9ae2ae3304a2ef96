"""The exact JSON the bus writes (booleans, non-ASCII text, NaN refused, nested values) and the
strict field types' refusals, each message spelled out."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from stocker.core.wire_types import (
    WIRE_CONTEXT,
    DateText,
    Integer,
    StrictText,
    UuidText,
    encode_json,
)


def test_encode_json_writes_each_kind_exactly() -> None:
    assert encode_json(None) == "null"
    assert encode_json(True) == "true"
    assert encode_json(False) == "false"
    assert encode_json(Decimal("418.050")) == "418.050"
    assert encode_json(3) == "3"
    assert encode_json("Zürich €") == '"Zürich €"'
    assert (
        encode_json(dt.datetime(2023, 10, 28, 9, 30, 1, tzinfo=dt.UTC)) == '"2023-10-28T09:30:01Z"'
    )
    assert encode_json(dt.date(2023, 10, 27)) == '"2023-10-27"'
    assert encode_json(uuid.UUID(int=1)) == '"00000000-0000-0000-0000-000000000001"'
    assert (
        encode_json({"é": [1, None, False], 2: {"x": "y"}}) == '{"é":[1,null,false],"2":{"x":"y"}}'
    )
    assert encode_json((Decimal("1.5"), "a")) == '[1.5,"a"]'
    with pytest.raises(ValueError):
        encode_json(float("nan"))
    with pytest.raises(TypeError, match=r"^cannot write set as JSON$"):
        encode_json({1})


def _message(adapter: TypeAdapter, value: object) -> tuple[str, str]:  # type: ignore[type-arg]
    with pytest.raises(PydanticValidationError) as caught:
        adapter.validate_python(value, context=WIRE_CONTEXT)
    (error,) = caught.value.errors()
    return error["type"], error["msg"]


def test_strict_types_accept_their_kind_and_refuse_the_rest_by_name() -> None:
    integer, text = TypeAdapter(Integer), TypeAdapter(StrictText)
    day, ident = TypeAdapter(DateText), TypeAdapter(UuidText)
    assert integer.validate_python(5) == 5
    assert _message(integer, True) == ("json_integer", "expected a JSON integer, got boolean True")
    assert _message(integer, "15") == ("json_integer", "expected a JSON integer, got string '15'")
    assert _message(integer, 1.0) == ("json_integer", "expected a JSON integer, got number 1.0")
    assert text.validate_python("x") == "x"
    assert _message(text, 5) == ("json_string", "expected a JSON string, got number 5")
    assert _message(text, None) == ("json_string", "expected a JSON string, got null None")
    assert day.validate_python("2024-02-29") == dt.date(2024, 2, 29)
    assert day.validate_python(dt.date(2024, 1, 2)) == dt.date(2024, 1, 2)
    expected_date = 'expected a date as "YYYY-MM-DD", got '
    assert _message(day, "2023-02-29") == ("date_text", expected_date + "string '2023-02-29'")
    assert _message(day, "2024-1-02") == ("date_text", expected_date + "string '2024-1-02'")
    stamp = dt.datetime(2024, 1, 2, 3, 4)
    assert _message(day, stamp) == ("date_text", expected_date + f"datetime {stamp!r}")
    assert _message(day, 20240102) == ("date_text", expected_date + "number 20240102")
    one = uuid.UUID(int=1)
    assert ident.validate_python(str(one)) == one
    assert ident.validate_python(one) == one
    assert _message(ident, "nope") == ("uuid_text", "expected a UUID string, got string nope")
    assert _message(ident, 7) == ("uuid_text", "expected a UUID string, got number 7")
