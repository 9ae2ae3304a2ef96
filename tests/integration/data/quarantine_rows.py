"""The rows `ingest_quarantine` keeps, for the quarantine tests (`from .quarantine_rows import …`:
tests are not a package, pytest imports them with importlib)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def kept_rows(engine: Engine) -> list[Any]:
    """Every kept row with all its columns, in the order it was kept."""
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT * FROM ingest_quarantine ORDER BY id")))
