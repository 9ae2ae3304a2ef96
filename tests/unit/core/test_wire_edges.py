"""Edges of the wire types, the bus message registry, ledger reversals and the session a
publication time counts for: the exact error each refusal carries."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from stocker.core.errors import DataError, ValidationError
from stocker.core.ledger.posting import reverse_entry
from stocker.core.ledger.records import Entry, Posting, entry_id_for
from stocker.core.messages import MESSAGE_TYPES, MarketBar, parse, stream_of
from stocker.core.sentiment import session_of
from stocker.core.wire_types import WIRE_CONTEXT, DecimalNumber, DecimalText, FloatNumber, Timestamp

FLOAT = TypeAdapter(FloatNumber)

BAR = (
    '{"event_type":"market_bar","symbol":"SPY","date":"2023-10-27","open":"415.20",'
    '"high":"418.90","low":"414.05","close":"417.55","adj_close":"417.55","volume":75000000,'
    '"provider":"alpaca"}'
)


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1.0), (2.5, 2.5), (Decimal("0.1"), 0.1), (-0.0, 0.0)]
)
def test_float_numbers_accept_finite_numbers(value: object, expected: float) -> None:
    assert FLOAT.validate_python(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (float("nan"), "expected a finite JSON number, got number nan"),
        (float("inf"), "expected a finite JSON number, got number inf"),
        (float("-inf"), "expected a finite JSON number, got number -inf"),
        (True, "expected a finite JSON number, got boolean True"),
        ("1.5", "expected a finite JSON number, got string '1.5'"),
        (None, "expected a finite JSON number, got null None"),
        ([1], "expected a finite JSON number, got array [1]"),
    ],
)
def test_float_numbers_refuse_the_rest_with_the_kind_and_value(value: object, message: str) -> None:
    with pytest.raises(PydanticValidationError) as caught:
        FLOAT.validate_python(value, context=WIRE_CONTEXT)
    (error,) = caught.value.errors()
    assert error["type"] == "float_number"
    assert error["msg"] == message


class _Subclass(MarketBar):
    pass


def test_stream_of_registered_messages_only() -> None:
    bar = parse("market-bars", BAR)
    assert stream_of(bar) == "market-bars"
    names = ", ".join(m.__name__ for m in MESSAGE_TYPES)
    copy = _Subclass.model_validate(bar.model_dump())
    with pytest.raises(ValidationError) as caught:
        stream_of(copy)
    assert str(caught.value) == f"expected one of the bus messages ({names}), got _Subclass"
    assert caught.value.reasons == ["message: _Subclass is not a bus message"]
    with pytest.raises(ValidationError, match=r"got object$") as plain:
        stream_of(object())  # type: ignore[arg-type]
    assert plain.value.reasons == ["message: object is not a bus message"]


def test_a_reversal_negates_every_posting_and_names_what_it_reverses() -> None:
    original = Entry(
        entry_id=uuid.UUID(int=7),
        portfolio_id="main",
        date=dt.date(2024, 1, 2),
        kind="FILL",
        postings=(
            Posting("cash", "USD", Decimal("-100.5")),
            Posting("position:AAPL", "USD", Decimal("100.5"), "AAPL", Decimal(2)),
        ),
        fill_id="x1",
    )
    reversal = reverse_entry(original, dt.date(2024, 1, 5), "wrong price")
    assert reversal.entry_id == entry_id_for("main", "CORRECTION", uuid.UUID(int=7))
    assert reversal.entry_id != original.entry_id
    assert reversal.portfolio_id == "main"
    assert reversal.date == dt.date(2024, 1, 5)
    assert reversal.kind == "CORRECTION"
    assert reversal.corrects_entry_id == uuid.UUID(int=7)
    assert reversal.fill_id is None
    assert reversal.description == f"reverses FILL {uuid.UUID(int=7)}: wrong price"
    assert reversal.postings == (
        Posting("cash", "USD", Decimal("100.5")),
        Posting("position:AAPL", "USD", Decimal("-100.5"), "AAPL", Decimal(-2)),
    )


def test_entry_ids_depend_on_every_part() -> None:
    base = entry_id_for("main", "CORRECTION", "e")
    assert base == entry_id_for("main", "CORRECTION", "e")
    assert base != entry_id_for("other", "CORRECTION", "e")
    assert base != entry_id_for("main", "FILL", "e")
    assert base != entry_id_for("main", "CORRECTION", "f")
    assert base != entry_id_for("main", "CORRECTION")


def _calendar() -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    sessions = pd.DatetimeIndex(["2024-03-08", "2024-03-11", "2024-03-12"])
    closes = pd.DatetimeIndex(["2024-03-08 21:00", "2024-03-11 20:00", "2024-03-12 20:00"])
    return closes, sessions


def test_a_publication_counts_for_the_first_session_closing_after_it() -> None:
    closes, sessions = _calendar()
    published = pd.Series(
        pd.to_datetime(
            [
                "2024-03-08 20:59:59+00:00",
                "2024-03-08 21:00:00+00:00",  # at the close: the next session
                "2024-03-10 12:00:00-04:00",
                "2024-03-11 15:59:59-04:00",
                "2024-03-11 16:00:00-04:00",
            ],
            utc=True,
        )
    )
    got = session_of(published, closes, sessions)
    expected = ["2024-03-08", "2024-03-11", "2024-03-11", "2024-03-11", "2024-03-12"]
    assert list(got) == list(pd.DatetimeIndex(expected))
    # aware closes give the same answer as naive UTC closes; naive publications are UTC
    aware = session_of(
        published, closes.tz_localize("UTC").tz_convert("America/New_York"), sessions
    )
    assert list(aware) == list(got)
    naive = session_of(pd.Series(["2024-03-11 19:59:59"]), closes, sessions)
    assert list(naive) == [pd.Timestamp("2024-03-11")]
    assert list(session_of(pd.Series([], dtype="datetime64[ns, UTC]"), closes, sessions)) == []
    # session dates with a time of day come back as dates
    timed = session_of(published[:1], closes, sessions + pd.Timedelta(hours=9))
    assert list(timed) == [pd.Timestamp("2024-03-08")]


def test_a_publication_at_or_after_the_last_close_has_no_session() -> None:
    closes, sessions = _calendar()
    late = pd.Series(
        pd.to_datetime(["2024-03-11 12:00", "2024-03-12 20:00", "2024-03-13 00:00"], utc=True)
    )
    with pytest.raises(
        DataError,
        match=(
            r"^published_at 2024-03-13T00:00:00\+00:00: after the calendar's last session close "
            r"2024-03-12T20:00:00\+00:00$"
        ),
    ):
        session_of(late, closes, sessions)
    with pytest.raises(DataError, match=r"^published_at 2024-03-12T20:00:00\+00:00"):
        session_of(late[1:2], closes, sessions)
    with pytest.raises(ValueError, match=r"^closes and sessions must be aligned$"):
        session_of(late[:1], closes, sessions[:2])
    assert np.asarray(session_of(late[:1], closes, sessions)).dtype.kind == "M"


DECIMAL_TEXT = TypeAdapter(DecimalText)
DECIMAL_NUMBER = TypeAdapter(DecimalNumber)
TIMESTAMP = TypeAdapter(Timestamp)
TEXT_EXPECTED = 'a decimal number in a JSON string such as "415.20"'
NUMBER_EXPECTED = "a JSON number (parsed as an exact Decimal)"


def _refusal(adapter: TypeAdapter, value: object, *, wire: bool) -> tuple[str, str]:  # type: ignore[type-arg]
    with pytest.raises(PydanticValidationError) as caught:
        adapter.validate_python(value, context=WIRE_CONTEXT if wire else None)
    (error,) = caught.value.errors()
    return error["type"], error["msg"]


def test_decimal_text_from_the_wire_and_from_python() -> None:
    assert DECIMAL_TEXT.validate_python(" 415.20 ", context=WIRE_CONTEXT) == Decimal("415.20")
    assert str(DECIMAL_TEXT.validate_python("415.20")) == "415.20"
    assert DECIMAL_TEXT.validate_python(Decimal("1.5")) == Decimal("1.5")
    assert DECIMAL_TEXT.validate_python(7) == Decimal(7)
    assert _refusal(DECIMAL_TEXT, "abc", wire=True) == (
        "decimal_text",
        f"expected {TEXT_EXPECTED}, got 'abc'",
    )
    assert _refusal(DECIMAL_TEXT, "NaN", wire=True) == (
        "finite_decimal",
        f"expected {TEXT_EXPECTED}, got NaN",
    )
    assert _refusal(DECIMAL_TEXT, 7, wire=True) == (
        "decimal_text",
        f"expected {TEXT_EXPECTED}, got JSON number 7",
    )
    assert _refusal(DECIMAL_TEXT, True, wire=False) == (
        "decimal_text",
        f"expected {TEXT_EXPECTED}, got JSON boolean True",
    )
    assert (
        _refusal(DECIMAL_TEXT, 1.5, wire=False)[1]
        == f"expected {TEXT_EXPECTED}, got JSON number 1.5"
    )
    assert _refusal(DECIMAL_TEXT, Decimal("Infinity"), wire=False) == (
        "finite_decimal",
        f"expected {TEXT_EXPECTED}, got Infinity",
    )


def test_decimal_numbers_take_exact_numbers_only() -> None:
    assert DECIMAL_NUMBER.validate_python(Decimal("418.05"), context=WIRE_CONTEXT) == Decimal(
        "418.05"
    )
    assert DECIMAL_NUMBER.validate_python(3, context=WIRE_CONTEXT) == Decimal(3)
    assert _refusal(DECIMAL_NUMBER, 1.5, wire=False) == (
        "decimal_number",
        "expected a Decimal, got float 1.5: pass Decimal(str) so money is not rounded",
    )
    assert _refusal(DECIMAL_NUMBER, 1.5, wire=True) == (
        "decimal_number",
        f"expected {NUMBER_EXPECTED}, got number 1.5",
    )
    assert _refusal(DECIMAL_NUMBER, "1.5", wire=False) == (
        "decimal_number",
        f"expected {NUMBER_EXPECTED}, got string '1.5'",
    )
    assert _refusal(DECIMAL_NUMBER, False, wire=True) == (
        "decimal_number",
        f"expected {NUMBER_EXPECTED}, got boolean False",
    )
    assert _refusal(DECIMAL_NUMBER, Decimal("-Infinity"), wire=True) == (
        "finite_decimal",
        f"expected {NUMBER_EXPECTED}, got -Infinity",
    )


def test_timestamps_need_a_zone() -> None:
    aware = dt.datetime(2023, 10, 28, 9, 30, 1, tzinfo=dt.UTC)
    assert TIMESTAMP.validate_python("2023-10-28T09:30:01Z") == aware
    assert TIMESTAMP.validate_python("2023-10-28T05:30:01-04:00") == aware
    assert TIMESTAMP.validate_python(aware) == aware
    expected = (
        'expected an ISO 8601 timestamp with a time zone such as "2023-10-28T09:30:01Z", got '
    )
    assert _refusal(TIMESTAMP, "2023-10-28T09:30:01", wire=True) == (
        "timestamp_text",
        expected + "string 2023-10-28T09:30:01",
    )
    assert _refusal(TIMESTAMP, "2023-10-28 09:30:01Z", wire=True)[1] == (
        expected + "string 2023-10-28 09:30:01Z"
    )
    assert _refusal(TIMESTAMP, "T-not-a-time", wire=True)[1] == expected + "string T-not-a-time"
    naive = dt.datetime(2023, 10, 28, 9, 30)
    assert _refusal(TIMESTAMP, naive, wire=False)[1] == expected + f"datetime {naive}"
    assert _refusal(TIMESTAMP, 5, wire=False)[1] == expected + "number 5"
