"""API keys: hashed secrets, scopes, revocation.

Only the sha256 of a key's secret is stored; `key_id` is the public prefix a user sees and the
lookup key, so checking a presented key is one indexed read and a constant-time hash compare
(done by the caller, `stocker.api.auth`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, text


@dataclass(frozen=True)
class StoredKey:
    """One `api_keys` row (the hash stays inside the store and `stocker.api.auth`)."""

    key_id: str
    name: str
    key_hash: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None


_COLUMNS = "key_id, name, key_hash, scopes, created_at, last_used_at, expires_at, revoked_at"


def _key(row: RowMapping) -> StoredKey:
    return StoredKey(**{**row, "scopes": tuple(row["scopes"])})


class ApiKeyRepository:
    """API keys: hashed secrets, scopes, revocation."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        key_id: str,
        name: str,
        key_hash: str,
        scopes: Sequence[str],
        expires_at: dt.datetime | None = None,
    ) -> StoredKey:
        row = (
            self._conn.execute(
                text(
                    "INSERT INTO api_keys (key_id, name, key_hash, scopes, expires_at) "
                    f"VALUES (:key_id, :name, :key_hash, :scopes, :expires_at) RETURNING {_COLUMNS}"
                ),
                {
                    "key_id": key_id,
                    "name": name,
                    "key_hash": key_hash,
                    "scopes": list(scopes),
                    "expires_at": expires_at,
                },
            )
            .mappings()
            .one()
        )
        return _key(row)

    def get(self, key_id: str) -> StoredKey | None:
        row = (
            self._conn.execute(
                text(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = :key_id"), {"key_id": key_id}
            )
            .mappings()
            .first()
        )
        return None if row is None else _key(row)

    def all(self) -> list[StoredKey]:
        rows = self._conn.execute(text(f"SELECT {_COLUMNS} FROM api_keys ORDER BY id")).mappings()
        return [_key(row) for row in rows]

    def revoke(self, key_id: str) -> bool:
        """Mark the key revoked (now); False when there is no such live key."""
        done = self._conn.execute(
            text(
                "UPDATE api_keys SET revoked_at = NOW() "
                "WHERE key_id = :key_id AND revoked_at IS NULL"
            ),
            {"key_id": key_id},
        )
        return done.rowcount > 0

    def touch(self, key_id: str) -> None:
        """Record a use, at most once a minute per key (a read path should rarely write)."""
        self._conn.execute(
            text(
                "UPDATE api_keys SET last_used_at = NOW() WHERE key_id = :key_id "
                "AND (last_used_at IS NULL OR last_used_at < NOW() - INTERVAL '1 minute')"
            ),
            {"key_id": key_id},
        )
