"""`stocker data ingest` and `stocker data quarantine list|show|release|discard`."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stocker.cli.app import app_of, console, data_app
from stocker.cli.errors import clear_errors
from stocker.cli.render import progress_bar, spinner

if TYPE_CHECKING:
    from rich.progress import Progress

    from stocker.bootstrap import App
    from stocker.data.reports import IngestReport

DATE_FORMATS = ["%Y-%m-%d"]
Today = Annotated[
    datetime | None,
    typer.Option(
        "--today", formats=DATE_FORMATS, help="Treat this date as today (default: today)."
    ),
]
Ids = Annotated[list[int], typer.Argument(help="Quarantine id(s).")]

quarantine_app = typer.Typer(help="Review refused rows: list, show, release or discard them.")
data_app.add_typer(quarantine_app, name="quarantine")

REASONS_SHOWN = 8


def _today(app: App, today: datetime | None) -> date:
    """`--today` when given, else the application's clock."""
    return today.date() if today else app.clock.today()


def _ingest_json(report: IngestReport) -> dict[str, Any]:
    """The summary as JSON: per table, received = inserted + updated + unchanged + quarantined
    + already_quarantined (refused rows kept by an earlier ingest of the same payload)."""
    return {
        "source": report.source,
        "tables": [
            {
                "table": item.table,
                "batch_id": str(item.batch_id),
                "received": item.received,
                "inserted": item.inserted,
                "updated": item.updated,
                "unchanged": item.unchanged,
                "quarantined": item.quarantined,
                "already_quarantined": item.already_quarantined,
                "reasons": dict(item.reasons.most_common()),
                "registered_symbols": list(item.registered_symbols),
            }
            for item in report.tables
        ],
        "events": report.events,
        "events_withheld": getattr(report, "events_withheld", 0),
        "adjusted_symbols": list(report.adjusted_symbols),
        "adjusted_rows": report.adjusted_rows,
        "warnings": list(report.warnings),
    }


def _render_ingest(report: IngestReport, *, as_json: bool = False) -> None:
    if as_json:
        console.print_json(json.dumps(_ingest_json(report)))
        return
    from rich.table import Table

    from stocker.data.reports import summary_rows

    table = Table(title=f"Ingested from {report.source}")
    table.add_column("table")
    for column in ("received", "inserted", "updated", "unchanged", "quarantined"):
        table.add_column(column, justify="right")
    for name, *counts in summary_rows(report):
        table.add_row(name, *(f"{count:,}" for count in counts))
    console.print(table)
    reasons: Counter[str] = Counter()
    for item in report.tables:
        reasons.update(item.reasons)
    if reasons:
        shown = ", ".join(f"{rule} ×{count}" for rule, count in reasons.most_common(REASONS_SHOWN))
        console.print(f"quarantine reasons: {shown}", markup=False)
    for item in report.tables:
        if item.already_quarantined:
            where = f" ({item.table})" if len(report.tables) > 1 else ""
            console.print(
                f"{item.already_quarantined:,} refused row(s){where} were already in quarantine "
                "(from an earlier ingest of the same data), not kept again",
                markup=False,
            )
    if reasons:
        console.print("review them with: stocker data quarantine list", markup=False)
    console.print(f"market-bars events queued: {report.events:,}")
    withheld = getattr(report, "events_withheld", 0)
    if withheld:
        console.print(
            f"changed bars not announced: {withheld:,} (dated before "
            f"{getattr(report, 'publish_since', '')}, too old for trading to act on; "
            "--recent-sessions widens the window)",
            markup=False,
        )
    if report.adjusted_symbols:
        console.print(
            f"adjusted closes recomputed for {len(report.adjusted_symbols)} symbol(s) "
            f"({report.adjusted_rows:,} rows)"
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


@data_app.command("ingest")
@clear_errors
def ingest_command(
    ctx: typer.Context,
    source: str = typer.Option(..., "--source", help="Source name: csv, parquet, yahoo, alpaca…"),
    symbols: str = typer.Option("", "--symbols", help="Comma-separated symbols, e.g. AAPL,MSFT."),
    start: Annotated[datetime | None, typer.Option("--start", formats=DATE_FORMATS)] = None,
    end: Annotated[datetime | None, typer.Option("--end", formats=DATE_FORMATS)] = None,
    interval: str | None = typer.Option(
        None,
        "--interval",
        help="Bar interval: 1d (default), 1m, 5m, 1h; for a file, only prices_intraday's.",
    ),
    file: Annotated[Path | None, typer.Option("--file", help="The file, for file sources.")] = None,
    table: str | None = typer.Option(None, "--table", help="Table a file fills (prices_daily)."),
    symbol: str | None = typer.Option(
        None, "--symbol", help="Symbol of every row, for a file without a symbol column."
    ),
    date_format: str | None = typer.Option(
        None, "--date-format", help="A file's date format, e.g. %d/%m/%Y (default: inferred)."
    ),
    decimal: str | None = typer.Option(
        None, "--decimal", help="A file's decimal separator: . or , (default: inferred)."
    ),
    thousands: str | None = typer.Option(
        None,
        "--thousands",
        help="A file's digit-group separator: , . _ ' space or none (default: inferred).",
    ),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="A CSV file's delimiter: , ; | or tab (default: sniffed)."
    ),
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of", formats=DATE_FORMATS, help="As-of date, for sources that need one."
        ),
    ] = None,
    today: Today = None,
    jump_threshold: float = typer.Option(
        0.5, "--jump-threshold", min=0.0, help="Close-to-close move needing a corporate action."
    ),
    recent_sessions: int = typer.Option(
        5,
        "--recent-sessions",
        min=1,
        help="A file's changed bars are announced on the bus only when dated within this many "
        "weekdays up to today (older ones: a backfill, stored quietly).",
    ),
    chunk_rows: int = typer.Option(
        250_000, "--chunk-rows", min=1, help="Rows of a file read and landed at a time."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Fetch from a source, validate, land valid rows and quarantine the rest (one transaction)."""
    from stocker.data.ingest import FetchRequest, fetch_and_ingest
    from stocker.data.reports import TableReport

    options: dict[str, object] = {}
    if file is not None:
        options["path"] = file
    if table is not None:
        options["table"] = table
    if file is not None and interval is not None:
        options["interval"] = interval  # the file source refuses it for a table without one
    file_formats = {
        "date_format": date_format,
        "decimal": decimal,
        "thousands": {"none": "", "space": " "}.get((thousands or "").lower(), thousands),
        "delimiter": {"tab": "\t", "\\t": "\t"}.get((delimiter or "").lower(), delimiter),
    }
    options.update({name: value for name, value in file_formats.items() if value is not None})
    if symbol is not None:
        options["symbol"] = symbol.strip().upper()
    if as_of is not None:
        options["as_of"] = as_of.date()
    request = FetchRequest(
        symbols=tuple(symbol.strip().upper() for symbol in symbols.split(",") if symbol.strip()),
        start=start.date() if start else None,
        end=end.date() if end else None,
        interval=interval or "1d",
    )
    app = app_of(ctx)
    chosen = app.source(source, **options)
    if file is not None:
        _ingest_file(
            app,
            chosen,
            request,
            _today(app, today),
            jump_threshold,
            recent_sessions,
            chunk_rows,
            as_json=as_json,
        )
        return
    with _quiet(spinner(), as_json) as progress:
        task = progress.add_task(f"fetching from {source}…", total=None)

        def landed(report: TableReport) -> None:
            progress.update(task, description=f"landed {report.table} ({report.received:,} rows)")

        report = fetch_and_ingest(
            app.uow(),
            chosen,
            request,
            today=_today(app, today),
            jump_threshold=jump_threshold,
            on_table=landed,
        )
    _render_ingest(report, as_json=as_json)


def _ingest_file(
    app: App,
    chosen: Any,
    request: Any,
    today: date,
    jump_threshold: float,
    recent_sessions: int,
    chunk_rows: int,
    *,
    as_json: bool,
) -> None:
    """A file in chunks, with a bar of rows done, rows/s and time left."""
    from stocker.data.ingest_stream import fetch_and_ingest_file

    with _quiet(progress_bar(), as_json) as progress:
        task = progress.add_task("checking the file…", total=None)

        def advanced(done: int, total: int | None) -> None:
            description = "checking the file…" if total is None else "ingesting rows"
            progress.update(task, completed=done, total=total, description=description)

        report = fetch_and_ingest_file(
            app.uow(),
            chosen,
            request,
            today=today,
            jump_threshold=jump_threshold,
            chunk_rows=chunk_rows,
            recent_sessions=recent_sessions,
            on_progress=advanced,
        )
    _render_ingest(report, as_json=as_json)


def _quiet(progress: Progress, quiet: bool) -> Progress:
    """`progress`, shown only when the output is not JSON (stdout holds nothing else then)."""
    progress.disable = quiet
    return progress


@quarantine_app.command("list")
@clear_errors
def list_command(
    ctx: typer.Context,
    status: str = typer.Option(
        "QUARANTINED", "--status", help="QUARANTINED, RELEASED, DISCARDED or ALL."
    ),
    table: str | None = typer.Option(None, "--table"),
    symbol: str | None = typer.Option(None, "--symbol"),
    batch: str | None = typer.Option(None, "--batch", help="Batch id (UUID)."),
    limit: int = typer.Option(50, "--limit", min=1),
) -> None:
    """List quarantined rows, newest first."""
    from stocker.data import quarantine

    entries = quarantine.list_entries(
        app_of(ctx).uow(),
        status=None if status.upper() == "ALL" else status,
        table=table,
        symbol=symbol,
        batch_id=batch,
        limit=limit,
    )
    if not entries:
        console.print("nothing in quarantine matches")
        return
    for entry in entries:
        console.print(
            f"#{entry.id} {entry.status} {entry.target_table} {entry.row_key or ''} "
            f"from {entry.source}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        for reason in entry.reasons:
            console.print(f"    {reason}", markup=False, highlight=False, soft_wrap=True)


@quarantine_app.command("show")
@clear_errors
def show_command(
    ctx: typer.Context, entry_id: int = typer.Argument(..., help="Quarantine id.")
) -> None:
    """Show one quarantined row: raw values and every reason."""
    from stocker.data import quarantine

    entry = quarantine.show_entry(app_of(ctx).uow(), entry_id)
    console.print(
        f"#{entry.id} {entry.status}  {entry.target_table}  from {entry.source}  "
        f"batch {entry.batch_id}  row {entry.row_number}",
        markup=False,
    )
    console.print_json(json.dumps(entry.raw_row, default=str))
    for reason in entry.reasons:
        console.print(f"  - {reason}", markup=False, soft_wrap=True)
    if entry.resolved_at:
        console.print(f"resolved {entry.resolved_at:%Y-%m-%d %H:%M}: {entry.resolution_note}")


def _corrections(assignments: list[str]) -> dict[str, str]:
    from stocker.core.errors import DataError

    corrections: dict[str, str] = {}
    for assignment in assignments:
        name, separator, value = assignment.partition("=")
        if not separator or not name.strip():
            raise DataError(f"--set {assignment!r} is not field=value")
        corrections[name.strip()] = value.strip()
    return corrections


@quarantine_app.command("release")
@clear_errors
def release_command(
    ctx: typer.Context,
    ids: Ids,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Correct a field, by column or the file's own header: --set close=101.5, "
            "--set Close=101.5 (--set field= clears it).",
        ),
    ] = None,
    accept: Annotated[
        list[str] | None,
        typer.Option(
            "--accept", help="Overrule a judgment rule: price_jump, stale_bar or not_a_session."
        ),
    ] = None,
    note: str | None = typer.Option(None, "--note", help="Why it is released."),
    today: Today = None,
) -> None:
    """Re-validate rows (with corrections) and land those that now pass."""
    from stocker.data import quarantine

    app = app_of(ctx)
    report = quarantine.release(
        app.uow(),
        ids,
        _corrections(set_ or []) or None,
        today=_today(app, today),
        note=note,
        accept=accept or (),
    )
    for outcome in report.outcomes:
        if outcome.released:
            console.print(f"#{outcome.id} released")
        else:
            console.print(f"#{outcome.id} still quarantined:", markup=False)
            for reason in outcome.reasons:
                console.print(f"  - {reason}", markup=False, soft_wrap=True)
    if report.still_quarantined:
        raise typer.Exit(code=1)


@quarantine_app.command("discard")
@clear_errors
def discard_command(
    ctx: typer.Context,
    ids: Ids,
    note: str = typer.Option(..., "--note", help="Why the rows are discarded."),
) -> None:
    """Mark rows as discarded (they stay in the table as a record)."""
    from stocker.data import quarantine

    changed = quarantine.discard(app_of(ctx).uow(), ids, note)
    console.print(f"{changed} row(s) discarded")
