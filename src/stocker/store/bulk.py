"""`upsert`: the one bulk write every loader uses.

Rows are validated against the target's column types first (see `bulk_validate` for the rules),
then written with COPY inside the caller's transaction:

- Fast path: when none of the batch's keys can exist in the target (one indexed EXISTS query over
  the batch's key values or ranges), the rows are COPied straight into the table.
- Merge path: otherwise they are COPied into a TEMP staging table typed exactly like the target
  and merged with `INSERT … ON CONFLICT (key) DO UPDATE … WHERE … IS DISTINCT FROM …`, so rows
  that did not change are neither rewritten nor locked, and reloading the same data reports
  0 inserted / 0 updated. `updated_at` is set to NOW() on real updates when the table has it and
  the rows do not; `created_at` and the primary key are never updated.
- Provenance columns (`provenance=`, e.g. `source`, `source_hash`) say where a value came from,
  not what it is: they are left out of the comparison, so a row whose values did not change
  keeps the provenance it was first recorded with (the same file under another name changes
  nothing); they are written with the values when those change.
- If another writer inserts one of the keys between the check and the COPY, the fast path's
  unique violation is rolled back to a savepoint and the batch goes through the merge path.

Rows with a NULL in a nullable key column never conflict (SQL NULLs are distinct), so they are
always inserted. Values with more decimals than a NUMERIC column's scale are rounded by
PostgreSQL, and that rounded value is what later reloads compare against.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from sqlalchemy import Connection, text

from stocker.core.errors import DataError, ValidationError
from stocker.store.bulk_copy import copy_arrow, driver_connection
from stocker.store.bulk_validate import ValidatedBatch, validate
from stocker.store.table_info import ColumnInfo, TableInfo, table_info

REASONS_IN_MESSAGE = 5
ANY_VALUES_LIMIT = 1_000
TEXT_ANY_VALUES_LIMIT = 10_000
ANALYZE_STAGE_ROWS = 10_000
_UNCOMPARABLE_TYPES = frozenset(
    {"xml", "point", "line", "lseg", "box", "path", "polygon", "circle"}
)


@dataclass(frozen=True)
class RejectedRow:
    """An input row that was not written: its 0-based position, raw values and every reason."""

    row_number: int
    row: dict[str, Any]
    reasons: tuple[str, ...]


@dataclass
class UpsertResult:
    """What became of a batch: counts per outcome, the rejects, and optionally the changed rows."""

    table: str
    received: int
    inserted: int
    updated: int
    unchanged: int
    rejected: list[RejectedRow] = field(default_factory=list)
    changed: pd.DataFrame | None = None
    """Key and written columns of the rows inserted or updated (`return_changed`): as stored,
    or as sent when every row was new (the COPY fast path)."""

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def upsert(
    conn: Connection,
    table: str,
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    key: Sequence[str] | None = None,
    on_reject: Literal["raise", "return"] = "raise",
    return_changed: bool = False,
    provenance: Sequence[str] = (),
) -> UpsertResult:
    """Insert new rows and update changed ones of `table`, in the caller's transaction.

    Parameters
    ----------
    conn
        A SQLAlchemy connection on psycopg 3, inside a transaction (`engine.begin()`).
    table
        Target table, optionally schema-qualified.
    rows
        A DataFrame whose columns are table columns, or a sequence of mappings.
    key
        Conflict key; defaults to the table's non-PK UNIQUE constraint, else its primary key.
    on_reject
        "raise": any invalid row raises `ValidationError` and nothing is written.
        "return": valid rows are written and the invalid ones returned in `rejected`.
    return_changed
        Also return the inserted/updated rows (as stored; as sent when all are new).
    provenance
        Columns not compared: a row counts as updated (and they are rewritten) only when another
        non-key column changes.
    """
    if on_reject not in ("raise", "return"):
        raise DataError(f"on_reject: got {on_reject!r}, expected 'raise' or 'return'")
    frame, originals = _as_frame(rows)
    info = table_info(conn, table)
    key_columns = _conflict_key(info, key)
    if len(frame) == 0:
        return _empty_result(table, frame, return_changed)
    batch = validate(frame, info, key_columns)
    rejected = _rejected_rows(frame, originals, batch)
    if rejected and on_reject == "raise":
        raise _validation_error(table, len(frame), rejected)
    valid = batch.valid_table()
    result = UpsertResult(
        table=table,
        received=len(frame),
        inserted=0,
        updated=0,
        unchanged=0,
        rejected=rejected,
    )
    if valid.num_rows == 0:
        if return_changed:
            result.changed = frame.iloc[0:0].copy()
        return result
    try:
        with conn.begin_nested(), driver_connection(conn).cursor() as cursor:
            inserted, updated, changed = _write(
                conn, cursor, info, key_columns, valid, return_changed, tuple(provenance)
            )
    except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
        raise _refused_error(table, error, batch) from error
    result.inserted = inserted
    result.updated = updated
    result.unchanged = valid.num_rows - inserted - updated
    result.changed = changed
    return result


def replace_range(
    conn: Connection,
    table: str,
    rows: pd.DataFrame,
    *,
    key: tuple[str, str, str],
    partition: str,
    start: dt.date,
    end: dt.date,
) -> tuple[UpsertResult, int]:
    """Make `rows` the whole content of one partition's [start, end] in `table`.

    `key` names the (date, text member, partition) columns. Rows are upserted on it, then the
    partition's rows dated in [start, end] whose (date, member) is not in `rows` are deleted, so a
    recomputation leaves nothing stale behind. Returns the upsert's result and the rows deleted.
    """
    date_column, member_column, partition_column = (_quote(column) for column in key)
    result = upsert(conn, table, rows, key=key)
    deleted = conn.execute(
        text(
            f"DELETE FROM {_quote(table)} t WHERE t.{partition_column} = :partition "
            f"AND t.{date_column} BETWEEN :start AND :end AND NOT EXISTS ("
            "SELECT 1 FROM unnest(CAST(:dates AS date[]), CAST(:members AS text[])) "
            f"AS kept(day, member) WHERE kept.day = t.{date_column} "
            f"AND kept.member = t.{member_column})"
        ),
        {
            "partition": partition,
            "start": start,
            "end": end,
            "dates": list(rows[key[0]]),
            "members": list(rows[key[1]]),
        },
    ).rowcount
    return result, int(deleted)


def _as_frame(
    rows: pd.DataFrame | Sequence[Mapping[str, Any]],
) -> tuple[pd.DataFrame, Sequence[Mapping[str, Any]] | None]:
    """A positionally indexed frame, plus the original mappings to report rejects verbatim."""
    if isinstance(rows, pd.DataFrame):
        if isinstance(rows.index, pd.RangeIndex) and rows.index.start == 0 and rows.index.step == 1:
            return rows, None
        return rows.reset_index(drop=True), None
    originals = list(rows)
    columns: dict[str, None] = {}
    for mapping in originals:
        columns.update(dict.fromkeys(mapping))
    # object dtype keeps Decimals, big integers, dates and NaN-versus-None exactly as given.
    frame = pd.DataFrame(
        {
            column: pd.Series([mapping.get(column) for mapping in originals], dtype=object)
            for column in columns
        },
        index=pd.RangeIndex(len(originals)),
    )
    return frame, originals


def _conflict_key(info: TableInfo, key: Sequence[str] | None) -> tuple[str, ...]:
    if key is None:
        return info.default_key
    chosen = tuple(key)
    if not any(set(chosen) == set(unique) for unique in info.unique_keys):
        listed = "; ".join("(" + ", ".join(unique) + ")" for unique in info.unique_keys) or "none"
        raise DataError(
            f"{info.name}: key ({', '.join(chosen)}) is not a unique key of the table; "
            f"its unique keys are {listed}"
        )
    return chosen


def _empty_result(table: str, frame: pd.DataFrame, return_changed: bool) -> UpsertResult:
    return UpsertResult(
        table=table,
        received=0,
        inserted=0,
        updated=0,
        unchanged=0,
        changed=frame.copy() if return_changed else None,
    )


def _rejected_rows(
    frame: pd.DataFrame,
    originals: Sequence[Mapping[str, Any]] | None,
    batch: ValidatedBatch,
) -> list[RejectedRow]:
    if not batch.reasons:
        return []
    positions = sorted(batch.reasons)
    if originals is not None:
        raw_rows = [dict(originals[position]) for position in positions]
    else:
        raw_rows = cast(list[dict[str, Any]], frame.iloc[positions].to_dict("records"))
    return [
        RejectedRow(row_number=position, row=raw, reasons=tuple(batch.reasons[position]))
        for position, raw in zip(positions, raw_rows, strict=True)
    ]


def _validation_error(table: str, received: int, rejected: list[RejectedRow]) -> ValidationError:
    every_reason = [
        f"row {reject.row_number}: {reason}" for reject in rejected for reason in reject.reasons
    ]
    first = "; ".join(
        f"row {reject.row_number}: " + "; ".join(reject.reasons)
        for reject in rejected[:REASONS_IN_MESSAGE]
    )
    more = len(rejected) - REASONS_IN_MESSAGE
    tail = f" (and {more} more rows)" if more > 0 else ""
    return ValidationError(
        f"{table}: {len(rejected)} of {received} rows rejected, nothing written: {first}{tail}",
        every_reason,
    )


def _refused_error(table: str, error: psycopg.Error, batch: ValidatedBatch) -> DataError:
    """PostgreSQL refused a row the type checks let through (a CHECK or foreign key, usually)."""
    diagnostic = error.diag
    parts = [f"{table}: PostgreSQL refused the batch: {diagnostic.message_primary}"]
    if diagnostic.constraint_name:
        parts.append(f"constraint {diagnostic.constraint_name}")
    if diagnostic.message_detail:
        parts.append(diagnostic.message_detail)
    line = re.search(r"line (\d+)", diagnostic.context or "")
    if line:
        valid_positions = np.flatnonzero(batch.valid_mask)
        ordinal = int(line.group(1)) - 1
        if 0 <= ordinal < len(valid_positions):
            parts.append(f"input row {int(valid_positions[ordinal])}")
    return DataError("; ".join(parts))


def _write(
    conn: Connection,
    cursor: psycopg.Cursor,
    info: TableInfo,
    key: tuple[str, ...],
    valid: pa.Table,
    return_changed: bool,
    provenance: tuple[str, ...],
) -> tuple[int, int, pd.DataFrame | None]:
    target = sql.SQL(info.qualified_name)
    if not _any_key_exists(cursor, info, key, valid):
        # None of the keys is stored: every row is new, so COPY them straight in (a large file
        # loaded in chunks takes this path chunk after chunk); the changed rows are all of them.
        try:
            with conn.begin_nested():
                copy_arrow(cursor, target, valid)
            return valid.num_rows, 0, valid.to_pandas() if return_changed else None
        except psycopg.errors.UniqueViolation:
            pass  # another writer inserted one of these keys since the check: merge instead
    return _merge(cursor, info, key, valid, return_changed, provenance)


def _key_condition(column: ColumnInfo, values: pa.Array | pa.ChunkedArray) -> tuple[str, list]:
    """A SQL condition every stored row with one of `values` in `column` satisfies, or ''."""
    if column.kind in ("json", "array"):
        return "", []
    distinct = pc.unique(values).drop_null()
    if len(distinct) == 0:
        return "FALSE", []
    name = _quote(column.name)
    cast = column.sql_type
    kind = distinct.type
    # Text ranges would compare bytewise here but by collation in PostgreSQL: lists only.
    ordered = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind)
    limit = ANY_VALUES_LIMIT if ordered else TEXT_ANY_VALUES_LIMIT
    if len(distinct) <= limit:
        texts = pc.cast(distinct, pa.string()).to_pylist()
        return f"{name} = ANY(%s::{cast}[])", [texts]
    if ordered:
        bounds = pc.min_max(distinct)
        low, high = (pc.cast(bounds[side], pa.string()).as_py() for side in ("min", "max"))
        return f"{name} BETWEEN %s::{cast} AND %s::{cast}", [low, high]
    return "", []


def _any_key_exists(
    cursor: psycopg.Cursor, info: TableInfo, key: tuple[str, ...], valid: pa.Table
) -> bool:
    """Whether the target may hold one of the batch's keys (a superset test on an index)."""
    conditions: list[str] = []
    parameters: list[Any] = []
    for column in key:
        condition, values = _key_condition(info.columns[column], valid[column])
        if condition == "FALSE":
            return False  # every row has a NULL here, and NULL keys never conflict
        if condition:
            conditions.append(condition)
            parameters.extend(values)
    where = " AND ".join(conditions) or "TRUE"
    query = f"SELECT EXISTS (SELECT 1 FROM {info.qualified_name} WHERE {where})"
    row = cursor.execute(query.encode(), parameters).fetchone()
    return bool(row and row[0])


def _comparable(alias: str, column: ColumnInfo) -> str:
    """`alias.column` in a form that has an equality operator (json and geometry lack one)."""
    reference = f"{alias}.{_quote(column.name)}"
    if column.type_name == "json":
        return f"{reference}::jsonb"
    if column.type_name in _UNCOMPARABLE_TYPES:
        return f"{reference}::text"
    return reference


def _merge(
    cursor: psycopg.Cursor,
    info: TableInfo,
    key: tuple[str, ...],
    valid: pa.Table,
    return_changed: bool,
    provenance: tuple[str, ...] = (),
) -> tuple[int, int, pd.DataFrame | None]:
    """COPY into a staging table, then insert new and update changed rows in one statement."""
    columns = valid.column_names
    stage = _quote(f"stocker_stage_{uuid.uuid4().hex[:16]}")
    quoted = [_quote(column) for column in columns]
    column_list = ", ".join(quoted)
    cursor.execute(
        f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
        f"SELECT {column_list} FROM {info.qualified_name} WITH NO DATA"
    )
    copy_arrow(cursor, sql.SQL(stage), valid)
    if valid.num_rows >= ANALYZE_STAGE_ROWS:
        cursor.execute(f"ANALYZE {stage}")

    never_updated = set(key) | set(info.primary_key) | {"created_at"}
    updated_columns = [column for column in columns if column not in never_updated]
    # Provenance is written with changed values but is not itself a change.
    compared = [info.columns[column] for column in updated_columns if column not in provenance]
    key_match = " AND ".join(f"existing.{name} = staged.{name}" for name in map(_quote, key))
    if compared:
        existing_values = ", ".join(_comparable("existing", column) for column in compared)
        staged_values = ", ".join(_comparable("staged", column) for column in compared)
        unchanged_filter = (
            f"WHERE NOT EXISTS (SELECT 1 FROM {info.qualified_name} AS existing "
            f"WHERE {key_match} "
            f"AND ROW({existing_values}) IS NOT DISTINCT FROM ROW({staged_values}))"
        )
        assignments = [f"{name} = EXCLUDED.{name}" for name in map(_quote, updated_columns)]
        if info.has_updated_at and "updated_at" not in columns:
            assignments.append("updated_at = NOW()")
        target_values = ", ".join(_comparable("target", column) for column in compared)
        excluded_values = ", ".join(_comparable("EXCLUDED", column) for column in compared)
        on_conflict = (
            f"DO UPDATE SET {', '.join(assignments)} "
            f"WHERE ROW({target_values}) IS DISTINCT FROM ROW({excluded_values})"
        )
    else:
        unchanged_filter = (
            f"WHERE NOT EXISTS (SELECT 1 FROM {info.qualified_name} AS existing WHERE {key_match})"
        )
        on_conflict = "DO NOTHING"
    returned = ", ".join(f"target.{name}" for name in quoted) if return_changed else "NULL"
    insert = (
        f"INSERT INTO {info.qualified_name} AS target ({column_list}) "
        f"SELECT {', '.join('staged.' + name for name in quoted)} FROM {stage} AS staged "
        f"{unchanged_filter} "
        f"ON CONFLICT ({', '.join(map(_quote, key))}) {on_conflict} "
        f"RETURNING (target.xmax = 0) AS inserted, {returned}"
    )
    if return_changed:
        written = cursor.execute(insert.encode()).fetchall()
        inserted = sum(1 for row in written if row[0])
        changed = pd.DataFrame([row[1:] for row in written], columns=columns)
        cursor.execute(f"DROP TABLE {stage}")
        return inserted, len(written) - inserted, changed
    counted = (
        f"WITH written AS ({insert}) "
        "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM written"
    )
    row = cursor.execute(counted.encode()).fetchone()
    cursor.execute(f"DROP TABLE {stage}")
    assert row is not None
    return int(row[0]), int(row[1]), None


def _quote(name: str) -> str:
    """`name` as a quoted SQL identifier."""
    return sql.Identifier(name).as_string()
