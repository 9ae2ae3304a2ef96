"""API keys: hashed secrets, scopes, revocation."""

from __future__ import annotations

from sqlalchemy import Connection


class ApiKeyRepository:
    """API keys: hashed secrets, scopes, revocation."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
