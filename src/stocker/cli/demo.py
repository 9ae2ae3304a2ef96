"""`stocker demo`: the main job end to end on the embedded default (or the configured servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from stocker.cli.app import app, app_of, console
from stocker.cli.data_sample import render_sample
from stocker.cli.errors import clear_errors
from stocker.cli.render import progress_bar

if TYPE_CHECKING:
    from stocker.lab.demo_research import DemoResearch


@app.command("demo")
@clear_errors
def demo(ctx: typer.Context) -> None:
    """Start services, migrate, load the sample data and show what is stored."""
    from stocker.data.inventory import stored_inventory
    from stocker.data.sample import load_sample
    from stocker.lab.demo_research import demo_research

    application = app_of(ctx)
    with console.status("starting PostgreSQL…"):
        console.print(f"PostgreSQL: {application.redacted_database_url}")
    with console.status("starting Redis…"):
        version = application.redis.info("server")["redis_version"]
    console.print(f"Redis {version}: {application.redis_url}")
    with console.status("applying migrations…"):
        revision = application.schema().upgrade()
    console.print(f"schema at revision {revision}")

    with progress_bar() as progress:
        task = progress.add_task("loading the sample data", total=None)
        report = load_sample(
            application.uow(),
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    render_sample(report)

    inventory = stored_inventory(application.uow())
    stored = Table(title="What is stored")
    for column in ("table", "rows", "first", "last"):
        stored.add_column(column, justify="right" if column == "rows" else "left")
    for item in inventory.tables:
        stored.add_row(item.table, f"{item.rows:,}", str(item.first or ""), str(item.last or ""))
    console.print(stored)
    by_source = Table(title="prices_daily by source")
    for column in ("source", "symbols", "rows", "first", "last"):
        by_source.add_column(column, justify="right" if column in ("symbols", "rows") else "left")
    for source in inventory.sources:
        by_source.add_row(
            source.source,
            str(source.symbols),
            f"{source.rows:,}",
            str(source.first),
            str(source.last),
        )
    console.print(by_source)
    with console.status("computing factors, screening, optimizing…"):
        research = demo_research(application.uow(), day=report.last_date)
    _render_research(research)
    console.print(
        'Next: `stocker --help`; `stocker screen "momentum > 0 order by composite_score desc" '
        f"--date {report.last_date}`; `stocker portfolio show {research.portfolio.code}`; "
        "`stocker data synth --symbols 100 --years 10 --seed 1` for a larger synthetic market "
        "with fundamentals; `stocker services down` stops the embedded servers; "
        "docs/architecture.md is the map of the code."
    )


def _render_research(research: DemoResearch) -> None:
    from stocker.cli.portfolio import render_report

    factors = research.factors
    null_fields = [name for name, count in factors.nulls.items() if count]
    console.print(
        f"Factor exposures on {factors.end} for {factors.symbols} symbols "
        f"({factors.inserted + factors.updated + factors.unchanged:,} rows stored)."
    )
    if len(factors.reasons):
        reasons = factors.reasons["reason"].value_counts()
        console.print(
            f"  null where an input is missing ({', '.join(null_fields)}): "
            + "; ".join(f"{reason} ×{count}" for reason, count in reasons.items()),
            markup=False,
            highlight=False,
        )
        console.print(
            "  the sample has prices only, so value, quality and size wait for fundamentals "
            "(`stocker data ingest --source screener-in`, or the synthetic market)",
            markup=False,
        )
    shown = Table(title=f"Screen {research.screen.expression!r}, saved as group {research.group}")
    columns = ["rank", "symbol", "sector", "composite_score", "momentum", "low_vol"]
    for column in columns:
        shown.add_column(column, justify="left" if column in ("symbol", "sector") else "right")
    for row in research.screen.rows.itertuples(index=False):
        values = [getattr(row, column) for column in columns]
        shown.add_row(
            *(f"{value:.3f}" if isinstance(value, float) else str(value) for value in values)
        )
    console.print(shown)
    render_report(research.portfolio)
