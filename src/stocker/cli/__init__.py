"""The `stocker` command line: parses, calls one use case, renders. No SQL, no math."""

from __future__ import annotations

from stocker.cli.app import app, data_app, db_app, services_app

# Each module below registers its commands on the apps above.
from stocker.cli import db as _db  # noqa: E402,F401
from stocker.cli import demo as _demo  # noqa: E402,F401
from stocker.cli import services as _services  # noqa: E402,F401

__all__ = ["app", "data_app", "db_app", "main", "services_app"]


def main() -> None:
    """Entry point of the `stocker` script."""
    app()
