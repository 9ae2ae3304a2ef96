"""Column-type validation of bulk batches, against hand-built table descriptions (no database)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from stocker.core.errors import DataError
from stocker.store.bulk_copy import csv_chunks
from stocker.store.bulk_validate import validate
from stocker.store.table_info import ColumnInfo, TableInfo


def column(name: str, sql_type: str, kind: str, type_name: str, **extra: object) -> ColumnInfo:
    defaults: dict[str, object] = {"not_null": False, "has_default": False, "generated": False}
    defaults.update(extra)
    return ColumnInfo(name=name, sql_type=sql_type, kind=kind, type_name=type_name, **defaults)  # type: ignore[arg-type]


PRICES = TableInfo(
    name="prices_daily",
    qualified_name="public.prices_daily",
    columns={
        "id": column("id", "bigint", "integer", "int8", not_null=True, has_default=True),
        "symbol": column(
            "symbol", "character varying(20)", "text", "varchar", not_null=True, max_length=20
        ),
        "date": column("date", "date", "date", "date", not_null=True),
        "close": column(
            "close", "numeric(14,4)", "numeric", "numeric", not_null=True, precision=14, scale=4
        ),
        "volume": column("volume", "bigint", "integer", "int8", not_null=True),
        "shares": column("shares", "integer", "integer", "int4"),
        "beta": column("beta", "numeric(6,4)", "numeric", "numeric", precision=6, scale=4),
        "weight": column("weight", "double precision", "float", "float8"),
        "active": column("active", "boolean", "boolean", "bool"),
        "seen_at": column("seen_at", "timestamp with time zone", "timestamptz", "timestamptz"),
        "event_id": column("event_id", "uuid", "uuid", "uuid"),
        "payload": column("payload", "jsonb", "json", "jsonb"),
        "tags": column("tags", "text[]", "array", "_text"),
        "created_at": column(
            "created_at", "timestamp with time zone", "timestamptz", "timestamptz", has_default=True
        ),
    },
    primary_key=("id",),
    unique_keys=(("id",), ("symbol", "date")),
)
KEY = ("symbol", "date")


def bars(**overrides: list[object]) -> pd.DataFrame:
    columns: dict[str, list[object]] = {
        "symbol": ["AAA", "BBB", "CCC"],
        "date": [dt.date(2024, 1, 2)] * 3,
        "close": [10.5, 20.25, 30.0],
        "volume": [100, 200, 300],
    }
    columns.update(overrides)
    return pd.DataFrame(columns)


def reasons_of(frame: pd.DataFrame) -> dict[int, list[str]]:
    return validate(frame, PRICES, KEY).reasons


def test_validate_when_rows_are_clean_rejects_nothing() -> None:
    batch = validate(bars(), PRICES, KEY)

    assert batch.reasons == {}
    assert batch.valid_table().num_rows == 3


def test_validate_when_column_unknown_raises_naming_it() -> None:
    with pytest.raises(DataError, match=r"unknown column.*colour"):
        validate(bars(colour=["r", "g", "b"]), PRICES, KEY)


def test_validate_when_key_column_missing_raises_naming_it() -> None:
    with pytest.raises(DataError, match=r"key column.*date"):
        validate(bars().drop(columns=["date"]), PRICES, KEY)


def test_validate_when_required_column_missing_raises_naming_it() -> None:
    with pytest.raises(DataError, match=r"required column.*volume"):
        validate(bars().drop(columns=["volume"]), PRICES, KEY)


def test_validate_when_nan_in_not_null_numeric_names_row_and_reason() -> None:
    reasons = reasons_of(bars(close=[10.5, np.nan, 30.0]))

    assert reasons == {1: ["close: NaN is not a number"]}


def test_validate_when_none_in_not_null_column_reports_null() -> None:
    reasons = reasons_of(bars(symbol=["AAA", None, "CCC"]))

    assert reasons == {1: ["symbol: NULL in a NOT NULL column"]}


def test_validate_when_nan_in_nullable_numeric_writes_null() -> None:
    batch = validate(bars(beta=[0.5, np.nan, None]), PRICES, KEY)

    assert batch.reasons == {}
    assert batch.valid_table()["beta"].to_pylist() == [0.5, None, None]


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_validate_when_infinite_rejects_as_not_finite(value: float) -> None:
    reasons = reasons_of(bars(close=[10.5, value, 30.0]))

    assert reasons == {1: [f"close: {'inf' if value > 0 else '-inf'} is not a finite number"]}


def test_validate_when_numeric_overflows_precision_names_the_limit() -> None:
    reasons = reasons_of(bars(close=[10.5, 1e10, 9_999_999_999.9999]))

    assert reasons == {
        1: ["close: 10000000000.0 overflows NUMERIC(14,4): the absolute value must be below 10^10"]
    }


def test_validate_when_rounding_reaches_the_limit_rejects() -> None:
    reasons = reasons_of(bars(beta=[99.99996, -99.99994, 1.0]))

    assert list(reasons) == [0]
    assert "overflows NUMERIC(6,4)" in reasons[0][0]


def test_validate_when_integer_out_of_range_or_fractional_rejects() -> None:
    frame = bars(volume=[100.0, 2.0**63, 2.5], shares=[2**31, -(2**31), 7])

    reasons = reasons_of(frame)

    assert reasons == {
        0: ["shares: 2147483648 is out of range for INTEGER"],
        1: ["volume: 9.223372036854776e+18 is out of range for BIGINT"],
        2: ["volume: 2.5 is not a whole number"],
    }


def test_validate_when_string_too_long_reports_its_length() -> None:
    long_symbol = "TOOLONG" + "X" * 18

    reasons = reasons_of(bars(symbol=["AAA", long_symbol, "CCC"]))

    assert reasons == {1: [f"symbol: '{long_symbol}' is 25 characters, more than VARCHAR(20)"]}


def test_validate_when_string_is_very_long_shortens_it_in_the_reason() -> None:
    reasons = reasons_of(bars(symbol=["A" * 40, "BBB", "CCC"]))

    assert reasons[0] == ["symbol: '" + "A" * 29 + "…' is 40 characters, more than VARCHAR(20)"]


def test_validate_when_length_counts_characters_not_bytes() -> None:
    assert reasons_of(bars(symbol=["É" * 20, "BBB", "CCC"])) == {}


def test_validate_when_text_has_a_lone_surrogate_rejects_that_row_only() -> None:
    frame = bars()
    # object dtype: pandas' own string dtype cannot even hold such text
    frame["symbol"] = pd.Series(["AAA", "B\ud800", "CCC"], dtype=object)

    reasons = reasons_of(frame)

    assert reasons == {
        1: ["symbol: 'B\\ud800' is not valid Unicode text (it cannot be encoded as UTF-8)"]
    }


def test_validate_when_values_unparseable_names_each() -> None:
    frame = bars(
        date=["2024-01-02", "2024-13-45", "2024-01-04"],
        close=["10.5", "ten", Decimal("30.125")],
    )

    reasons = reasons_of(frame)

    assert reasons == {
        1: ["date: '2024-13-45' is not a valid date", "close: 'ten' is not a number"]
    }


def test_validate_when_row_breaks_several_rules_lists_every_reason() -> None:
    frame = bars(symbol=["AAA", "X" * 21, "CCC"], close=[1.0, np.nan, 2.0], volume=[1, 2, 3.5])

    reasons = reasons_of(frame)

    assert len(reasons[1]) == 2
    assert reasons[1][0].startswith("symbol: ")
    assert reasons[1][1] == "close: NaN is not a number"
    assert reasons[2] == ["volume: 3.5 is not a whole number"]


def test_validate_when_date_has_time_of_day_rejects() -> None:
    frame = bars(
        date=pd.to_datetime(["2024-01-02", "2024-01-03 15:30", "2024-01-04"], format="ISO8601")
    )

    assert reasons_of(frame) == {
        1: ["date: 2024-01-03T15:30:00 has a time of day, expected a date"]
    }


def test_validate_when_keys_repeat_rejects_every_occurrence() -> None:
    frame = bars(symbol=["AAA", "BBB", "AAA"])

    reasons = reasons_of(frame)

    assert reasons == {
        0: [
            "symbol, date: key ('AAA', 2024-01-02) appears more than once in this "
            "batch (also row 2)"
        ],
        2: [
            "symbol, date: key ('AAA', 2024-01-02) appears more than once in this "
            "batch (also row 0)"
        ],
    }


def test_validate_when_keys_unparseable_does_not_call_them_duplicates() -> None:
    frame = bars(date=["bad", "worse", "2024-01-02"], symbol=["AAA", "AAA", "AAA"])

    reasons = reasons_of(frame)

    assert reasons == {
        0: ["date: 'bad' is not a valid date"],
        1: ["date: 'worse' is not a valid date"],
    }


def test_validate_when_other_types_invalid_names_them() -> None:
    frame = bars(
        active=[True, "maybe", "no"],
        event_id=[str(uuid.uuid4()), "not-a-uuid", uuid.uuid4()],
        payload=[{"a": 1}, '{"broken":', [1, 2]],
        tags=[["x", 'quote"d'], 5, None],
        seen_at=["2024-01-02T10:00:00+02:00", "yesterday", None],
    )

    reasons = reasons_of(frame)

    assert list(reasons) == [1]
    assert [reason.split(":")[0] for reason in reasons[1]] == [
        "active",
        "event_id",
        "payload",
        "tags",
        "seen_at",
    ]


def test_validate_decimals_and_text_numbers_keep_exact_digits() -> None:
    frame = bars(close=[Decimal("10.12345678901234"), "20.5", 30])

    batch = validate(frame, PRICES, KEY)

    assert batch.valid_table()["close"].to_pylist() == ["10.12345678901234", "20.5", "30"]


def test_csv_chunks_render_types_as_postgresql_reads_them() -> None:
    frame = bars(
        active=[True, None, "f"],
        seen_at=["2024-01-02T10:00:00+02:00", None, "2024-01-02 08:00"],
        payload=[{"a": [1, 2]}, None, "[]"],
        tags=[["x", 'quote"d', None], [], None],
        weight=[0.1, np.nan, 1e-7],
        symbol=["AAA", "", "C,C"],
    )
    batch = validate(frame, PRICES, KEY)

    text = b"".join(bytes(buffer) for _, buffer in csv_chunks(batch.valid_table())).decode()

    first, second, third = text.splitlines()
    assert first == (
        '"AAA",2024-01-02,10.5,100,true,2024-01-02 08:00:00.000000Z,"{""a"": [1, 2]}",'
        '"{""x"",""quote\\""d"",NULL}",0.1'
    )
    assert second == '"",2024-01-02,20.25,200,,,,"{}",'
    assert third.startswith('"C,C",2024-01-02,30,300,false,2024-01-02 08:00:00.000000Z,"[]",,')


def test_valid_table_drops_rejected_rows_only() -> None:
    batch = validate(bars(close=[1.0, np.nan, 3.0]), PRICES, KEY)

    table = batch.valid_table()

    assert isinstance(table, pa.Table)
    assert table["symbol"].to_pylist() == ["AAA", "CCC"]
