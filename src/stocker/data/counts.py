"""One counter for what a write did: rows received, inserted, updated, unchanged, deleted.

Every loader and refresh reports these same five numbers (summed over chunks or tables), so they
are counted here once; reports that say more extend `WriteCounts` (see `trading_universe`,
`breadth`, `price_returns`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from stocker.core.counts import Counted


@dataclass(kw_only=True)
class WriteCounts:
    """Rows received and what became of them, summed over every batch added."""

    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, result: Counted, *, deleted: int = 0) -> Self:
        """Add one batch's outcome (and the rows it deleted); returns self for chaining."""
        self.received += result.received
        self.inserted += result.inserted
        self.updated += result.updated
        self.unchanged += result.unchanged
        self.deleted += deleted
        return self

    @property
    def written(self) -> int:
        """Rows inserted or updated."""
        return self.inserted + self.updated
