"""The consumer side of the bus: which group processed which event."""

from __future__ import annotations

from sqlalchemy import Connection


class InboxRepository:
    """bus_inbox and bus_consumer_groups."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
