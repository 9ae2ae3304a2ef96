"""Land a live feed's bars in `prices_intraday` as they arrive.

The feed (a `stocker.sources.base.LiveBarFeed`, chosen by the composition root: today
Alpaca's stream) hands over the bars of each vendor frame as one `prices_intraday` frame; here
each frame is one ingest batch in its own transaction, so a live bar meets the same rules
(interval grid, session hours of the symbol's exchange, OHLC sanity, duplicates) and the same
quarantine as a bar fetched in bulk. The feed reconnects on its own; an error while landing a
batch stops it and is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pandas as pd

from stocker.data.ingest import TableReport, ingest
from stocker.sources.base import SourceBatch

if TYPE_CHECKING:
    from stocker.sources.base import LiveBarFeed
    from stocker.store.uow import SqlUnitOfWork

TABLE = "prices_intraday"


def utc_today() -> date:
    """Today's date in UTC: live bars are stamped in UTC, so their future check uses it too."""
    return datetime.now(UTC).date()


@dataclass
class LiveIntradayReport:
    """Running totals over the batches landed so far."""

    batches: int = 0
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, table: TableReport) -> None:
        self.batches += 1
        self.received += table.received
        self.inserted += table.inserted
        self.updated += table.updated
        self.unchanged += table.unchanged
        self.quarantined += table.quarantined


def stream_intraday_bars(
    uow: SqlUnitOfWork,
    feed: LiveBarFeed,
    symbols: Iterable[str],
    stop_event: threading.Event,
    *,
    today: Callable[[], date] = utc_today,
    on_batch: Callable[[TableReport, LiveIntradayReport], None] | None = None,
) -> LiveIntradayReport:
    """Stream `feed`'s bars for `symbols` into `prices_intraday` until `stop_event` is set.

    Parameters
    ----------
    uow : each batch lands in a transaction of its own on it (see `stocker.data.ingest`).
    feed : the live bar feed, its vendor options (feed, URL, keys) already set.
    today : the clock for the future-date rule (injected in tests).
    on_batch : called after each batch commits, with that batch's report and the totals.
    """
    totals = LiveIntradayReport()

    def land(frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        report = ingest(
            uow,
            SourceBatch(source=feed.name, frames={TABLE: frame}),
            today=today(),
            description=f"{feed.name} live bars",
            compare_vendor=False,
        )
        table = report.table(TABLE)
        totals.add(table)
        totals.warnings.extend(report.warnings)
        if on_batch is not None:
            on_batch(table, totals)

    feed.run(symbols, land, stop_event)
    return totals
