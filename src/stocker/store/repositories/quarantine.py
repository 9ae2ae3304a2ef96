"""Refused input rows and the outcome of each ingested batch."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from stocker.core.counts import Counted
from stocker.store.quarantine import Rejected, quarantine, record_batch
from stocker.store.table_info import table_info

_COLUMNS = (
    "id, batch_id, target_table, source, source_hash, row_number, symbol, row_key, raw_row, "
    "reasons, status, created_at, resolved_at, resolution_note"
)
_RESOLVE_SQL = text(
    "UPDATE ingest_quarantine SET status = :status, resolved_at = NOW(), "
    "resolution_note = :note WHERE id = ANY(:ids) AND status = 'QUARANTINED'"
)


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined row: where it came from, the raw values, every reason and its status."""

    id: int
    batch_id: uuid.UUID
    target_table: str
    source: str
    source_hash: str | None
    row_number: int | None
    symbol: str | None
    row_key: str | None
    raw_row: dict[str, Any]
    reasons: tuple[str, ...]
    status: str
    created_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None


def _entry(row: Any) -> QuarantineEntry:
    return QuarantineEntry(
        id=row.id,
        batch_id=row.batch_id,
        target_table=row.target_table,
        source=row.source,
        source_hash=row.source_hash,
        row_number=row.row_number,
        symbol=row.symbol,
        row_key=row.row_key,
        raw_row=dict(row.raw_row),
        reasons=tuple(row.reasons),
        status=row.status,
        created_at=row.created_at,
        resolved_at=row.resolved_at,
        resolution_note=row.resolution_note,
    )


class QuarantineRepository:
    """ingest_quarantine and ingest_batches."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- writes ----------------------------------------------------------------------------------

    def add(
        self,
        rejects: Iterable[Rejected],
        *,
        batch_id: uuid.UUID,
        table: str,
        source: str,
        key: Sequence[str],
        source_hash: str | None = None,
        skip_kept: bool = False,
        symbols: Sequence[str | None] | None = None,
    ) -> int:
        """Keep every reject with its raw row and reasons; returns the count (see
        `stocker.store.quarantine.quarantine`; `skip_kept`: not again what a run of the same
        payload kept; `symbols`: each reject's symbol when its raw row has no ``symbol``)."""
        return quarantine(
            self._conn,
            batch_id=batch_id,
            table=table,
            source=source,
            rejects=rejects,
            source_hash=source_hash,
            key=key,
            skip_kept=skip_kept,
            symbols=symbols,
        )

    def record_batch(
        self,
        counts: Counted,
        *,
        batch_id: uuid.UUID,
        source: str,
        table: str,
        quarantined: int,
        source_hash: str | None = None,
        description: str | None = None,
    ) -> int:
        """Record one table's outcome of a batch in `ingest_batches`; returns its id."""
        return record_batch(
            self._conn,
            batch_id=batch_id,
            source=source,
            table=table,
            result=counts,
            quarantined=quarantined,
            source_hash=source_hash,
            description=description,
        )

    def resolve(self, ids: Sequence[int], *, status: str, note: str) -> int:
        """Mark QUARANTINED rows RELEASED or DISCARDED with a note; returns how many changed."""
        result = self._conn.execute(
            _RESOLVE_SQL, {"ids": list(ids), "status": status, "note": note}
        )
        return int(result.rowcount)

    # --- reads -----------------------------------------------------------------------------------

    def entries(
        self,
        *,
        status: str | None = None,
        table: str | None = None,
        symbol: str | None = None,
        batch_id: uuid.UUID | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QuarantineEntry]:
        """Quarantine rows, newest first, filtered by status (None: any), table, symbol, batch."""
        conditions = ["TRUE"]
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        for column, value in (
            ("status", status),
            ("target_table", table),
            ("symbol", symbol),
            ("batch_id", batch_id),
        ):
            if value is not None:
                conditions.append(f"{column} = :{column}")
                params[column] = value
        sql = (
            f"SELECT {_COLUMNS} FROM ingest_quarantine WHERE {' AND '.join(conditions)} "
            "ORDER BY id DESC LIMIT :limit OFFSET :offset"
        )
        return [_entry(row) for row in self._conn.execute(text(sql), params)]

    def get(self, entry_id: int) -> QuarantineEntry | None:
        """One quarantine row, or None."""
        row = self._conn.execute(
            text(f"SELECT {_COLUMNS} FROM ingest_quarantine WHERE id = :id"), {"id": entry_id}
        ).first()
        return None if row is None else _entry(row)

    def locked(self, ids: Sequence[int]) -> list[QuarantineEntry]:
        """The rows with these ids, locked for this transaction, by id (missing ids left out)."""
        rows = self._conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM ingest_quarantine WHERE id = ANY(:ids) "
                "ORDER BY id FOR UPDATE"
            ),
            {"ids": list(ids)},
        ).all()
        return [_entry(row) for row in rows]

    def columns_of(self, table: str) -> tuple[str, ...]:
        """The columns of a target table, to map a raw row and corrections onto."""
        return tuple(table_info(self._conn, table).columns)
