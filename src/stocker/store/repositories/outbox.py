"""The outbox: events written inside the unit of work's transaction.

A stage commits its state change and the event announcing it together, so an event is published
if and only if the change happened (the relay in `stocker.bus.relay` does the publishing). The
payload is stored as the exact JSON text consumers will receive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import Connection, text

from stocker.core.messages import BusMessage, stream_of
from stocker.core.errors import ValidationError

_INSERT = text(
    "INSERT INTO outbox (event_id, stream, payload) "
    "VALUES (:event_id, :stream, CAST(:payload AS json)) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id"
)
_EXISTING = text("SELECT stream, payload::text AS payload FROM outbox WHERE event_id = :event_id")


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
        conn.execute(
            text(
                "INSERT INTO outbox (event_id, stream, payload) "
                "VALUES (:event_id, :stream, CAST(:payload AS json))"
            ),
            rows,
        )
    return len(rows)
