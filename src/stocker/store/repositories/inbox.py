"""The consumer side of the bus: which group processed which event, and which groups exist.

`bus_inbox` makes a consumer's effects exactly-once: its row is written in the same transaction
as the handler's effects, so a redelivered event finds it and is skipped. `bus_consumer_groups`
lists every group that ever subscribed, so the relay knows whom an event is still owed to.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

_CLAIM = text(
    "INSERT INTO bus_inbox (consumer_group, event_id, stream, stream_message_id) "
    "VALUES (:group, :event_id, :stream, :message_id) "
    "ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING 1"
)
_CLAIM_MANY = text(
    "INSERT INTO bus_inbox (consumer_group, event_id, stream, stream_message_id) "
    "SELECT :group, claimed.event_id, :stream, claimed.message_id "
    "FROM unnest(CAST(:event_ids AS uuid[]), CAST(:message_ids AS text[])) "
    "AS claimed(event_id, message_id) "
    "ON CONFLICT (consumer_group, event_id) DO NOTHING RETURNING event_id"
)
_REGISTER_GROUP = text(
    "INSERT INTO bus_consumer_groups (stream, consumer_group) VALUES (:stream, :group) "
    "ON CONFLICT DO NOTHING"
)
_GROUPS = text("SELECT consumer_group FROM bus_consumer_groups WHERE stream = :stream")
_GROUP_STREAMS = text("SELECT DISTINCT stream FROM bus_consumer_groups")


class InboxRepository:
    """bus_inbox and bus_consumer_groups, in the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(self, group: str, event_id: uuid.UUID, stream: str, message_id: str) -> bool:
        """Record that `group` processes `event_id` now; False when it already had."""
        claimed = self._conn.execute(
            _CLAIM,
            {"group": group, "event_id": event_id, "stream": stream, "message_id": message_id},
        ).first()
        return claimed is not None

    def claim_many(
        self, group: str, stream: str, events: list[tuple[uuid.UUID, str]]
    ) -> set[uuid.UUID]:
        """`claim` for a batch of ``(event_id, message_id)`` in one statement; returns the event
        ids claimed now (an id listed twice is claimed once)."""
        if not events:
            return set()
        rows = self._conn.execute(
            _CLAIM_MANY,
            {
                "group": group,
                "stream": stream,
                "event_ids": [event_id for event_id, _ in events],
                "message_ids": [message_id for _, message_id in events],
            },
        )
        return {row.event_id for row in rows}

    def register_group(self, stream: str, group: str) -> None:
        """Remember that `group` consumes `stream` (so recovery republishes what it lacks)."""
        self._conn.execute(_REGISTER_GROUP, {"stream": stream, "group": group})

    def groups_of(self, stream: str) -> set[str]:
        """The consumer groups ever registered on `stream`."""
        return {row.consumer_group for row in self._conn.execute(_GROUPS, {"stream": stream})}

    def streams_with_groups(self) -> set[str]:
        """Every stream some consumer group registered on."""
        return {row.stream for row in self._conn.execute(_GROUP_STREAMS)}
