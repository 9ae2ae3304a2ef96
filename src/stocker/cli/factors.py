"""`stocker factors compute` and `stocker risk compute`: the factor and risk lab's tables."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress as Bar
from rich.progress import TaskID
from rich.table import Table

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors
from stocker.cli.render import progress_bar
from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.lab.factors import Progress, ResearchReport

factors_app = typer.Typer(help="Factor exposures (value, quality, momentum, low_vol, size).")
risk_app = typer.Typer(help="Per-symbol risk model (volatility, beta, tail beta, skew, kurtosis).")
app.add_typer(factors_app, name="factors")
app.add_typer(risk_app, name="risk")

DATE_FORMATS = ["%Y-%m-%d"]
Day = Annotated[
    datetime | None, typer.Option("--date", formats=DATE_FORMATS, help="The one as-of date.")
]
First = Annotated[
    datetime | None, typer.Option("--from", formats=DATE_FORMATS, help="First date of a range.")
]
Last = Annotated[
    datetime | None, typer.Option("--to", formats=DATE_FORMATS, help="Last date of a range.")
]
Universe = Annotated[
    str | None,
    typer.Option("--universe", help="A universe's members (default: every active instrument)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]


def _day(value: datetime | None) -> date | None:
    return None if value is None else date(value.year, value.month, value.day)


def _weights(pairs: list[str] | None) -> dict[str, float] | None:
    """``--weight value=2`` options as {factor: weight} (the use case checks the names)."""
    if not pairs:
        return None
    weights: dict[str, float] = {}
    for pair in pairs:
        name, _, number = pair.partition("=")
        try:
            weights[name.strip()] = float(number)
        except ValueError as error:
            # A DataError, not typer.BadParameter: Typer's vendored click exceptions are not the
            # ones `clear_errors` lets through, so they would be reported as a bug.
            raise DataError(
                f"--weight: got {pair!r}, expected FACTOR=NUMBER like value=2"
            ) from error
    return weights


def _render(report: ResearchReport, as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(report.as_json(), default=str))
        return
    span = f"{report.start}" if report.start == report.end else f"{report.start} … {report.end}"
    scope = report.universe or "every active instrument"
    table = Table(title=f"{report.table} {span} ({scope})")
    for column in ("dates", "symbols", "inserted", "updated", "unchanged", "deleted"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            f"{value:,}"
            for value in (
                len(report.dates),
                report.symbols,
                report.inserted,
                report.updated,
                report.unchanged,
                report.deleted,
            )
        )
    )
    console.print(table)
    nulls = Table(title="null values and why")
    nulls.add_column("field")
    nulls.add_column("nulls", justify="right")
    nulls.add_column("reason (first seen)")
    for field, count in report.nulls.items():
        found = report.reasons[report.reasons["field"] == field]["reason"]
        nulls.add_row(field, f"{count:,}", "" if found.empty else str(found.iloc[0]))
    console.print(nulls)


def _advance(bar: Bar, task: TaskID) -> Progress:
    """A progress callback moving `task` of `bar` to dates done of total."""

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return advance


@factors_app.command("compute")
@clear_errors
def compute_factors_command(
    ctx: typer.Context,
    day: Day = None,
    start: First = None,
    end: Last = None,
    universe: Universe = None,
    weight: Annotated[
        list[str] | None,
        typer.Option(
            "--weight", help="FACTOR=NUMBER, repeatable, for composite_score (default: equal)."
        ),
    ] = None,
    sector_neutral: bool = typer.Option(
        False, "--sector-neutral", help="Z-score within each sector."
    ),
    as_json: AsJson = False,
) -> None:
    """Compute factor exposures as of --date D (or each session --from A --to B) and store them."""
    from stocker.lab.factors import compute_factors

    uow = app_of(ctx).uow()
    with progress_bar() as bar:
        task = bar.add_task("factor exposures", total=None)
        report = compute_factors(
            uow,
            day=_day(day),
            start=_day(start),
            end=_day(end),
            universe=universe,
            weights=_weights(weight),
            sector_neutral=sector_neutral,
            progress=_advance(bar, task),
        )
    _render(report, as_json)


@risk_app.command("compute")
@clear_errors
def compute_risk_command(
    ctx: typer.Context,
    day: Day = None,
    start: First = None,
    end: Last = None,
    universe: Universe = None,
    benchmark: str = typer.Option(
        "SP500",
        "--benchmark",
        help="Symbol betas are measured against, or 'equal-weight' (the cross-section's mean).",
    ),
    as_json: AsJson = False,
) -> None:
    """Compute the risk model as of --date D (or each session --from A --to B) and store it."""
    from stocker.lab.risk import EQUAL_WEIGHT, compute_risk

    uow = app_of(ctx).uow()
    with progress_bar() as bar:
        task = bar.add_task("risk model", total=None)
        report = compute_risk(
            uow,
            day=_day(day),
            start=_day(start),
            end=_day(end),
            universe=universe,
            benchmark=None if benchmark == EQUAL_WEIGHT else benchmark,
            progress=_advance(bar, task),
        )
    _render(report, as_json)
