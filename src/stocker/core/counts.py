"""What a write reports: the one shape every upsert, batch and report counts in."""

from __future__ import annotations

from typing import Protocol


class Counted(Protocol):
    """Rows received and what became of them (`stocker.store.bulk.UpsertResult`, reports)."""

    @property
    def received(self) -> int: ...
    @property
    def inserted(self) -> int: ...
    @property
    def updated(self) -> int: ...
    @property
    def unchanged(self) -> int: ...
