"""`stocker screen` and `stocker groups` end to end: JSON output, a saved ranked group, errors
shown as one message with a caret."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from stocker.bootstrap import App
from stocker.cli import app as cli

_spec = importlib.util.spec_from_file_location(
    "screen_data", Path(__file__).with_name("screen_data.py")
)
assert _spec and _spec.loader
screen_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(screen_data)  # the helper, by path: tests are not a package


def _small_market(engine: Engine) -> None:
    screen_data.add_instruments(
        engine,
        [
            {"symbol": "AAA", "sector": "Technology"},
            {"symbol": "BBB", "sector": "Health Care"},
            {"symbol": "CCC", "sector": "Energy"},
        ],
    )
    screen_data.add_fundamentals(
        engine,
        [
            {"symbol": "AAA", "as_of_date": "2024-01-10", "pe": 12.5, "roe": 0.2},
            {"symbol": "BBB", "as_of_date": "2024-01-10", "pe": 18.0, "roe": 0.3},
            {"symbol": "CCC", "as_of_date": "2024-01-10", "pe": 30.0, "roe": 0.1},
            {"symbol": "CCC", "as_of_date": "2024-02-10", "pe": 5.0, "roe": 0.4},
        ],
    )
    screen_data.add_factors(
        engine,
        [
            {"symbol": "AAA", "as_of_date": "2024-01-31", "composite_score": 0.5},
            {"symbol": "BBB", "as_of_date": "2024-01-31", "composite_score": 1.5},
            {"symbol": "CCC", "as_of_date": "2024-01-31", "composite_score": 2.5},
        ],
    )


def test_screen_command_when_saving_prints_json_and_stores_the_ranked_group(
    app: App, engine: Engine
) -> None:
    _small_market(engine)
    runner = CliRunner()
    expression = "pe < 20 and roe > 0.15 order by composite_score desc"

    result = runner.invoke(
        cli,
        ["screen", expression, "--date", "2024-01-31", "--json", "--save-group", "cheap"],
        obj=app,
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert [row["symbol"] for row in document["rows"]] == ["BBB", "AAA"]
    assert [row["rank"] for row in document["rows"]] == [1, 2]
    assert document["as_of"]["factors"] == "2024-01-31"
    assert document["group"]["name"] == "cheap"
    shown = runner.invoke(cli, ["groups", "show", "cheap"], obj=app)
    assert shown.exit_code == 0, shown.output
    assert shown.output.index("BBB") < shown.output.index("AAA")
    edited = runner.invoke(cli, ["groups", "edit", "cheap", "AAA", "BBB"], obj=app)
    assert edited.exit_code == 0, edited.output
    listed = runner.invoke(cli, ["groups", "list"], obj=app)
    assert "cheap" in listed.output


def test_screen_command_when_the_expression_is_wrong_points_at_it_and_suggests(
    app: App, engine: Engine
) -> None:
    result = CliRunner().invoke(
        cli,
        ["screen", "pe < 20 and rooe > 0.1", "--date", "2024-01-31"],
        obj=app,
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 2
    assert "unknown field 'rooe'" in result.output
    assert "did you mean 'roe'?" in result.output
    shown = result.output.splitlines()
    expression_line = shown.index("  pe < 20 and rooe > 0.1")
    assert shown[expression_line + 1] == "  " + " " * len("pe < 20 and ") + "^"
    assert "Traceback" not in result.output
