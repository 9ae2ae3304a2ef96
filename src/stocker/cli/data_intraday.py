"""`stocker data live` (Alpaca minute bars as they arrive) and `stocker data intraday-check`."""

from __future__ import annotations

import math
import signal
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from stocker.cli.app import app_of, console, data_app
from stocker.cli.errors import clear_errors

if TYPE_CHECKING:
    from stocker.data.ingest import TableReport
    from stocker.data.live_intraday import LiveIntradayReport

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
    ctx: typer.Context,
    symbols: str = typer.Option(..., "--symbols", help="Comma-separated symbols, e.g. SPY,QQQ."),
    feed: str = typer.Option("iex", "--feed", help="Alpaca data feed: iex (free plans) or sip."),
    url: str | None = typer.Option(
        None, "--url", help="Override of Alpaca's stream URL (a proxy, a recorded stream)."
    ),
    seconds: float | None = typer.Option(
        None, "--seconds", min=0.0, help="Stop after this long (default: until Ctrl-C)."
    ),
) -> None:
    """Stream Alpaca minute bars into prices_intraday as they arrive (keys from the settings)."""
    from stocker.data.live_intraday import stream_intraday_bars

    app = app_of(ctx)
    live_feed = app.live_feed("alpaca", feed=feed, url=url)
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
            app.uow(),
            live_feed,
            _symbols(symbols),
            stop,
            # live bars are stamped in UTC, so the future-date rule uses the UTC date
            today=lambda: app.clock.now().date(),
            on_batch=landed,
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
    ctx: typer.Context,
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated symbols.")],
    start: Annotated[datetime, typer.Option("--start", formats=DATE_FORMATS, help="First date.")],
    end: Annotated[datetime, typer.Option("--end", formats=DATE_FORMATS, help="Last date.")],
    interval: str = typer.Option("1m", "--interval", help="Stored intraday bars to build from."),
    tolerance: float | None = typer.Option(
        None, "--tolerance", min=0.0, help="Relative difference allowed (default 1e-4)."
    ),
    volume_tolerance: float | None = typer.Option(
        None, "--volume-tolerance", min=0.0, help="Relative volume difference allowed."
    ),
) -> None:
    """Report days where daily bars built from intraday bars disagree with prices_daily."""
    import pandas as pd

    from stocker.data.intraday import check_daily_agreement

    limits: dict[str, Any] = {} if tolerance is None else {"tolerance": tolerance}
    found = check_daily_agreement(
        app_of(ctx).uow(),
        _symbols(symbols),
        start.date(),
        end.date(),
        volume_tolerance=volume_tolerance,
        from_interval=interval,
        **limits,
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
            "-" if pd.isna(row["date"]) else f"{row['date']:%Y-%m-%d}",
            str(row["field"]),
            _number(row["intraday"], ".10g"),
            _number(row["daily"], ".10g"),
            _number(row["relative_difference"], ".2e"),
        )
    console.print(table)
    if len(found) > ROWS_SHOWN:
        console.print(f"… and {len(found) - ROWS_SHOWN:,} more")
    raise typer.Exit(code=1)
