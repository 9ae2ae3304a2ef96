"""Engine creation and the one place that picks embedded or external PostgreSQL.

The composition root (`stocker.bootstrap`) owns the engine; nothing here caches one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, make_url

from stocker.config import Settings
from stocker.core.errors import ConfigError
from stocker.store import embedded


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` URLs and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not url.startswith("postgresql+psycopg://"):
        raise ConfigError(
            f"STOCKER_DATABASE_URL must be a postgresql:// URL, got scheme {url.split(':', 1)[0]!r}"
        )
    return url


def database_url(settings: Settings) -> str:
    """The configured PostgreSQL URL, starting the embedded server when none is set."""
    if settings.database_url:
        return normalize_url(settings.database_url)
    return embedded.ensure_postgres(settings.home)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """A SQLAlchemy engine on psycopg 3 with settings Stocker relies on."""
    return create_engine(
        normalize_url(url),
        pool_pre_ping=True,
        connect_args={"application_name": "stocker"},
        **kwargs,
    )


def redacted(url: str) -> str:
    """The URL with any password hidden, for logs and status output."""
    return make_url(url).render_as_string(hide_password=True)
