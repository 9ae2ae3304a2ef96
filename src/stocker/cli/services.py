"""`stocker services status|down`."""

from __future__ import annotations

import typer
from rich.table import Table

from stocker.cli.app import app_of, console, services_app
from stocker.cli.errors import clear_errors


@services_app.command("status")
@clear_errors
def status(ctx: typer.Context) -> None:
    """Show whether the embedded PostgreSQL and Redis are running."""
    app = app_of(ctx)
    settings = app.settings
    table = Table(title=f"Embedded services under {settings.home}")
    for column in ("service", "running", "pid", "address", "directory"):
        table.add_column(column)
    for item in app.embedded_services().status():
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
    ctx: typer.Context,
    purge: bool = typer.Option(False, "--purge", help="Also delete their data directories."),
) -> None:
    """Stop the embedded PostgreSQL and Redis."""
    services = app_of(ctx).embedded_services()
    stopped_pg, stopped_redis = services.stop()
    console.print(f"postgresql: {'stopped' if stopped_pg else 'was not running'}")
    console.print(f"redis: {'stopped' if stopped_redis else 'was not running'}")
    if purge:
        services.purge()
        console.print(f"deleted the data under {services.home}")
