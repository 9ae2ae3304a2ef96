"""The Typer apps that command modules attach to, and how a command gets the application.

Commands take `ctx: typer.Context` and call `app_of(ctx)`: the composition root's `App`, built
once per invocation from the environment (or the one a test passed as `obj=`). Command modules
import only Typer, Rich and this package at module level; use cases and adapters are imported
inside the command that needs them, so `stocker --help` starts in a fraction of a second.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from stocker.bootstrap import App

app = typer.Typer(
    name="stocker",
    help="Stocker: a self-hosted quantitative equity platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
services_app = typer.Typer(help="Embedded PostgreSQL and Redis: status and shutdown.")
db_app = typer.Typer(help="Database schema: apply or revert migrations.")
data_app = typer.Typer(help="Market data: sample, synthetic, ingest, quarantine, derived tables.")
app.add_typer(services_app, name="services")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")

console = Console()
err_console = Console(stderr=True)


@app.callback()
def _each_invocation() -> None:
    """Follow the terminal width of this invocation: Rich reads COLUMNS once, when a console is
    made, so a second invocation in the same process (tests, notebooks) would keep the first's."""
    columns = os.environ.get("COLUMNS", "")
    for each in (console, err_console):
        each.width = int(columns) if columns.isdigit() else None  # type: ignore[assignment]


def app_of(ctx: typer.Context) -> App:
    """The application for this invocation: the one a caller passed as `obj`, else built now."""
    root = ctx.find_root()
    from stocker.bootstrap import App, build

    if not isinstance(root.obj, App):
        root.obj = build()
        root.call_on_close(root.obj.close)
    return root.obj
