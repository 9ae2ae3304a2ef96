"""Panels read once, kept as Arrow IPC files under the home directory, so research re-reads
nothing from PostgreSQL until an ingest changes the rows a panel holds.

A cached panel is keyed by what it contains — table, date column, fields, symbols or universe,
start, end — *and* by a data version of the rows it was built from: the row count and the sum of
each row's ``xmin`` (the id of the transaction that wrote that row version, summed through
``age(xmin)``, which is cheaper to read than a text cast). ``prices_daily``
has no ``updated_at`` and an upsert keeps a row's ``id`` and ``created_at``, but any UPDATE,
INSERT or DELETE writes a new row version with a new ``xmin`` (or changes the count), so a
corrected close gives a new key and the stale file is never read. The version query scans the
selected rows' headers only (no decoding, no aggregation of values), a fraction of the read.

Views have no ``xmin``: a panel of a view is read straight through (never cached).

Tables that log their writes in ``data_changes`` (``prices_daily``, migration 0009: one row per
writing statement, by a statement trigger) are versioned by that log instead — its row count
and last id for the table, two index lookups rather than a scan of the selected rows. Any
committed write to the table changes it (whichever symbols it touched), and the log is read
before the panel, so a file never holds data older than its key.

Files: ``<home>/cache/panels/<sha256>.arrow``, one float64 column per field holding the
(dates × symbols) matrix row-major, dates and symbols in the schema metadata; written to a
temporary name and renamed, so a crashed writer leaves no half file behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from psycopg import sql

from stocker.store.bulk_copy import driver_connection
from stocker.store.panel import DateLike, _checked_date, _table_identifier
from stocker.store.uow import SqlUnitOfWork

CACHE_DIRECTORY = ("cache", "panels")
_DATES_KEY = b"stocker.dates"
_SYMBOLS_KEY = b"stocker.symbols"


@dataclass
class CacheStats:
    """How many reads were answered from a file (hits) and how many went to the database."""

    hits: int = 0
    misses: int = 0
    bypassed: int = 0


@dataclass
class PanelCache:
    """A read model over `uow.derived.panels` that keeps each panel in ``<home>/cache/panels``.

    Use: ``PanelCache(app.settings.home).panels(uow, ["adj_close"], symbols=[...], start=...)``
    inside the use case's ``with uow:`` block; the result equals ``uow.derived.panels(...)``.
    """

    home: Path | str
    stats: CacheStats = field(default_factory=CacheStats)

    @property
    def directory(self) -> Path:
        return Path(self.home).joinpath(*CACHE_DIRECTORY)

    def panels(
        self,
        uow: SqlUnitOfWork,
        fields: Sequence[str],
        *,
        symbols: Sequence[str] | None = None,
        universe: str | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        table: str = "prices_daily",
        date_column: str = "date",
    ) -> dict[str, pd.DataFrame]:
        """(dates × symbols) float64 panels of `fields`, from the cache when still current."""
        return self.read(
            uow,
            fields,
            symbols=symbols,
            universe=universe,
            start=start,
            end=end,
            table=table,
            date_column=date_column,
        )[0]

    def read(
        self,
        uow: SqlUnitOfWork,
        fields: Sequence[str],
        *,
        symbols: Sequence[str] | None = None,
        universe: str | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        table: str = "prices_daily",
        date_column: str = "date",
    ) -> tuple[dict[str, pd.DataFrame], str | None]:
        """`panels(...)` and the data version they were read at (`data_version`; None for a
        view), which a caller can record as what its result was computed from."""
        arguments = {
            "symbols": symbols,
            "universe": universe,
            "start": start,
            "end": end,
            "table": table,
            "date_column": date_column,
        }
        version = logged_version(uow, table) or data_version(
            uow,
            symbols=symbols,
            universe=universe,
            start=start,
            end=end,
            table=table,
            date_column=date_column,
        )
        if version is None:
            self.stats.bypassed += 1
            return uow.derived.panels(fields, **arguments), None  # type: ignore[arg-type]
        path = self.directory / f"{self._key(fields, arguments, version)}.arrow"
        if path.exists():
            cached = _read(path, fields)
            if cached is not None:
                self.stats.hits += 1
                return cached, version
        self.stats.misses += 1
        result = uow.derived.panels(fields, **arguments)  # type: ignore[arg-type]
        _write(path, result, fields)
        return result, version

    def clear(self) -> int:
        """Delete every cached file; returns how many."""
        removed = 0
        if self.directory.exists():
            for path in self.directory.glob("*.arrow"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    @staticmethod
    def _key(fields: Sequence[str], arguments: Mapping[str, object], version: str) -> str:
        def plain(value: object) -> object:
            if value is None or isinstance(value, str):
                return value
            if isinstance(value, dt.date | pd.Timestamp):
                return pd.Timestamp(value).date().isoformat()
            return [str(item) for item in value]  # type: ignore[attr-defined]

        described = {name: plain(value) for name, value in arguments.items()}
        described["fields"] = list(fields)
        described["version"] = version
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


LOGGED_TABLES = frozenset({"prices_daily"})
"""Tables whose writing statements are logged in ``data_changes`` (migration 0009)."""


def logged_version(uow: SqlUnitOfWork, table: str) -> str | None:
    """``log:count:last id`` of `table`'s rows in ``data_changes``; None when not logged."""
    if table not in LOGGED_TABLES:
        return None
    with driver_connection(uow.connection).cursor() as cursor:
        cursor.execute(
            "SELECT count(*), COALESCE(max(id), 0) FROM data_changes WHERE table_name = %s",
            (table,),
        )
        count, last = cursor.fetchone() or (0, 0)
    return f"log:{count}:{last}"


def data_version(
    uow: SqlUnitOfWork,
    *,
    symbols: Sequence[str] | None = None,
    universe: str | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    table: str = "prices_daily",
    date_column: str = "date",
) -> str | None:
    """``count:Σxmin`` of the rows a panel read selects; None when `table` is not a table."""
    start_date, end_date = _checked_date(start, "start"), _checked_date(end, "end")
    with driver_connection(uow.connection).cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", (table,))
        row = cursor.fetchone()
        if row is None or row[0] not in ("r", "p"):
            return None
        date = sql.Identifier(date_column)
        conditions: list[sql.Composable] = [
            sql.SQL("(%(start)s::date IS NULL OR {} >= %(start)s)").format(date),
            sql.SQL("(%(end)s::date IS NULL OR {} <= %(end)s)").format(date),
        ]
        if symbols is not None:
            conditions.append(sql.SQL("symbol = ANY(%(symbols)s)"))
        if universe is not None:
            conditions.append(
                sql.SQL(
                    "symbol IN (SELECT m.symbol FROM instrument_universe_member m "
                    "JOIN instrument_universe u ON u.id = m.universe_id "
                    "WHERE u.name = %(universe)s AND u.is_deleted IS NOT TRUE "
                    "AND m.is_deleted IS NOT TRUE)"
                )
            )
        # age(xmin) is "latest xid − xmin" against a latest xid that stays fixed for the whole
        # transaction (and age('3') gives it), so Σxmin = count·latest − Σage(xmin): the same
        # number as Σ xmin::text::bigint without formatting and parsing a text per row.
        query = sql.SQL(
            "SELECT count(*), COALESCE(sum(age(xmin)::bigint), 0), age('3'::xid)::bigint + 3 "
            "FROM {} WHERE {}"
        ).format(_table_identifier(table), sql.SQL(" AND ").join(conditions))
        cursor.execute(
            query,
            {
                "start": start_date,
                "end": end_date,
                "symbols": list(symbols) if symbols is not None else None,
                "universe": universe,
            },
        )
        count, age_sum, latest = cursor.fetchone() or (0, 0, 0)
    return f"{count}:{int(count) * int(latest) - int(age_sum)}"


def _write(path: Path, panels: dict[str, pd.DataFrame], fields: Sequence[str]) -> None:
    import pyarrow as pa
    from pyarrow import ipc

    first = panels[fields[0]]
    days = (first.index.values.astype("datetime64[D]").astype(np.int64)).tolist()
    metadata = {
        _DATES_KEY: json.dumps(days).encode(),
        _SYMBOLS_KEY: json.dumps([str(s) for s in first.columns]).encode(),
    }
    table = pa.table(
        {name: pa.array(panels[name].to_numpy(dtype=np.float64).ravel()) for name in fields}
    ).replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    try:
        with pa.OSFile(temporary, "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _read(path: Path, fields: Sequence[str]) -> dict[str, pd.DataFrame] | None:
    """The panels of a cache file, or None when it is unreadable (then it is read again)."""
    import pyarrow as pa
    from pyarrow import ipc

    try:
        with pa.OSFile(str(path), "rb") as source:
            table = ipc.open_file(source).read_all()
    except (OSError, pa.ArrowInvalid):
        return None
    metadata = table.schema.metadata or {}
    days = np.asarray(json.loads(metadata[_DATES_KEY]), dtype=np.int64)
    symbols = json.loads(metadata[_SYMBOLS_KEY])
    index = pd.DatetimeIndex(days.astype("datetime64[D]"), name="date").as_unit("ns")
    columns = pd.Index(symbols, name="symbol")
    shape = (len(index), len(columns))
    result = {}
    for name in fields:
        values = table.column(name).to_numpy().reshape(shape).copy()
        result[name] = pd.DataFrame(values, index=index, columns=columns, copy=False)
    return result
