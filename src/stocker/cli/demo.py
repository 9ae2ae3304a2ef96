"""`stocker demo`: the main job end to end on the embedded default."""

from __future__ import annotations

from stocker.cli.app import app, console
from stocker.cli.errors import clear_errors
from stocker.config import get_settings
from stocker.store import migrate
from stocker.store.db import get_engine, redacted


@app.command("demo")
@clear_errors
def demo() -> None:
    """Start services, migrate, load the sample data and show what is stored."""
    settings = get_settings()
    with console.status("starting PostgreSQL…"):
        engine = get_engine(settings)
    console.print(f"PostgreSQL: {redacted(str(engine.url))}")
    with console.status("applying migrations…"):
        migrate.upgrade(engine)
    console.print(f"schema at revision {migrate.current_revision(engine)}")
