"""`stocker demo` and `stocker --help` as a user runs them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from stocker.cli import app
from stocker.config import get_settings
from stocker.store import db


@pytest.fixture
def cli_env(db_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STOCKER_DATABASE_URL", db_url)
    monkeypatch.setenv("STOCKER_REDIS_URL", redis_url)
    get_settings.cache_clear()
    db._engine_for.cache_clear()
    yield
    get_settings.cache_clear()
    db._engine_for.cache_clear()


def test_help_when_run_lists_every_command_with_a_description() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    for command in ("demo", "services", "db", "data", "bus", "universe"):
        lines = [line for line in result.output.splitlines() if f"│ {command} " in line]
        assert lines, f"{command} missing from --help"
        assert len(lines[0].split(command, 1)[1].strip(" │")) > 10, f"{command} has no description"


def test_demo_when_run_twice_loads_the_sample_once_and_reports_what_is_stored(
    cli_env: None, engine
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo"], env={"COLUMNS": "160"})
    assert first.exit_code == 0, first.output
    assert "185,893" in first.output
    assert "What is stored" in first.output

    second = runner.invoke(app, ["demo"], env={"COLUMNS": "160"})
    assert second.exit_code == 0, second.output
    written = second.output.split("Written", 1)[1]
    prices_line = next(line for line in written.splitlines() if "prices_daily" in line)
    cells = [cell.strip() for cell in prices_line.split("│") if cell.strip()]
    assert cells == ["prices_daily", "185,893", "0", "0", "185,893"]

    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM prices_daily")).scalar_one()
        symbols = conn.execute(text("SELECT count(*) FROM instrument_info")).scalar_one()
    assert (rows, symbols) == (185_893, 26)
