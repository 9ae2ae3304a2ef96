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
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stocker.core.date_forms import CellFormatError, date_readings, one_date_format

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
SQL_TRUE_WORDS = TRUE_WORDS | {"on"}
"""PostgreSQL's boolean input also takes on/off."""
SQL_FALSE_WORDS = FALSE_WORDS | {"off"}


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
        text = _arrow_text(series)
        if text is not None:
            empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(text)), 0)
            blank = pc.fill_null(empty, True).to_numpy(zero_copy_only=False)
            return pd.Series(blank, index=series.index, dtype=bool)
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


@dataclass(frozen=True)
class NumberFormat:
    """How a file writes numbers: its decimal separator and the characters it puts between
    digit groups (removed before reading)."""

    decimal: str = "."
    thousands: str = ""


PLAIN = NumberFormat()
DECIMALS = (".", ",")
GROUPING = "_' \u00a0\u202f"
"""Digit-group separators that are never a decimal separator: `1_234`, `1'234`, `1 234`."""
THOUSANDS_CHOICES = (",", ".", *GROUPING, "")
# Each pattern (RE2, run by Arrow over every cell) finds a cell that settles the question.
_EVIDENCE = {
    # a separator followed by other than exactly three digits is a decimal separator
    "dot_decimal": r"\.(\d{0,2}|\d{4,})(\D|$)|\d{4,}\.|,\d*\.",
    "comma_decimal": r",(\d{0,2}|\d{4,})(\D|$)|\d{4,},|\.\d*,",
    # twice in a cell, or before the other one, it separates digit groups
    "dot_grouping": r"\.\d*\.|\.\d*,",
    "comma_grouping": r",\d*,|,\d*\.",
}
_PLAIN_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def _arrow_text(series: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    """The text column as Arrow strings (nulls where missing); None for a column that is not
    all text (typed numbers, mixed objects): those take pandas' path."""
    if not is_text(series):
        return None
    try:
        values = pa.array(series.array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return None
    return values


HEAD_CELLS = 10_000


def _first_match(text: pa.Array | pa.ChunkedArray, pattern: str) -> str | None:
    """The first cell matching `pattern`, if any (the head first: evidence is usually early)."""
    for part in (text.slice(0, HEAD_CELLS), text.slice(HEAD_CELLS)):
        found = pc.match_substring_regex(part, pattern)
        if pc.any(found).as_py():
            return str(part[pc.index(found, True).as_py()].as_py())
    return None


def number_format(
    columns: Iterable[pd.Series], *, decimal: str | None = None, thousands: str | None = None
) -> NumberFormat:
    """The one number format of a file's number columns.

    `decimal` / `thousands` when given (checked against the cells); otherwise inferred from
    every cell: `132,42` says the comma is the decimal separator, `1,234.5` or `1,234,567`
    that it separates thousands. Raises `CellFormatError` when the cells contradict each other
    or the options (`'132.42'` and `'132,42'` in one file), or when every separator could be
    either (`'1,234'` alone is 1234 or 1.234).
    """
    evidence = NumberEvidence()
    for series in columns:
        evidence.add(series)
    return evidence.decide(decimal=decimal, thousands=thousands)


class NumberEvidence:
    """What the number cells of a file say about its format, gathered column by column (or
    chunk by chunk of a file read in parts), then `decide`d once for the whole file: the same
    answer whether the cells came in one piece or many."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}
        self.groupers: set[str] = set()
        self.seen: set[str] = set()
        self.any_separator = ""

    def add(self, series: pd.Series | pa.Array | pa.ChunkedArray) -> None:
        """Note the evidence of one column's cells (typed numbers say nothing)."""
        if isinstance(series, pa.Array | pa.ChunkedArray):
            text = series if pa.types.is_string(series.type) else None
        else:
            text = _arrow_text(series)
        if text is None:
            return
        here = {c for c in DECIMALS if pc.any(pc.match_substring(text, c)).as_py()}
        self.seen |= here
        for name, pattern in _EVIDENCE.items():
            needs = "." if name.startswith("dot") else ","
            if name not in self.found and needs in here and (cell := _first_match(text, pattern)):
                self.found[name] = cell
        if _first_match(text, rf"\d[{GROUPING}]\d"):
            self.groupers.update(c for c in GROUPING if _first_match(text, rf"\d{c}\d"))
        if not self.any_separator and here:
            self.any_separator = _first_match(text, "[.,]") or ""

    def decide(self, *, decimal: str | None = None, thousands: str | None = None) -> NumberFormat:
        """The file's format from everything noted (see `number_format`)."""
        if decimal is not None and decimal not in DECIMALS:
            raise CellFormatError(
                f"decimal separator {decimal!r} is not . or ,", "decimal", DECIMALS
            )
        if thousands is not None and thousands not in THOUSANDS_CHOICES:
            raise CellFormatError(
                f"thousands separator {thousands!r} is not one of , . _ ' space or none",
                "thousands",
                THOUSANDS_CHOICES,
            )
        found, seen, any_separator = dict(self.found), self.seen, self.any_separator
        possible = [d for d in DECIMALS if d == (decimal or d) and d != thousands]
        rules = {
            ".": ("comma_decimal", "dot_grouping"),  # cells that rule out a decimal point
            ",": ("dot_decimal", "comma_grouping"),
        }
        allowed = [d for d in possible if not any(rule in found for rule in rules[d])]
        if thousands is not None and thousands not in DECIMALS and seen:
            # no `.`/`,` grouping: the one seen is the decimal separator (both: a contradiction)
            allowed = [d for d in allowed if d in seen and len(seen) == 1]
            found.setdefault("both", any_separator)
        if not allowed:
            examples = sorted({found[name] for name in found})
            if decimal is not None or thousands is not None:
                given = ", ".join(
                    f"{name} {value!r}"
                    for name, value in (("decimal", decimal), ("thousands", thousands))
                    if value is not None
                )
                raise CellFormatError(
                    f"numbers such as {', '.join(map(repr, examples[:3]))} do not fit {given}",
                    "decimal",
                    [d for d in DECIMALS if d != decimal],
                )
            raise CellFormatError(
                "numbers are written in more than one format (e.g. "
                f"{' and '.join(map(repr, examples[:2]))})",
                "decimal",
                DECIMALS,
            )
        if len(allowed) > 1:
            if any_separator:
                raise CellFormatError(
                    f"numbers such as {any_separator!r} read two ways (the separator may be a "
                    "decimal point or a thousands separator)",
                    "decimal",
                    DECIMALS,
                )
            allowed = ["."]
        chosen = allowed[0]
        if thousands is None:
            other = "," if chosen == "." else "."
            thousands = (other if other in seen else "") + "".join(sorted(self.groupers))
        return NumberFormat(chosen, thousands)


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


def _read_numbers(series: pd.Series, numbers: NumberFormat) -> pd.Series:
    """Text read in the file's format with Arrow kernels (a million cells in milliseconds);
    anything but a plain number once the separators are settled is NaN."""
    text = _arrow_text(series)
    if text is None:
        return parse_numbers(series, separators=numbers.thousands)
    text = pc.utf8_trim_whitespace(text)
    for character in numbers.thousands:
        text = pc.replace_substring(text, character, "")
    if numbers.decimal != ".":
        # a point left in a decimal-comma file is no number's point: `1.5` there is not 1.5
        text = pc.if_else(pc.match_substring(text, "."), pa.scalar(None, text.type), text)
        text = pc.replace_substring(text, numbers.decimal, ".")
    plain = pc.match_substring_regex(text, _PLAIN_NUMBER)
    values = pc.cast(pc.if_else(plain, text, pa.scalar(None, text.type)), pa.float64())
    return pd.Series(values.to_numpy(zero_copy_only=False), index=series.index, dtype="float64")


def finite_numbers(series: pd.Series, numbers: NumberFormat = PLAIN) -> pd.Series:
    """float64 numbers of a column people wrote, read in the file's `numbers` format; NaN for
    non-numbers, ±inf and booleans."""
    if series.dtype == bool:
        return pd.Series(float("nan"), index=series.index)
    parsed = _read_numbers(series, numbers).astype("float64")
    return parsed.where(parsed.abs() != math.inf)


def whole_numbers(series: pd.Series, numbers: NumberFormat = PLAIN) -> pd.Series:
    """Like `finite_numbers`, with NaN also for numbers that have a fraction."""
    parsed = finite_numbers(series, numbers)
    return parsed.where(parsed == parsed.round())


def read_number(value: Any, numbers: NumberFormat = PLAIN) -> float | None:
    """One cell in the file's `numbers` format: None when blank; `ValueError` when it is not a
    finite number."""
    if is_blank(value):
        return None
    parsed = finite_numbers(pd.Series([value], dtype=object), numbers).iloc[0]
    if pd.isna(parsed):
        raise ValueError(f"{value!r} is not a number")
    return float(parsed)


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


def _distinct_text(series: pd.Series) -> list[str]:
    text = series.dropna().astype(str).str.strip()
    return [cell for cell in pd.unique(text) if cell]


def infer_date_format(series: pd.Series) -> str | None:
    """The strftime format of the column's date cells (their date part), inferred only when
    every cell that is a date in some known format agrees with exactly one of them:
    `13/01/2023` settles `03/01/2023` as 3 January. None when no cell is a date;
    `CellFormatError` (option ``date_format``) when cells fit several formats that read them
    differently, or no one format fits them all."""
    return one_date_format(date_readings(_distinct_text(series)))


def _dated(series: pd.Series) -> tuple[pd.Series, str] | None:
    """Each cell's reading in the column's one inferred format (None where a cell is not a date
    in it), and that format; None when no cell is a date in any known format."""
    text = series.astype("string").str.strip()
    readings = date_readings(_distinct_text(text))
    label = one_date_format(readings)
    if label is None:
        return None
    chosen = readings[label]
    return text.map(lambda cell: chosen.get(cell) if isinstance(cell, str) else None), label


def parse_dates(series: pd.Series, date_format: str | None = None) -> pd.Series:
    """Calendar dates as written, one format per column: `date_format` when given, else ISO 8601
    (fast) when every cell is, else the format `infer_date_format` settles (it raises
    `CellFormatError` when the cells do not settle one). A cell's time and zone are ignored
    (the date in the cell is the date); None where a cell is not a date."""
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
        dated = _dated(text)
        if dated is not None:
            return dated[0].map(lambda read: read[0] if read else None).astype(object)
        parsed = parsed.copy()
        cells = text[retry].astype(object)
        try:
            again = _naive(pd.to_datetime(cells, errors="coerce", format="mixed"))
        except ValueError:  # zoned and naive cells mixed: each read on its own, its own date
            again = pd.to_datetime(cells.map(_naive_cell))
        parsed[retry] = again
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def _with_iso_dates(text: pd.Series) -> pd.Series:
    """The cells with their date part rewritten as ISO 8601 in the column's one format (so no
    later parser guesses day or month order); unchanged when no cell is a date in any."""
    dated = _dated(text)
    if dated is None:
        return text
    return dated[0].map(lambda read: f"{read[0].isoformat()}{read[1]}" if read else None)


def _naive_cell(cell: object) -> pd.Timestamp | None:
    """One cell as a timestamp without its zone (the wall-clock date stays the cell's)."""
    if not isinstance(cell, str):
        return None
    stamp = pd.to_datetime(cell, errors="coerce")
    if not isinstance(stamp, pd.Timestamp):  # NaT: not a date
        return None
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


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
    if not date_format:
        iso = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
        if iso.isna().sum() > blank_mask(series).sum():
            text = _with_iso_dates(text)
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
