"""Each column of a batch converted once into the Arrow form PostgreSQL's CSV input accepts.

One converter per column kind (`CONVERTERS`): it returns the wire array and which rows the
column's type refuses, and words a reason for each of those rows only (`Reasons`), so a clean
column costs a few numpy/Arrow passes. Cells are read by `stocker.core.cells`, the parser file
sources use too. The conventions are listed in `stocker.store.bulk_validate`.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stocker.core.cells import (
    SQL_FALSE_WORDS,
    SQL_TRUE_WORDS,
    parse_booleans,
    parse_iso_datetimes,
    parse_numbers,
)
from stocker.store.table_info import ColumnInfo

SHOWN_CHARACTERS = 30
_UUID_PATTERN = r"^\s*\{?[0-9a-fA-F]{8}(-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}\}?\s*$"


def show(value: Any) -> str:
    """A short, unambiguous rendering of a raw value for a reason message."""
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(float(value))
    if isinstance(value, str):
        shown = value if len(value) <= SHOWN_CHARACTERS else value[: SHOWN_CHARACTERS - 1] + "…"
        return repr(shown)
    if isinstance(value, pd.Timestamp | datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return repr(value.item())
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[: SHOWN_CHARACTERS - 1] + "…"


def _sql_type_label(column: ColumnInfo) -> str:
    return (
        column.sql_type.upper().replace("CHARACTER VARYING", "VARCHAR").replace("CHARACTER", "CHAR")
    )


class Reasons:
    """Collects reasons per row; messages are only built for flagged rows."""

    def __init__(self) -> None:
        self.by_row: dict[int, list[str]] = defaultdict(list)

    def flag(
        self,
        column: str,
        mask: np.ndarray,
        raw: pd.Series,
        describe: Callable[[Any, int], str],
    ) -> None:
        for found in np.flatnonzero(mask):
            position = int(found)
            self.by_row[position].append(f"{column}: {describe(raw.iloc[position], position)}")


def missing_mask(raw: pd.Series) -> np.ndarray:
    return np.asarray(raw.isna().to_numpy(), dtype=bool)


def is_float_nan(value: Any) -> bool:
    return isinstance(value, float | np.floating) and math.isnan(value)


def _numbers(raw: pd.Series, missing: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """The column as numbers, and which present values did not parse as one."""
    parsed = parse_numbers(raw)
    unparsed = np.asarray(parsed.isna().to_numpy(), dtype=bool) & ~missing
    return parsed, unparsed


def _float_values(numbers: pd.Series) -> np.ndarray:
    return np.asarray(numbers.to_numpy(dtype="float64", na_value=np.nan), dtype=np.float64)


def _convert_number(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    numbers, unparsed = _numbers(raw, missing)
    reasons.flag(column.name, unparsed, raw, lambda value, _: f"{show(value)} is not a number")
    # Unsigned 64-bit values may not fit BIGINT: they take the float path and its range check.
    integer_input = pd.api.types.is_signed_integer_dtype(numbers.dtype)
    values = None if integer_input else _float_values(numbers)
    if values is not None:
        infinite = np.isinf(values)
        reasons.flag(column.name, infinite, raw, lambda v, _: f"{show(v)} is not a finite number")
    bad = unparsed.copy() if values is None else unparsed | np.isinf(values)

    if column.kind == "integer":
        low, high = column.integer_bounds or (-(2**63), 2**63 - 1)
        label = _sql_type_label(column)
        if integer_input:
            as_int = np.asarray(numbers.to_numpy(dtype="int64", na_value=0), dtype=np.int64)
            out_of_range = ~missing & ((as_int < low) | (as_int > high))
        else:
            assert values is not None
            finite = np.isfinite(values)
            with np.errstate(invalid="ignore"):
                fractional = finite & (np.floor(values) != values)
                out_of_range = finite & ~fractional & ((values < low) | (values >= float(high) + 1))
            reasons.flag(
                column.name, fractional, raw, lambda v, _: f"{show(v)} is not a whole number"
            )
            bad |= fractional
            as_int = np.where(finite & ~fractional & ~out_of_range, values, 0).astype(np.int64)
        reasons.flag(
            column.name, out_of_range, raw, lambda v, _: f"{show(v)} is out of range for {label}"
        )
        bad |= out_of_range
        return pa.array(as_int, type=pa.int64(), mask=_mask(missing | bad)), bad

    assert values is not None or integer_input
    if values is None:
        values = _float_values(numbers)
    if column.kind == "numeric" and column.precision is not None:
        scale = column.scale or 0
        limit = 10.0 ** (column.precision - scale)
        with np.errstate(invalid="ignore"):
            overflow = np.isfinite(values) & (np.round(np.abs(values), scale) >= limit)
        whole_digits = column.precision - scale
        label = f"NUMERIC({column.precision},{scale})"
        reasons.flag(
            column.name,
            overflow,
            raw,
            lambda v, _: (
                f"{show(v)} overflows {label}: the absolute value must be below 10^{whole_digits}"
            ),
        )
        bad |= overflow
    if column.kind == "numeric" and not pd.api.types.is_numeric_dtype(raw.dtype):
        # Decimal and text inputs keep their exact digits; floats print their round-trip repr.
        texts = pc.utf8_trim_whitespace(as_strings(raw, missing))
        return _with_nulls(texts, missing | bad), bad
    if integer_input:
        ints = np.asarray(numbers.to_numpy(dtype="int64", na_value=0), dtype=np.int64)
        return pa.array(ints, type=pa.int64(), mask=_mask(missing | bad)), bad
    return pa.array(values, type=pa.float64(), mask=_mask(missing | bad)), bad


_NO_TEXT_KINDS = frozenset({"floating", "integer", "mixed-integer-float", "decimal"})


def as_strings(raw: pd.Series, missing: np.ndarray) -> pa.Array | pa.ChunkedArray:
    if pd.api.types.is_string_dtype(raw.dtype) and raw.dtype != object:
        return pa.array(raw, from_pandas=True)
    kind = pd.api.types.infer_dtype(raw, skipna=True) if raw.dtype == object else None
    if kind == "string":
        # all text: Arrow takes the values as they are, without a Python loop
        return pa.array(raw.to_numpy(dtype=object), type=pa.string(), mask=missing)
    if kind in _NO_TEXT_KINDS:
        # no text among the values: each is `str(value)`, mapped without a per-row branch
        shown = list(map(str, raw.to_numpy(dtype=object)))
        return pa.array(shown, type=pa.string(), mask=missing)
    texts = [
        None if gone else (v if isinstance(v, str) else str(v))
        for v, gone in zip(raw, missing, strict=True)
    ]
    return pa.array(texts, type=pa.string())


def _mask(null: np.ndarray) -> np.ndarray | None:
    """An Arrow null mask, or None when nothing is null (null-free arrays format faster)."""
    return null if null.any() else None


def _with_nulls(array: pa.Array | pa.ChunkedArray, null: np.ndarray) -> pa.Array:
    """`array` with the positions in `null` set to NULL."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not null.any():
        return array
    return pc.if_else(pa.array(null), pa.nulls(len(array), type=array.type), array)


def _encodable(value: Any) -> bool:
    try:
        str(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _convert_text(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray]:
    bad = np.zeros(len(raw), dtype=bool)
    try:
        strings = as_strings(raw, missing)
    except UnicodeEncodeError:
        # rare: text with lone surrogates (e.g. bytes decoded with surrogateescape); find them
        unencodable = ~missing & ~np.fromiter(map(_encodable, raw), dtype=bool, count=len(raw))
        reasons.flag(
            column.name,
            unencodable,
            raw,
            lambda v, _: f"{v!r} is not valid Unicode text (it cannot be encoded as UTF-8)",
        )
        bad |= unencodable
        strings = as_strings(raw, missing | unencodable)
    if column.max_length is not None:
        lengths = pc.utf8_length(strings)
        too_long = np.asarray(pc.fill_null(pc.greater(lengths, column.max_length), False))
        label = _sql_type_label(column)
        reasons.flag(
            column.name,
            too_long,
            raw,
            lambda v, _: f"{show(v)} is {len(str(v))} characters, more than {label}",
        )
        bad |= too_long
    has_nul = np.asarray(pc.fill_null(pc.match_substring(strings, "\x00"), False))
    if has_nul.any():
        reasons.flag(column.name, has_nul, raw, lambda v, _: f"{show(v)} contains a NUL character")
        bad |= has_nul
    return strings, bad


def _convert_boolean(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = np.asarray(raw.to_numpy(dtype=bool, na_value=False), dtype=bool)
        return pa.array(values, mask=_mask(missing)), np.zeros(len(raw), dtype=bool)
    parsed = parse_booleans(raw, true_words=SQL_TRUE_WORDS, false_words=SQL_FALSE_WORDS)
    truthy = np.asarray(parsed.eq(True).to_numpy(), dtype=bool)
    falsy = np.asarray(parsed.eq(False).to_numpy(), dtype=bool)
    bad = ~missing & ~truthy & ~falsy
    reasons.flag(column.name, bad, raw, lambda v, _: f"{show(v)} is not a boolean")
    return pa.array(truthy, mask=_mask(missing | bad)), bad


def _datetimes(raw: pd.Series, missing: np.ndarray, *, utc: bool) -> tuple[pd.Series, np.ndarray]:
    parsed = parse_iso_datetimes(raw, utc=utc)
    unparsed = np.asarray(parsed.isna().to_numpy(), dtype=bool) & ~missing
    return parsed, unparsed


def _convert_date(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    parsed, unparsed = _datetimes(raw, missing, utc=False)
    reasons.flag(column.name, unparsed, raw, lambda v, _: f"{show(v)} is not a valid date")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    stamps = parsed.to_numpy()
    days = stamps.astype("datetime64[D]")
    timed = ~np.isnat(stamps) & (days.astype(stamps.dtype) != stamps)
    reasons.flag(
        column.name, timed, raw, lambda v, _: f"{show(v)} has a time of day, expected a date"
    )
    bad = unparsed | timed
    return pa.array(days, type=pa.date32(), mask=_mask(missing | bad | np.isnat(days))), bad


def _convert_timestamp(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    parsed, unparsed = _datetimes(raw, missing, utc=True)
    reasons.flag(column.name, unparsed, raw, lambda v, _: f"{show(v)} is not a valid timestamp")
    if not isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize("UTC")
    stamps = parsed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    arrow_type = pa.timestamp("us", tz="UTC" if column.kind == "timestamptz" else None)
    nat = np.isnat(stamps)
    array = pa.array(stamps.astype(np.int64), type=pa.int64(), mask=_mask(missing | unparsed | nat))
    return array.cast(arrow_type), unparsed


def _convert_uuid(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray]:
    strings = as_strings(raw, missing)
    matches = np.asarray(pc.fill_null(pc.match_substring_regex(strings, _UUID_PATTERN), True))
    bad = ~matches & ~missing
    reasons.flag(column.name, bad, raw, lambda v, _: f"{show(v)} is not a UUID")
    return strings, bad


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _to_json(value: Any) -> str:
    if isinstance(value, str):
        json.loads(value)
        return value
    return json.dumps(value, allow_nan=False, default=_json_default)


def _convert_json(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    texts: list[str | None] = []
    bad = np.zeros(len(raw), dtype=bool)
    problems: dict[int, str] = {}
    for position, (value, gone) in enumerate(zip(raw, missing, strict=True)):
        if gone:
            texts.append(None)
            continue
        try:
            texts.append(_to_json(value))
        except (ValueError, TypeError) as error:
            texts.append(None)
            bad[position] = True
            problems[position] = str(error)
    reasons.flag(
        column.name, bad, raw, lambda v, at: f"{show(v)} is not valid JSON ({problems[at]})"
    )
    return pa.array(texts, type=pa.string()), bad


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple | np.ndarray):
        return _array_literal(value)
    text = str(value.item() if isinstance(value, np.generic) else value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array_literal(values: Sequence[Any] | np.ndarray) -> str:
    return "{" + ",".join(_array_element(value) for value in values) + "}"


def _convert_array(
    column: ColumnInfo, raw: pd.Series, missing: np.ndarray, reasons: Reasons
) -> tuple[pa.Array, np.ndarray]:
    texts: list[str | None] = []
    bad = np.zeros(len(raw), dtype=bool)
    for position, value in enumerate(raw):
        if isinstance(value, list | tuple | np.ndarray):
            texts.append(_array_literal(value))
        elif isinstance(value, str):
            texts.append(value)
        elif missing[position]:
            texts.append(None)
        else:
            texts.append(None)
            bad[position] = True
    reasons.flag(column.name, bad, raw, lambda v, _: f"{show(v)} is not a list")
    return pa.array(texts, type=pa.string()), bad


def array_missing(raw: pd.Series) -> np.ndarray:
    return np.fromiter(
        (not isinstance(v, list | tuple | np.ndarray | str) and pd.isna(v) for v in raw),
        dtype=bool,
        count=len(raw),
    )


CONVERTERS = {
    "integer": _convert_number,
    "numeric": _convert_number,
    "float": _convert_number,
    "text": _convert_text,
    "boolean": _convert_boolean,
    "date": _convert_date,
    "timestamptz": _convert_timestamp,
    "timestamp": _convert_timestamp,
    "uuid": _convert_uuid,
    "json": _convert_json,
    "array": _convert_array,
}
