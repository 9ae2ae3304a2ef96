"""Column-type validation of a batch before COPY, vectorized over whole columns.

Each column is converted once into an Arrow array in the form PostgreSQL's CSV input accepts
(`stocker.store.bulk_convert`, one converter per column kind), and every value the column's type
would refuse is flagged with a reason that names the column, shows the value and says what was
expected. Only flagged rows are visited one by one (to word their reasons), so a clean batch of
millions of rows costs a few numpy/Arrow passes per column. Here: the batch-level checks
(unknown, generated or missing columns), NOT NULL, and keys repeated within the batch.

Conventions (documented for loaders):
- A missing value (None, NaN, NaT, pd.NA) is SQL NULL. In a NOT NULL column a float NaN is
  reported as "NaN is not a number" and any other missing value as NULL. ±inf is always refused.
- NUMERIC(p, s) refuses values whose magnitude, rounded to s decimals, reaches 10^(p-s).
  Values with more than s decimals are rounded by PostgreSQL (half away from zero), not refused.
  Decimal and string inputs are sent as their exact text, floats as their shortest round-trip text.
- DATE refuses a timestamp with a time of day; a tz-aware timestamp counts by its local date.
- TIMESTAMPTZ takes naive values as UTC; TIMESTAMP (without zone) stores aware values in UTC.
- JSON/JSONB take dicts, lists and scalars (dumped as JSON) or a str holding JSON text.
- Arrays take lists/tuples/numpy arrays (or a str holding a PostgreSQL array literal).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from stocker.core.errors import DataError
from stocker.store.bulk_convert import (
    CONVERTERS,
    Reasons,
    array_missing,
    as_strings,
    is_float_nan,
    missing_mask,
    show,
)
from stocker.store.table_info import TableInfo


@dataclass
class ValidatedBatch:
    """The batch as Arrow columns ready for CSV, and why each refused row was refused."""

    columns: list[str]
    wire: dict[str, pa.Array | pa.ChunkedArray]
    """One array per column, as long as the input (refused rows included)."""
    reasons: dict[int, list[str]]
    """Row position → every reason the row was refused."""
    row_count: int

    @property
    def valid_mask(self) -> np.ndarray:
        mask = np.ones(self.row_count, dtype=bool)
        if self.reasons:
            mask[np.fromiter(self.reasons.keys(), dtype=np.int64)] = False
        return mask

    def valid_table(self) -> pa.Table:
        """The accepted rows only, as one Arrow table in column order."""
        table = pa.table({column: self.wire[column] for column in self.columns})
        if self.reasons:
            table = table.filter(pa.array(self.valid_mask))
        return table


def _check_columns(frame: pd.DataFrame, info: TableInfo, key: Sequence[str]) -> None:
    """Batch-level problems: no row could be written, so they raise instead of rejecting rows."""
    repeated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
    if repeated:
        raise DataError(f"{info.name}: column(s) {', '.join(repeated)} appear more than once")
    unknown = [column for column in frame.columns if column not in info.columns]
    if unknown:
        raise DataError(
            f"{info.name}: unknown column(s) {', '.join(map(str, unknown))}; "
            f"the table has {', '.join(info.columns)}"
        )
    generated = [column for column in frame.columns if info.columns[column].generated]
    if generated:
        raise DataError(f"{info.name}: column(s) {', '.join(generated)} are generated, omit them")
    missing_key = [column for column in key if column not in frame.columns]
    if missing_key:
        raise DataError(
            f"{info.name}: key column(s) {', '.join(missing_key)} missing from the rows "
            f"(key is {', '.join(key)})"
        )
    required = [
        column.name
        for column in info.columns.values()
        if column.not_null and not column.has_default and column.name not in frame.columns
    ]
    if required:
        raise DataError(
            f"{info.name}: required column(s) {', '.join(required)} missing from the rows "
            "(NOT NULL without a default)"
        )


def _key_codes(wire: dict[str, pa.Array | pa.ChunkedArray], key: Sequence[str]) -> np.ndarray:
    """One int64 per row, equal exactly when the rows' keys are equal (NULLs equal each other).

    Dictionary-encoding each key column and mixing the codes is several times faster than
    hashing tuples of values, which matters on batches of millions of rows.
    """
    codes = np.zeros(len(wire[key[0]]), dtype=np.int64)
    combinations = 1
    for column in key:
        encoded = pc.dictionary_encode(wire[column], null_encoding="encode")
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        size = len(encoded.dictionary)
        if combinations * max(size, 1) >= 2**62:
            # Too many combinations for one int64: renumber what we have so far and go on.
            codes = pd.factorize(codes)[0].astype(np.int64)
            combinations = int(codes.max()) + 1 if len(codes) else 1
        codes = codes * max(size, 1) + np.asarray(encoded.indices, dtype=np.int64)
        combinations *= max(size, 1)
    return codes


def _flag_duplicate_keys(
    wire: dict[str, pa.Array | pa.ChunkedArray],
    key: Sequence[str],
    unusable: np.ndarray,
    reasons: Reasons,
) -> None:
    """Every row whose key another row of the batch also has: which one is right is unknowable."""
    codes = pd.Series(_key_codes(wire, key))
    # Rows whose key did not parse must not count as duplicates of each other.
    duplicated = np.asarray(codes.duplicated(keep=False).to_numpy(), dtype=bool) & ~unusable
    if not duplicated.any():
        return
    if unusable.any():
        duplicated = np.zeros(len(codes), dtype=bool)
        usable = np.flatnonzero(~unusable)
        duplicated[usable] = codes.iloc[usable].duplicated(keep=False).to_numpy()
    positions = np.flatnonzero(duplicated)
    groups: dict[int, list[int]] = defaultdict(list)
    for found, code in zip(positions, codes.iloc[positions], strict=True):
        groups[int(code)].append(int(found))
    label = ", ".join(key)
    for members in groups.values():
        values = [wire[column][members[0]].as_py() for column in key]
        shown = "(" + ", ".join(show(value) for value in values) + ")"
        for position in members:
            others = ", ".join(str(other) for other in members if other != position)
            reasons.by_row[position].append(
                f"{label}: key {shown} appears more than once in this batch (also row {others})"
            )


def validate(frame: pd.DataFrame, info: TableInfo, key: Sequence[str]) -> ValidatedBatch:
    """Convert `frame` (positional index) for COPY into `info`'s table and collect rejections."""
    _check_columns(frame, info, key)
    reasons = Reasons()
    wire: dict[str, pa.Array | pa.ChunkedArray] = {}
    key_unusable = np.zeros(len(frame), dtype=bool)
    for name in frame.columns:
        column = info.columns[name]
        raw = frame[name]
        missing = array_missing(raw) if column.kind in ("array", "json") else missing_mask(raw)
        if column.not_null and missing.any():
            numeric = column.kind in ("integer", "numeric", "float")

            def null_reason(value: object, _: int, numeric: bool = numeric) -> str:
                if numeric and is_float_nan(value):
                    return "NaN is not a number"
                return "NULL in a NOT NULL column"

            reasons.flag(name, missing, raw, null_reason)
        converter = CONVERTERS.get(column.kind)
        bad = np.zeros(len(frame), dtype=bool)
        if converter is None:
            wire[name] = as_strings(raw, missing)
        else:
            wire[name], bad = converter(column, raw, missing, reasons)
        if name in key:
            key_unusable |= bad
    _flag_duplicate_keys(wire, key, key_unusable, reasons)
    return ValidatedBatch(
        columns=list(frame.columns),
        wire=wire,
        reasons=dict(reasons.by_row),
        row_count=len(frame),
    )
