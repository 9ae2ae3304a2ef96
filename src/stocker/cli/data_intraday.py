"""`stocker data live` (Alpaca minute bars as they arrive) and `stocker data intraday-check`."""

from __future__ import annotations

import math
import signal
import threading
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from stocker.cli.app import console, data_app
from stocker.cli.errors import clear_errors
from stocker.config import get_settings
from stocker.data.ingest import TableReport
from stocker.data.intraday import DEFAULT_TOLERANCE, check_daily_agreement
from stocker.data.live_intraday import LiveIntradayReport, stream_intraday_bars
from stocker.store.db import get_engine

DATE_FORMATS = ["%Y-%m-%d"]
ROWS_SHOWN = 50


def _number(value: object, spec: str) -> str:
    number = float(value)  # type: ignore[arg-type]
    return "-" if math.isnan(number) else format(number, spec)


def _symbols(text: str) -> list[str]:
    return [symbol.strip().upper() for symbol in text.split(",") if symbol.strip()]


@data_app.command("live")
@clear_errors
def live_command(
    symbols: str = typer.Option(..., "--symbols", help="Comma-separated symbols, e.g. SPY,QQQ."),
    feed: str = typer.Option("iex", "--feed", help="Alpaca data feed: iex (free plans) or sip."),
    url: str | None = typer.Option(
        None, "--url", help="Override of Alpaca's stream URL (a proxy, a recorded stream)."
    ),
    seconds: float | None = typer.Option(
        None, "--seconds", min=0.0, help="Stop after this long (default: until Ctrl-C)."
    ),
) -> None:
    """Stream Alpaca minute bars into prices_intraday as they arrive (keys from the environment)."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    timer = threading.Timer(seconds, stop.set) if seconds is not None else None
    if timer is not None:
        timer.start()

    def landed(table: TableReport, totals: LiveIntradayReport) -> None:
        console.print(
            f"batch {totals.batches}: {table.inserted} inserted, {table.updated} updated, "
            f"{table.quarantined} quarantined (total {totals.inserted:,} inserted)",
            highlight=False,
        )

    console.print("streaming minute bars; press Ctrl-C to stop", highlight=False)
    try:
        totals = stream_intraday_bars(
            get_engine(get_settings()), _symbols(symbols), stop, on_batch=landed, feed=feed, url=url
        )
    finally:
        signal.signal(signal.SIGINT, previous)
        if timer is not None:
            timer.cancel()
    console.print(
        f"stopped: {totals.batches:,} batches, {totals.received:,} bars received, "
        f"{totals.inserted:,} inserted, {totals.updated:,} updated, "
        f"{totals.quarantined:,} quarantined"
    )


@data_app.command("intraday-check")
@clear_errors
def intraday_check_command(
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated symbols.")],
    start: Annotated[datetime, typer.Option("--start", formats=DATE_FORMATS, help="First date.")],
    end: Annotated[datetime, typer.Option("--end", formats=DATE_FORMATS, help="Last date.")],
    interval: str = typer.Option("1m", "--interval", help="Stored intraday bars to build from."),
    tolerance: float = typer.Option(
        DEFAULT_TOLERANCE, "--tolerance", min=0.0, help="Relative difference allowed."
    ),
    volume_tolerance: float | None = typer.Option(
        None, "--volume-tolerance", min=0.0, help="Relative volume difference allowed."
    ),
) -> None:
    """Report days where daily bars built from intraday bars disagree with prices_daily."""
    with get_engine(get_settings()).connect() as conn:
        found = check_daily_agreement(
            conn,
            _symbols(symbols),
            start.date(),
            end.date(),
            tolerance,
            volume_tolerance=volume_tolerance,
            from_interval=interval,
        )
    if found.empty:
        console.print("intraday and daily bars agree on every session")
        return
    table = Table(title=f"{len(found):,} disagreement(s)")
    for column in ("symbol", "date", "field", "intraday", "daily", "rel. diff"):
        table.add_column(
            column,
            justify="left" if column in ("symbol", "date", "field") else "right",
            no_wrap=True,
        )
    for row in found.head(ROWS_SHOWN).to_dict("records"):
        table.add_row(
            str(row["symbol"]),
            f"{row['date']:%Y-%m-%d}",
            str(row["field"]),
            _number(row["intraday"], ".10g"),
            _number(row["daily"], ".10g"),
            _number(row["relative_difference"], ".2e"),
        )
    console.print(table)
    if len(found) > ROWS_SHOWN:
        console.print(f"… and {len(found) - ROWS_SHOWN:,} more")
    raise typer.Exit(code=1)
