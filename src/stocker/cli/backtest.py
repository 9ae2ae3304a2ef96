"""`stocker backtest run | list | show`: walk-forward backtests of research portfolios.

Other modules add commands to `backtest_app` (report, compare, sweep).
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors
from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.lab.backtests import BacktestRun

backtest_app = typer.Typer(
    help="Walk-forward backtests of a portfolio, stored in the backtest_* tables.",
    no_args_is_help=True,
)
app.add_typer(backtest_app, name="backtest")

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
REBALANCE_HELP = "daily, weekly, monthly, quarterly, or dates YYYY-MM-DD,YYYY-MM-DD,..."


def _day(value: datetime) -> date:
    return date(value.year, value.month, value.day)


def _rebalance(value: str) -> Any:
    if value in ("daily", "weekly", "monthly", "quarterly"):
        return value
    try:
        return [date.fromisoformat(part.strip()) for part in value.split(",") if part.strip()]
    except ValueError as error:
        raise DataError(f"--rebalance: got {value!r}, expected {REBALANCE_HELP}") from error


def _number(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _render(run: BacktestRun) -> None:
    data = run.as_json()
    table = Table(title=escape(f"backtest {run.id}: {data['portfolio']} ({run.status})"))
    table.add_column("field")
    table.add_column("value", justify="right")
    for key in ("start", "end", "rebalance_frequency", "initial_capital", "final_nav", "error"):
        if data[key] is not None:
            table.add_row(key, escape(_number(data[key])))
    for key in ("execution", "cost_bps", "slippage_bps", "shares", "code_version", "data_version"):
        if key in run.run.config:
            table.add_row(key, escape(str(run.run.config[key])))
    for key, value in data["metrics"].items():
        table.add_row(key, _number(value))
    for key, seconds in run.timings.items():
        table.add_row(f"{key} seconds", f"{seconds:.2f}")
    console.print(table)


@backtest_app.command("run")
@clear_errors
def run(
    ctx: typer.Context,
    portfolio: Annotated[str, typer.Argument(help="Portfolio code.")],
    start: Annotated[datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First day.")],
    end: Annotated[datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last day.")],
    rebalance: Annotated[str, typer.Option("--rebalance", help=REBALANCE_HELP)] = "monthly",
    execution: Annotated[
        str, typer.Option("--execution", help="close or next_open (the next session's open).")
    ] = "close",
    cost_bps: Annotated[
        float, typer.Option("--cost-bps", help="Proportional cost, bps of traded value.")
    ] = 0.0,
    cost_per_share: Annotated[
        float, typer.Option("--cost-per-share", help="Cost per share traded.")
    ] = 0.0,
    slippage_bps: Annotated[
        float, typer.Option("--slippage-bps", help="Slippage, bps of traded value.")
    ] = 0.0,
    shares: Annotated[str, typer.Option("--shares", help="fractional or whole.")] = "fractional",
    capital: Annotated[
        float | None, typer.Option("--capital", help="Initial capital (default: portfolio's).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Backtest PORTFOLIO walk-forward (each rebalance sees data up to its date) and store it."""
    from rich.progress import Progress

    from stocker.lab.backtests import run_backtest

    application = app_of(ctx)
    uow = application.uow()
    arguments: dict[str, Any] = {
        "cache_home": application.settings.home,
        "start": _day(start),
        "end": _day(end),
        "rebalance": _rebalance(rebalance),
        "execution": execution,
        "cost_bps": cost_bps,
        "cost_per_share": cost_per_share,
        "slippage_bps": slippage_bps,
        "shares": shares,
        "initial_capital": capital,
    }
    if as_json:
        result = run_backtest(uow, portfolio, **arguments)
        typer.echo(json.dumps(result.as_json(), indent=2, default=str))
        return
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("rebalances", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_backtest(uow, portfolio, progress=advance, **arguments)
    _render(result)


@backtest_app.command("list")
@clear_errors
def list_command(
    ctx: typer.Context,
    portfolio: Annotated[
        str | None, typer.Option("--portfolio", help="Only this portfolio's runs.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Stored backtest runs, newest first."""
    from stocker.lab.backtests import list_runs

    runs = list_runs(app_of(ctx).uow(), portfolio_code=portfolio)
    rows = [
        {
            "id": run.id,
            "portfolio": run.portfolio,
            "status": run.status,
            "start": run.start_date.isoformat(),
            "end": run.end_date.isoformat(),
            "rebalance_frequency": run.rebalance_frequency,
            "transaction_cost": run.transaction_cost,
            "created_at": run.created_at.isoformat(),
        }
        for run in runs
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title="backtest runs")
    for column in ("id", "portfolio", "status", "start", "end", "rebalance_frequency"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            str(row["id"]),
            escape(str(row["portfolio"])),
            str(row["status"]),
            str(row["start"]),
            str(row["end"]),
            str(row["rebalance_frequency"]),
        )
    console.print(table)


@backtest_app.command("show")
@clear_errors
def show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="Backtest run id.")],
    as_json: AsJson = False,
) -> None:
    """A stored run: its configuration, versions, status and performance metrics."""
    from stocker.lab.backtests import read_run

    found = read_run(app_of(ctx).uow(), run_id)
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2, default=str))
        return
    _render(found)
