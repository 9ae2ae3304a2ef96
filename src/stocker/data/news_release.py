"""Release quarantined news rows: corrected, checked again by the news file rules, stored once.

A refused article is kept in `ingest_quarantine` as it arrived (its own field names: a file's
``Title`` or ``Published``, Alpaca's ``created_at``). Releasing one applies the reviewer's
corrections to that raw row, sends it through the same check as a fresh file row
(`stocker.sources.files.news.check_article`: ISO time with a zone, a headline, clean symbols)
and stores it like any article (once per key). If it passes, the row becomes RELEASED with a
note; if not, it stays QUARANTINED and the outcome lists the new reasons. Discarding needs
nothing news-specific (`stocker.data.quarantine.discard`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from stocker.core.errors import DataError, SourceError
from stocker.data.quarantine import QuarantineEntry, ReleaseOutcome, ReleaseReport
from stocker.sources.base import payload_hash
from stocker.sources.files.news import ALIASES, check_article, field_of, news_columns
from stocker.sources.news import NEWS_TABLE, articles_frame

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

__all__ = ["corrected_record", "release_news", "release_news_entry"]


def corrected_record(
    raw_row: Mapping[str, Any], corrections: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The raw row with corrections applied, each to the field it means (`field_of`); a
    correction to ``""`` clears the field. A name that is no news field is a `DataError`
    listing the names that would do."""
    record = dict(raw_row)
    wrong: list[str] = []
    for name, value in (corrections or {}).items():
        field = field_of(str(name), record)
        if field is None:
            wrong.append(str(name))
            continue
        record[field] = None if value == "" else value
    if wrong:
        own = ", ".join(str(key) for key in raw_row)
        raise DataError(
            f"correction field(s) {', '.join(wrong)} are not news fields; expected some of "
            f"{', '.join(ALIASES)} (or the row's own field names: {own})"
        )
    return record


def _source_hash(entry: QuarantineEntry) -> str:
    """The payload the article came in: the quarantined row's own hash, else (an Alpaca page
    that was not kept) the digest of the raw row as kept."""
    if entry.source_hash:
        return entry.source_hash
    text = json.dumps(entry.raw_row, sort_keys=True, ensure_ascii=False)
    return payload_hash(text.encode("utf-8"))


def _resolution(corrections: Mapping[str, Any] | None, note: str | None) -> str:
    changes = ", ".join(f"{name}={value}" for name, value in (corrections or {}).items())
    return note or ("released with " + changes if changes else "released as is")


def release_news_entry(
    uow: SqlUnitOfWork,
    entry: QuarantineEntry,
    corrections: Mapping[str, Any] | None = None,
    note: str | None = None,
) -> ReleaseOutcome:
    """Release one quarantined news row (locked by the caller) in the caller's transaction."""
    if entry.target_table != NEWS_TABLE:
        return ReleaseOutcome(
            entry.id,
            False,
            (
                f"it is a {entry.target_table} row, not a news article; release it with "
                "`stocker data quarantine release`",
            ),
        )
    if entry.status != "QUARANTINED":
        reason = f"status is {entry.status}; only QUARANTINED rows can be released"
        return ReleaseOutcome(entry.id, False, (reason,))
    record = corrected_record(entry.raw_row, corrections)
    try:
        columns = news_columns(f"quarantine id {entry.id}", list(record))
    except SourceError as error:
        return ReleaseOutcome(entry.id, False, (str(error),), record)
    row, reasons = check_article(
        record, columns, vendor=entry.source, source_hash=_source_hash(entry)
    )
    if row is None:
        return ReleaseOutcome(entry.id, False, tuple(reasons), record)
    written = uow.news.add_articles(articles_frame([row]))
    if written.differing:
        return ReleaseOutcome(
            entry.id,
            False,
            (
                f"article {row['article_key']} is already stored with other content; the "
                "stored copy is kept (it is what was scored): discard this row",
            ),
            record,
        )
    resolution = _resolution(corrections, note)
    if written.unchanged:
        resolution += " (the same article was already stored)"
    uow.quarantine.resolve([entry.id], status="RELEASED", note=resolution)
    return ReleaseOutcome(entry.id, True, (), record)


def release_news(
    uow: SqlUnitOfWork,
    ids: Iterable[int],
    corrections: Mapping[str, Any] | None = None,
    *,
    note: str | None = None,
) -> ReleaseReport:
    """Release quarantined news rows (with `corrections` applied to each), in one transaction."""
    chosen = sorted({int(entry_id) for entry_id in ids})
    if not chosen:
        raise DataError("release: no quarantine ids given")
    report = ReleaseReport()
    with uow:
        entries = uow.quarantine.locked(chosen)
        missing = sorted(set(chosen) - {entry.id for entry in entries})
        if missing:
            raise DataError(f"quarantine id(s) {', '.join(map(str, missing))} do not exist")
        for entry in entries:
            report.outcomes.append(release_news_entry(uow, entry, corrections, note))
        uow.commit()
    return report
