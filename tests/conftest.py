"""Fixtures for tests against real PostgreSQL and Redis.

`STOCKER_TEST_DATABASE_URL` / `STOCKER_TEST_REDIS_URL` point at servers to use (CI uses the local
services); unset, the embedded ones start under `.stocker-test/` in the repository. Every test
that asks for `db_url` gets its own database, cloned from a template migrated once per session;
every test that asks for `settings` gets its own stream prefix in Redis.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from stocker.bootstrap import App, build
from stocker.config import Settings
from stocker.store import embedded, migrate
from stocker.store.db import make_engine, normalize_url
from stocker.store.uow import SqlUnitOfWork

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = Path(os.environ.get("STOCKER_TEST_HOME", REPO / ".stocker-test"))

# Mutation testing (make mutation) runs each property test once per mutant: fewer examples, the
# same ones every run (so a verdict does not depend on the draw). HYPOTHESIS_PROFILE=mutation.
# A test's own @settings(max_examples=N) wins over a profile, so under this one N is capped too.
MUTATION_MAX_EXAMPLES = 10
hypothesis_settings.register_profile(
    "mutation", max_examples=MUTATION_MAX_EXAMPLES, derandomize=True, deadline=None
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _cap_examples(item: pytest.Item) -> None:
    test = getattr(item, "obj", None)
    own = getattr(test, "_hypothesis_internal_use_settings", None)
    if own is not None and own.max_examples > MUTATION_MAX_EXAMPLES:
        capped = hypothesis_settings(own, max_examples=MUTATION_MAX_EXAMPLES, derandomize=True)
        test._hypothesis_internal_use_settings = capped  # type: ignore[union-attr]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mutation = os.environ.get("HYPOTHESIS_PROFILE") == "mutation"
    for item in items:
        if mutation:
            _cap_examples(item)
        if "tests/integration" in str(item.fspath) or "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def no_outside_installation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep every test off the user's own installation: outer STOCKER_* settings are cleared,
    the data directory is the test's own (nothing is cached across tests: there is no singleton)."""
    for name in list(os.environ):
        if name.startswith("STOCKER_") and not name.startswith("STOCKER_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STOCKER_HOME", str(tmp_path / "home"))
    yield


@pytest.fixture(scope="session")
def server_url() -> str:
    """A URL to a database on the test server that we may create databases from."""
    url = os.environ.get("STOCKER_TEST_DATABASE_URL")
    if url:
        return normalize_url(url)
    return embedded.ensure_postgres(TEST_HOME)


def _admin_engine(server_url: str) -> Engine:
    return create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _url_for(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    """A database migrated to head once per session; tests clone it."""
    name = f"stocker_tpl_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(_url_for(server_url, name))
    migrate.upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_db_url(server_url: str) -> Iterator[str]:
    """A URL to a new, empty database of this test's own (no migrations applied)."""
    name = f"stocker_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _url_for(server_url, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def db_url(server_url: str, template_database: str) -> Iterator[str]:
    """A URL to a migrated database of this test's own."""
    name = f"stocker_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    yield _url_for(server_url, name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on this test's own migrated database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("STOCKER_TEST_REDIS_URL")
    if url:
        return url
    return embedded.ensure_redis(TEST_HOME)


@pytest.fixture
def stream_prefix(redis_url: str) -> Iterator[str]:
    """A prefix of this test's own for every stream and key; its keys are deleted afterwards."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def settings(db_url: str, redis_url: str, stream_prefix: str, tmp_path: Path) -> Settings:
    """Settings pointing at this test's own database and stream prefix."""
    return Settings(
        database_url=db_url,
        redis_url=redis_url,
        home=tmp_path / "home",
        stream_prefix=stream_prefix,
        claim_idle_ms=200,
    )


@pytest.fixture
def uow(engine: Engine) -> SqlUnitOfWork:
    """A unit of work on this test's own database (reusable: one transaction per `with`)."""
    return SqlUnitOfWork(engine)


@pytest.fixture
def app(settings: Settings) -> Iterator[App]:
    """The application built by the composition root from this test's own settings."""
    application = build(settings)
    yield application
    application.close()
