"""`stocker demo` and `stocker --help` as a user runs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, text
from typer.core import TyperGroup
from typer.testing import CliRunner

from stocker.cli import app


@pytest.fixture
def cli_env(
    db_url: str,
    redis_url: str,
    stream_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[None]:
    """The CLI pointed at this test's database and stream prefix."""
    monkeypatch.setenv("STOCKER_DATABASE_URL", db_url)
    monkeypatch.setenv("STOCKER_REDIS_URL", redis_url)
    monkeypatch.setenv("STOCKER_STREAM_PREFIX", stream_prefix)
    monkeypatch.setenv("STOCKER_HOME", str(tmp_path / "home"))
    yield


def _command_groups() -> list[tuple[list[str], TyperGroup]]:
    """Every group of the command tree (the root first) with its path of words."""
    found: list[tuple[list[str], TyperGroup]] = []
    pending: list[tuple[list[str], object]] = [([], typer.main.get_command(app))]
    while pending:
        path, command = pending.pop(0)
        if isinstance(command, TyperGroup):
            found.append((path, command))
            pending += [([*path, name], sub) for name, sub in command.commands.items()]
    return found


def test_help_of_every_group_when_run_lists_each_of_its_commands_with_a_description() -> None:
    groups = _command_groups()
    names = {" ".join(path) for path, _ in groups}
    assert names >= {"", "services", "db", "data", "data quarantine", "bus", "universe"}

    for path, group in groups:
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        for name in group.commands:
            where = " ".join(["stocker", *path, name])
            lines = [line for line in result.output.splitlines() if f"│ {name} " in line]
            assert lines, f"{where} missing from --help"
            description = lines[0].split(f"│ {name} ", 1)[1].strip(" │")
            assert len(description) > 10, f"{where} has no one-line description"


def test_demo_when_run_twice_loads_the_sample_once_and_reports_what_is_stored(
    cli_env: None, engine: Engine
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["demo"], env={"COLUMNS": "160"})
    assert first.exit_code == 0, first.output
    assert "185,893" in first.output
    assert "What is stored" in first.output
    for shown in ("tearsheet:", "Pipeline:", "why order", "flat", "news:", "stocker serve"):
        assert shown in first.output, shown
    tearsheet = first.output.split("tearsheet: ", 1)[1].split(" and ", 1)[0]
    assert Path(tearsheet).stat().st_size > 0

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
