"""`stocker data trading-universe|breadth|returns`: tables derived from prices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from stocker.cli.app import app_of, console, data_app
from stocker.cli.errors import clear_errors
from stocker.cli.render import counts_table, spinner

DATE_FORMATS = ["%Y-%m-%d"]
ALL_US = "US_ALL"
"""The breadth scope of every US equity (`stocker.data.breadth.ALL_US`, not imported at start)."""
Start = Annotated[datetime, typer.Option("--start", formats=DATE_FORMATS, help="First date.")]
End = Annotated[datetime, typer.Option("--end", formats=DATE_FORMATS, help="Last date.")]


@data_app.command("trading-universe")
@clear_errors
def trading_universe(
    ctx: typer.Context,
    start: Start,
    end: End,
    top: int = typer.Option(100, "--top", min=1, help="Symbols kept per session."),
    lookback: int = typer.Option(
        20, "--lookback", min=1, help="Sessions averaged, the ranking date included."
    ),
    min_periods: int | None = typer.Option(
        None, "--min-periods", min=1, help="Fewest bars a symbol needs (default: --lookback)."
    ),
) -> None:
    """Rank symbols by average dollar volume per session and store the top N."""
    from stocker.data.trading_universe import refresh_trading_universe

    uow = app_of(ctx).uow()
    with spinner() as progress:
        progress.add_task("ranking by average dollar volume…", total=None)
        result = refresh_trading_universe(
            uow,
            start=start.date(),
            end=end.date(),
            top=top,
            lookback_days=lookback,
            min_periods=min_periods,
        )
    console.print(
        counts_table(
            f"trading_universe {result.start} … {result.end} (top {top}, {lookback} sessions)",
            {
                "sessions": result.sessions,
                "rows": result.rows,
                "inserted": result.inserted,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "deleted": result.deleted,
            },
        )
    )


@data_app.command("breadth")
@clear_errors
def breadth(
    ctx: typer.Context,
    start: Start,
    end: End,
    scope: str = typer.Option(ALL_US, "--scope", help="US_ALL or a universe name."),
) -> None:
    """Compute market breadth for a scope and store it in market_breadth."""
    from stocker.data.breadth import refresh_breadth

    uow = app_of(ctx).uow()
    with spinner() as progress:
        progress.add_task(f"computing breadth of {scope}…", total=None)
        result = refresh_breadth(uow, scope=scope, start=start.date(), end=end.date())
    console.print(
        counts_table(
            f"market_breadth {scope} {start:%Y-%m-%d} … {end:%Y-%m-%d}",
            {
                "symbols": result.symbols,
                "dates": result.dates,
                "rows": result.rows,
                "inserted": result.inserted,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "deleted": result.deleted,
            },
        )
    )


@data_app.command("returns")
@clear_errors
def returns(
    ctx: typer.Context,
    symbols: str = typer.Option("", "--symbols", help="Comma-separated symbols (default: all)."),
    since: Annotated[
        datetime | None,
        typer.Option("--since", formats=DATE_FORMATS, help="Also recompute from this date."),
    ] = None,
    full: bool = typer.Option(False, "--full", help="Recompute every return of the symbols."),
) -> None:
    """Bring price_returns up to date with adj_close (only new or out-of-step returns)."""
    from stocker.data.price_returns import refresh_price_returns

    chosen = [symbol.strip().upper() for symbol in symbols.split(",") if symbol.strip()]
    uow = app_of(ctx).uow()
    with spinner() as progress:
        progress.add_task("computing daily returns…", total=None)
        report = refresh_price_returns(
            uow, chosen or None, since.date() if since else None, full=full
        )
    console.print(
        counts_table(
            "price_returns",
            {
                "symbols": len(report.symbols),
                "recomputed": len(report.recomputed),
                "computed": report.computed,
                "inserted": report.inserted,
                "updated": report.updated,
                "deleted": report.deleted,
            },
        )
    )
