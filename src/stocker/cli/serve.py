"""`stocker serve`: the HTTP API and the web app (uvicorn), on loopback by default."""

from __future__ import annotations

from typing import Annotated

import typer

from stocker.cli.app import app, app_of, console
from stocker.cli.errors import clear_errors
from stocker.core.errors import ConfigError


@app.command("serve")
@clear_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes (each builds its application from the environment).",
        ),
    ] = 1,
    check: Annotated[
        bool, typer.Option("--check", help="Build the application and exit (no server).")
    ] = False,
) -> None:
    """Serve the API under /api/v1 (schema at /openapi.json) and the web app, until Ctrl-C."""
    import uvicorn

    from stocker.api.app import create_app

    application = app_of(ctx)
    schema = application.schema()
    current, head = schema.current(), schema.head()
    if current != head:
        raise ConfigError(
            f"database: at revision {current or 'none'}, expected {head}; run stocker db upgrade"
        )
    api = create_app(application)
    if check:
        console.print(f"application ready: {len(api.openapi()['paths'])} API paths")
        return
    console.print(f"serving on http://{host}:{port}/ (API docs at /docs); Ctrl-C stops")
    if workers > 1:
        uvicorn.run(
            "stocker.api.app:from_environment",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="info",
        )
        return
    uvicorn.run(api, host=host, port=port, log_level="info", access_log=True)
