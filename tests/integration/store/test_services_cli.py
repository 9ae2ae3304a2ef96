"""`stocker services status|down` and the embedded default, run as a user runs them.

No STOCKER_DATABASE_URL / STOCKER_REDIS_URL: the first command starts PostgreSQL and Redis under
STOCKER_HOME, a command in another process attaches to them, `down` stops every process and the
next command starts them again on the same data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from stocker.cli import app
from stocker.store import embedded, migrate

CLI = "from stocker.cli import main; main()"


@pytest.fixture
def home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A short STOCKER_HOME (unix socket paths must stay under ~100 bytes); no server URL is set
    (the autouse fixture of tests/conftest.py clears them)."""
    directory = Path(tmp_path_factory.mktemp("svc"))
    monkeypatch.setenv("STOCKER_HOME", str(directory))
    monkeypatch.chdir(directory)  # no stray .env file
    try:
        yield directory
    finally:
        embedded.stop_postgres(directory)
        embedded.stop_redis(directory)


def _invoke(*arguments: str) -> str:
    result = CliRunner().invoke(app, list(arguments), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _in_another_process(home: Path, *arguments: str) -> str:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("STOCKER_DATABASE_URL", "STOCKER_REDIS_URL")
    }
    environment.update(STOCKER_HOME=str(home), COLUMNS="200")
    done = subprocess.run(
        [sys.executable, "-c", CLI, *arguments],
        env=environment,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _running(output: str) -> dict[str, str]:
    """Service name -> the `running` cell of the status table."""
    cells = {}
    for line in output.splitlines():
        parts = [part.strip() for part in line.split("│")]
        if len(parts) > 3 and parts[1] in ("postgresql", "redis"):
            cells[parts[1]] = parts[2]
    return cells


def _server_processes(home: Path) -> list[psutil.Process]:
    """Every process whose command line names a path under `home` (servers and helpers)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        command_line = " ".join(process.info["cmdline"] or [])
        if str(home) in command_line and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_services_when_no_url_is_set_start_once_attach_stop_and_start_again(home: Path) -> None:
    assert _running(_invoke("services", "status")) == {"postgresql": "no", "redis": "no"}

    assert f"database at revision {migrate.head_revision()}" in _invoke("db", "upgrade")
    _invoke("bus", "status")  # the first command that needs Redis starts it
    status = _invoke("services", "status")
    assert _running(status) == {"postgresql": "yes", "redis": "yes"}
    postgres, redis = embedded.status(home)
    assert postgres.pid is not None and redis.pid is not None
    servers = {process.pid for process in _server_processes(home)}
    assert servers == {postgres.pid, redis.pid}
    server_family = {postgres.pid, redis.pid}
    server_family |= {child.pid for child in psutil.Process(postgres.pid).children()}

    second = _in_another_process(home, "db", "current")
    _in_another_process(home, "bus", "status")

    assert f"current: {migrate.head_revision()}" in second
    assert [item.pid for item in embedded.status(home)] == [postgres.pid, redis.pid]
    assert {process.pid for process in _server_processes(home)} == servers

    stopped = _invoke("services", "down")

    assert "postgresql: stopped" in stopped and "redis: stopped" in stopped
    assert [pid for pid in server_family if _alive(pid)] == []
    assert _server_processes(home) == []
    assert _running(_invoke("services", "status")) == {"postgresql": "no", "redis": "no"}
    assert "was not running" in _invoke("services", "down")

    again = _invoke("db", "current")  # the same process that ran `down`: no stale handle

    assert f"current: {migrate.head_revision()}" in again  # same data directory, schema kept
    restarted = embedded.status(home)[0]
    assert restarted.running and restarted.pid != postgres.pid


def test_commands_when_urls_and_home_are_set_use_those_servers_and_start_nothing(
    db_url: str,
    redis_url: str,
    stream_prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "unused-home"
    monkeypatch.setenv("STOCKER_DATABASE_URL", db_url)
    monkeypatch.setenv("STOCKER_REDIS_URL", redis_url)
    monkeypatch.setenv("STOCKER_STREAM_PREFIX", stream_prefix)
    monkeypatch.setenv("STOCKER_HOME", str(home))
    monkeypatch.chdir(tmp_path)

    current = _invoke("db", "current")
    streams = _invoke("bus", "status")
    status = _invoke("services", "status")

    assert f"current: {migrate.head_revision()}" in current  # the test's migrated database
    assert stream_prefix in streams
    assert "STOCKER_DATABASE_URL is set" in status and "STOCKER_REDIS_URL is set" in status
    assert str(home) in "".join(status.split())  # the title names it, wrapped or not
    assert not home.exists()  # nothing embedded was started
