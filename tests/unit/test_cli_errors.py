"""How a command's failure reaches the user: one line, the right exit status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stocker.bootstrap import build
from stocker.cli.errors import EXIT_BUG, EXIT_ERROR, clear_errors
from stocker.config import Settings
from stocker.core.errors import DataError

demo = typer.Typer()


@demo.command("fail")
@clear_errors
def fail(ctx: typer.Context, kind: str = typer.Argument(...)) -> None:
    if kind == "data":
        raise DataError("close: 'abc' is not a number; expected a decimal")
    if kind == "parameter":
        raise typer.BadParameter("must be positive", param_hint="--top")
    if kind == "bug":
        raise RuntimeError("something internal\nsecond line")
    if kind == "markup":
        raise DataError("value [bold]x[/bold] refused")


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("data", EXIT_ERROR, "error: close: 'abc' is not a number; expected a decimal"),
        ("parameter", 2, "--top"),
        ("bug", EXIT_BUG, "unexpected RuntimeError: something internal (a bug in Stocker"),
        ("markup", EXIT_ERROR, "value [bold]x[/bold] refused"),
    ],
)
def test_command_failure_when_raised_prints_one_line_with_its_exit_status(
    kind: str, code: int, expected: str, tmp_path: Path
) -> None:
    app = build(Settings(home=tmp_path / "home", database_url="postgresql://x@127.0.0.1:1/x"))

    result = CliRunner().invoke(demo, [kind], obj=app, env={"COLUMNS": "200"})

    assert result.exit_code == code, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert "second line" not in result.output


def test_command_failure_with_debug_set_reraises_for_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(demo, ["bug"], env={"STOCKER_DEBUG": "1"})

    assert isinstance(result.exception, RuntimeError)
