"""`stocker data load-sample` and `stocker data synth`: data to try Stocker on."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import TaskID
from rich.table import Table

from stocker.cli.app import app_of, console, data_app
from stocker.cli.errors import clear_errors
from stocker.cli.render import progress_bar

if TYPE_CHECKING:
    from stocker.data.counts import WriteCounts
    from stocker.data.sample import SampleLoadReport
    from stocker.data.synthetic import SyntheticLoadReport

__all__ = ["load_sample_command", "progress_bar", "render_sample", "synth_command"]


def render_sample(report: SampleLoadReport) -> None:
    """The datasets loaded, the rows written per table and what the sample lacks."""
    datasets = Table(title="Sample data (skfolio)")
    for column in ("dataset", "source", "symbols", "rows", "first", "last"):
        datasets.add_column(column, justify="right" if column in ("symbols", "rows") else "left")
    for dataset in report.datasets:
        datasets.add_row(
            dataset.name,
            dataset.source,
            str(dataset.symbols),
            f"{dataset.rows:,}",
            str(dataset.first_date),
            str(dataset.last_date),
        )
    datasets.add_row(
        "total",
        "",
        str(report.symbols),
        f"{report.rows:,}",
        str(report.first_date),
        str(report.last_date),
        style="bold",
    )
    console.print(datasets)
    _render_counts(report.tables)
    console.print(_reflow(report.description), markup=False, highlight=False)


def _reflow(text: str) -> str:
    """Join hard-wrapped lines into paragraphs and bullets so the terminal wraps them."""
    blocks: list[str] = []
    for line in text.splitlines():
        starts_block = not blocks or line.startswith("- ") or line.endswith(":")
        if starts_block or blocks[-1].endswith(":"):
            blocks.append(line)
        else:
            blocks[-1] = f"{blocks[-1]} {line.strip()}"
    return "\n".join(blocks)


def _render_counts(tables: dict[str, WriteCounts]) -> None:
    table = Table(title="Written")
    table.add_column("table")
    for column in ("received", "inserted", "updated", "unchanged"):
        table.add_column(column, justify="right")
    for name, counts in tables.items():
        values = (counts.received, counts.inserted, counts.updated, counts.unchanged)
        table.add_row(name, *(f"{value:,}" for value in values))
    console.print(table)


def _render_synthetic(report: SyntheticLoadReport) -> None:
    console.print(
        f"synthetic market {report.source}: {report.symbols} symbols × {report.sessions:,} "
        f"sessions, {report.first_date} to {report.last_date}; generated in "
        f"{report.generate_s:.1f} s, stored in {report.load_s:.1f} s"
    )
    if report.replaced_rows:
        console.print(
            f"replaced an earlier synthetic market: {report.replaced_rows:,} rows deleted"
        )
    _render_counts(report.tables)


@data_app.command("load-sample")
@clear_errors
def load_sample_command(ctx: typer.Context) -> None:
    """Load the real sample prices shipped with skfolio (20 stocks, the S&P 500, 5 ETFs)."""
    from stocker.data.sample import load_sample

    uow = app_of(ctx).uow()
    with progress_bar() as progress:
        task = progress.add_task("loading sample", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = load_sample(uow, progress=advance)
    render_sample(report)


@data_app.command("synth")
@clear_errors
def synth_command(
    ctx: typer.Context,
    symbols: int = typer.Option(..., "--symbols", min=1, help="Number of stocks (SYN0001…)."),
    years: int = typer.Option(..., "--years", min=1, help="Years of daily sessions."),
    seed: int = typer.Option(..., "--seed", min=0, help="Random seed: same seed, same data."),
    start: Annotated[
        datetime | None,
        typer.Option(
            "--start",
            formats=["%Y-%m-%d"],
            help="First day (the first session on or after it starts the data) "
            "[default: 2000-01-03].",
        ),
    ] = None,
    calendar: str | None = typer.Option(None, "--calendar", help="XNYS or XBOM [default: XNYS]."),
    replace: bool = typer.Option(
        False, "--replace", help="Delete a stored synthetic market made with other parameters."
    ),
) -> None:
    """Generate a synthetic market (prices, splits, dividends, fundamentals) and store it."""
    from stocker.data.synthetic import load_synthetic_market

    options: dict[str, Any] = {}
    if start is not None:
        options["start"] = date(start.year, start.month, start.day)
    if calendar is not None:
        options["calendar"] = calendar.upper()
    uow = app_of(ctx).uow()
    with progress_bar() as progress:
        generating = progress.add_task("generating market", total=None)
        tasks: dict[str, TaskID] = {}

        def advance(table: str, done: int, total: int) -> None:
            if table not in tasks:
                if not tasks:
                    progress.remove_task(generating)
                tasks[table] = progress.add_task(table, total=total)
            progress.update(tasks[table], completed=done)

        report = load_synthetic_market(
            uow,
            symbols=symbols,
            years=years,
            seed=seed,
            replace=replace,
            progress=advance,
            **options,
        )
    _render_synthetic(report)
