"""The outbox: events written inside the unit of work's transaction.

A stage commits its state change and the event announcing it together, so an event is published
if and only if the change happened (the relay in `stocker.bus.relay` does the publishing). The
payload is stored as the exact JSON text consumers will receive. The relay's own queries (take
unpublished rows, mark them published, find what consumer groups still lack) live here too, so
the bus holds no SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Result, text

from stocker.core.errors import ValidationError
from stocker.core.messages import BusMessage, stream_of

_INSERT = text(
    "INSERT INTO outbox (event_id, stream, payload) "
    "VALUES (:event_id, :stream, CAST(:payload AS json)) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id"
)
_EXISTING = text("SELECT stream, payload::text AS payload FROM outbox WHERE event_id = :event_id")
_INSERT_MANY = text(
    "INSERT INTO outbox (event_id, stream, payload) "
    "VALUES (:event_id, :stream, CAST(:payload AS json))"
)
_UNPUBLISHED = text(
    "SELECT id, event_id::text AS event_id, stream, payload::text AS payload FROM outbox "
    "WHERE published_at IS NULL ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED"
)
_MARK_PUBLISHED = text(
    "UPDATE outbox SET published_at = NOW(), stream_message_id = :message_id, "
    "publish_attempts = publish_attempts + 1 WHERE id = :id"
)
_NEWEST_PUBLISHED = text(
    "SELECT stream_message_id FROM outbox WHERE stream = :stream "
    "AND stream_message_id IS NOT NULL ORDER BY id DESC LIMIT 1"
)
_UNPROCESSED = text(
    """
    SELECT o.id, o.event_id::text AS event_id, o.stream, o.payload::text AS payload
    FROM outbox o
    WHERE o.stream = :stream AND o.published_at IS NOT NULL
      AND EXISTS (
        SELECT 1 FROM bus_consumer_groups g
        WHERE g.stream = o.stream
          AND NOT EXISTS (
            SELECT 1 FROM bus_inbox i
            WHERE i.consumer_group = g.consumer_group AND i.event_id = o.event_id))
    ORDER BY o.id
    """
)
_BY_STREAM_MESSAGE_ID = text(
    "SELECT id, event_id::text AS event_id, stream, payload::text AS payload, stream_message_id "
    "FROM outbox WHERE stream = :stream AND stream_message_id = ANY(:message_ids)"
)
_UNPUBLISHED_COUNTS = text(
    "SELECT stream, count(*) FROM outbox WHERE published_at IS NULL GROUP BY stream"
)
_STREAM_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")


@dataclass(frozen=True)
class OutboxRow:
    """One outbox event as the relay publishes it: its row id, event id, stream and JSON."""

    id: int
    event_id: str
    stream: str
    payload: str


class OutboxRepository:
    """Adds events to the outbox in the unit of work's transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, message: BusMessage, *, event_id: uuid.UUID | None = None) -> uuid.UUID:
        """Add `message`; see `enqueue`."""
        return enqueue(self._conn, message, event_id=event_id)

    def add_many(self, messages: Iterable[BusMessage]) -> int:
        """Add every message with a new event id; return the count."""
        return enqueue_many(self._conn, messages)

    # ------------------------------------------------------------ the relay's side

    def lock_stream(self, stream: str) -> None:
        """Serialize publishing and recovery of `stream` until the transaction ends."""
        self._conn.execute(_STREAM_LOCK, {"name": f"stocker.bus.relay:{stream}"})

    def take_unpublished(self, limit: int) -> list[OutboxRow]:
        """Up to `limit` unpublished rows in id order, locked (rows other relays hold skipped)."""
        return _rows(self._conn.execute(_UNPUBLISHED, {"limit": limit}))

    def mark_published(self, published: Sequence[tuple[int, str]]) -> None:
        """Record ``(row id, stream message id)`` pairs as published."""
        if published:
            self._conn.execute(
                _MARK_PUBLISHED, [{"id": row_id, "message_id": mid} for row_id, mid in published]
            )

    def newest_published_id(self, stream: str) -> str | None:
        """The stream message id of the newest published event of `stream`, if any."""
        newest = self._conn.execute(_NEWEST_PUBLISHED, {"stream": stream}).scalar()
        return None if newest is None else str(newest)

    def unprocessed(self, stream: str) -> list[OutboxRow]:
        """Published events of `stream` that some registered consumer group has not processed."""
        return _rows(self._conn.execute(_UNPROCESSED, {"stream": stream}))

    def by_stream_message_ids(
        self, stream: str, message_ids: Sequence[str]
    ) -> dict[str, OutboxRow]:
        """The events last published to `stream` under `message_ids`, by stream message id."""
        if not message_ids:
            return {}
        result = self._conn.execute(
            _BY_STREAM_MESSAGE_ID, {"stream": stream, "message_ids": list(message_ids)}
        )
        return {
            row.stream_message_id: OutboxRow(
                id=row.id, event_id=row.event_id, stream=row.stream, payload=row.payload
            )
            for row in result
        }

    def unpublished_counts(self) -> dict[str, int]:
        """Unpublished rows per stream (streams with none are absent)."""
        return {stream: int(count) for stream, count in self._conn.execute(_UNPUBLISHED_COUNTS)}


def _rows(result: Result[Any]) -> list[OutboxRow]:
    return [
        OutboxRow(id=row.id, event_id=row.event_id, stream=row.stream, payload=row.payload)
        for row in result
    ]


def enqueue(
    conn: Connection, message: BusMessage, *, event_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Add `message` to the outbox in `conn`'s transaction and return its event id.

    Pass `event_id` to make a retried write idempotent: the same id with the same message is
    accepted once, the same id with a different message is a ValidationError.
    """
    stream = stream_of(message)
    event_id = event_id or uuid.uuid4()
    payload = message.to_json()
    inserted = conn.execute(
        _INSERT, {"event_id": event_id, "stream": stream, "payload": payload}
    ).first()
    if inserted is None:
        existing = conn.execute(_EXISTING, {"event_id": event_id}).one()
        if (existing.stream, existing.payload) != (stream, payload):
            raise ValidationError(
                f"event_id {event_id} is already in the outbox with a different message "
                f"(stream {existing.stream!r}); expected a new event_id for a new message",
                [f"event_id: {event_id} reused for a different message"],
            )
    return event_id


def enqueue_many(conn: Connection, messages: Iterable[BusMessage]) -> int:
    """Add every message to the outbox in `conn`'s transaction (new event ids); return the count."""
    rows = [
        {"event_id": uuid.uuid4(), "stream": stream_of(message), "payload": message.to_json()}
        for message in messages
    ]
    if rows:
        conn.execute(_INSERT_MANY, rows)
    return len(rows)
