"""Land Alpaca's live minute bars in `prices_intraday` as they arrive.

`stocker.sources.alpaca_stream.run_live_intraday` hands over the bars of each websocket
frame as one `prices_intraday` frame; here each frame is one ingest batch, so a live bar meets
the same rules (interval grid, session hours of the symbol's exchange, OHLC sanity, duplicates)
and the same quarantine as a bar fetched in bulk. The stream reconnects with backoff on its own;
an error while landing a batch stops it and is raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from stocker.data.ingest import TableReport, ingest
from stocker.sources.alpaca import SOURCE_NAME
from stocker.sources.alpaca_stream import run_live_intraday
from stocker.sources.base import SourceBatch

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
    engine: Engine,
    symbols: Iterable[str],
    stop_event: threading.Event,
    *,
    today: Callable[[], date] = utc_today,
    on_batch: Callable[[TableReport, LiveIntradayReport], None] | None = None,
    **stream_options: Any,
) -> LiveIntradayReport:
    """Stream minute bars for `symbols` into `prices_intraday` until `stop_event` is set.

    Parameters
    ----------
    today : the clock for the future-date rule (injected in tests).
    on_batch : called after each batch commits, with that batch's report and the totals.
    stream_options : passed to `AlpacaBarStream` (`feed`, `url`, keys, backoff bounds).
    """
    totals = LiveIntradayReport()

    def land(frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        report = ingest(
            engine,
            SourceBatch(source=SOURCE_NAME, frames={TABLE: frame}),
            today=today(),
            description=f"{SOURCE_NAME} live bars",
            compare_vendor=False,
        )
        table = report.table(TABLE)
        totals.add(table)
        totals.warnings.extend(report.warnings)
        if on_batch is not None:
            on_batch(table, totals)

    run_live_intraday(symbols, land, stop_event, **stream_options)
    return totals
