"""The bus as a shell sees it: the relay, stream status and dead letters of one application.

The composition root hands this out (`App.bus()`), so commands and workers never construct bus
adapters themselves nor import `stocker.bus`: they ask the App, call, and render.
"""

from __future__ import annotations

from collections.abc import Callable

import redis

from stocker.bus.relay import OutboxRelay
from stocker.bus.status import DeadLetter, StreamStatus, dead_letters, redis_obstacle, stream_status
from stocker.config import BusSettings
from stocker.store.uow import SqlUnitOfWork


class BusOperations:
    """Relay, status and dead letters over one database (`uow_factory`) and one Redis."""

    def __init__(
        self,
        uow_factory: Callable[[], SqlUnitOfWork],
        redis_client: redis.Redis,
        settings: BusSettings,
    ) -> None:
        self._new_uow = uow_factory
        self._redis = redis_client
        self.settings = settings

    def relay(self) -> OutboxRelay:
        """An outbox relay (`run_once()` for one pass, `run(stop)` until stopped)."""
        return OutboxRelay(self._new_uow, self._redis, self.settings)

    def status(self) -> list[StreamStatus]:
        """Every spec stream's length, groups, pending, unpublished and dead-letter counts."""
        return stream_status(self._new_uow(), self._redis, self.settings)

    def obstacle(self) -> str | None:
        """Why Redis refuses the relay's writes right now (out of memory), or None."""
        return redis_obstacle(self._redis)

    def dead_letters(self, stream: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters of `stream` (or of every stream), newest first."""
        return dead_letters(self._redis, self.settings, stream, limit)
