"""The embedded services start once and are attached to by later commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from stocker.store import embedded
from stocker.store.db import make_engine


@pytest.fixture
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # a short path: unix socket paths are limited to ~100 bytes
    return Path(tmp_path_factory.mktemp("h"))


def test_embedded_services_when_started_twice_attach_to_the_same_servers(home: Path) -> None:
    try:
        first_pg = embedded.ensure_postgres(home)
        first_redis = embedded.ensure_redis(home)
        pg_pid = embedded.status(home)[0].pid
        redis_pid = embedded.status(home)[1].pid

        assert embedded.ensure_postgres(home) == first_pg
        assert embedded.ensure_redis(home) == first_redis
        assert [s.pid for s in embedded.status(home)] == [pg_pid, redis_pid]

        engine = make_engine(first_pg)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar() == "stocker"
        engine.dispose()
        client = redis.Redis.from_url(first_redis)
        assert client.ping()
        client.close()
    finally:
        embedded.stop_postgres(home)
        embedded.stop_redis(home)
    assert [s.running for s in embedded.status(home)] == [False, False]
