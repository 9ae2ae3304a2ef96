"""What a bulk writer needs to know about a table, read once from pg_catalog and cached.

`upsert` validates rows against the real column types (lengths, precision, NOT NULL) before a
single byte reaches PostgreSQL, so a bad row is reported with its reason instead of aborting a
COPY of millions. The cache is keyed by (database URL, table name); call
`clear_table_info_cache()` after altering a table in a running process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, text

from stocker.core.errors import DataError

ColumnKind = Literal[
    "integer",
    "numeric",
    "float",
    "boolean",
    "text",
    "date",
    "timestamptz",
    "timestamp",
    "uuid",
    "json",
    "array",
    "other",
]

INTEGER_BOUNDS = {"int2": (-(2**15), 2**15 - 1), "int4": (-(2**31), 2**31 - 1)}
INTEGER_BOUNDS["int8"] = (-(2**63), 2**63 - 1)

_KIND_BY_TYPNAME: dict[str, ColumnKind] = {
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "numeric": "numeric",
    "float4": "float",
    "float8": "float",
    "bool": "boolean",
    "varchar": "text",
    "bpchar": "text",
    "text": "text",
    "name": "text",
    "citext": "text",
    "date": "date",
    "timestamptz": "timestamptz",
    "timestamp": "timestamp",
    "uuid": "uuid",
    "json": "json",
    "jsonb": "json",
}


@dataclass(frozen=True)
class ColumnInfo:
    """One column: its SQL type and the limits the validator enforces."""

    name: str
    sql_type: str
    """The type as `format_type` prints it, e.g. ``numeric(14,4)``; used to type staging tables."""
    type_name: str
    """pg_type.typname of the (domain's base) type, e.g. ``numeric``, ``varchar``, ``_text``."""
    kind: ColumnKind
    not_null: bool
    has_default: bool
    generated: bool
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None

    @property
    def integer_bounds(self) -> tuple[int, int] | None:
        return INTEGER_BOUNDS.get(self.type_name)


@dataclass(frozen=True)
class TableInfo:
    """A table's columns, its qualified name and the unique key upserts conflict on."""

    name: str
    qualified_name: str
    """Schema-qualified and quoted, safe to paste into SQL."""
    columns: dict[str, ColumnInfo]
    primary_key: tuple[str, ...]
    unique_keys: tuple[tuple[str, ...], ...]
    """Every non-partial unique index on plain columns, primary key included."""

    @property
    def default_key(self) -> tuple[str, ...]:
        """The one non-PK unique key, else the primary key (e.g. instrument_info.symbol)."""
        others = [key for key in self.unique_keys if key != self.primary_key]
        if len(others) == 1:
            return others[0]
        if not others and self.primary_key:
            return self.primary_key
        if not others:
            raise DataError(f"table {self.name}: has no primary or unique key to upsert on")
        listed = "; ".join("(" + ", ".join(key) + ")" for key in others)
        raise DataError(
            f"table {self.name}: has several unique keys ({listed}); pass key= to choose one"
        )

    @property
    def has_updated_at(self) -> bool:
        return "updated_at" in self.columns


_COLUMNS_SQL = text(
    """
    SELECT a.attname,
           format_type(a.atttypid, a.atttypmod) AS sql_type,
           base.typname,
           base.typcategory,
           CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod,
           a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS not_null,
           a.atthasdef OR a.attidentity <> '' AS has_default,
           a.attgenerated <> '' AS generated
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    JOIN pg_type base ON base.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
    WHERE a.attrelid = :oid AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attnum
    """
)

_KEYS_SQL = text(
    """
    SELECT i.indisprimary,
           ARRAY(SELECT a.attname
                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, position)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                 ORDER BY k.position) AS columns
    FROM pg_index i
    WHERE i.indrelid = :oid AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
    ORDER BY i.indisprimary DESC, i.indexrelid
    """
)

_RELATION_SQL = text(
    """
    SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass(:table)
    """
)

_cache: dict[tuple[str, str], TableInfo] = {}
_cache_lock = threading.Lock()


def _column(row: Sequence[Any]) -> ColumnInfo:
    name, sql_type, type_name, category, typmod, not_null, has_default, generated = row
    kind: ColumnKind = "array" if category == "A" else _KIND_BY_TYPNAME.get(type_name, "other")
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    if type_name in ("varchar", "bpchar") and typmod > 4:
        max_length = typmod - 4
    if type_name == "numeric" and typmod > 4:
        precision = ((typmod - 4) >> 16) & 0xFFFF
        scale = (typmod - 4) & 0xFFFF
    return ColumnInfo(
        name=name,
        sql_type=sql_type,
        type_name=type_name,
        kind=kind,
        not_null=bool(not_null),
        has_default=bool(has_default),
        generated=bool(generated),
        max_length=max_length,
        precision=precision,
        scale=scale,
    )


def _read(conn: Connection, table: str) -> TableInfo:
    relation = conn.execute(_RELATION_SQL, {"table": table}).first()
    if relation is None:
        raise DataError(f"table {table!r}: no such table in database {conn.engine.url.database!r}")
    oid, qualified_name = relation
    columns = {info.name: info for info in map(_column, conn.execute(_COLUMNS_SQL, {"oid": oid}))}
    primary_key: tuple[str, ...] = ()
    unique_keys: list[tuple[str, ...]] = []
    for is_primary, key_columns in conn.execute(_KEYS_SQL, {"oid": oid}):
        if is_primary:
            primary_key = tuple(key_columns)
        unique_keys.append(tuple(key_columns))
    return TableInfo(
        name=table,
        qualified_name=qualified_name,
        columns=columns,
        primary_key=primary_key,
        unique_keys=tuple(unique_keys),
    )


def table_info(conn: Connection, table: str) -> TableInfo:
    """The table's columns and keys, read once per (database, table) for the process."""
    cache_key = (conn.engine.url.render_as_string(hide_password=True), table)
    info = _cache.get(cache_key)
    if info is None:
        info = _read(conn, table)
        with _cache_lock:
            _cache[cache_key] = info
    return info


def clear_table_info_cache() -> None:
    """Forget every cached table (after a migration altered tables in this process)."""
    with _cache_lock:
        _cache.clear()
