"""`stocker risk covariance`: a covariance matrix as of a date, read from the cache when it was
computed before (the command reports which), else computed from returns up to the date."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from stocker.cli.app import app_of, console, err_console
from stocker.cli.errors import clear_errors
from stocker.cli.factors import DATE_FORMATS, AsJson, Universe, risk_app

if TYPE_CHECKING:
    from stocker.lab.covariance import CovarianceResult


def _symbols(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [symbol.strip().upper() for symbol in text.split(",") if symbol.strip()]


def _render(result: CovarianceResult, as_json: bool, with_matrix: bool) -> None:
    if as_json:
        console.print_json(json.dumps(result.as_json(with_matrix=with_matrix)))
        return
    origin = "cache hit" if result.cached else "computed and stored"
    table = Table(title=f"covariance {result.as_of_date} ({origin})")
    table.add_column("field")
    table.add_column("value")
    rows = [
        ("id", str(result.id)),
        ("symbols", f"{len(result.symbols):,}"),
        ("estimator", result.estimator),
        ("window", f"{result.window_days} daily returns"),
        ("returns", f"{result.first_date} … {result.last_date}"),
        ("shrinkage", "-" if result.shrinkage is None else f"{result.shrinkage:.6f}"),
        ("universe_hash", result.universe_hash),
        ("psd", result.psd.reason),
        ("stored at", result.created_at.isoformat(timespec="seconds")),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if result.psd.repaired:
        err_console.print(f"[yellow]warning:[/yellow] matrix repaired: {result.psd.reason}")
    if with_matrix:
        console.print(result.matrix.to_string(float_format=lambda value: f"{value:.6g}"))


@risk_app.command("covariance")
@clear_errors
def covariance_command(
    ctx: typer.Context,
    day: Annotated[datetime, typer.Option("--date", formats=DATE_FORMATS, help="The as-of date.")],
    universe: Universe = None,
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols", help="Comma-separated symbols, e.g. AAPL,MSFT (not with --universe)."
        ),
    ] = None,
    estimator: Annotated[
        str,
        typer.Option(
            "--estimator",
            help="sample, ledoit_wolf (scaled identity), ledoit_wolf_constant_correlation, oas, "
            "ewma (decay 0.94).",
        ),
    ] = "ledoit_wolf",
    window: Annotated[
        int, typer.Option("--window", help="Daily returns up to --date the estimate uses.")
    ] = 252,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Recompute and replace a cached matrix.")
    ] = False,
    with_matrix: Annotated[
        bool, typer.Option("--matrix", help="Print the matrix itself too.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Covariance of a universe (or --symbols, or every active instrument) as of --date, cached."""
    from stocker.lab.covariance import covariance

    result = covariance(
        app_of(ctx).uow(),
        day=day.date(),
        symbols=_symbols(symbols),
        universe=universe,
        estimator=estimator,
        window_days=window,
        refresh=refresh,
    )
    _render(result, as_json, with_matrix)
