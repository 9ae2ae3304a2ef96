"""`stocker demo`: the main job end to end on the embedded default (or the configured servers)."""

from __future__ import annotations

from rich.table import Table

from stocker.bus.connection import redis_client
from stocker.cli.app import app, console
from stocker.cli.data_sample import progress_bar, render_sample
from stocker.cli.errors import clear_errors
from stocker.config import get_settings
from stocker.data.sample import load_sample
from stocker.store import inventory, migrate
from stocker.store.db import get_engine, redacted


@app.command("demo")
@clear_errors
def demo() -> None:
    """Start services, migrate, load the sample data and show what is stored."""
    settings = get_settings()
    with console.status("starting PostgreSQL…"):
        engine = get_engine(settings)
    console.print(f"PostgreSQL: {redacted(str(engine.url))}")
    with console.status("starting Redis…"):
        client = redis_client(settings)
        version = client.info("server")["redis_version"]
    console.print(f"Redis {version}: {client.connection_pool.connection_kwargs.get('path') or ''}")
    with console.status("applying migrations…"):
        migrate.upgrade(engine)
    console.print(f"schema at revision {migrate.current_revision(engine)}")

    with progress_bar() as progress:
        task = progress.add_task("loading the sample data", total=None)
        report = load_sample(
            engine, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
    render_sample(report)

    with engine.connect() as conn:
        tables = inventory.summarize(conn)
        sources = inventory.symbols_by_source(conn)
    stored = Table(title="What is stored")
    for column in ("table", "rows", "first", "last"):
        stored.add_column(column, justify="right" if column == "rows" else "left")
    for item in tables:
        stored.add_row(item.table, f"{item.rows:,}", str(item.first or ""), str(item.last or ""))
    console.print(stored)
    by_source = Table(title="prices_daily by source")
    for column in ("source", "symbols", "rows", "first", "last"):
        by_source.add_column(column, justify="right" if column in ("symbols", "rows") else "left")
    for source, symbols, rows, first, last in sources:
        by_source.add_row(source, str(symbols), f"{rows:,}", str(first), str(last))
    console.print(by_source)
    console.print(
        "Next: `stocker --help`; `stocker data synth --symbols 100 --years 10 --seed 1` for a "
        "larger synthetic market; `stocker services down` stops the embedded servers."
    )
