"""Database failures described for a person: what failed, where, and what to do about it.

Errors arrive wrapped by SQLAlchemy (`ProgrammingError`, `OperationalError`) or straight from
psycopg (the COPY fast paths use the driver connection), so both shapes are recognized.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

_UNDEFINED = re.compile(r'relation "([^"]+)" does not exist')


def _driver_error(exc: BaseException) -> BaseException:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def describe_database_failure(exc: BaseException, url: str) -> str | None:
    """One line for a database error a user can act on, or None when it is not one of those."""
    driver = _driver_error(exc)
    if isinstance(driver, pg_errors.UndefinedTable) or isinstance(exc, ProgrammingError):
        match = _UNDEFINED.search(str(driver))
        if match:
            return (
                f"the database at {url} has no table {match.group(1)!r}: its schema is not "
                "migrated; run `stocker db upgrade`"
            )
    unreachable = isinstance(exc, OperationalError | InterfaceError) or isinstance(
        driver, psycopg.OperationalError | psycopg.InterfaceError
    )
    if unreachable or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        lines = str(driver).strip().splitlines()
        reason = lines[0] if lines else type(driver).__name__
        return (
            f"cannot reach PostgreSQL at {url}: {reason}; start the server, or unset "
            "STOCKER_DATABASE_URL to use the embedded one"
        )
    return None
