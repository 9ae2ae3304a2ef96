"""Keep rejected input rows and per-batch outcomes, in the caller's transaction.

A rejected row is stored in `ingest_quarantine` exactly as it arrived: values JSON cannot hold
(NaN, ±inf, Decimal, dates, timestamps, bytes, UUIDs) are stored as strings, so `'NaN'`, a
Decimal's exact digits `'101.10'` or a malformed date string survive for whoever reviews them.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sqlalchemy import Connection, TextClause, text

from stocker.core.counts import Counted
from stocker.core.errors import DataError
from stocker.store.table_info import table_info

SYMBOL_CHARACTERS = 100


class Rejected(Protocol):
    """A rejected row: `stocker.core.rejects.Reject`, a source's `RawReject` (`raw_row`) or a
    `RejectedRow` from `upsert` (`row`). Reasons are stored as their text (`str`)."""

    @property
    def reasons(self) -> Sequence[object]: ...
    @property
    def row_number(self) -> int | None: ...


def json_safe(value: Any) -> Any:
    """`value` as plain JSON types, with everything JSON cannot hold kept as a string."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    if isinstance(value, str):
        # jsonb cannot store U+0000; keep it visible instead of failing the quarantine itself.
        return value.replace("\x00", "\\u0000")
    if isinstance(value, Decimal):
        return str(value)
    if value is pd.NaT:
        return "NaT"
    if isinstance(value, datetime | date | time | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, Mapping):
        return {str(name): json_safe(item) for name, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray | pd.Series):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        return json_safe(value.item())
    return json_safe(str(value))


def _raw_row(reject: Any) -> Mapping[str, Any]:
    row = getattr(reject, "row", None)
    if row is None:
        row = getattr(reject, "raw_row", None)
    if not isinstance(row, Mapping):
        raise DataError(f"rejects: {type(reject).__name__} has no row mapping (row or raw_row)")
    return row


def _key_of(conn: Connection, table: str) -> Sequence[str]:
    try:
        return table_info(conn, table).default_key
    except DataError:
        return ()


def _row_key(row: Mapping[str, Any], key: Sequence[str]) -> str | None:
    present = [column for column in key if column in row]
    if not present:
        return None
    return ", ".join(f"{column}={json_safe(row[column])}" for column in present)


_FLOATS = frozenset({float, np.float64})
_DATES = frozenset({date, datetime, pd.Timestamp})
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _float_texts(values: list[Any], *, quoted: bool) -> list[str]:
    """`str(json_safe(v))` (or its JSON with `quoted`) of plain floats, computed per column."""
    numbers = np.asarray(values, dtype=np.float64)
    texts = list(map(float.__repr__, numbers.tolist()))
    for position in np.flatnonzero(~np.isfinite(numbers)).tolist():
        name = _NON_FINITE[texts[position]]
        texts[position] = f'"{name}"' if quoted else name
    return texts


def _column_json(values: list[Any]) -> list[str]:
    """The JSON text of `json_safe(v)` for every value of one column, as `json.dumps` writes it
    inside a row: whole columns of floats, ints or text at once, anything else value by value."""
    kinds = set(map(type, values))
    if kinds <= _FLOATS:
        return _float_texts(values, quoted=True)
    if kinds <= {int}:
        return list(map(int.__repr__, values))
    if kinds <= {str} and not any("\x00" in value for value in values):
        return list(map(encode_basestring_ascii, values))
    if kinds <= _DATES:
        return [encode_basestring_ascii(value.isoformat()) for value in values]
    return [json.dumps(json_safe(value), allow_nan=False) for value in values]


def _column_key_texts(values: list[Any]) -> list[str]:
    """`str(json_safe(v))` for every value of one key column (as `_row_key` renders it)."""
    kinds = set(map(type, values))
    if kinds <= _FLOATS:
        return _float_texts(values, quoted=False)
    if kinds <= {str} and not any("\x00" in value for value in values):
        return values
    if kinds <= _DATES:
        return [value.isoformat() for value in values]
    return [str(json_safe(value)) for value in values]


def _rows_json_and_keys(
    rows: Sequence[Mapping[str, Any]], key: Sequence[str]
) -> tuple[list[str], list[str | None]]:
    """`json.dumps(json_safe(dict(row)), allow_nan=False)` and `_row_key(row, key)` of every row,
    built column by column for rows that share their (text) column names."""
    texts: list[str] = [""] * len(rows)
    keys: list[str | None] = [None] * len(rows)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for position, row in enumerate(rows):
        groups.setdefault(tuple(row), []).append(position)
    for names, positions in groups.items():
        members = [rows[position] for position in positions]
        if not all(type(name) is str for name in names):
            for position, row in zip(positions, members, strict=True):
                texts[position] = json.dumps(json_safe(dict(row)), allow_nan=False)
                keys[position] = _row_key(row, key)
            continue
        columns = {name: [row[name] for row in members] for name in names}
        parts = [
            [f"{encode_basestring_ascii(name)}: {text}" for text in _column_json(values)]
            for name, values in columns.items()
        ]
        present = [column for column in key if column in columns]
        key_parts = [
            [f"{column}={text}" for text in _column_key_texts(columns[column])]
            for column in present
        ]
        for index, position in enumerate(positions):
            texts[position] = "{" + ", ".join(part[index] for part in parts) + "}"
            if present:
                keys[position] = ", ".join(part[index] for part in key_parts)
    return texts, keys


def _symbol(row: Mapping[str, Any]) -> str | None:
    return _symbol_text(row.get("symbol"))


def _symbol_text(symbol: object) -> str | None:
    if symbol is None or (isinstance(symbol, float) and math.isnan(symbol)):
        return None
    return str(json_safe(symbol))[:SYMBOL_CHARACTERS]


_PAYLOAD = "FROM ingest_quarantine AS q WHERE q.target_table = :table AND q.source = :source AND {}"
_KEPT_BEFORE = """
    SELECT r.position - 1 FROM jsonb_array_elements(CAST(:rows AS jsonb))
                           WITH ORDINALITY AS r(item, position)
    CROSS JOIN LATERAL (SELECT 1 {payload} AND q.raw_row = r.item -> 1 LIMIT 1) AS kept
    WHERE {numbered}
"""
_LOCK_PAYLOAD = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


@dataclass(frozen=True)
class _KeptQuery:
    """Whether any row of a payload's line range was kept, and which of the rows sent were.

    Both read `ix_ingest_quarantine_payload` (target table, source, source hash, row number)
    with equalities, a range or IS NULL, which the index answers (an IS NOT DISTINCT FROM would
    read every kept row of the table). Each row sent is one lookup of its line: a LATERAL
    subquery with LIMIT, which the planner cannot turn into a scan of the payload's kept rows
    per row sent (what a join became when the rows sent were taken for few: 30 s per chunk of
    10,000 refused rows re-run). Numbered and unnumbered rows are asked apart.
    """

    any_kept: TextClause
    kept: TextClause

    @staticmethod
    def of(*, hashed: bool, numbered: bool) -> _KeptQuery:
        same_hash = "q.source_hash = :source_hash" if hashed else "q.source_hash IS NULL"
        lines = (
            "q.row_number BETWEEN CAST(:low AS integer) AND CAST(:high AS integer)"
            if numbered
            else "q.row_number IS NULL"
        )
        line = "q.row_number = CAST(r.item ->> 0 AS integer)" if numbered else lines
        kept = _KEPT_BEFORE.format(
            payload=_PAYLOAD.format(f"{same_hash} AND {line}"),
            numbered=f"jsonb_typeof(r.item -> 0) = '{'number' if numbered else 'null'}'",
        )
        return _KeptQuery(
            any_kept=text(
                f"SELECT EXISTS (SELECT 1 {_PAYLOAD.format(f'{same_hash} AND {lines}')})"
            ),
            kept=text(kept),
        )


_KEPT_QUERIES = {
    (hashed, numbered): _KeptQuery.of(hashed=hashed, numbered=numbered)
    for hashed in (True, False)
    for numbered in (True, False)
}


def _kept_before(
    conn: Connection,
    *,
    table: str,
    source: str,
    source_hash: str | None,
    numbers: Sequence[int | None],
    texts: Sequence[str],
) -> set[int]:
    """Positions of rows already kept from this payload (same table, source, source hash, row
    number and raw row, whatever their status), or repeated earlier in `texts`.

    Two ingests of one payload take turns (an advisory lock held to the end of the
    transaction), so the second sees what the first kept. When no row of this call's line
    range was kept (a first ingest, or a new chunk of a file read in chunks) the rows are not
    sent at all; otherwise they go to the server as one JSON text (a Python list of thousands
    of strings costs far more to send as an array), each looked up by its line.
    """
    conn.execute(_LOCK_PAYLOAD, {"name": f"ingest_quarantine:{table}:{source}:{source_hash}"})
    lines = [number for number in numbers if number is not None]
    parameters: dict[str, object] = {
        "low": min(lines, default=None),
        "high": max(lines, default=None),
        "table": table,
        "source": source,
        "source_hash": source_hash,
    }
    kept: set[int] = set()
    for numbered in (True, False):
        if not (lines if numbered else len(lines) < len(numbers)):
            continue
        query = _KEPT_QUERIES[(source_hash is not None, numbered)]
        if not conn.execute(query.any_kept, parameters).scalar_one():
            continue
        if "rows" not in parameters:
            pairs = ",".join(
                f"[{'null' if number is None else int(number)},{row}]"
                for number, row in zip(numbers, texts, strict=True)
            )
            parameters["rows"] = f"[{pairs}]"
        kept.update(int(position) for position in conn.execute(query.kept, parameters).scalars())
    seen: set[tuple[int | None, str]] = set()
    for position, identity in enumerate(zip(numbers, texts, strict=True)):
        if identity in seen:
            kept.add(position)
        seen.add(identity)
    return kept


def quarantine(
    conn: Connection,
    *,
    batch_id: uuid.UUID,
    table: str,
    source: str,
    rejects: Iterable[Rejected],
    source_hash: str | None = None,
    key: Sequence[str] | None = None,
    skip_kept: bool = False,
    symbols: Sequence[str | None] | None = None,
) -> int:
    """Store every reject with its raw row and reasons in `ingest_quarantine`; returns the count.

    `row_key` renders the target table's upsert key (or `key`) as ``symbol=AAPL, date=…``.
    The `symbol` column (what `quarantine list --symbol` filters on) is the raw row's
    ``symbol``, or each reject's entry of `symbols` when the raw rows name their symbols
    otherwise (a news row's ``symbols`` list). With `skip_kept`, a reject already kept from the
    same payload (`_kept_before`) is not stored again, so re-running a file adds nothing; the
    count is of rows stored now.
    """
    key_columns = tuple(key) if key is not None else _key_of(conn, table)
    chosen = list(rejects)
    if symbols is not None and len(symbols) != len(chosen):
        raise DataError(
            f"rejects: {len(symbols)} symbols for {len(chosen)} rejects; expected one per reject"
        )
    rows, reasons_of = [], []
    for reject in chosen:
        rows.append(_raw_row(reject))
        reasons = [str(reason) for reason in reject.reasons]
        if not reasons:
            raise DataError(f"rejects: row {reject.row_number} has no reasons; expected at least 1")
        reasons_of.append(reasons)
    texts, row_keys = _rows_json_and_keys(rows, key_columns)
    skipped: set[int] = set()
    if skip_kept and chosen:
        skipped = _kept_before(
            conn,
            table=table,
            source=source,
            source_hash=source_hash,
            numbers=[reject.row_number for reject in chosen],
            texts=texts,
        )
    records = [
        (
            batch_id,
            table,
            source,
            source_hash,
            reject.row_number,
            _symbol(row) if symbols is None else _symbol_text(symbols[position]),
            row_key,
            text,
            reasons,
        )
        for position, (reject, row, row_key, text, reasons) in enumerate(
            zip(chosen, rows, row_keys, texts, reasons_of, strict=True)
        )
        if position not in skipped
    ]
    if not records:
        return 0
    statement = (
        "COPY ingest_quarantine (batch_id, target_table, source, source_hash, row_number, "
        "symbol, row_key, raw_row, reasons) FROM STDIN"
    )
    driver = conn.connection.driver_connection
    if driver is None:
        raise DataError("quarantine: the connection is closed; expected an open transaction")
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for record in records:
            copy.write_row(record)
    return len(records)


def record_batch(
    conn: Connection,
    *,
    batch_id: uuid.UUID,
    source: str,
    table: str,
    result: Counted,
    quarantined: int,
    source_hash: str | None = None,
    description: str | None = None,
) -> int:
    """Record a batch's outcome (`UpsertResult` counts) in `ingest_batches`; returns its id."""
    row = conn.execute(
        text(
            "INSERT INTO ingest_batches (batch_id, source, target_table, source_hash, description, "
            "received, inserted, updated, unchanged, quarantined) "
            "VALUES (:batch_id, :source, :table, :source_hash, :description, "
            ":received, :inserted, :updated, :unchanged, :quarantined) RETURNING id"
        ),
        {
            "batch_id": batch_id,
            "source": source,
            "table": table,
            "source_hash": source_hash,
            "description": description,
            "received": result.received,
            "inserted": result.inserted,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "quarantined": quarantined,
        },
    ).one()
    return int(row[0])
