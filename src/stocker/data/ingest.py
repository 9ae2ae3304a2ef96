"""Ingest a source's batch: validate, land the good rows, quarantine the rest — all or nothing.

One `SourceBatch` is one transaction (one unit of work). Its tables land in `INGEST_TABLES` order
through a `BatchWriter` (see `stocker.data.batch_writer` for what happens per table and once per
batch). An error anywhere rolls the whole batch back: nothing lands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from stocker.core.errors import DataError
from stocker.core.rules.bars import DEFAULT_JUMP_THRESHOLD
from stocker.core.symbols import checked_symbol
from stocker.core.tables import INGEST_TABLES, TABLES
from stocker.data.batch_writer import BatchWriter, unparseable
from stocker.data.reports import IngestReport, TableReport, summary_rows
from stocker.sources.base import FetchRequest

if TYPE_CHECKING:
    from stocker.sources.base import Source, SourceBatch
    from stocker.store.uow import SqlUnitOfWork

__all__ = [
    "BatchWriter",
    "FetchRequest",
    "IngestReport",
    "TableHook",
    "TableReport",
    "check_tables",
    "fetch_and_ingest",
    "ingest",
    "summary_rows",
]

TableHook = Callable[[TableReport], None]
"""Called after each table of a batch lands (progress display), inside the transaction."""


def check_tables(batch: SourceBatch) -> None:
    """Refuse a batch naming a table Stocker does not ingest, before anything is written."""
    named = set(batch.frames) | {reject.table for reject in batch.rejects}
    unknown = sorted(named - set(INGEST_TABLES))
    if unknown:
        raise DataError(
            f"batch from {batch.source!r} has rows for table(s) {', '.join(unknown)}; "
            f"expected only {', '.join(INGEST_TABLES)}"
        )


def given_symbol(source: Source) -> str | None:
    """The symbol a one-symbol source gives every row (a file loaded with `--symbol`), checked
    and upper-cased as the file source stores it; None for sources whose rows name their own."""
    symbol = getattr(source, "symbol", None)
    return checked_symbol(symbol).upper() if isinstance(symbol, str) and symbol else None


def with_symbol_on_rejects(batch: SourceBatch, symbol: str) -> SourceBatch:
    """`batch` with `symbol` added to the raw rows the source could not parse.

    A one-symbol file has no symbol column, so without it those rows would be quarantined
    without a symbol: `quarantine list --symbol` would not find them and a release would fail
    for want of one. Raw rows that already name a symbol are left as they are.
    """
    rejects = [
        reject
        if any(str(name).strip().lower() == "symbol" for name in reject.raw_row)
        else replace(reject, raw_row={"symbol": symbol, **reject.raw_row})
        for reject in batch.rejects
    ]
    return replace(batch, rejects=rejects)


def ingest(
    uow: SqlUnitOfWork,
    batch: SourceBatch,
    *,
    today: date,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    description: str | None = None,
    on_table: TableHook | None = None,
    compare_vendor: bool = True,
) -> IngestReport:
    """Land `batch` in one transaction: valid rows, quarantine, batch rows and outbox events.

    Parameters
    ----------
    today : bars dated after it are refused (the caller's clock, so tests can fix it).
    jump_threshold : close-to-close move (0.5 = 50%) beyond which a bar needs a corporate action.
    on_table : called inside the transaction after each table lands (progress display); an
        exception it raises rolls the whole batch back.
    compare_vendor : compare vendor-supplied adjusted closes with ours and report disagreements.
    """
    check_tables(batch)
    report = IngestReport(source=batch.source, warnings=list(batch.warnings))
    if batch.unknown_symbols:
        report.warnings.append(f"unknown to the source: {', '.join(batch.unknown_symbols)}")
    with uow:
        writer = BatchWriter(
            uow,
            source=batch.source,
            today=today,
            jump_threshold=jump_threshold,
            description=description,
        )
        for spec in TABLES.values():
            frame = batch.frames.get(spec.name)
            early = [unparseable(reject) for reject in batch.rejects if reject.table == spec.name]
            if (frame is None or frame.empty) and not early:
                continue
            table_report, _ = writer.land(spec, frame, early)
            report.tables.append(table_report)
            if on_table is not None:
                on_table(table_report)
        writer.finish(report, compare_vendor=compare_vendor)
        uow.commit()
    return report


def fetch_and_ingest(
    uow: SqlUnitOfWork,
    source: Source,
    request: FetchRequest,
    *,
    today: date,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    on_table: TableHook | None = None,
) -> IngestReport:
    """Fetch `request` from `source` and ingest what it returns (the CLI's one use case).

    The requested symbols, and the symbol a one-symbol file source gives every row, are checked
    first (`stocker.core.symbols.checked_symbol`): a symbol tickers cannot have is a `DataError`
    naming the character, before anything is fetched.
    """
    request = replace(request, symbols=tuple(checked_symbol(symbol) for symbol in request.symbols))
    file_symbol = given_symbol(source)
    batch = source.fetch(request)
    if file_symbol is not None:
        batch = with_symbol_on_rejects(batch, file_symbol)
    symbols = ", ".join(request.symbols) or "all symbols"
    description = f"{source.name} {request.interval} {symbols} {request.start}..{request.end}"
    return ingest(
        uow,
        batch,
        today=today,
        jump_threshold=jump_threshold,
        description=description[:1000],
        on_table=on_table,
    )
