"""Database failures described for a person: what failed, where, and what to do about it."""

from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

_UNDEFINED = re.compile(r'relation "([^"]+)" does not exist')


def describe_database_failure(exc: BaseException, url: str) -> str | None:
    """One line for a database error a user can act on, or None when it is not one of those."""
    if isinstance(exc, ProgrammingError):
        match = _UNDEFINED.search(str(exc.orig))
        if match:
            return (
                f"the database at {url} has no table {match.group(1)!r}: its schema is not "
                "migrated; run `stocker db upgrade`"
            )
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return (
            f"cannot reach PostgreSQL at {url}: {reason}; start the server, or unset "
            "STOCKER_DATABASE_URL to use the embedded one"
        )
    return None
