"""`stocker db upgrade|downgrade|current`."""

from __future__ import annotations

import typer

from stocker.cli.app import app_of, console, db_app
from stocker.cli.errors import clear_errors


@db_app.command("upgrade")
@clear_errors
def upgrade(
    ctx: typer.Context, revision: str = typer.Argument("head", help="Target revision.")
) -> None:
    """Apply schema migrations (safe to run again)."""
    reached = app_of(ctx).schema().upgrade(revision)
    console.print(f"database at revision {reached}")


@db_app.command("downgrade")
@clear_errors
def downgrade(
    ctx: typer.Context,
    revision: str = typer.Argument(..., help="Target revision, or 'base' to remove everything."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: downgrading drops tables and data."),
) -> None:
    """Revert schema migrations (drops data)."""
    if not yes:
        console.print("downgrade drops tables and their data; run again with --yes to confirm")
        raise typer.Exit(code=1)
    reached = app_of(ctx).schema().downgrade(revision)
    console.print(f"database at revision {reached or 'base'}")


@db_app.command("current")
@clear_errors
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the newest one available."""
    schema = app_of(ctx).schema()
    console.print(f"current: {schema.current() or 'base'}")
    console.print(f"head:    {schema.head()}")
