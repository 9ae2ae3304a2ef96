"""API keys: issued once, stored hashed, checked per request, with scopes.

A key reads ``stk_<key id>_<secret>``: the key id (12 hex characters) is public and names the
row; the secret is 32 random bytes (URL-safe base64) of which only the sha256 is stored, so the
database never holds a usable key. Scopes: ``read`` (every GET), ``research`` (screens, groups,
portfolios, optimizations, backtests, caches), ``trade`` (the trading pipeline, the ledger,
quarantine decisions) and ``admin`` (everything). A request presents its key as
``Authorization: Bearer``, ``X-API-Key`` or the ``stocker_key`` HttpOnly cookie (the web app's).
Keys are never logged, and never accepted in a URL.

`require_scope(scope)` is the dependency every route (and the web app) declares.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from stocker.core.errors import DataError

if TYPE_CHECKING:
    from stocker.bootstrap import App

SCOPES = ("read", "research", "trade", "admin")
PREFIX = "stk_"
COOKIE = "stocker_key"
_TOKEN = re.compile(r"^stk_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
NAME_CHARACTERS = 100


@dataclass(frozen=True)
class KeyInfo:
    """What a user may see of a key (never its secret or hash)."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key's id and scopes, or the anonymous reader."""

    key_id: str | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def checked_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scope.strip().lower() for scope in scopes if scope.strip()))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown or not chosen:
        raise DataError(
            f"scopes: got {', '.join(unknown) or 'none'}, expected some of {', '.join(SCOPES)}"
        )
    return chosen


def create_key(app: App, name: str, scopes: Sequence[str]) -> tuple[str, KeyInfo]:
    """Issue a key: returns the full key (shown once, never stored) and what is stored of it."""
    name = name.strip()
    if not name or len(name) > NAME_CHARACTERS:
        raise DataError(f"name: got {name!r}, expected 1 to {NAME_CHARACTERS} characters")
    chosen = checked_scopes(scopes)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with app.uow() as uow:
        stored = uow.api_keys.add(key_id, name, _hash(secret), chosen)
        uow.commit()
    return f"{PREFIX}{key_id}_{secret}", _info(stored)


def _info(stored: object) -> KeyInfo:
    return KeyInfo(
        key_id=stored.key_id,  # type: ignore[attr-defined]
        name=stored.name,  # type: ignore[attr-defined]
        scopes=tuple(stored.scopes),  # type: ignore[attr-defined]
        created_at=stored.created_at,  # type: ignore[attr-defined]
        last_used_at=stored.last_used_at,  # type: ignore[attr-defined]
        revoked_at=stored.revoked_at,  # type: ignore[attr-defined]
    )


def list_keys(app: App) -> list[KeyInfo]:
    with app.uow() as uow:
        return [_info(stored) for stored in uow.api_keys.all()]


def revoke_key(app: App, key_id: str) -> None:
    """Revoke key `key_id` (its id, or the whole key); refused when there is no live one."""
    found = _TOKEN.match(key_id.strip())
    key_id = found.group(1) if found else key_id.strip()
    with app.uow() as uow:
        if not uow.api_keys.revoke(key_id):
            raise DataError(f"key_id: no live key {key_id!r}; see `stocker api-key list`")
        uow.commit()


def authenticate(app: App, token: str) -> Principal | None:
    """The principal of `token`, or None when it is malformed, unknown, revoked or expired."""
    found = _TOKEN.match(token.strip())
    if found is None:
        return None
    key_id, secret = found.groups()
    with app.uow() as uow:
        stored = uow.api_keys.get(key_id)
        if stored is None or not hmac.compare_digest(stored.key_hash, _hash(secret)):
            return None
        now = dt.datetime.now(dt.UTC)
        if stored.revoked_at is not None or (stored.expires_at and stored.expires_at <= now):
            return None
        uow.api_keys.touch(key_id)
        uow.commit()
    return Principal(key_id, frozenset(stored.scopes))


_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer stk_…`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: stk_…`")
_cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="The web app's HttpOnly cookie.")


def application(request: Request) -> App:
    """The App the API was built on."""
    return request.app.state.stocker


class KeyCache:
    """Keys verified in the last `seconds`, by the sha256 of the presented key, so a burst of
    requests costs one database lookup. A key revoked elsewhere (`stocker api-key revoke`) is
    refused by this process at most `seconds` later; 0 turns the cache off."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._found: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        if self._seconds <= 0:
            return None
        with self._lock:
            found = self._found.get(_hash(token))
        return found[1] if found and found[0] > time.monotonic() else None

    def put(self, token: str, principal: Principal) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            if len(self._found) > 10_000:
                self._found.clear()
            self._found[_hash(token)] = (time.monotonic() + self._seconds, principal)


class ScopeGuard:
    """The dependency `require_scope(scope)` returns; `scope` is kept for introspection."""

    def __init__(self, scope: str) -> None:
        if scope not in SCOPES:
            raise ValueError(f"scope: got {scope!r}, expected one of {', '.join(SCOPES)}")
        self.scope = scope

    def __call__(
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
        cookie: Annotated[str | None, Depends(_cookie)],
    ) -> Principal:
        app = application(request)
        cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
        token = (bearer.credentials if bearer else None) or header or cookie
        if token is None:
            if self.scope == "read" and app.settings.api_anonymous_reads:
                return Principal(None, frozenset({"read"}))
            raise HTTPException(
                401,
                "authorization: no API key; send `Authorization: Bearer <key>` or `X-API-Key`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = cache.get(token) if cache else None
        if principal is None:
            principal = authenticate(app, token)
            if principal is not None and cache is not None:
                cache.put(token, principal)
        if principal is None:
            raise HTTPException(
                401,
                "authorization: the API key is unknown, revoked or expired",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not principal.allows(self.scope):
            raise HTTPException(
                403, f"scope: this key lacks the {self.scope!r} scope this endpoint requires"
            )
        return principal


def require_scope(scope: str) -> ScopeGuard:
    """A FastAPI dependency: the caller's `Principal` when its key has `scope`, else 401/403."""
    return ScopeGuard(scope)
