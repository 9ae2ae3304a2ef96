"""Every command, with the database down, the database not migrated, or Redis down, prints one
clear line (what failed, where, and what to do) and never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from stocker.cli import app
from stocker.cli.errors import EXIT_BUG

CLOSED_PORT_DB = "postgresql://postgres@127.0.0.1:1/postgres"
CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"
NOT_RUN = {"data live", "trade workers", "serve"}
"""Commands that need a vendor's network feed (they stop at the missing credentials first),
and the pipeline's workers, which run until Ctrl-C."""


def _leaf_commands() -> list[str]:
    found: list[str] = []
    pending: list[tuple[list[str], object]] = [([], typer.main.get_command(app))]
    while pending:
        path, command = pending.pop()
        if isinstance(command, TyperGroup):
            pending += [([*path, name], sub) for name, sub in command.commands.items()]
        else:
            found.append(" ".join(path))
    return sorted(found)


def _invocations(tmp: Path) -> dict[str, list[str]]:
    bars = tmp / "bars.csv"
    bars.write_text("date,open,high,low,close,volume\n2024-01-02,1,2,0.5,1.5,100\n")
    sentiment = tmp / "news.csv"
    sentiment.write_text("symbol,date,sentiment_score\nAAPL,2024-01-02,0.5\n")
    articles = tmp / "articles.csv"
    articles.write_text("published_at,headline,symbols\n2024-01-02T15:00:00Z,Gains,AAPL\n")
    window = ["--start", "2024-01-02", "--end", "2024-01-31"]
    strategy = tmp / "trend.toml"
    strategy.write_text('[portfolio]\nid = "main"\nsymbols = ["AAPL"]\n')
    return {
        "backtest list": ["backtest", "list"],
        "backtest run": [
            "backtest",
            "run",
            "demo",
            "--start",
            "2024-01-02",
            "--end",
            "2024-06-28",
            "--cost-bps",
            "10",
        ],
        "backtest show": ["backtest", "show", "1"],
        "backtest report": ["backtest", "report", "1", "--html", str(tmp / "report.html")],
        "backtest compare": ["backtest", "compare", "1", "2"],
        "backtest sweep": [
            "backtest",
            "sweep",
            "demo",
            *window,
            "--grid",
            "cost_bps=0,10",
            "--workers",
            "0",
        ],
        "bus dead-letters": ["bus", "dead-letters"],
        "bus relay": ["bus", "relay", "--once"],
        "bus status": ["bus", "status"],
        "data breadth": ["data", "breadth", *window],
        "data ingest": [
            "data",
            "ingest",
            "--source",
            "csv",
            "--file",
            str(bars),
            "--symbol",
            "AAPL",
        ],
        "data intraday-check": ["data", "intraday-check", "--symbols", "SPY", *window],
        "data load-sample": ["data", "load-sample"],
        "data quarantine discard": ["data", "quarantine", "discard", "1", "--note", "test"],
        "data quarantine list": ["data", "quarantine", "list"],
        "data quarantine release": ["data", "quarantine", "release", "1"],
        "data quarantine show": ["data", "quarantine", "show", "1"],
        "data returns": ["data", "returns"],
        "data sentiment": ["data", "sentiment", str(sentiment), "--source", "news"],
        "data synth": ["data", "synth", "--symbols", "3", "--years", "1", "--seed", "1"],
        "sentiment ingest": ["sentiment", "ingest", "--file", str(tmp / "articles.csv")],
        "sentiment release": [
            "sentiment",
            "release",
            "1",
            "--set",
            "published_at=2022-12-27T14:30:00Z",
        ],
        "sentiment score": ["sentiment", "score", "--scorer", "vader", "--json"],
        "sentiment show": ["sentiment", "show", "--json"],
        "data trading-universe": ["data", "trading-universe", *window, "--top", "5"],
        "db current": ["db", "current"],
        "db downgrade": ["db", "downgrade", "base", "--yes"],
        "db upgrade": ["db", "upgrade"],
        "demo": ["demo"],
        "ledger journal": ["ledger", "journal", "main", "--limit", "5"],
        "ledger rebuild": ["ledger", "rebuild", "main", "--json"],
        "ledger verify": ["ledger", "verify", "--portfolio", "main", "--json"],
        "factors compute": ["factors", "compute", "--date", "2024-01-31"],
        "risk compute": ["risk", "compute", "--date", "2024-01-31"],
        "risk covariance": ["risk", "covariance", "--date", "2024-01-31"],
        "portfolio create": [
            "portfolio",
            "create",
            "demo",
            "--group",
            "tech",
            "--method",
            "min_variance",
            "--max-weight",
            "0.25",
        ],
        "portfolio optimize": ["portfolio", "optimize", "demo", "--date", "2024-01-31"],
        "portfolio show": ["portfolio", "show", "demo"],
        "groups delete": ["groups", "delete", "tech"],
        "groups edit": ["groups", "edit", "tech", "AAPL", "MSFT"],
        "groups list": ["groups", "list"],
        "groups show": ["groups", "show", "tech"],
        "screen": [
            "screen",
            "pe < 20 order by composite_score desc limit 5",
            "--date",
            "2024-01-31",
            "--save-group",
            "cheap",
        ],
        "services down": ["services", "down"],
        "services status": ["services", "status"],
        "universe add": ["universe", "add", "tech", "AAPL"],
        "universe assign-strategy": ["universe", "assign-strategy", "trend_v1", "tech"],
        "universe create": ["universe", "create", "tech", "--symbols", "AAPL"],
        "universe delete": ["universe", "delete", "tech"],
        "universe list": ["universe", "list"],
        "universe remove": ["universe", "remove", "tech", "AAPL"],
        "universe rename": ["universe", "rename", "tech", "technology"],
        "universe set-global": ["universe", "set-global", "tech"],
        "universe show": ["universe", "show", "tech"],
        "universe strategies": ["universe", "strategies"],
        "trade run-day": ["trade", "run-day", "--date", "2024-01-02", "--strategy", str(strategy)],
        "trade replay": [
            "trade",
            "replay",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-05",
            "--strategy",
            str(strategy),
            "--json",
        ],
        "trade explain": ["trade", "explain", "00000000-0000-0000-0000-000000000000", "--json"],
        "trade halt": ["trade", "halt", "main", "--json"],
        "trade resume": ["trade", "resume", "main", "--json"],
        "trade breaks list": ["trade", "breaks", "list", "--json"],
        "trade breaks resolve": ["trade", "breaks", "resolve", "1", "--side", "broker"],
        "trade reconcile": ["trade", "reconcile", "main", "--json"],
        "trade send": ["trade", "send", "--wait", "0", "--json"],
        "trade daemon": ["trade", "daemon", "--from", "2024-01-02", "--once", "--json"],
        "backtest trend": ["backtest", "trend", "--from", "2020-01-02", "--json"],
        "api-key create": ["api-key", "create", "ci", "--scope", "read"],
        "api-key list": ["api-key", "list", "--json"],
        "api-key revoke": ["api-key", "revoke", "0123456789ab"],
    }


@pytest.fixture
def invocations(tmp_path: Path) -> dict[str, list[str]]:
    return _invocations(tmp_path)


def test_failure_table_when_a_command_is_added_names_it(invocations: dict[str, list[str]]) -> None:
    assert sorted(set(invocations) | NOT_RUN) == _leaf_commands()


def _run_all(
    invocations: dict[str, list[str]], env: dict[str, str]
) -> Iterator[tuple[str, int, str]]:
    runner = CliRunner()
    for name, arguments in invocations.items():
        result = runner.invoke(app, arguments, env={"COLUMNS": "200", **env})
        unexpected = result.exception is not None and not isinstance(result.exception, SystemExit)
        assert not unexpected, f"stocker {name}: {result.exception!r}"
        assert "Traceback" not in result.output, f"stocker {name}:\n{result.output}"
        assert result.exit_code != EXIT_BUG, f"stocker {name}:\n{result.output}"
        yield name, result.exit_code, result.output


def test_every_command_when_the_database_is_unreachable_says_so_in_one_line(
    invocations: dict[str, list[str]], redis_url: str, tmp_path: Path
) -> None:
    env = {
        "STOCKER_DATABASE_URL": CLOSED_PORT_DB,
        "STOCKER_REDIS_URL": redis_url,
        "STOCKER_HOME": str(tmp_path / "home"),
    }
    for name, code, output in _run_all(invocations, env):
        if code != 0:
            assert "error:" in output, f"stocker {name}:\n{output}"
        if code != 0 and "PostgreSQL" in output:
            assert "127.0.0.1:1" in output, f"stocker {name} does not name the URL:\n{output}"


def test_every_command_when_the_database_is_not_migrated_says_run_db_upgrade(
    invocations: dict[str, list[str]], empty_db_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "STOCKER_DATABASE_URL": empty_db_url,
        "STOCKER_REDIS_URL": redis_url,
        "STOCKER_HOME": str(tmp_path / "home"),
        "STOCKER_STREAM_PREFIX": f"t{tmp_path.name[-8:]}:",
    }
    schema_changers = {"db upgrade", "db downgrade", "demo"}
    unmigrated = {name: args for name, args in invocations.items() if name not in schema_changers}
    for name, code, output in _run_all(unmigrated, env):
        if code != 0 and "no table" in output:
            assert "stocker db upgrade" in output, f"stocker {name}:\n{output}"


def test_every_command_when_redis_is_unreachable_says_so_in_one_line(
    invocations: dict[str, list[str]], db_url: str, tmp_path: Path
) -> None:
    env = {
        "STOCKER_DATABASE_URL": db_url,
        "STOCKER_REDIS_URL": CLOSED_PORT_REDIS,
        "STOCKER_HOME": str(tmp_path / "home"),
    }
    for name, code, output in _run_all(
        {name: args for name, args in invocations.items() if name.startswith(("bus", "demo"))},
        env,
    ):
        assert code != 0, f"stocker {name} passed without Redis:\n{output}"
        assert "cannot reach Redis at redis://127.0.0.1:1/0" in output, output
