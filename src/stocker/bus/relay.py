"""The outbox relay: publishes committed outbox rows to Redis and repairs Redis after data loss.

Publishing: rows with ``published_at IS NULL`` are taken in id order with ``FOR UPDATE SKIP
LOCKED`` (so concurrent relays take disjoint rows), XADDed, and marked published with their
stream id in the same transaction. Publishing and recovery of one stream are serialized by a
PostgreSQL advisory lock, and each XADD batch runs in a Redis MULTI that WATCHes the stream's
relay mark, so a flush between the health check and the XADD aborts the batch instead of
silently starting a fresh stream.

Recovery: Redis lost a stream when the relay mark or the stream is missing, the stream's
``last-generated-id`` is older than the newest id we recorded, or a registered consumer group
is missing. The relay then recreates the registered groups (from id 0) and republishes every
event of the stream that some registered group has no `bus_inbox` row for. Consumers skip
whatever they had already processed, so recovery is safe to over-deliver.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import OutOfMemoryError, ResponseError, WatchError
from sqlalchemy.exc import OperationalError

from stocker.bus import streams, trimming
from stocker.config import BusSettings
from stocker.core.errors import ServiceError
from stocker.core.messages import STREAMS
from stocker.store.repositories.outbox import OutboxRow
from stocker.store.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

_WATCH_ATTEMPTS = 20
_RECOVERY_ATTEMPTS = 20
_RECOVERING = "recovering:"
"""Prefix of the relay mark while a recovery runs (the mark holds a timestamp otherwise)."""
MAX_BACKOFF_S = 10.0
"""The longest wait between passes while Redis refuses writes."""


@dataclass(frozen=True)
class RelayReport:
    """What one relay pass did: events republished after a loss, and newly published events."""

    recovered: int
    published: int


class OutboxRelay:
    """Moves committed outbox rows onto their Redis streams; safe to run several at once."""

    def __init__(
        self,
        uow_factory: Callable[[], SqlUnitOfWork],
        redis_client: redis.Redis,
        settings: BusSettings,
    ) -> None:
        self._new_uow = uow_factory
        self.waiting: str | None = None
        """Why `run` is waiting instead of publishing (None while it publishes)."""
        self._redis = redis_client
        self._settings = settings

    # ---------------------------------------------------------------- publishing

    def publish_pending(self, batch_size: int = 500) -> int:
        """Publish every unpublished outbox row (in id order, batch by batch); return the count."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        total = 0
        while True:
            published = self._publish_batch(batch_size)
            total += published
            if published < batch_size:
                return total

    def _publish_batch(self, batch_size: int) -> int:
        with self._new_uow() as uow:
            rows = uow.outbox.take_unpublished(batch_size)
            if not rows:
                return 0
            by_stream: dict[str, list[OutboxRow]] = {}
            for row in rows:
                by_stream.setdefault(row.stream, []).append(row)
            ordered_streams = sorted(by_stream)  # one lock order for every relay: no deadlocks
            for stream in ordered_streams:
                uow.outbox.lock_stream(stream)
            for stream in ordered_streams:
                stream_rows = by_stream[stream]
                message_ids = self._publish_rows(uow, stream, stream_rows)
                uow.outbox.mark_published(_published(stream_rows, message_ids))
            uow.commit()
            return len(rows)

    def _publish_rows(
        self, uow: SqlUnitOfWork, stream: str, rows: Sequence[OutboxRow]
    ) -> list[Any]:
        """XADD `rows` in one MULTI guarded by the relay mark; recover the stream first if lost."""
        key = streams.stream_key(self._settings, stream)
        mark = streams.relay_mark_key(self._settings, stream)
        for _attempt in range(_WATCH_ATTEMPTS):
            with self._redis.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(mark)
                    reason = self._loss_reason(uow, stream, pipe)
                    if reason is not None:
                        pipe.unwatch()
                        self._recover_locked(uow, stream, reason)
                        continue
                    pipe.multi()
                    for row in rows:
                        pipe.xadd(key, streams.frame(row.event_id, row.payload))  # type: ignore[arg-type]
                    pipe.set(mark, _now_text())
                    results = pipe.execute()
                    self._trim(uow, stream)
                    return list(results[:-1])
                except WatchError:
                    continue
        raise ServiceError(
            f"could not publish to {key}: its relay mark kept changing during "
            f"{_WATCH_ATTEMPTS} attempts; is something deleting the stream's keys?"
        )

    def _trim(self, uow: SqlUnitOfWork, stream: str) -> None:
        """Trim `stream` to MAXLEN, keeping whatever a consumer group has not acknowledged."""
        key = streams.stream_key(self._settings, stream)
        trimming.trim(self._redis, key, self._settings.stream_maxlen, uow.inbox.groups_of(stream))

    # ---------------------------------------------------------------- recovery

    def recover(self) -> int:
        """Republish what consumers have not processed on every stream Redis lost; return count."""
        total = 0
        for stream in self._streams():
            with self._new_uow() as uow:
                uow.outbox.lock_stream(stream)
                reason = self._loss_reason(uow, stream, self._redis)
                if reason is not None:
                    total += self._recover_locked(uow, stream, reason)
                uow.commit()
        return total

    def _streams(self) -> list[str]:
        with self._new_uow() as uow:
            registered = uow.inbox.streams_with_groups()
        return sorted(set(STREAMS) | registered)

    def _loss_reason(self, uow: SqlUnitOfWork, stream: str, client: Any) -> str | None:
        """Why Redis no longer holds what we published to `stream`, or None when it does."""
        newest = uow.outbox.newest_published_id(stream)
        if newest is None:
            return None  # nothing published yet: nothing to lose
        key = streams.stream_key(self._settings, stream)
        try:
            info = client.xinfo_stream(key)
        except ResponseError:
            return f"stream {key} is missing"
        mark = client.get(streams.relay_mark_key(self._settings, stream))
        if mark is None:
            return f"the relay mark of {key} is missing (Redis was flushed or restored)"
        if streams.as_text(mark).startswith(_RECOVERING):
            # Whoever wrote it held the stream's lock, which we hold now: that relay died.
            return f"an earlier recovery of {key} did not finish"
        last_generated = streams.as_text(info["last-generated-id"])
        if streams.parse_stream_id(last_generated) < streams.parse_stream_id(newest):
            return (
                f"stream {key} ends at id {last_generated}, older than the last id we "
                f"published, {newest}"
            )
        registered = uow.inbox.groups_of(stream)
        if registered:
            present = {streams.as_text(group["name"]) for group in client.xinfo_groups(key)}
            missing = sorted(registered - present)
            if missing:
                return f"consumer groups {', '.join(missing)} of {key} are missing"
        return None

    def _recover_locked(self, uow: SqlUnitOfWork, stream: str, reason: str) -> int:
        """Rebuild `stream` in Redis; the caller holds the stream's advisory lock in `uow`.

        Redis may lose data again while this runs (a second flush, a restart): each attempt first
        writes a token of its own into the relay mark and ends by replacing it, in a MULTI that
        WATCHes the mark, only if the token is still there. A flush at any moment in between
        takes the token with it, and the attempt starts over (`unprocessed` is read again), so
        a recovery never ends with the mark present over a stream that lost events.
        """
        key = streams.stream_key(self._settings, stream)
        mark = streams.relay_mark_key(self._settings, stream)
        republished: set[str] = set()
        for attempt in range(1, _RECOVERY_ATTEMPTS + 1):
            log.warning("recovering %s (attempt %d): %s", key, attempt, reason)
            token = f"{_RECOVERING}{uuid.uuid4().hex}"
            self._redis.set(mark, token)
            try:
                rows = self._republish(uow, stream, key)
                self._restore_stream_end(uow, stream, key)
                self._trim(uow, stream)
            except OutOfMemoryError:
                raise
            except ResponseError as exc:  # the stream vanished under a command: lost again
                reason = f"Redis answered {exc} during recovery"
                continue
            republished.update(row.event_id for row in rows)
            if self._settle_mark(mark, token):
                log.warning("recovered %s: republished %d events", key, len(rows))
                return len(republished)
            reason = "Redis lost data again during recovery (the relay mark was replaced)"
        raise ServiceError(
            f"could not recover {key}: Redis lost data again during each of "
            f"{_RECOVERY_ATTEMPTS} attempts; is something flushing it repeatedly?"
        )

    def _republish(self, uow: SqlUnitOfWork, stream: str, key: str) -> list[OutboxRow]:
        """Recreate the registered groups and XADD what some group has not processed."""
        for group in sorted(uow.inbox.groups_of(stream)):
            try:
                self._redis.xgroup_create(key, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        rows = uow.outbox.unprocessed(stream)
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            pipe = self._redis.pipeline(transaction=False)
            for row in chunk:
                pipe.xadd(key, streams.frame(row.event_id, row.payload))  # type: ignore[arg-type]
            message_ids = pipe.execute()
            uow.outbox.mark_published(_published(chunk, message_ids))
        return rows

    def _settle_mark(self, mark: str, token: str) -> bool:
        """Replace the recovery token in the mark with a timestamp; False if it is gone."""
        with self._redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(mark)
                current = pipe.get(mark)
                if current is None or streams.as_text(current) != token:
                    return False
                pipe.multi()
                pipe.set(mark, _now_text())
                pipe.execute()
            except WatchError:
                return False
        return True

    def _restore_stream_end(self, uow: SqlUnitOfWork, stream: str, key: str) -> None:
        """Make the stream exist and end at or after every id we recorded, so the check passes."""
        if not self._redis.exists(key):
            # No group needed anything: create the stream empty (add one entry, trim to zero).
            self._redis.xadd(key, {"relay": "recovered"}, maxlen=0, approximate=False)
        newest = uow.outbox.newest_published_id(stream)
        last_generated = streams.as_text(self._redis.xinfo_stream(key)["last-generated-id"])
        if newest and streams.parse_stream_id(last_generated) < streams.parse_stream_id(newest):
            self._redis.execute_command("XSETID", key, newest)

    # ---------------------------------------------------------------- loop

    def run_once(self, batch_size: int = 500) -> RelayReport:
        """One pass: repair lost streams first, then publish what is pending.

        Redis is pinged first, so that a pass with nothing to do still fails when Redis is
        unreachable instead of reporting that all is well."""
        self._redis.ping()
        recovered = self.recover()
        published = self.publish_pending(batch_size)
        return RelayReport(recovered=recovered, published=published)

    def run(
        self,
        stop_event: threading.Event,
        poll_interval_s: float = 0.5,
        batch_size: int = 500,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        """Relay until `stop_event` is set; outages of Redis or PostgreSQL are waited out.

        A Redis refusing writes (out of memory, or any other error answer) is waited out too,
        backing off up to `MAX_BACKOFF_S`; `waiting` and `on_wait` say why the relay waits.
        """
        backoff_s = poll_interval_s
        while not stop_event.is_set():
            try:
                report = self.run_once(batch_size)
            except (redis.ConnectionError, redis.TimeoutError, OperationalError) as exc:
                wait_s = poll_interval_s
                reason = f"Redis or PostgreSQL unreachable: {exc}"
            except OutOfMemoryError as exc:
                wait_s, backoff_s = backoff_s, min(backoff_s * 2, MAX_BACKOFF_S)
                reason = (
                    f"Redis is out of memory ({exc}); free memory in Redis or raise its "
                    "maxmemory, the relay resumes by itself"
                )
            except ResponseError as exc:
                wait_s, backoff_s = backoff_s, min(backoff_s * 2, MAX_BACKOFF_S)
                reason = f"Redis refused a command: {exc}"
            else:
                backoff_s = poll_interval_s
                self.waiting = None
                if report.published == 0 and report.recovered == 0:
                    stop_event.wait(poll_interval_s)
                continue
            self.waiting = reason
            log.warning("relay waits %.1fs: %s", wait_s, reason)
            if on_wait is not None:
                on_wait(f"{reason} (retrying in {wait_s:.1f}s)")
            stop_event.wait(wait_s)


def _published(rows: Sequence[OutboxRow], message_ids: Sequence[Any]) -> list[tuple[int, str]]:
    """``(row id, stream message id)`` pairs for `OutboxRepository.mark_published`."""
    return [
        (row.id, streams.as_text(message_id))
        for row, message_id in zip(rows, message_ids, strict=True)
    ]


def _now_text() -> str:
    return f"{time.time():.6f}"
