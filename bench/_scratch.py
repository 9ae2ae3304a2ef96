"""A scratch database beside the configured server, so benchmarks never touch real data."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from stocker.config import Settings
from stocker.store.db import database_url, normalize_url


def server_url(*more_variables: str) -> str:
    """`STOCKER_DATABASE_URL` (else the first of `more_variables` set), else the embedded
    PostgreSQL (started if needed)."""
    for variable in ("STOCKER_DATABASE_URL", *more_variables):
        url = os.environ.get(variable)
        if url:
            return normalize_url(url)
    return database_url(Settings())


@contextmanager
def scratch_database(server: str, label: str) -> Iterator[str]:
    """A new database `stocker_bench_<label>_<random>`, dropped afterwards whatever happens."""
    name = f"stocker_bench_{label}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
