"""Review quarantined rows: list, show, release (optionally corrected) or discard them.

A quarantined row is kept verbatim with every reason it was refused. Releasing it sends the raw
row — with any corrections — through the same path as a fresh ingest (`BatchWriter.land`): the
same rules, symbol registration, adjusted close and `MarketBar` event. If it passes it lands and
the quarantine row becomes RELEASED; if not, it stays QUARANTINED and the new reasons are
returned. Discarding marks it DISCARDED with a note. Rows are never deleted, so the quarantine is
also the audit trail of what was refused and who decided what.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from stocker.core.bar_rules import DEFAULT_JUMP_THRESHOLD
from stocker.core.errors import DataError
from stocker.data.ingest import BatchWriter, IngestReport, TableReport
from stocker.data.validation import WAIVABLE_RULES
from stocker.store.table_info import table_info

STATUSES = ("QUARANTINED", "RELEASED", "DISCARDED")
_MISSING_MARKERS = frozenset({"NaN", "NaT"})
"""How the quarantine's JSON spells a missing float or timestamp."""
_NEVER_WRITTEN = frozenset({"id", "created_at", "updated_at"})
_COLUMNS = (
    "id, batch_id, target_table, source, source_hash, row_number, symbol, row_key, raw_row, "
    "reasons, status, created_at, resolved_at, resolution_note"
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


@dataclass
class ReleaseOutcome:
    """What happened to one row asked to be released."""

    id: int
    released: bool
    reasons: tuple[str, ...] = ()
    """Why it could not be released (empty when it was)."""
    row: dict[str, Any] = field(default_factory=dict)
    """The row as it was offered for landing (raw row plus corrections)."""


@dataclass
class ReleaseReport:
    outcomes: list[ReleaseOutcome] = field(default_factory=list)
    tables: list[TableReport] = field(default_factory=list)
    events: int = 0

    @property
    def released(self) -> list[int]:
        return [outcome.id for outcome in self.outcomes if outcome.released]

    @property
    def still_quarantined(self) -> list[int]:
        return [outcome.id for outcome in self.outcomes if not outcome.released]


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


def list_entries(
    engine: Engine,
    *,
    status: str | None = "QUARANTINED",
    table: str | None = None,
    symbol: str | None = None,
    batch_id: uuid.UUID | str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[QuarantineEntry]:
    """Quarantine rows, newest first, filtered by status (None: any), table, symbol or batch."""
    if status is not None and status.upper() not in STATUSES:
        raise DataError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if limit < 1:
        raise DataError(f"limit must be >= 1, got {limit}")
    conditions, params = ["TRUE"], {"limit": limit, "offset": offset}
    if status is not None:
        conditions.append("status = :status")
        params["status"] = status.upper()
    if table is not None:
        conditions.append("target_table = :table")
        params["table"] = table
    if symbol is not None:
        conditions.append("symbol = :symbol")
        params["symbol"] = symbol
    if batch_id is not None:
        conditions.append("batch_id = :batch_id")
        params["batch_id"] = _uuid(batch_id)
    sql = (
        f"SELECT {_COLUMNS} FROM ingest_quarantine WHERE {' AND '.join(conditions)} "
        "ORDER BY id DESC LIMIT :limit OFFSET :offset"
    )
    with engine.connect() as conn:
        return [_entry(row) for row in conn.execute(text(sql), params)]


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as error:
        raise DataError(f"batch id {value!r} is not a UUID") from error


def show_entry(engine: Engine, entry_id: int) -> QuarantineEntry:
    """One quarantine row with its raw row and every reason."""
    with engine.connect() as conn:
        row = conn.execute(
            text(f"SELECT {_COLUMNS} FROM ingest_quarantine WHERE id = :id"), {"id": entry_id}
        ).first()
    if row is None:
        raise DataError(f"quarantine id {entry_id} does not exist")
    return _entry(row)


def _locked_entries(conn: Connection, ids: list[int]) -> list[QuarantineEntry]:
    rows = conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM ingest_quarantine WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"
        ),
        {"ids": ids},
    ).all()
    found = {row.id for row in rows}
    missing = [entry_id for entry_id in ids if entry_id not in found]
    if missing:
        raise DataError(f"quarantine id(s) {', '.join(map(str, missing))} do not exist")
    return [_entry(row) for row in rows]


def _column_name(key: str) -> str:
    """A raw field name as a column name: `Adj Close` → `adj_close`, `Date` → `date`."""
    return re.sub(r"[^0-9a-z]+", "_", str(key).strip().lower()).strip("_")


def _offered_row(
    conn: Connection, entry: QuarantineEntry, corrections: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The raw row with corrections applied, restricted to the target table's columns."""
    columns = table_info(conn, entry.target_table).columns
    wrong = [name for name in (corrections or {}) if name not in columns]
    if wrong:
        raise DataError(
            f"correction field(s) {', '.join(wrong)} are not columns of {entry.target_table}; "
            f"expected some of {', '.join(columns)}"
        )
    row: dict[str, Any] = {}
    for key, value in entry.raw_row.items():
        name = _column_name(key)
        if name in columns and name not in _NEVER_WRITTEN:
            row[name] = None if value in _MISSING_MARKERS else value
    for name, value in (corrections or {}).items():
        row[name] = None if value == "" else value
    return row


def release(
    engine: Engine,
    ids: Iterable[int],
    corrections: Mapping[str, Any] | None = None,
    *,
    today: date | None = None,
    note: str | None = None,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    accept: Iterable[str] = (),
) -> ReleaseReport:
    """Re-validate quarantined rows (with `corrections` applied to each) and land those that pass.

    `accept` names judgment rules (`price_jump`, `stale_bar`, `not_a_session`) the reviewer
    overrules, e.g. for a genuine 60% gap. Runs in one transaction; each row lands or not on its
    own (a savepoint per row). A released row is marked RELEASED with `resolved_at` and a note
    naming the corrections; a row that still fails stays QUARANTINED and its outcome lists the
    new reasons.
    """
    accept = tuple(accept)
    invalid = sorted(set(accept) - WAIVABLE_RULES)
    if invalid:
        raise DataError(
            f"rule(s) {', '.join(invalid)} cannot be accepted; only "
            f"{', '.join(sorted(WAIVABLE_RULES))}"
        )
    ids = sorted(set(int(entry_id) for entry_id in ids))
    if not ids:
        raise DataError("release: no quarantine ids given")
    today = today or date.today()
    report = ReleaseReport()
    summary = IngestReport(source="quarantine")
    with engine.begin() as conn:
        writers: dict[str, BatchWriter] = {}
        for entry in _locked_entries(conn, ids):
            if entry.status != "QUARANTINED":
                report.outcomes.append(
                    ReleaseOutcome(
                        entry.id,
                        False,
                        (f"status is {entry.status}; only QUARANTINED rows can be released",),
                    )
                )
                continue
            writer = writers.setdefault(
                entry.source,
                BatchWriter(
                    conn,
                    source=entry.source,
                    today=today,
                    jump_threshold=jump_threshold,
                    description=f"release from quarantine (ids {ids[0]}..{ids[-1]})",
                ),
            )
            report.outcomes.append(
                _release_one(conn, writer, entry, corrections, note, report, accept)
            )
        for writer in writers.values():
            writer.finish(summary, compare_vendor=False)
    report.events = summary.events
    return report


def _release_one(
    conn: Connection,
    writer: BatchWriter,
    entry: QuarantineEntry,
    corrections: Mapping[str, Any] | None,
    note: str | None,
    report: ReleaseReport,
    accept: tuple[str, ...],
) -> ReleaseOutcome:
    row = _offered_row(conn, entry, corrections)
    saved = writer.snapshot()
    savepoint = conn.begin_nested()
    try:
        table_report, rejects = writer.land(
            entry.target_table, pd.DataFrame([row]), keep_rejects=False, waived=accept
        )
    except DataError as error:
        savepoint.rollback()
        writer.restore(saved)
        return ReleaseOutcome(entry.id, False, (str(error),), row)
    if rejects:
        savepoint.rollback()
        writer.restore(saved)
        return ReleaseOutcome(entry.id, False, rejects[0].reasons, row)
    savepoint.commit()
    report.tables.append(table_report)
    changes = ", ".join(f"{name}={value}" for name, value in (corrections or {}).items())
    resolution = note or ("released with " + changes if changes else "released as is")
    if accept:
        resolution += f" (accepted: {', '.join(accept)})"
    conn.execute(
        text(
            "UPDATE ingest_quarantine SET status = 'RELEASED', resolved_at = NOW(), "
            "resolution_note = :note WHERE id = :id"
        ),
        {"id": entry.id, "note": resolution},
    )
    return ReleaseOutcome(entry.id, True, (), row)


def discard(engine: Engine, ids: Iterable[int], note: str) -> int:
    """Mark quarantined rows DISCARDED with a note; returns how many changed.

    Rows already released or discarded are left as they are.
    """
    ids = sorted(set(int(entry_id) for entry_id in ids))
    if not note or not note.strip():
        raise DataError("discard: a note saying why is required")
    with engine.begin() as conn:
        _locked_entries(conn, ids)
        result = conn.execute(
            text(
                "UPDATE ingest_quarantine SET status = 'DISCARDED', resolved_at = NOW(), "
                "resolution_note = :note WHERE id = ANY(:ids) AND status = 'QUARANTINED'"
            ),
            {"ids": ids, "note": note.strip()},
        )
        return int(result.rowcount)
