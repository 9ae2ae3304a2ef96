"""`stocker services status|down`."""

from __future__ import annotations

import typer
from rich.table import Table

from stocker.cli.app import console, services_app
from stocker.cli.errors import clear_errors
from stocker.config import get_settings
from stocker.store import embedded


@services_app.command("status")
@clear_errors
def status() -> None:
    """Show whether the embedded PostgreSQL and Redis are running."""
    settings = get_settings()
    table = Table(title=f"Embedded services under {settings.home}")
    for column in ("service", "running", "pid", "address", "directory"):
        table.add_column(column)
    for item in embedded.status(settings.home):
        table.add_row(
            item.name,
            "yes" if item.running else "no",
            str(item.pid or ""),
            item.url or "",
            str(item.directory),
        )
    console.print(table)
    if settings.database_url:
        console.print(
            "STOCKER_DATABASE_URL is set: commands use that server, not the embedded one."
        )
    if settings.redis_url:
        console.print("STOCKER_REDIS_URL is set: commands use that server, not the embedded one.")


@services_app.command("down")
@clear_errors
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete their data directories."),
) -> None:
    """Stop the embedded PostgreSQL and Redis."""
    settings = get_settings()
    stopped_pg = embedded.stop_postgres(settings.home)
    stopped_redis = embedded.stop_redis(settings.home)
    console.print(f"postgresql: {'stopped' if stopped_pg else 'was not running'}")
    console.print(f"redis: {'stopped' if stopped_redis else 'was not running'}")
    if purge:
        embedded.remove_data(settings.home)
        console.print(f"deleted the data under {settings.home}")
