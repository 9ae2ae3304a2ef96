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
    from stocker.lab.demo_backtest import DemoBacktest
    from stocker.lab.demo_research import DemoResearch
    from stocker.trading.demo_pipeline import PipelineDemo


@app.command("demo")
@clear_errors
def demo(ctx: typer.Context) -> None:
    """Start services, migrate, load the sample data and show what is stored."""
    from stocker.data.demo_news import score_sample_news
    from stocker.data.inventory import stored_inventory
    from stocker.data.sample import load_sample
    from stocker.lab.demo_backtest import backtest_factor_portfolio
    from stocker.lab.demo_research import demo_research
    from stocker.trading.demo_pipeline import replay_last_year

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
    with console.status("backtesting a factor portfolio and writing its tearsheet…"):
        backtest = backtest_factor_portfolio(application, application.settings.home)
    _render_backtest(backtest)
    with progress_bar() as progress:
        task = progress.add_task("replaying the last year through the pipeline", total=None)
        pipeline = replay_last_year(
            application, progress=lambda day: progress.update(task, advance=1)
        )
    _render_pipeline(pipeline)
    with console.status("scoring the sample news…"):
        news = score_sample_news(application)
    for line in news.lines():
        console.print(line, markup=False, highlight=False)
    console.print(
        'Next: `stocker --help`; `stocker screen "momentum > 0 order by composite_score desc" '
        f"--date {report.last_date}`; `stocker portfolio show {research.portfolio.code}`; "
        f"`stocker backtest report {backtest.run_id} --html report.html`; "
        f"`stocker trade explain {pipeline.order_id}`; "
        "`stocker data synth --symbols 100 --years 10 --seed 1` for a larger synthetic market "
        "with fundamentals; `stocker services down` stops the embedded servers; "
        "docs/architecture.md is the map of the code.",
        markup=False,
    )
    console.print(
        "Web app: `stocker api-key create me --scope read --scope research --scope trade`, "
        "then `stocker serve` and open http://127.0.0.1:8000/ (log in with the key); "
        "the API is under /api/v1 (schema at /openapi.json, docs/api.md).",
        markup=False,
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


def _render_backtest(run: DemoBacktest) -> None:
    metrics = ", ".join(f"{name} {value:.3f}" for name, value in run.metrics.items())
    console.print(
        f"Backtest {run.run_id} of {run.portfolio}, {run.start} to {run.end}, "
        f"{run.rebalances} rebalances ({run.seconds:.1f} s): {metrics}",
        markup=False,
    )
    console.print(f"  tearsheet: {run.html} and {run.png}", markup=False, highlight=False)


def _render_pipeline(run: PipelineDemo) -> None:
    console.print(
        f"Pipeline: {run.sessions} sessions {run.first} to {run.last} through every stage "
        f"({run.seconds:.1f} s): {run.orders} orders, {run.fills} fills.",
        markup=False,
    )
    if run.state is not None:
        state = run.state
        console.print(
            f"  portfolio {state.portfolio_id} on {state.date}: NAV {state.nav:,.2f}, cash "
            f"{state.cash:,.2f}, gross {state.gross_exposure:,.2f}, drawdown "
            f"{state.drawdown:.2%}, P&L {state.total_pnl:,.2f}",
            markup=False,
        )
    if run.holdings:
        held = ", ".join(f"{symbol} {quantity}" for symbol, quantity in run.holdings.items())
        console.print(f"  holdings: {held}", markup=False)
    if run.order_id is not None:
        console.print(f"  why order {run.order_id} is what it is:", markup=False)
        for line in run.explanation:
            console.print(f"    {line}", markup=False, highlight=False)
    console.print(f"  note: {run.note}", markup=False)
