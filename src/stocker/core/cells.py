"""The one cell parser: cells as written (text, or a file's own types) into numbers, dates,
timestamps and booleans.

File sources (`stocker.sources.files`, `stocker.sources.screener_in`) and the bulk loader's
column checks (`stocker.store.bulk_validate`) all read cells through these functions, so a
cell means the same thing wherever it arrives. The functions are vectorized over a column
(`pd.Series`) and mark what did not parse as missing (NaN, NaT, NA, None); the caller decides
whether that is a rejected row. Pure: no database, network or clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any

import pandas as pd

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
SQL_TRUE_WORDS = TRUE_WORDS | {"on"}
"""PostgreSQL's boolean input also takes on/off."""
SQL_FALSE_WORDS = FALSE_WORDS | {"off"}
THOUSANDS_SEPARATORS = ",_"
"""What people put between digit groups in files they write: `1,234,567` and `1_234_567`."""


def normalize_header(header: object) -> str:
    """`' Adj Close '` -> `'adj_close'`: lower case, punctuation and spaces runs to `_`."""
    return re.sub(r"[^0-9a-z]+", "_", str(header).strip().lower()).strip("_")


# -- blanks and text -------------------------------------------------------------------------


def is_text(series: pd.Series) -> bool:
    """Whether the column holds text (object or string dtype) rather than a typed value."""
    return series.dtype == object or pd.api.types.is_string_dtype(series)


def blank_mask(series: pd.Series) -> pd.Series:
    """Missing cells and, in a text column, cells of only whitespace."""
    if is_text(series):
        return series.isna() | (series.astype("string").str.strip() == "").fillna(True)
    return series.isna()


def is_blank(value: Any) -> bool:
    """One cell: None, NaN or whitespace only."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def cleaned_text(series: pd.Series) -> pd.Series:
    """Stripped strings, None where blank (plain objects, as the table frames carry)."""
    text = series.astype("string").str.strip()
    text = text.where(text != "")
    return text.astype(object).where(text.notna(), None)


# -- numbers ---------------------------------------------------------------------------------


def parse_numbers(series: pd.Series, *, separators: str = "") -> pd.Series:
    """The column as numbers; NaN where a present cell is not a number.

    Numeric columns come back as they are and booleans as 1.0/0.0; text goes through
    `pd.to_numeric`, after removing the `separators` characters (and surrounding spaces) when
    any are given. Infinity parses (to ±inf): whether it is allowed is the caller's rule.
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series
    if separators and is_text(series):
        pattern = "[" + re.escape(separators) + "]"
        series = series.astype("string").str.strip().str.replace(pattern, "", regex=True)
    return pd.to_numeric(series, errors="coerce")


def finite_numbers(series: pd.Series, *, separators: str = THOUSANDS_SEPARATORS) -> pd.Series:
    """float64 numbers of a column people wrote; NaN for non-numbers, ±inf and booleans."""
    if series.dtype == bool:
        return pd.Series(float("nan"), index=series.index)
    numbers = parse_numbers(series, separators=separators).astype("float64")
    return numbers.where(numbers.abs() != math.inf)


def whole_numbers(series: pd.Series) -> pd.Series:
    """Like `finite_numbers`, with NaN also for numbers that have a fraction."""
    numbers = finite_numbers(series)
    return numbers.where(numbers == numbers.round())


def parse_number(
    value: Any, *, strip: str = ",", missing_words: Collection[str] = ()
) -> float | None:
    """One cell as a number: None when blank (or one of `missing_words` such as 'N/A').

    The characters of `strip` are removed from text first ('1,23,456.7', '12.5%' with
    ``strip=",%"``). A boolean or a text that is not a number raises `ValueError`.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        return None if pd.isna(value) else float(value)
    text = str(value).strip()
    for character in strip:
        text = text.replace(character, "")
    text = text.strip()
    if not text or text in missing_words:
        return None
    return float(text)


def parse_ratio(value: Any) -> float:
    """A ratio as written: `2`, `2:1`, `2/1` or `1:10` (first part over second); `ValueError`
    or `ZeroDivisionError` when it is not one."""
    text = str(value).strip()
    for separator in (":", "/"):
        if separator in text:
            new, old = (float(part.strip()) for part in text.split(separator, 1))
            return new / old
    return float(text)


# -- booleans --------------------------------------------------------------------------------


def parse_booleans(
    series: pd.Series,
    *,
    true_words: Collection[str] = TRUE_WORDS,
    false_words: Collection[str] = FALSE_WORDS,
) -> pd.Series:
    """True/False where a cell (stripped, any case) is one of the words; NA elsewhere."""
    words = series.astype("string").str.strip().str.lower()
    parsed = pd.Series(pd.NA, index=series.index, dtype="object")
    parsed[words.isin(list(true_words)).fillna(False).to_numpy(dtype=bool)] = True
    parsed[words.isin(list(false_words)).fillna(False).to_numpy(dtype=bool)] = False
    return parsed


# -- dates and timestamps --------------------------------------------------------------------


def is_datetime(series: pd.Series) -> bool:
    """Whether the column already holds timestamps (a Parquet file's, a frame's)."""
    return isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        series.dtype
    )


def parse_iso_datetimes(
    series: pd.Series, *, utc: bool = False, date_format: str | None = None
) -> pd.Series:
    """Timestamps from ISO 8601 text (or `date_format`); NaT where a cell does not parse.

    Columns already holding timestamps come back as they are. With ``utc=True`` naive text is
    read as UTC and every value is UTC-aware; without it, text naming different UTC offsets
    raises `ValueError` (pandas cannot hold them in one column).
    """
    if is_datetime(series):
        return series
    return pd.to_datetime(series, errors="coerce", format=date_format or "ISO8601", utc=utc)


def parse_dates(series: pd.Series, date_format: str | None = None) -> pd.Series:
    """Calendar dates as written: `2024-01-02`, `2024-01-02 00:00:00+05:30` and `1/2/2024` (US
    order) all give the date in the cell, whatever zone a time part names; None where a cell
    is not a date. Without `date_format`, ISO 8601 first (fast), then any format pandas reads."""
    if is_datetime(series):
        return series.dt.date.astype(object).where(series.notna(), None)
    text = series.astype("string").str.strip()
    try:
        parsed = parse_iso_datetimes(text, date_format=date_format)
    except (ValueError, TypeError):  # mixed UTC offsets: keep each cell's own date part
        parsed = None
    if parsed is None or not pd.api.types.is_datetime64_any_dtype(parsed):
        day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", expand=False)
        parsed = pd.to_datetime(day.fillna(text), errors="coerce", format="ISO8601")
    retry = (parsed.isna() & text.notna() & (text != "")).fillna(False)
    if retry.any() and not date_format:
        parsed = parsed.copy()
        parsed[retry] = _naive(
            pd.to_datetime(text[retry].astype(object), errors="coerce", format="mixed")
        )
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def _naive(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_localize(None)
    return values


def _to_utc_each(values: pd.Series, timezone: str, date_format: str | None) -> pd.Series:
    """Element by element, for columns mixing zones or formats."""

    def one(value: Any) -> Any:
        try:
            stamp = (
                pd.to_datetime(value, format=date_format)
                if date_format and isinstance(value, str)
                else pd.Timestamp(value.strip() if isinstance(value, str) else value)
            )
        except (ValueError, TypeError, OverflowError):
            return pd.NaT
        if pd.isna(stamp):
            return pd.NaT
        return (stamp.tz_localize(timezone) if stamp.tzinfo is None else stamp).tz_convert("UTC")

    return pd.to_datetime(values.map(one), utc=True)


def parse_instants(
    series: pd.Series, timezone: str = "UTC", date_format: str | None = None
) -> pd.Series:
    """UTC timestamps; naive cells are read in `timezone`. ISO 8601 first (fast), then any
    format pandas reads (unless `date_format` is given); NaT where a cell is not a time."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series):
        return series.dt.tz_localize(timezone).dt.tz_convert("UTC")
    text = series.map(lambda value: value.strip() if isinstance(value, str) else value)
    try:
        parsed = parse_iso_datetimes(text, date_format=date_format)
        if parsed.isna().sum() > blank_mask(series).sum() and not date_format:
            parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except (ValueError, TypeError):
        return _to_utc_each(series, timezone, date_format)
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        return _to_utc_each(series, timezone, date_format)
    if parsed.dt.tz is None:
        return parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert(
            "UTC"
        )
    return parsed.dt.tz_convert("UTC")
