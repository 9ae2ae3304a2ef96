"""Migrations build the whole schema on an empty database, are idempotent and fully reversible."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from stocker.cli import app
from stocker.store import migrate
from stocker.store.db import make_engine

SCHEMA_DOC = Path(__file__).resolve().parents[3] / "docs" / "schema.md"

CATALOG_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind FROM pg_class c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'S', 'i')
    """,
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraints": """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE connamespace = 'public'::regnamespace
    """,
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
    """,
    "functions": """
        SELECT proname, pg_get_function_identity_arguments(oid) FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace
    """,
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger
        WHERE NOT tgisinternal
    """,
    "views": """
        SELECT viewname, definition FROM pg_views WHERE schemaname = 'public'
    """,
}


def catalog(engine: Engine) -> dict[str, set[tuple]]:
    """Everything our migrations can create in the public schema, minus Alembic's own table."""
    with engine.connect() as conn:
        snapshot = {
            kind: {tuple(row) for row in conn.execute(text(query))}
            for kind, query in CATALOG_QUERIES.items()
        }
    return {
        kind: {row for row in rows if not str(row[0]).startswith("alembic_version")}
        for kind, rows in snapshot.items()
    }


def revisions_oldest_first() -> list[str]:
    scripts = ScriptDirectory(str(migrate.MIGRATIONS))
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


@pytest.fixture
def empty_engine(empty_db_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_db_url)
    yield engine
    engine.dispose()


def test_upgrade_when_database_is_empty_creates_every_documented_table_and_view(
    empty_engine: Engine,
) -> None:
    migrate.upgrade(empty_engine)

    inventory = SCHEMA_DOC.read_text(encoding="utf-8").split("## Every table and view", 1)[1]
    inventory = inventory.split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", inventory, flags=re.MULTILINE))
    created = {name for name, kind in catalog(empty_engine)["relations"] if kind in ("r", "v")}
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert created == documented


def test_upgrade_when_run_twice_changes_nothing(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    first = catalog(empty_engine)

    migrate.upgrade(empty_engine)

    assert catalog(empty_engine) == first
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_each_downgrade_when_run_restores_the_schema_before_its_upgrade(
    empty_engine: Engine,
) -> None:
    before = {"base": catalog(empty_engine)}
    for revision in revisions_oldest_first():
        migrate.upgrade(empty_engine, revision)
        before[revision] = catalog(empty_engine)
    head = before[revisions_oldest_first()[-1]]

    for revision in reversed(["base", *revisions_oldest_first()[:-1]]):
        migrate.downgrade(empty_engine, revision)
        assert catalog(empty_engine) == before[revision], f"downgrade to {revision} left changes"

    assert all(rows == set() for rows in catalog(empty_engine).values())
    migrate.upgrade(empty_engine)
    assert catalog(empty_engine) == head


def test_cli_db_upgrade_when_pointed_at_an_empty_database_migrates_it(
    empty_db_url: str, empty_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STOCKER_DATABASE_URL", empty_db_url)
    result = CliRunner().invoke(app, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert f"database at revision {migrate.head_revision()}" in result.output
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
