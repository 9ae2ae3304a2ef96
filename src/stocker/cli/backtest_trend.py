"""`stocker backtest trend`: the trend strategy's vectorized backtest on stored prices, with its
realized volatility next to the target (see docs/strategy.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stocker.cli.app import app_of, console
from stocker.cli.backtest import AsJson, backtest_app
from stocker.cli.errors import clear_errors
from stocker.cli.render import spinner

StrategyFile = Annotated[
    Path | None,
    typer.Option(
        "--strategy",
        help="Strategy file (its universe, parameters, capital); default: the sample's 20 "
        "stocks with the default parameters.",
    ),
]


def _date(text: str | None, option: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@backtest_app.command("trend")
@clear_errors
def trend_command(
    ctx: typer.Context,
    start: str | None = typer.Option(None, "--from", help="First session (default: all)."),
    end: str | None = typer.Option(None, "--to", help="Last session (default: all)."),
    strategy: StrategyFile = None,
    as_json: AsJson = False,
) -> None:
    """Backtest the trend strategy; realized volatility next to the target, CAGR, Sharpe."""
    from stocker.trading.strategy_files import load_strategy_file
    from stocker.trading.trend_report import trend_report

    first, last = _date(start, "--from"), _date(end, "--to")
    application = app_of(ctx)
    setup = load_strategy_file(application.uow(), strategy) if strategy is not None else None
    with spinner() as progress:
        progress.add_task("backtesting the trend strategy…", total=None)
        report = trend_report(application.uow(), setup=setup, start=first, end=last)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        return
    table = Table(
        title=f"trend strategy, {len(report.symbols)} symbols, {report.start} to {report.end}"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("realized volatility", f"{report.realized_vol:.2%}")
    table.add_row("target volatility", f"{report.target_vol:.2%}")
    table.add_row("CAGR", f"{report.cagr:.2%}")
    table.add_row("Sharpe (no risk-free rate)", f"{report.sharpe:.2f}")
    table.add_row("maximum drawdown", f"{report.max_drawdown:.2%}")
    table.add_row("final NAV", f"{report.final_nav:,.2f}")
    table.add_row("cut to zero", ", ".join(str(day) for day in report.cuts) or "never")
    table.add_row(
        f"re-entered ({report.config.drawdown_reentry})",
        ", ".join(str(day) for day in report.reentries) or "—",
    )
    table.add_row("sessions", str(report.sessions))
    table.add_row("seconds", f"{report.seconds:.2f}")
    console.print(table)
