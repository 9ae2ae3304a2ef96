"""Serialize Arrow tables to CSV and stream them into PostgreSQL with COPY.

The CSV is written with pyarrow's C++ writer (about six times faster than
`DataFrame.to_csv` on daily bars) in chunks, and handed to psycopg's queued COPY writer, whose
worker thread sends one chunk while the next is being formatted. Memory stays bounded by the
chunk size and psycopg's queue, whatever the batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection

from stocker.core.errors import DataError

COPY_CHUNK_ROWS = 100_000
_CSV_OPTIONS = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def driver_connection(conn: Connection) -> psycopg.Connection:
    """The psycopg 3 connection under a SQLAlchemy one (COPY and binary reads need it)."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, psycopg.Connection):
        raise DataError("conn: expected a SQLAlchemy connection on psycopg 3 (postgresql+psycopg)")
    return driver


def csv_chunks(
    table: pa.Table, chunk_rows: int = COPY_CHUNK_ROWS
) -> Iterator[tuple[int, pa.Buffer]]:
    """(row count, CSV bytes) per chunk; NULL is an empty field, an empty string is `""`."""
    for offset in range(0, table.num_rows, chunk_rows):
        part = table.slice(offset, chunk_rows)
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(part, sink, _CSV_OPTIONS)
        yield part.num_rows, sink.getvalue()


def copy_statement(target: sql.Composable, columns: Sequence[str]) -> sql.Composed:
    """`COPY target (columns) FROM STDIN` in CSV, for a quoted target name."""
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def copy_arrow(
    cursor: psycopg.Cursor,
    target: sql.Composable,
    table: pa.Table,
    *,
    chunk_rows: int = COPY_CHUNK_ROWS,
    progress: Callable[[int], None] | None = None,
) -> int:
    """COPY every row of `table` into `target` (columns by name); returns the row count."""
    statement = copy_statement(target, table.column_names)
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        for rows, buffer in csv_chunks(table, chunk_rows):
            copy.write(memoryview(buffer))
            if progress is not None:
                progress(rows)
    return table.num_rows
