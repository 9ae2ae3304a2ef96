"""The one place that picks the external or the embedded Redis."""

from __future__ import annotations

import redis

from stocker.config import Settings
from stocker.store import embedded


def redis_url(settings: Settings) -> str:
    """The configured Redis URL, starting the embedded server when none is set."""
    return settings.redis_url or embedded.ensure_redis(settings.home)


def redis_client(settings: Settings) -> redis.Redis:
    """A client for the configured Redis (`STOCKER_REDIS_URL`, else the embedded one)."""
    return redis.Redis.from_url(redis_url(settings), health_check_interval=30)
