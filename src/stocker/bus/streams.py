"""Redis key names and message framing for the bus.

Every stream lives under the installation's `BusSettings.stream_prefix` so several installations
(or tests) can share one Redis. Each entry carries two fields: ``event_id`` (the outbox row's
UUID, which consumers deduplicate on) and ``data`` (the message JSON exactly as the outbox holds
it). Names in PostgreSQL (`outbox.stream`, `bus_inbox`, `bus_consumer_groups`) are the spec's
stream names without the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

EVENT_ID_FIELD = "event_id"
DATA_FIELD = "data"
DEAD_LETTER_SUFFIX = ":dead"
RELAY_MARK_SUFFIX = ":relay"


class Prefixed(Protocol):
    """Anything that names the installation's stream prefix (`BusSettings`, `Settings`)."""

    @property
    def stream_prefix(self) -> str: ...


def stream_key(settings: Prefixed, stream: str) -> str:
    """The Redis key of `stream` (e.g. ``market-bars`` → ``<prefix>market-bars``)."""
    return f"{settings.stream_prefix}{stream}"


def dead_letter_key(settings: Prefixed, stream: str) -> str:
    """The Redis key of `stream`'s dead-letter stream (``<prefix>market-bars:dead``)."""
    return f"{stream_key(settings, stream)}{DEAD_LETTER_SUFFIX}"


def relay_mark_key(settings: Prefixed, stream: str) -> str:
    """A key the relay writes with every publish; its absence means Redis lost the stream."""
    return f"{stream_key(settings, stream)}{RELAY_MARK_SUFFIX}"


def frame(event_id: str, data: str) -> dict[str, str]:
    """The XADD fields of one message."""
    return {EVENT_ID_FIELD: event_id, DATA_FIELD: data}


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (clients may or may not decode responses)."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def text_fields(fields: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    """Entry fields as text; undecodable bytes are kept visible with replacement characters."""
    return {lenient_text(key): lenient_text(value) for key, value in fields.items()}


def lenient_text(value: bytes | str) -> str:
    """Text of a Redis value; undecodable bytes become replacement characters (never b'…')."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def parse_stream_id(message_id: bytes | str) -> tuple[int, int]:
    """A stream id ``"1698400000000-3"`` as ``(1698400000000, 3)`` so ids compare in order."""
    milliseconds, _, sequence = as_text(message_id).partition("-")
    return int(milliseconds), int(sequence or 0)


def preview(value: str, limit: int) -> str:
    """`value` cut to `limit` characters, saying how long it was (``…[5,242,880 bytes]``)."""
    if limit <= 0 or len(value) <= limit:
        return value
    return f"{value[:limit]}…[{len(value.encode('utf-8', 'replace')):,} bytes]"
