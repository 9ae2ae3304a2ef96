"""Review quarantined rows: list, show, release (optionally corrected) or discard them.

A quarantined row is kept verbatim with every reason it was refused. Releasing it sends the raw
row — with any corrections — through the same path as a fresh ingest (`BatchWriter.land`): the
same rules, symbol registration, adjusted close and `MarketBar` event. If it passes it lands and
the quarantine row becomes RELEASED; if not, it stays QUARANTINED and the new reasons are
returned. A news row (`news_articles` has no `TableSpec`) is checked again by the news file
rules instead (`stocker.data.news_release`). Discarding marks it DISCARDED with a note. Rows are
never deleted, so the quarantine is also the audit trail of what was refused and who decided
what.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.cells import normalize_header
from stocker.core.errors import DataError
from stocker.core.rules.bars import DEFAULT_JUMP_THRESHOLD
from stocker.core.tables import WAIVABLE_RULES, spec_of
from stocker.data.batch_writer import BatchWriter
from stocker.data.reports import IngestReport, TableReport
from stocker.sources.files.layouts import TABLES as FILE_LAYOUTS
from stocker.sources.news import NEWS_TABLE
from stocker.store.repositories.quarantine import QuarantineEntry

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "STATUSES",
    "QuarantineEntry",
    "ReleaseOutcome",
    "ReleaseReport",
    "discard",
    "list_entries",
    "release",
    "show_entry",
]

STATUSES = ("QUARANTINED", "RELEASED", "DISCARDED")
_MISSING_MARKERS = frozenset({"NaN", "NaT"})
"""How the quarantine's JSON spells a missing float or timestamp."""
_NEVER_WRITTEN = frozenset({"id", "created_at", "updated_at"})


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


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as error:
        raise DataError(f"batch id {value!r} is not a UUID") from error


def list_entries(
    uow: SqlUnitOfWork,
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
    with uow:
        return uow.quarantine.entries(
            status=None if status is None else status.upper(),
            table=table,
            symbol=symbol,
            batch_id=None if batch_id is None else _uuid(batch_id),
            limit=limit,
            offset=offset,
        )


def show_entry(uow: SqlUnitOfWork, entry_id: int) -> QuarantineEntry:
    """One quarantine row with its raw row and every reason."""
    with uow:
        entry = uow.quarantine.get(entry_id)
    if entry is None:
        raise DataError(f"quarantine id {entry_id} does not exist")
    return entry


def _locked_entries(uow: SqlUnitOfWork, ids: list[int]) -> list[QuarantineEntry]:
    entries = uow.quarantine.locked(ids)
    found = {entry.id for entry in entries}
    missing = [entry_id for entry_id in ids if entry_id not in found]
    if missing:
        raise DataError(f"quarantine id(s) {', '.join(map(str, missing))} do not exist")
    return entries


def _column_name(key: object, table: str, columns: Sequence[str]) -> str:
    """A raw field name as the column it means: `Adj Close` → `adj_close`, and a file's own
    header through the file sources' aliases (`Vol` → `volume`, `Ticker` → `symbol`)."""
    name = normalize_header(key)
    if name in columns:
        return name
    layout = FILE_LAYOUTS.get(table)
    return layout.alias(name) if layout is not None else name


def _correction_columns(
    entry: QuarantineEntry, corrections: Mapping[str, Any], columns: Sequence[str]
) -> dict[str, Any]:
    """Corrections by column: a column name, or one of the raw row's own field names (the
    file's header, `Close`, `Adj Close`), mapped as the raw row is. Anything else is an error
    listing the names that would do."""
    raw_names = {str(key): _column_name(key, entry.target_table, columns) for key in entry.raw_row}
    mapped: dict[str, Any] = {}
    wrong: list[str] = []
    for name, value in corrections.items():
        if name in columns:
            mapped[name] = value
        elif name in raw_names and raw_names[name] in columns:
            mapped[raw_names[name]] = value
        else:
            wrong.append(name)
    if wrong:
        own = [key for key, column in raw_names.items() if column in columns and key != column]
        also = f"; or the row's own field names {', '.join(own)}" if own else ""
        writable = [column for column in columns if column not in _NEVER_WRITTEN]
        raise DataError(
            f"correction field(s) {', '.join(wrong)} are not columns of {entry.target_table}; "
            f"expected some of {', '.join(writable)}{also}"
        )
    return mapped


def _offered_row(
    uow: SqlUnitOfWork, entry: QuarantineEntry, corrections: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The raw row with corrections applied, restricted to the target table's columns."""
    columns = uow.quarantine.columns_of(entry.target_table)
    corrected = _correction_columns(entry, corrections or {}, columns)
    row: dict[str, Any] = {}
    for key, value in entry.raw_row.items():
        name = _column_name(key, entry.target_table, columns)
        if name in columns and name not in _NEVER_WRITTEN:
            row[name] = None if value in _MISSING_MARKERS else value
    for name, value in corrected.items():
        row[name] = None if value == "" else value
    return row


def release(
    uow: SqlUnitOfWork,
    ids: Iterable[int],
    corrections: Mapping[str, Any] | None = None,
    *,
    today: date,
    note: str | None = None,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    accept: Iterable[str] = (),
) -> ReleaseReport:
    """Re-validate quarantined rows (with `corrections` applied to each) and land those that pass.

    `accept` names judgment rules (`price_jump`, `stale_bar`, `not_a_session`) the reviewer
    overrules, e.g. for a genuine 60% gap. Runs in one transaction; each row lands or not on its
    own (a savepoint per row). A released row is marked RELEASED with `resolved_at` and a note
    naming the corrections; a row that still fails stays QUARANTINED and its outcome lists the
    new reasons. News rows go to `release_news_entry` (`accept` does not apply to them).
    """
    accepted = tuple(accept)
    invalid = sorted(set(accepted) - WAIVABLE_RULES)
    if invalid:
        raise DataError(
            f"rule(s) {', '.join(invalid)} cannot be accepted; only "
            f"{', '.join(sorted(WAIVABLE_RULES))}"
        )
    chosen = sorted({int(entry_id) for entry_id in ids})
    if not chosen:
        raise DataError("release: no quarantine ids given")
    report = ReleaseReport()
    summary = IngestReport(source="quarantine")
    # imported here: news_release builds on this module's outcome types
    from stocker.data.news_release import release_news_entry

    with uow:
        writers: dict[str, BatchWriter] = {}
        for entry in _locked_entries(uow, chosen):
            if entry.target_table == NEWS_TABLE:
                # articles have no TableSpec: the news file rules check them again
                report.outcomes.append(release_news_entry(uow, entry, corrections, note))
                continue
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
                    uow,
                    source=entry.source,
                    today=today,
                    jump_threshold=jump_threshold,
                    description=f"release from quarantine (ids {chosen[0]}..{chosen[-1]})",
                ),
            )
            report.outcomes.append(
                _release_one(uow, writer, entry, corrections, note, report, accepted)
            )
        for writer in writers.values():
            writer.finish(summary, compare_vendor=False)
        uow.commit()
    report.events = summary.events
    return report


def _release_one(
    uow: SqlUnitOfWork,
    writer: BatchWriter,
    entry: QuarantineEntry,
    corrections: Mapping[str, Any] | None,
    note: str | None,
    report: ReleaseReport,
    accept: tuple[str, ...],
) -> ReleaseOutcome:
    row = _offered_row(uow, entry, corrections)
    try:
        table_report, rejects = writer.land_or_undo(
            spec_of(entry.target_table), pd.DataFrame([row]), waived=accept
        )
    except DataError as error:
        return ReleaseOutcome(entry.id, False, (str(error),), row)
    if table_report is None:
        return ReleaseOutcome(entry.id, False, rejects[0].texts, row)
    report.tables.append(table_report)
    changes = ", ".join(f"{name}={value}" for name, value in (corrections or {}).items())
    resolution = note or ("released with " + changes if changes else "released as is")
    if accept:
        resolution += f" (accepted: {', '.join(accept)})"
    uow.quarantine.resolve([entry.id], status="RELEASED", note=resolution)
    return ReleaseOutcome(entry.id, True, (), row)


def discard(uow: SqlUnitOfWork, ids: Iterable[int], note: str) -> int:
    """Mark quarantined rows DISCARDED with a note; returns how many changed.

    Rows already released or discarded are left as they are.
    """
    chosen = sorted({int(entry_id) for entry_id in ids})
    if not note or not note.strip():
        raise DataError("discard: a note saying why is required")
    with uow:
        _locked_entries(uow, chosen)
        changed = uow.quarantine.resolve(chosen, status="DISCARDED", note=note.strip())
        uow.commit()
    return changed
