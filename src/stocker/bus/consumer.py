"""A consumer-group member with exactly-once effects over Redis' at-least-once delivery.

For each message the handler runs as ``handler(message, uow)`` inside a PostgreSQL transaction
that also inserts the `bus_inbox` row ``(group, event_id)``; when that row already exists the
handler is skipped, so a redelivered or republished event changes nothing. A poll's batch is one
transaction with one inbox statement for all its messages; only when a handler raises is the
batch redone with a savepoint per message, so the others still commit. Messages are XACKed
only after the transaction commits: a consumer that dies in between leaves them pending, and
another member reclaims them with XAUTOCLAIM once they have been idle for
`BusSettings.claim_idle_ms`.

Messages that cannot be read (bad JSON, schema violations, no event id) go straight to the
stream's dead-letter stream with the validation error. A handler that raises rolls back and
leaves the message pending for a retry; once Redis has delivered it `BusSettings.max_deliveries`
times it goes to the dead-letter stream with the last error, and is acknowledged. Losing the
database connection is not the message's fault: it propagates and the message stays pending.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.exceptions import OutOfMemoryError, ResponseError
from sqlalchemy.exc import InterfaceError, OperationalError

from stocker.bus import streams
from stocker.bus.handlers import BatchHandler, Handler
from stocker.config import BusSettings
from stocker.core.errors import ValidationError
from stocker.core.messages import BusMessage, model_for, parse
from stocker.store.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]
"""Makes a new unit of work (the App's `uow`); the consumer opens one per batch."""

BATCH_SIZE = 500
"""Entries read per poll (XREADGROUP / XAUTOCLAIM COUNT): one transaction and one XACK each."""

DEAD_LETTER_FIELDS = ("error", "deliveries", "stream", "group", "consumer", "message_id", "dead_at")
"""Fields a dead-letter entry adds to the original message's fields."""


@dataclass
class PollReport:
    """What one poll did with the messages it read."""

    processed: int = 0
    duplicates: int = 0
    failed: int = 0
    dead_lettered: int = 0
    deleted: int = 0
    """Pending entries found deleted from the stream (also counted by what became of them)."""

    @property
    def received(self) -> int:
        """Messages read or reclaimed in this poll."""
        return self.processed + self.duplicates + self.failed + self.dead_lettered


@dataclass(frozen=True)
class _Entry:
    message_id: str
    fields: Mapping[bytes | str, bytes | str]
    reclaimed: bool


_Readable = tuple[_Entry, uuid.UUID, BusMessage, int]
"""A message read from an entry: the entry, its event id, the message, its delivery count."""
_Done = tuple[_Entry, bool]
"""An applied entry and whether it was new (False: a duplicate, skipped)."""
_Failure = tuple[_Entry, str, int]
"""An entry whose handler raised, the error and its delivery count."""


class Consumer:
    """One named member of consumer group `group` on `stream`, applying `handler` to messages."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        redis_client: redis.Redis,
        settings: BusSettings,
        stream: str,
        group: str,
        name: str,
        handler: Handler,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        model_for(stream)  # an unknown stream is an error now, not at the first message
        self.stream = stream
        self.group = group
        self.name = name
        self._new_uow = uow_factory
        self._redis = redis_client
        self._settings = settings
        self._handler = handler
        self._batch_handler = batch_handler
        self._key = streams.stream_key(settings, stream)
        self._dead_key = streams.dead_letter_key(settings, stream)
        self._group_ready = False
        self._claim_cursor = "0-0"
        self.totals = PollReport()
        """What `run` did so far, summed over its polls."""

    def ensure_group(self) -> None:
        """Create the group from the stream's start (if missing) and register it for recovery."""
        try:
            self._redis.xgroup_create(self._key, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        with self._new_uow() as uow:
            uow.inbox.register_group(self.stream, self.group)
            uow.commit()
        self._group_ready = True

    def poll_once(self, count: int = BATCH_SIZE, block_ms: int = 1000) -> PollReport:
        """Reclaim stale pending messages and read new ones (blocking up to `block_ms`); apply."""
        if not self._group_ready:
            self.ensure_group()
        report = PollReport()
        try:
            entries, deleted = self._reclaim(count)
            if deleted:
                entries += self._deleted(deleted, report)
            entries += self._read_new(count, block_ms if not entries else 0)
        except ResponseError as exc:
            if not _group_lost(exc):
                raise
            log.warning(
                "group %s of %s is gone (Redis lost data: %s); recreating",
                self.group,
                self._key,
                exc,
            )
            self._group_ready = False
            self._claim_cursor = "0-0"
            self.ensure_group()
            return report
        if entries:
            self._apply(entries, report)
        return report

    def run(
        self, stop_event: threading.Event, count: int = BATCH_SIZE, block_ms: int = 1000
    ) -> None:
        """Poll until `stop_event` is set; outages of Redis or PostgreSQL are waited out, and so
        is a Redis out of memory (a dead letter cannot be written): the message stays pending."""
        backoff_s = 0.5
        while not stop_event.is_set():
            try:
                report = self.poll_once(count=count, block_ms=block_ms)
            except (
                redis.ConnectionError,
                redis.TimeoutError,
                OutOfMemoryError,
                OperationalError,
                InterfaceError,
            ) as exc:
                log.warning("consumer %s paused %.1fs: %s", self.name, backoff_s, exc)
                stop_event.wait(backoff_s)
                backoff_s = min(backoff_s * 2, 30.0)
                continue
            backoff_s = 0.5
            self.totals.processed += report.processed
            self.totals.duplicates += report.duplicates
            self.totals.failed += report.failed
            self.totals.dead_lettered += report.dead_lettered
            self.totals.deleted += report.deleted

    # ---------------------------------------------------------------- reading

    def _reclaim(self, count: int) -> tuple[list[_Entry], list[str]]:
        """Pending entries idle past `claim_idle_ms`, and the ids of those deleted meanwhile."""
        start_id = self._claim_cursor
        response = self._redis.xautoclaim(
            self._key,
            self.group,
            self.name,
            min_idle_time=self._settings.claim_idle_ms,
            start_id=start_id,
            count=count,
        )
        self._claim_cursor = streams.as_text(response[0])
        entries = [
            _Entry(streams.as_text(message_id), fields, reclaimed=True)
            for message_id, fields in response[1]
            if message_id is not None and fields is not None
        ]
        if len(response) > 2:  # Redis 7 lists deleted ids apart (and drops them from the PEL)
            return entries, [streams.as_text(message_id) for message_id in response[2] or ()]
        if len(entries) < len(response[1]):  # Redis 6.2 answers a deleted entry with nil, no id
            return entries, self._claimed_but_gone(start_id, count)
        return entries, []

    def _claimed_but_gone(self, start_id: str, count: int) -> list[str]:
        """Ids this member now holds pending from `start_id` on that the stream no longer has."""
        pending: Any = self._redis.xpending_range(
            self._key, self.group, min=start_id, max="+", count=count, consumername=self.name
        )
        ids = [streams.as_text(item["message_id"]) for item in pending]
        return [
            message_id
            for message_id in ids
            if not self._redis.xrange(self._key, message_id, message_id)
        ]

    def _deleted(self, message_ids: list[str], report: PollReport) -> list[_Entry]:
        """Pending entries deleted from the stream (trimmed, XDEL) before this group acked them.

        Each is reported; one the outbox published under that id is read back from the outbox
        and applied as usual (the inbox keeps that exactly-once), the others go to the
        dead-letter stream so that the loss is listed rather than silent."""
        report.deleted += len(message_ids)
        log.warning(
            "%d entries of %s were deleted before group %s acknowledged them: %s",
            len(message_ids),
            self._key,
            self.group,
            ", ".join(message_ids),
        )
        with self._new_uow() as uow:
            published = uow.outbox.by_stream_message_ids(self.stream, message_ids)
        entries = []
        for message_id in message_ids:
            row = published.get(message_id)
            if row is None:
                self._dead_letter(
                    _Entry(message_id, {}, reclaimed=True),
                    f"entry {message_id} was deleted from {self._key} (trimmed or XDEL) before "
                    f"group {self.group} acknowledged it, and no outbox event was published "
                    "under that id",
                    0,
                )
                report.dead_lettered += 1
                continue
            fields = streams.frame(row.event_id, row.payload)
            entries.append(_Entry(message_id, fields, reclaimed=False))  # type: ignore[arg-type]
        return entries

    def _read_new(self, count: int, block_ms: int) -> list[_Entry]:
        response: Any = self._redis.xreadgroup(
            self.group,
            self.name,
            {self._key: ">"},
            count=count,
            block=block_ms if block_ms > 0 else None,
        )
        if not response:
            return []
        batches = response.values() if isinstance(response, dict) else (b for _, b in response)
        entries = []
        for batch in batches:
            for item in batch:
                message_id, fields = item[0], item[1]
                entries.append(_Entry(streams.as_text(message_id), fields, reclaimed=False))
        return entries

    # ---------------------------------------------------------------- applying

    def _apply(self, entries: list[_Entry], report: PollReport) -> None:
        """Apply a batch in one transaction (`_apply_batch`); ack after the commit."""
        readable: list[_Readable] = []
        for entry in entries:
            deliveries = self._deliveries(entry.message_id) if entry.reclaimed else 1
            if deliveries > self._settings.max_deliveries:
                self._dead_letter(
                    entry,
                    f"not acknowledged after {deliveries - 1} deliveries (the consumer handling "
                    "it stopped or took longer than claim_idle_ms each time)",
                    deliveries,
                )
                report.dead_lettered += 1
                continue
            try:
                event_id, message = self._read(entry.fields)
            except ValidationError as exc:
                log.warning("malformed message %s on %s: %s", entry.message_id, self._key, exc)
                self._dead_letter(entry, str(exc), deliveries)
                report.dead_lettered += 1
                continue
            readable.append((entry, event_id, message, deliveries))
        if not readable:
            return
        done, failures = self._apply_batch(readable)
        if done:
            self._redis.xack(self._key, self.group, *(entry.message_id for entry, _ in done))
        report.processed += sum(1 for _, first_time in done if first_time)
        report.duplicates += sum(1 for _, first_time in done if not first_time)
        for entry, error, deliveries in failures:
            report.failed += 1
            log.warning(
                "handler of %s failed on %s (delivery %d of %d): %s",
                self.group,
                entry.message_id,
                deliveries,
                self._settings.max_deliveries,
                error,
            )
            if deliveries >= self._settings.max_deliveries:
                self._dead_letter(entry, error, deliveries)
                report.dead_lettered += 1

    def _apply_batch(self, readable: list[_Readable]) -> tuple[list[_Done], list[_Failure]]:
        """The whole batch in one transaction with one inbox statement and no savepoints.

        A commit's fsync and a round trip per savepoint dominate a message's cost, so the
        common case (every handler succeeds) pays for neither. When a handler raises, the
        transaction is rolled back and `_apply_each` redoes the batch with a savepoint per
        message, taking the failure as already known so that no handler runs twice on the
        same delivery."""
        with self._new_uow() as uow:
            claimed = uow.inbox.claim_many(
                self.group,
                self.stream,
                [(event_id, entry.message_id) for entry, event_id, _, _ in readable],
            )
            done: list[_Done] = []
            failure: _Failure | None = None
            fresh: list[BusMessage] = []
            batch_failed = False
            for entry, event_id, message, deliveries in readable:
                first_time = event_id in claimed
                claimed.discard(event_id)  # listed twice in the batch: a duplicate the 2nd time
                if first_time and self._batch_handler is not None:
                    fresh.append(message)
                elif first_time:
                    try:
                        self._handler(message, uow)
                    except (OperationalError, InterfaceError):
                        raise  # the database is unreachable: not the message's fault
                    except Exception as exc:
                        failure = (entry, f"{type(exc).__name__}: {exc}", deliveries)
                        break
                done.append((entry, first_time))
            if self._batch_handler is not None and fresh:
                try:
                    self._batch_handler(fresh, uow)
                except (OperationalError, InterfaceError):
                    raise
                except Exception as exc:
                    # Which message failed is unknown: each is redone on its own below.
                    log.info("batch handler of %s failed (%s); one by one", self.group, exc)
                    batch_failed = True
            if failure is None and not batch_failed:
                uow.commit()
                return done, []
        # Rolled back (the unit of work closed without a commit): redo one by one.
        if batch_failed:
            return self._apply_each(readable, -1, None)
        return self._apply_each(readable, len(done), failure)

    def _apply_each(
        self, readable: list[_Readable], failed_at: int, failure: _Failure | None
    ) -> tuple[list[_Done], list[_Failure]]:
        """The batch again, a savepoint per message so one failing handler undoes only its
        own writes; the message at ``failed_at`` already failed and is not run again."""
        done: list[_Done] = []
        failures: list[_Failure] = [] if failure is None else [failure]
        with self._new_uow() as uow:
            for index, (entry, event_id, message, deliveries) in enumerate(readable):
                if index == failed_at:
                    continue
                try:
                    with uow.savepoint():
                        first_time = self._apply_one(uow, entry, event_id, message)
                except (OperationalError, InterfaceError):
                    raise  # the database is unreachable: not the message's fault; stays pending
                except Exception as exc:
                    failures.append((entry, f"{type(exc).__name__}: {exc}", deliveries))
                    continue
                done.append((entry, first_time))
            uow.commit()
        return done, failures

    def _apply_one(
        self, uow: SqlUnitOfWork, entry: _Entry, event_id: uuid.UUID, message: BusMessage
    ) -> bool:
        """Record the event in the inbox and run the handler; False when it was already done."""
        if not uow.inbox.claim(self.group, event_id, self.stream, entry.message_id):
            return False
        self._handler(message, uow)
        return True

    def _read(self, fields: Mapping[bytes | str, bytes | str]) -> tuple[uuid.UUID, BusMessage]:
        raw_event_id = _field(fields, streams.EVENT_ID_FIELD)
        raw_data = _field(fields, streams.DATA_FIELD)
        missing = [
            name
            for name, value in (
                (streams.EVENT_ID_FIELD, raw_event_id),
                (streams.DATA_FIELD, raw_data),
            )
            if value is None
        ]
        if missing:
            raise ValidationError(
                f"invalid {self.stream} entry: missing field(s) {', '.join(missing)}; expected "
                f"{streams.EVENT_ID_FIELD} (a UUID) and {streams.DATA_FIELD} (the message JSON)",
                [f"{name}: field required" for name in missing],
            )
        assert raw_event_id is not None and raw_data is not None
        try:
            event_id = uuid.UUID(streams.as_text(raw_event_id))
        except (ValueError, UnicodeDecodeError):
            shown = streams.preview(streams.lenient_text(raw_event_id), 80)
            raise ValidationError(
                f"invalid {self.stream} entry: event_id {shown!r} is not a UUID",
                [f"event_id: expected a UUID, got {shown!r}"],
            ) from None
        return event_id, parse(self.stream, raw_data)

    def _deliveries(self, message_id: str) -> int:
        pending = self._redis.xpending_range(
            self._key, self.group, min=message_id, max=message_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    def _dead_letter(self, entry: _Entry, error: str, deliveries: int) -> None:
        """Move the entry to the dead-letter stream and acknowledge it, atomically."""
        meta = {
            "error": error,
            "deliveries": str(deliveries),
            "stream": self.stream,
            "group": self.group,
            "consumer": self.name,
            "message_id": entry.message_id,
            "dead_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        dead: dict[Any, Any] = {}
        for key, value in entry.fields.items():
            name = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
            dead[f"original:{name}" if name in meta else key] = value
        dead.update(meta)
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(self._dead_key, dead, maxlen=self._settings.stream_maxlen, approximate=True)
        pipe.xack(self._key, self.group, entry.message_id)
        pipe.execute()


def _group_lost(exc: ResponseError) -> bool:
    """Whether Redis answered that the stream or the group no longer exists.

    ``NOGROUP`` answers a command on a missing group; Redis 7 answers an XREADGROUP that was
    blocked when the stream was deleted (FLUSHALL, DEL) with ``UNBLOCKED the stream key no
    longer exists``."""
    message = str(exc)
    return "NOGROUP" in message or "UNBLOCKED" in message


def _field(fields: Mapping[bytes | str, bytes | str], name: str) -> bytes | str | None:
    value = fields.get(name.encode())
    return fields.get(name) if value is None else value
