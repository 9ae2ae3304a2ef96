"""Bus message handlers, registered by message type and consumer group.

A handler is ``handler(message, uow)``: it receives the message and the consumer's unit of work,
already open in the batch's transaction (inside a savepoint of its own), and writes through the
unit of work's repositories only. It never commits: the consumer commits the batch together with
the inbox rows that make each effect exactly-once. The composition root (`stocker.bootstrap`)
builds the registry; workers ask it which handler a group runs for a stream.

A registration may also carry a *batch* handler, ``batch(messages, uow)``: the same effects as
the handler applied to each message in order, with the reads and writes shared across the batch
(one query for 500 bars instead of 500). Consumers call it on the messages of a poll that are new
to the group; when it raises they fall back to the one-message handler, a savepoint each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from stocker.core.errors import ConfigError
from stocker.core.messages import STREAMS, BusMessage

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork

Handler = Callable[[BusMessage, "SqlUnitOfWork"], None]
"""Applies one message inside the consumer's transaction (write through the unit of work only)."""
BatchHandler = Callable[[Sequence[BusMessage], "SqlUnitOfWork"], None]
"""Applies a batch of messages as the handler would one by one, in order (module docstring)."""

M = TypeVar("M", bound=BusMessage)


@dataclass(frozen=True)
class Registration:
    """One handler: the group that runs it and the message type it handles."""

    message_type: type[BusMessage]
    group: str
    handler: Handler
    batch: BatchHandler | None = None

    @property
    def stream(self) -> str:
        """The stream the message type travels on."""
        return self.message_type.stream


class HandlerRegistry:
    """Message type and consumer group → handler; one handler per (type, group)."""

    def __init__(self) -> None:
        self._handlers: dict[tuple[type[BusMessage], str], Handler] = {}
        self._batches: dict[tuple[type[BusMessage], str], BatchHandler] = {}

    def register(
        self,
        message_type: type[M],
        group: str,
        handler: Callable[[M, SqlUnitOfWork], None],
        *,
        batch: Callable[[Sequence[M], SqlUnitOfWork], None] | None = None,
    ) -> None:
        """Make `group` run `handler` on every `message_type` message (and `batch` on a poll's
        new messages, when given); a second registration is an error."""
        if STREAMS.get(getattr(message_type, "stream", "")) is not message_type:
            raise ConfigError(f"{message_type.__name__} is not a bus message type")
        if not group:
            raise ConfigError("a handler needs a consumer group name")
        key = (message_type, group)
        if key in self._handlers:
            raise ConfigError(f"group {group!r} already has a handler for {message_type.__name__}")
        self._handlers[key] = handler  # type: ignore[assignment]
        if batch is not None:
            self._batches[key] = batch  # type: ignore[assignment]

    def lookup(self, message_type: type[BusMessage], group: str) -> Handler:
        """The handler `group` runs on `message_type`; ConfigError when none is registered."""
        try:
            return self._handlers[(message_type, group)]
        except KeyError:
            raise ConfigError(
                f"no handler for {message_type.__name__} in group {group!r}; registered: "
                f"{', '.join(f'{t.__name__}/{g}' for t, g in self._handlers) or 'none'}"
            ) from None

    def registrations(self) -> list[Registration]:
        """Every registered handler, in registration order."""
        return [
            Registration(t, g, h, self._batches.get((t, g))) for (t, g), h in self._handlers.items()
        ]

    def __len__(self) -> int:
        return len(self._handlers)
