"""Rendering shared by commands: spinners, progress bars with rate and time left, count tables."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from stocker.cli.app import console


class ItemRate(ProgressColumn):
    """Items per second (rows/s), from Rich's own speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f}/s", style="progress.data.speed")


def spinner() -> Progress:
    """A transient spinner with elapsed time, for work of unknown length."""
    return Progress(
        SpinnerColumn(), "{task.description}", TimeElapsedColumn(), console=console, transient=True
    )


def progress_bar() -> Progress:
    """A bar with done/total, rows per second and time left, for long work of known length."""
    return Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        ItemRate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def counts_table(title: str, counts: dict[str, int]) -> Table:
    """One row of named counts, thousands-separated."""
    table = Table(title=title)
    for name in counts:
        table.add_column(name, justify="right")
    table.add_row(*(f"{value:,}" for value in counts.values()))
    return table
