"""What is stored: row counts and date ranges, for `stocker demo` and status output."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, text

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


def summarize(conn: Connection) -> list[TableSummary]:
    """Row counts and date ranges of the main tables that exist in this database."""
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
        summaries.append(TableSummary(table, rows, first, last))
    return summaries


def symbols_by_source(conn: Connection) -> list[tuple[str, int, int, date, date]]:
    """(source, symbols, rows, first date, last date) of `prices_daily`."""
    rows = conn.execute(
        text(
            "SELECT source, count(DISTINCT symbol), count(*), min(date), max(date) "
            "FROM prices_daily GROUP BY source ORDER BY source"
        )
    ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]
