"""The Typer apps that command modules attach to."""

from __future__ import annotations

import typer
from rich.console import Console

app = typer.Typer(
    name="stocker",
    help="Stocker: a self-hosted quantitative equity platform.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
services_app = typer.Typer(help="Embedded PostgreSQL and Redis: status and shutdown.")
db_app = typer.Typer(help="Database schema: apply or revert migrations.")
data_app = typer.Typer(help="Market data: sample, synthetic, ingest, quarantine, derived tables.")
app.add_typer(services_app, name="services")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")

console = Console()
err_console = Console(stderr=True)
