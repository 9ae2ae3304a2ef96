"""What the bus holds right now: per-stream health and dead letters (for `stocker bus ...`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import redis
from redis.exceptions import ResponseError

from stocker.bus import streams
from stocker.bus.consumer import DEAD_LETTER_FIELDS
from stocker.config import BusSettings
from stocker.core.messages import STREAMS, model_for
from stocker.store.uow import SqlUnitOfWork


@dataclass(frozen=True)
class GroupStatus:
    """One consumer group: messages delivered but not acknowledged, and its members."""

    name: str
    pending: int
    consumers: int
    last_delivered_id: str


@dataclass(frozen=True)
class StreamStatus:
    """One stream: Redis length and groups, outbox backlog, dead-letter count."""

    stream: str
    key: str
    length: int
    groups: tuple[GroupStatus, ...]
    unpublished: int
    dead_letters: int

    @property
    def pending(self) -> int:
        """Messages delivered to some group member and not yet acknowledged."""
        return sum(group.pending for group in self.groups)


@dataclass(frozen=True)
class DeadLetter:
    """One dead-lettered message: why it failed and the fields it arrived with."""

    stream: str
    dead_letter_id: str
    error: str
    deliveries: int
    group: str
    message_id: str
    dead_at: str
    fields: dict[str, str]

    def cut(self, max_chars: int) -> DeadLetter:
        """This letter with its error and fields cut to `max_chars`, sizes given (0: as is)."""
        return replace(
            self,
            error=streams.preview(self.error, max_chars),
            fields={name: streams.preview(value, max_chars) for name, value in self.fields.items()},
        )


def stream_status(
    uow: SqlUnitOfWork, redis_client: redis.Redis, settings: BusSettings
) -> list[StreamStatus]:
    """Every spec stream's state in Redis and PostgreSQL (`uow` is read, never committed)."""
    with uow:
        unpublished = uow.outbox.unpublished_counts()
    result = []
    for stream in STREAMS:
        key = streams.stream_key(settings, stream)
        try:
            groups = tuple(
                GroupStatus(
                    name=streams.as_text(group["name"]),
                    pending=int(group["pending"]),
                    consumers=int(group["consumers"]),
                    last_delivered_id=streams.as_text(group["last-delivered-id"]),
                )
                for group in redis_client.xinfo_groups(key)
            )
        except ResponseError:  # the stream does not exist (yet)
            groups = ()
        result.append(
            StreamStatus(
                stream=stream,
                key=key,
                length=int(redis_client.xlen(key)),
                groups=groups,
                unpublished=int(unpublished.get(stream, 0)),
                dead_letters=int(redis_client.xlen(streams.dead_letter_key(settings, stream))),
            )
        )
    return result


def dead_letters(
    redis_client: redis.Redis, settings: BusSettings, stream: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """The newest dead letters of `stream` (or of every stream), newest first."""
    names = [model_for(stream).stream] if stream else list(STREAMS)
    letters = []
    for name in names:
        entries: Any = redis_client.xrevrange(streams.dead_letter_key(settings, name), count=limit)
        for entry_id, raw_fields in entries or ():
            fields = streams.text_fields(raw_fields)
            letters.append(
                DeadLetter(
                    stream=name,
                    dead_letter_id=streams.as_text(entry_id),
                    error=fields.pop("error", ""),
                    deliveries=int(fields.pop("deliveries", "0") or 0),
                    group=fields.pop("group", ""),
                    message_id=fields.pop("message_id", ""),
                    dead_at=fields.pop("dead_at", ""),
                    fields={k: v for k, v in fields.items() if k not in DEAD_LETTER_FIELDS},
                )
            )
    return letters


def redis_obstacle(redis_client: redis.Redis) -> str | None:
    """Why Redis refuses the relay's writes right now (it is at its memory limit), or None.

    The relay waits and retries on such a refusal; this is what `stocker bus status` shows so
    that a growing "unpublished" column has its reason next to it."""
    info: Any = redis_client.info("memory")
    maxmemory = int(info.get("maxmemory", 0) or 0)
    used = int(info.get("used_memory", 0) or 0)
    if maxmemory <= 0 or used < maxmemory:
        return None
    policy = info.get("maxmemory_policy", "?")
    return (
        f"Redis is out of memory (used {used:,} bytes of maxmemory {maxmemory:,}, policy "
        f"{policy}): writes fail with OOM and the relay waits; free memory in Redis or raise "
        "its maxmemory, and the relay resumes by itself"
    )
