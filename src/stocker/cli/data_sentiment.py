"""`stocker data sentiment`: load sentiment scores from a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stocker.cli.app import console, data_app
from stocker.cli.errors import clear_errors
from stocker.cli.render import counts_table, spinner
from stocker.config import get_settings
from stocker.data.sentiment import ingest_sentiment_csv
from stocker.store.db import get_engine

REJECTS_SHOWN = 10


@data_app.command("sentiment")
@clear_errors
def sentiment(
    path: Annotated[Path, typer.Argument(help="CSV of sentiment rows (see docs/universes.md).")],
    source: str = typer.Option(..., "--source", help="Feed name for rows without a source."),
) -> None:
    """Load sentiment from a CSV, aggregated per symbol and market-wide per day."""
    with spinner() as progress, get_engine(get_settings()).begin() as conn:
        progress.add_task(f"loading {path.name}…", total=None)
        report = ingest_sentiment_csv(conn, path, source=source)
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
        console.print(f"row {reject.row_number + 2}: {'; '.join(reject.reasons)}", markup=False)
    if len(report.rejected) > REJECTS_SHOWN:
        console.print(f"… and {len(report.rejected) - REJECTS_SHOWN} more rejected rows")
    if report.rejected:
        console.print("rejected rows are kept: stocker data quarantine list", markup=False)
