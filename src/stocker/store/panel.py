"""Fast (dates × symbols) panel reads: the path every backtest and factor job loads prices by.

Reading 10M rows as Python tuples (what `pandas.read_sql` does) costs microseconds per row per
column, and so does a row-by-row COPY through psycopg (one CopyData message per row). Here
PostgreSQL packs each symbol's rows into one bytea of fixed-width big-endian records
(``string_agg(date_send(date) || int8send(value) || …)``), so the client receives one row per
symbol and decodes everything with `numpy.frombuffer`. A long date range is cut into up to
`PARALLEL_BRANCHES` slices glued with UNION ALL, which PostgreSQL runs as a Parallel Append (one
worker aggregates each slice) inside the caller's snapshot. `bench/panel.py` measures the ratio.

Values are exactly what ``field::float8`` returns: a NUMERIC(p, s) column with p ≤ 15 travels as
the integer ``field × 10^s`` and is divided by ``10^s`` in float64 (both exact, the division
correctly rounded, so the result is the double nearest the decimal, as PostgreSQL's cast gives);
integers travel as int8, anything else as float8. NULL and missing days are NaN.

The result is pivoted with integer codes (day offsets and symbol positions), never with
`DataFrame.pivot`: rows are the dates on which any selected symbol has a row, ascending.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine

from stocker.core.errors import DataError
from stocker.store.bulk_copy import driver_connection

POSTGRES_EPOCH = np.datetime64("2000-01-01", "D")
NULL_INTEGER = np.iinfo(np.int64).min
"""Stands for NULL in an integer-encoded column (COALESCE target); decoded as NaN."""
EXACT_NUMERIC_DIGITS = 15
"""NUMERIC precision up to which ``value × 10^scale`` is an integer float64 holds exactly."""
AGGREGATE_WORK_MEM = "256MB"
"""Per-query memory for the per-symbol aggregation, so it does not spill to disk."""
PARALLEL_BRANCHES = 4
"""Most date slices a read is split into; PostgreSQL aggregates them in parallel workers."""
BRANCH_DAYS = 365
"""Fewest calendar days per slice: a short read stays one plain aggregation."""

_INTEGER_TYPES = frozenset({"int2", "int4", "int8"})
_FLOAT_TYPES = frozenset({"float4", "float8", "numeric"})

DateLike = dt.date | str | pd.Timestamp


@dataclass(frozen=True)
class _Encoding:
    """How one column travels: an SQL expression yielding 8 bytes, and how to decode them."""

    expression: sql.Composable
    dtype: str
    divisor: float | None


def _columns(cursor: psycopg.Cursor, table: str) -> dict[str, tuple[str, int]]:
    """Column name → (type name, typmod) of `table` (a table or view), or DataError if unknown."""
    cursor.execute(
        "SELECT a.attname, t.typname, a.atttypmod FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    )
    columns = {str(name): (str(type_name), int(typmod)) for name, type_name, typmod in cursor}
    if not columns:
        raise DataError(f"table: {table!r} does not exist; expected a table or view name")
    return columns


def _encoding(column: str, type_name: str, typmod: int) -> _Encoding:
    identifier = sql.Identifier(column)
    if type_name == "numeric" and typmod >= 4:
        precision, scale = ((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF
        if precision <= EXACT_NUMERIC_DIGITS:
            scaled = sql.SQL("int8send(COALESCE(({} * {})::int8, {}))").format(
                identifier, sql.Literal(10**scale), sql.Literal(int(NULL_INTEGER))
            )
            return _Encoding(scaled, ">i8", float(10**scale) if scale else None)
    if type_name in _INTEGER_TYPES:
        as_integer = sql.SQL("int8send(COALESCE({}::int8, {}))").format(
            identifier, sql.Literal(int(NULL_INTEGER))
        )
        return _Encoding(as_integer, ">i8", None)
    if type_name in _FLOAT_TYPES:
        as_float = sql.SQL("float8send(COALESCE({}::float8, 'NaN'::float8))").format(identifier)
        return _Encoding(as_float, ">f8", None)
    raise DataError(
        f"field {column!r} has type {type_name}; expected a numeric, integer or float column"
    )


def _table_identifier(table: str) -> sql.Composable:
    return sql.SQL(".").join(sql.Identifier(part) for part in table.split("."))


def _checked_date(value: DateLike | None, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as error:
        raise DataError(f"{name}: got {value!r}, expected a date like 2024-01-31") from error


@contextmanager
def _local_settings(cursor: psycopg.Cursor, **settings: str) -> Iterator[None]:
    """Transaction-local settings for one query, put back afterwards."""
    previous: dict[str, str | None] = {}
    for name, value in settings.items():
        cursor.execute("SELECT current_setting(%s), set_config(%s, %s, true)", (name, name, value))
        row = cursor.fetchone()
        previous[name] = row[0] if row else None
    try:
        yield
    finally:
        # After an error the transaction is aborted and its rollback drops the settings anyway.
        if cursor.connection.info.transaction_status != TransactionStatus.INERROR:
            for name, old in previous.items():
                if old is not None:
                    cursor.execute("SELECT set_config(%s, %s, true)", (name, old))


def _universe_exists(cursor: psycopg.Cursor, universe: str) -> bool:
    cursor.execute(
        "SELECT 1 FROM instrument_universe WHERE name = %s AND is_deleted IS NOT TRUE", (universe,)
    )
    return cursor.fetchone() is not None


def _query(
    table: str,
    date_column: str,
    encodings: Sequence[_Encoding],
    *,
    symbols: bool,
    universe: bool,
    branches: int,
) -> sql.Composed:
    """One aggregation per date slice ``[edge_i, edge_i+1)``, glued with UNION ALL."""
    date = sql.Identifier(date_column)
    record = sql.SQL(" || ").join(
        [sql.SQL("date_send({})").format(date)] + [encoding.expression for encoding in encodings]
    )
    conditions: list[sql.Composable] = []
    if symbols:
        conditions.append(sql.SQL("symbol = ANY(%(symbols)s)"))
    if universe:
        conditions.append(
            sql.SQL(
                "symbol IN (SELECT m.symbol FROM instrument_universe_member m "
                "JOIN instrument_universe u ON u.id = m.universe_id "
                "WHERE u.name = %(universe)s AND u.is_deleted IS NOT TRUE "
                "AND m.is_deleted IS NOT TRUE)"
            )
        )
    selects = []
    for branch in range(branches):
        upper = "<=" if branch == branches - 1 else "<"
        bounds = sql.SQL("{} >= %(edge{})s AND {} {} %(edge{})s").format(
            date, sql.Literal(branch), date, sql.SQL(upper), sql.Literal(branch + 1)
        )
        where = sql.SQL(" AND ").join([*conditions, bounds])
        selects.append(
            sql.SQL(
                "SELECT symbol, string_agg({}, ''::bytea) FROM {} WHERE {} GROUP BY symbol"
            ).format(record, _table_identifier(table), where)
        )
    return sql.SQL(" UNION ALL ").join(selects)


def _date_bounds(
    cursor: psycopg.Cursor,
    table: str,
    date_column: str,
    start: dt.date | None,
    end: dt.date | None,
) -> tuple[dt.date, dt.date] | None:
    """The date range to read: the given bounds, the table's own where one is missing."""
    first, last = start, end
    if first is None or last is None:
        cursor.execute(
            sql.SQL("SELECT min({0}), max({0}) FROM {1}").format(
                sql.Identifier(date_column), _table_identifier(table)
            )
        )
        row = cursor.fetchone()
        if row is None or row[0] is None:
            return None
        first = first if first is not None else row[0]
        last = last if last is not None else row[1]
    if first is None or last is None or last < first:
        return None
    return first, last


def _edges(first: dt.date, last: dt.date) -> list[dt.date]:
    """Slice edges: up to `PARALLEL_BRANCHES` slices of at least `BRANCH_DAYS` calendar days."""
    span_days = (last - first).days
    branches = max(1, min(PARALLEL_BRANCHES, span_days // BRANCH_DAYS))
    return [first + dt.timedelta(days=span_days * step // branches) for step in range(branches)] + [
        last
    ]


def _decode(values: np.ndarray, encoding: _Encoding) -> np.ndarray:
    if encoding.dtype == ">f8":
        return values.astype(np.float64)
    decoded = values.astype(np.float64)
    decoded[values == NULL_INTEGER] = np.nan
    if encoding.divisor is not None:
        decoded /= encoding.divisor
    return decoded


def load_panels(
    conn: Connection | Engine,
    fields: Sequence[str],
    *,
    symbols: Sequence[str] | None = None,
    universe: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    table: str = "prices_daily",
    date_column: str = "date",
) -> dict[str, pd.DataFrame]:
    """Several fields of `table` as (dates × symbols) float64 panels, read in one pass.

    Parameters
    ----------
    conn
        A SQLAlchemy connection (or engine) on psycopg 3; reads in the caller's transaction.
    fields
        Numeric columns of `table` to load.
    symbols
        Columns of the result, in this order (symbols without rows are all-NaN columns).
        Default: every symbol with a row in range, sorted.
    universe
        Instead of `symbols`: the live members of this universe, sorted.
    start, end
        Inclusive date bounds; default unbounded.
    table, date_column
        Any table or view with a ``symbol`` column and a DATE column.

    Returns
    -------
    dict[str, pandas.DataFrame]
        field → panel; every panel has the same DatetimeIndex ("date") and columns ("symbol").
    """
    if isinstance(conn, Engine):
        with conn.connect() as connection:
            return load_panels(
                connection,
                fields,
                symbols=symbols,
                universe=universe,
                start=start,
                end=end,
                table=table,
                date_column=date_column,
            )
    if not fields:
        raise DataError("fields: got none, expected at least one column name")
    if symbols is not None and universe is not None:
        raise DataError("symbols and universe: got both, expected at most one of them")
    start_date, end_date = _checked_date(start, "start"), _checked_date(end, "end")
    requested = list(dict.fromkeys(symbols)) if symbols is not None else None
    driver = driver_connection(conn)
    with driver.cursor(binary=True) as cursor:
        columns = _columns(cursor, table)
        for name in [*fields, date_column, "symbol"]:
            if name not in columns:
                raise DataError(
                    f"{table}: has no column {name!r}; expected one of {sorted(columns)}"
                )
        if columns[date_column][0] != "date":
            raise DataError(
                f"date_column: {date_column!r} has type {columns[date_column][0]}; expected date"
            )
        if universe is not None and not _universe_exists(cursor, universe):
            raise DataError(f"universe: {universe!r} does not exist; see `stocker universe list`")
        encodings = [_encoding(field, *columns[field]) for field in fields]
        bounds = _date_bounds(cursor, table, date_column, start_date, end_date)
        if bounds is None:
            rows: list[tuple[str, bytes]] = []
        else:
            edges = _edges(*bounds)
            query = _query(
                table,
                date_column,
                encodings,
                symbols=requested is not None,
                universe=universe is not None,
                branches=len(edges) - 1,
            )
            parameters: dict[str, object] = {"symbols": requested, "universe": universe}
            parameters.update({f"edge{number}": edge for number, edge in enumerate(edges)})
            settings = {
                "work_mem": AGGREGATE_WORK_MEM,
                "jit": "off",
                "max_parallel_workers_per_gather": str(len(edges) - 2),
            }
            with _local_settings(cursor, **settings):
                cursor.execute(query, parameters)
                rows = cursor.fetchall()
    return _pivot(rows, fields, encodings, requested)


def _pivot(
    rows: list[tuple[str, bytes]],
    fields: Sequence[str],
    encodings: Sequence[_Encoding],
    requested: list[str] | None,
) -> dict[str, pd.DataFrame]:
    record_dtype = np.dtype(
        [("day", ">i4")] + [(f"f{index}", e.dtype) for index, e in enumerate(encodings)]
    )
    found = [str(symbol) for symbol, _ in rows]
    symbols = requested if requested is not None else sorted(set(found))
    position = {symbol: index for index, symbol in enumerate(symbols)}
    blobs = [blob for _, blob in rows]
    counts = np.array([len(blob) // record_dtype.itemsize for blob in blobs], dtype=np.int64)
    records = np.frombuffer(b"".join(blobs), dtype=record_dtype)
    column_of = np.repeat(np.array([position[s] for s in found], dtype=np.int64), counts)
    days = records["day"].astype(np.int64)
    if len(days):
        first = int(days.min())
        present = np.zeros(int(days.max()) - first + 1, dtype=bool)
        present[days - first] = True
        row_of = (np.cumsum(present) - 1)[days - first]
        day_numbers = first + np.flatnonzero(present)
    else:
        row_of = days
        day_numbers = np.array([], dtype=np.int64)
    index = pd.DatetimeIndex(POSTGRES_EPOCH + day_numbers, name="date").as_unit("ns")
    column_index = pd.Index(symbols, name="symbol")
    panels = {}
    for number, (field, encoding) in enumerate(zip(fields, encodings, strict=True)):
        matrix = np.full((len(index), len(symbols)), np.nan)
        matrix[row_of, column_of] = _decode(records[f"f{number}"], encoding)
        panels[field] = pd.DataFrame(matrix, index=index, columns=column_index, copy=False)
    return panels


def lookback_start(
    conn: Connection, day: DateLike, sessions: int, *, table: str = "prices_daily"
) -> dt.date | None:
    """The earliest of the `sessions` dates before `day` on which `table` has any row.

    A job that needs a trailing window of `sessions` rows before its first date loads from here;
    None when `table` has no earlier date.
    """
    if sessions < 1:
        return None
    # One probe of the date index per session (a loose index scan), not a read of every row of
    # those sessions: ~0.1 ms per session against tens of ms for DISTINCT over 500+ symbols.
    statement = sql.SQL(
        "WITH RECURSIVE earlier(date, n) AS ("
        "SELECT (SELECT max(date) FROM {table} WHERE date < %(day)s), 1 "
        "UNION ALL SELECT (SELECT max(t.date) FROM {table} t WHERE t.date < earlier.date), "
        "earlier.n + 1 FROM earlier WHERE earlier.n < %(sessions)s AND earlier.date IS NOT NULL) "
        "SELECT min(date) FROM earlier"
    ).format(table=_table_identifier(table))
    with driver_connection(conn).cursor() as cursor:
        cursor.execute(statement, {"day": _checked_date(day, "day"), "sessions": sessions})
        row = cursor.fetchone()
    return row[0] if row else None


def load_panel(
    conn: Connection | Engine,
    field: str = "adj_close",
    *,
    symbols: Sequence[str] | None = None,
    universe: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    table: str = "prices_daily",
    date_column: str = "date",
) -> pd.DataFrame:
    """One field of `table` as a (dates × symbols) float64 panel; see `load_panels`."""
    return load_panels(
        conn,
        [field],
        symbols=symbols,
        universe=universe,
        start=start,
        end=end,
        table=table,
        date_column=date_column,
    )[field]
