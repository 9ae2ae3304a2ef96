"""Alembic migrations, run programmatically so `stocker db upgrade` needs no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent)."""
    command.upgrade(_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Revert migrations down to `revision`."""
    command.downgrade(_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of Stocker."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


class Schema:
    """The database schema of one engine, as the composition root hands it to shells."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upgrade(self, revision: str = "head") -> str | None:
        """Apply migrations up to `revision`; return the revision reached."""
        upgrade(self._engine, revision)
        return current_revision(self._engine)

    def downgrade(self, revision: str = "base") -> str | None:
        """Revert migrations down to `revision`; return the revision reached (None at base)."""
        downgrade(self._engine, revision)
        return current_revision(self._engine)

    def current(self) -> str | None:
        return current_revision(self._engine)

    def head(self) -> str | None:
        return head_revision()
