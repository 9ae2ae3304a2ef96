"""`stocker data sentiment`: load sentiment scores from a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from stocker.cli.app import app_of, console, data_app
from stocker.cli.errors import clear_errors
from stocker.cli.render import counts_table, spinner

REJECTS_SHOWN = 10
DATE_FORMATS = ["%Y-%m-%d"]


@data_app.command("sentiment")
@clear_errors
def sentiment(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV of sentiment rows (see docs/universes.md).")],
    source: str = typer.Option(..., "--source", help="Feed name for rows without a source."),
    today: Annotated[
        datetime | None,
        typer.Option(
            "--today", formats=DATE_FORMATS, help="Treat this date as today (default: today)."
        ),
    ] = None,
) -> None:
    """Load sentiment from a CSV, aggregated per symbol and market-wide per day."""
    from stocker.data.sentiment import ingest_sentiment_csv

    app = app_of(ctx)
    with spinner() as progress:
        progress.add_task(f"loading {path.name}…", total=None)
        report = ingest_sentiment_csv(
            app.uow(),
            path,
            source=source,
            today=today.date() if today else app.clock.today(),
        )
    console.print(
        counts_table(
            f"market_sentiment from {path.name}",
            {
                "received": report.received,
                "rejected": len(report.rejected),
                "daily rows": report.rows,
                "inserted": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
            },
        )
    )
    for reject in report.rejected[:REJECTS_SHOWN]:
        number = (reject.row_number or 0) + 2  # the file's line: a header, then 1-based rows
        console.print(f"row {number}: {'; '.join(reject.texts)}", markup=False)
    if len(report.rejected) > REJECTS_SHOWN:
        console.print(f"… and {len(report.rejected) - REJECTS_SHOWN} more rejected rows")
    if report.rejected:
        console.print("rejected rows are kept: stocker data quarantine list", markup=False)
