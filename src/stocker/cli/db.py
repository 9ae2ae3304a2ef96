"""`stocker db upgrade|downgrade|current`."""

from __future__ import annotations

import typer

from stocker.cli.app import console, db_app
from stocker.cli.errors import clear_errors
from stocker.config import get_settings
from stocker.store import migrate
from stocker.store.db import get_engine


@db_app.command("upgrade")
@clear_errors
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply schema migrations (safe to run again)."""
    engine = get_engine(get_settings())
    migrate.upgrade(engine, revision)
    console.print(f"database at revision {migrate.current_revision(engine)}")


@db_app.command("downgrade")
@clear_errors
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, or 'base' to remove everything."),
    yes: bool = typer.Option(False, "--yes", help="Confirm: downgrading drops tables and data."),
) -> None:
    """Revert schema migrations (drops data)."""
    if not yes:
        console.print("downgrade drops tables and their data; run again with --yes to confirm")
        raise typer.Exit(code=1)
    engine = get_engine(get_settings())
    migrate.downgrade(engine, revision)
    console.print(f"database at revision {migrate.current_revision(engine) or 'base'}")


@db_app.command("current")
@clear_errors
def current() -> None:
    """Show the database's schema revision and the newest one available."""
    engine = get_engine(get_settings())
    console.print(f"current: {migrate.current_revision(engine) or 'base'}")
    console.print(f"head:    {migrate.head_revision()}")
