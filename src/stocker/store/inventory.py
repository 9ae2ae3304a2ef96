"""What is stored: row counts and date ranges, for `stocker demo` and status output.

A read model: it reads in the caller's open unit of work (`stocker.data.inventory` opens it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

# (table, date column or None) in the order a user reads them.
_TABLES: tuple[tuple[str, str | None], ...] = (
    ("instrument_info", None),
    ("prices_daily", "date"),
    ("corporate_actions", "date"),
    ("instrument_metrics", "as_of_date"),
    ("price_returns", "date"),
    ("outbox", None),
    ("ingest_quarantine", None),
)


@dataclass(frozen=True)
class TableSummary:
    """Rows in one table, with the range of its date column when it has one."""

    table: str
    rows: int
    first: date | None
    last: date | None


@dataclass(frozen=True)
class SourceSummary:
    """The daily bars of one `source`: how many symbols and rows, and their date range."""

    source: str
    symbols: int
    rows: int
    first: date
    last: date


def summarize(uow: SqlUnitOfWork) -> list[TableSummary]:
    """Row counts and date ranges of the main tables that exist in this database."""
    conn = uow.connection
    summaries = []
    for table, date_column in _TABLES:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar() is None:
            continue
        if date_column:
            rows, first, last = conn.execute(
                text(f'SELECT count(*), min("{date_column}"), max("{date_column}") FROM {table}')
            ).one()
        else:
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            first = last = None
        summaries.append(TableSummary(table, int(rows), first, last))
    return summaries


def symbols_by_source(uow: SqlUnitOfWork) -> list[SourceSummary]:
    """The daily bars per `source`, by source."""
    rows = uow.connection.execute(
        text(
            "SELECT source, count(DISTINCT symbol), count(*), min(date), max(date) "
            "FROM prices_daily GROUP BY source ORDER BY source"
        )
    ).all()
    return [
        SourceSummary(str(source), int(symbols), int(count), first, last)
        for source, symbols, count, first, last in rows
    ]
