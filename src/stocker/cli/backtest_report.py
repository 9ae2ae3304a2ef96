"""`stocker backtest report | compare | sweep`: analytics, tearsheets and parameter sweeps of
stored backtests (added to the `backtest` group of `stocker.cli.backtest`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stocker.cli.app import app_of, console
from stocker.cli.backtest import backtest_app
from stocker.cli.errors import clear_errors

if TYPE_CHECKING:
    from stocker.bootstrap import SqlUnitOfWork
    from stocker.config import Settings

AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Benchmark = Annotated[
    str | None,
    typer.Option("--benchmark", help="Symbol whose adjusted close is the benchmark (beta, alpha)."),
]


def _number(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def _day(value: datetime) -> date:
    return date(value.year, value.month, value.day)


@dataclass(frozen=True)
class AppUnitsOfWork:
    """Units of work of an App built from `settings` (one App per call, closed after): what a
    sweep's tasks run on, in this process or in a Dask worker (it pickles with the settings)."""

    settings: Settings

    @contextmanager
    def __call__(self) -> Iterator[SqlUnitOfWork]:
        from stocker.bootstrap import build

        application = build(self.settings)
        try:
            yield application.uow()
        finally:
            application.close()


@backtest_app.command("report")
@clear_errors
def report(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="Backtest run id.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the tearsheet as HTML (plotly.js inline).")
    ] = None,
    png: Annotated[Path | None, typer.Option("--png", help="Write the tearsheet as PNG.")] = None,
    benchmark: Benchmark = None,
    as_json: AsJson = False,
) -> None:
    """Performance metrics of a stored run and, with --html / --png, its tearsheet."""
    from stocker.lab.compare import run_report

    found = run_report(app_of(ctx).uow(), run_id, html=html, png=png, benchmark=benchmark)
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2, default=str))
        return
    stored = found.run.run
    table = Table(title=escape(f"backtest {stored.id}: {stored.portfolio} ({stored.status})"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in found.metrics.items():
        table.add_row(name, _number(value))
    console.print(table)
    for label, path in (("HTML", found.html), ("PNG", found.png)):
        if path is not None:
            console.print(f"{label} tearsheet: {escape(str(path))}")


@backtest_app.command("compare")
@clear_errors
def compare(
    ctx: typer.Context,
    run_ids: Annotated[list[int], typer.Argument(help="Backtest run ids.")],
    html: Annotated[
        Path | None, typer.Option("--html", help="Write the NAVs on one chart as HTML.")
    ] = None,
    benchmark: Benchmark = None,
    as_json: AsJson = False,
) -> None:
    """Metrics of several runs side by side (and their NAVs on one chart with --html)."""
    from stocker.lab.compare import compare_runs

    found = compare_runs(app_of(ctx).uow(), run_ids, html=html, benchmark=benchmark)
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2, default=str))
        return
    table = Table(title="backtests compared")
    table.add_column("metric")
    for run in found.runs:
        table.add_column(escape(f"{run.id} {run.run.portfolio}"), justify="right")
    for metric, row in found.metrics.iterrows():
        table.add_row(str(metric), *[_number(float(value)) for value in row])
    console.print(table)
    if found.html is not None:
        console.print(f"NAV chart: {escape(str(found.html))}")


@backtest_app.command("sweep")
@clear_errors
def sweep(
    ctx: typer.Context,
    portfolio: Annotated[str, typer.Argument(help="Portfolio code.")],
    start: Annotated[datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First day.")],
    end: Annotated[datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last day.")],
    grid: Annotated[
        list[str],
        typer.Option(
            "--grid",
            help="NAME=V1,V2,... (repeatable): cost_bps, slippage_bps, cost_per_share, "
            "rebalance, execution, shares, initial_capital, lookback_days.",
        ),
    ],
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option("--workers", help="Local worker processes (0: one after another, here)."),
    ] = 2,
    as_json: AsJson = False,
) -> None:
    """Backtest every configuration of the grid in parallel on Dask and store each run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from stocker.lab.sweep import parse_grid, run_sweep

    units = AppUnitsOfWork(app_of(ctx).settings)
    parsed = parse_grid(grid)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as bar:
        task = bar.add_task("configurations", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        found = run_sweep(
            units,
            portfolio,
            start=_day(start),
            end=_day(end),
            grid=parsed,
            scheduler=scheduler,
            workers=workers,
            progress=advance,
        )
    failed = [result for result in found.results if result.status != "COMPLETED"]
    if as_json:
        typer.echo(json.dumps(found.as_json(), indent=2, default=str))
        if failed:
            raise typer.Exit(1)
        return
    table = Table(title=escape(f"sweep of {portfolio}: {len(found.results)} configurations"))
    for column in ("run", "status", *parsed, "cagr", "sharpe", "max_drawdown", "seconds"):
        table.add_column(column)
    for result in found.results:
        table.add_row(
            str(result.run_id or ""),
            result.status,
            *[escape(str(result.parameters[name])) for name in parsed],
            *[_number(result.metrics.get(name, float("nan"))) for name in ("cagr", "sharpe")],
            _number(result.metrics.get("max_drawdown", float("nan"))),
            f"{result.seconds:.2f}",
        )
    console.print(table)
    for result in failed:
        console.print(
            f"[red]failed[/red] {escape(str(result.parameters))}: {escape(result.error or '')}"
        )
    console.print(f"{len(found.results)} runs in {found.seconds:.1f} s ({found.workers} workers)")
    if failed:
        raise typer.Exit(1)
