"""Ingest a large file chunk by chunk in bounded memory — still all or nothing — and announce
only the bars the trading pipeline can still act on.

Every chunk of the file (`FileSource.fetch_chunks`: formats, column mapping and duplicate keys
decided once for the whole file) goes through the same `BatchWriter` as a one-piece batch, in
ONE unit of work: the transaction commits once after the last chunk, so an error in any chunk
lands nothing. Rules that need context (the previous bar of a symbol for the jump check, stored
closes for adj_close) read it inside that transaction, so they see the chunks landed before.
Each chunk is recorded as its own row of `ingest_batches`.

Events: a historical backfill must not flood the bus. A changed daily bar is published as a
`market-bars` event only when it is dated within the last `recent_sessions` weekdays up to
`today` (`publish_since`); older changed bars are stored but not announced, and the report
says how many (`events_withheld`).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stocker.core.adjustment import adjustment_disagreements
from stocker.core.rejects import Reject
from stocker.core.rules.bars import DEFAULT_JUMP_THRESHOLD
from stocker.core.symbols import checked_symbol
from stocker.core.tables import TABLES, TableSpec
from stocker.data.batch_writer import BatchWriter, unparseable
from stocker.data.counts import WriteCounts
from stocker.data.ingest import check_tables, given_symbol, with_symbol_on_rejects
from stocker.data.reports import VENDOR_TOLERANCE, IngestReport, TableReport, vendor_warnings

if TYPE_CHECKING:
    from stocker.sources.base import FetchRequest, Source, SourceBatch
    from stocker.store.uow import SqlUnitOfWork

DEFAULT_RECENT_SESSIONS = 5
"""Changed bars dated within this many weekdays up to today are announced on the bus."""

Progress = Callable[[int, int | None], None]
"""Called with (rows done, rows in the file or None while unknown), inside the transaction."""


@dataclass
class StreamReport(IngestReport):
    """An `IngestReport` of a file landed in chunks, with what was not announced and why."""

    rows: int = 0
    chunks: int = 0
    publish_since: date | None = None
    """Changed bars dated on or after this day were published; older ones were not."""
    events_withheld: int = 0
    """Changed bars dated before `publish_since`: stored, not announced (a backfill)."""


def publish_since(today: date, recent_sessions: int = DEFAULT_RECENT_SESSIONS) -> date:
    """The earliest of the last `recent_sessions` weekdays up to `today` (today included when
    it is a weekday): changed bars from then on are announced."""
    if recent_sessions < 1:
        raise ValueError(f"recent sessions {recent_sessions} is not a positive number")
    return pd.bdate_range(end=pd.Timestamp(today), periods=recent_sessions)[0].date()


def _compact(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """One frame for many, its text shared per distinct value and dates as datetime64, so
    the keys of millions of changed bars cost a few bytes each."""
    if not frames:
        return frames
    frame = pd.concat(frames, ignore_index=True)
    for column in frame.columns:
        if column == "date":
            frame[column] = pd.to_datetime(frame[column])
        elif column in {"symbol", "kept"}:
            frame[column] = frame[column].astype("category").astype(object)
        elif frame[column].dtype == object:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    return [frame]


class _ChunkWriter(BatchWriter):
    """A `BatchWriter` for many chunks: keeps its batch-wide state compact between chunks and
    announces only the bars dated on or after `since`."""

    def __init__(self, uow: SqlUnitOfWork, *, since: date, **options: Any) -> None:
        super().__init__(uow, **options)
        self.since = pd.Timestamp(since)
        self.withheld = 0
        self.plain_disagreements: list[pd.DataFrame] = []
        self._old_keys: list[np.ndarray] = []
        self._symbol_codes: dict[str, int] = {}
        self._acted: set[str] = set()
        self._earliest: pd.DataFrame | None = None

    def _after_upsert(
        self,
        spec: TableSpec,
        landed: pd.DataFrame,
        vendor: pd.DataFrame,
        changed: pd.DataFrame | None,
    ) -> None:
        """Vendor adjusted closes of symbols without any stored action are compared with the
        close at once, chunk by chunk (ours is the close there): the whole-history comparison,
        one query per symbol, is left for the few symbols with actions."""
        if spec.derives_adj_close and len(vendor):
            symbols = vendor["symbol"].astype(str)
            acted = set(self.uow.bars.actions(sorted(set(symbols.unique())))["symbol"].astype(str))
            plain = ~symbols.isin(acted).to_numpy()
            self._acted.update(symbols[~plain].unique())
            if plain.any():
                self._compare_plain(landed, vendor.loc[plain], changed)
                vendor = vendor.loc[~plain]
        super()._after_upsert(spec, landed, vendor, changed)

    def _compare_plain(
        self, landed: pd.DataFrame, vendor: pd.DataFrame, changed: pd.DataFrame | None
    ) -> None:
        if changed is None or not len(changed):
            return  # only new or changed bars are reported
        keys = ["symbol", "date"]
        # both come from one validated frame: align by its index, and keep only the rows far
        # enough apart to disagree (usually none) before any join
        close = pd.to_numeric(landed["close"].reindex(vendor.index), errors="coerce")
        adjusted = pd.to_numeric(vendor["adj_close"], errors="coerce").astype("float64")
        apart = ((adjusted - close).abs() > VENDOR_TOLERANCE * close.abs()).to_numpy()
        if not apart.any():
            return
        vendor = vendor.loc[apart]
        rows = vendor.assign(date=pd.to_datetime(vendor["date"])).merge(
            landed[[*keys, "close"]].assign(date=pd.to_datetime(landed["date"])), on=keys
        )
        fresh = changed[keys].assign(date=pd.to_datetime(changed["date"]))
        rows = rows.merge(fresh, on=keys)
        if rows.empty:
            return
        ours = rows.pivot(index="date", columns="symbol", values="close")
        theirs = rows.pivot(index="date", columns="symbol", values="adj_close")
        found = adjustment_disagreements(ours, theirs.astype("float64"), VENDOR_TOLERANCE)
        if len(found):
            kept = rows.set_index(keys)["kept"]
            found["kept"] = kept.reindex(pd.MultiIndex.from_frame(found[keys])).to_numpy()
            self.plain_disagreements.append(found)

    def finish(self, report: IngestReport, *, compare_vendor: bool = True) -> None:
        if self._earliest is not None:  # each symbol's earliest changed bar, for re-adjustment
            self._state.changed_bars.append(self._earliest)
        super().finish(report, compare_vendor=compare_vendor)
        if compare_vendor and self.plain_disagreements:
            found = pd.concat(self.plain_disagreements, ignore_index=True)
            earlier = report.vendor_disagreements
            report.vendor_disagreements = (
                found if earlier.empty else pd.concat([earlier, found], ignore_index=True)
            )
            report.warnings.extend(vendor_warnings(found))

    def compact(self) -> None:
        """Between chunks: changed bars too old to announce become one int64 each (symbol code
        and day, to count them), each symbol's earliest is kept aside (for re-adjustment) and
        the recent ones stay rows; vendor closes are stored compactly."""
        state = self._state
        if state.changed_bars:
            keys = _compact(state.changed_bars)[0]
            if keys.empty:
                return
            # symbols with actions keep every key: their vendor closes are compared at the end
            acted = keys["symbol"].isin(self._acted).to_numpy()
            old = (keys["date"] < self.since).to_numpy() & ~acted
            self._old_keys.append(self._encoded(keys.loc[old]))
            firsts = keys.loc[keys.groupby("symbol", sort=False)["date"].idxmin()]
            if self._earliest is not None:
                firsts = pd.concat([self._earliest, firsts], ignore_index=True)
                firsts = firsts.loc[firsts.groupby("symbol", sort=False)["date"].idxmin()]
            self._earliest = firsts.reset_index(drop=True)
            state.changed_bars = [keys.loc[~old]]
        state.vendor_adjusted = _compact(state.vendor_adjusted)

    def _encoded(self, keys: pd.DataFrame) -> np.ndarray:
        codes = self._symbol_codes
        for symbol in pd.unique(keys["symbol"]):
            codes.setdefault(str(symbol), len(codes))
        symbol_codes = keys["symbol"].astype(str).map(codes).to_numpy(dtype=np.int64)
        days = keys["date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
        return (symbol_codes << 32) | (days & 0xFFFFFFFF)

    def _enqueue_bars(self) -> int:
        state = self._state
        if state.changed_bars:
            keys = _compact(state.changed_bars)[0]
            old = (keys["date"] < self.since).to_numpy()
            # the keys landed from the file are distinct (repeats were refused); those that
            # finish() added (re-adjusted bars) count only when not among them
            late = np.unique(self._encoded(keys.loc[old]))
            for landed in self._old_keys:
                late = late[~np.isin(late, landed)]
            self.withheld = sum(len(landed) for landed in self._old_keys) + len(late)
            self._old_keys.clear()
            state.changed_bars = [keys.loc[~old]]
        return super()._enqueue_bars()


def prefetched(items: Iterable[Any]) -> Iterator[Any]:
    """`items`, with the next one produced in a background thread while the caller works on
    the current one: a file's next chunk is read and parsed while this one is validated and
    written (both mostly outside the GIL: Arrow, pandas kernels, the database socket).

    One item ahead at most; the producer's exception is raised here, and closing this
    generator (the caller failed) stops the producer."""
    ahead: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()
    turn = threading.Semaphore(1)  # the next item is made only once the last one is taken

    def wait_turn() -> bool:
        while not turn.acquire(timeout=0.1):
            if stop.is_set():
                return False
        return not stop.is_set()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(items)
        try:
            while wait_turn():
                try:
                    item = next(iterator)
                except StopIteration:
                    put(("done", None))
                    return
                if not put(("item", item)):
                    return
                del item
        except BaseException as error:  # handed to the consumer, raised there
            put(("error", error))

    thread = threading.Thread(target=produce, name="stocker-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = ahead.get()
            turn.release()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
            del value
    finally:
        stop.set()
        thread.join()


def _merge(into: TableReport, part: TableReport) -> None:
    for item in fields(WriteCounts):
        setattr(into, item.name, getattr(into, item.name) + getattr(part, item.name))
    into.quarantined += part.quarantined
    into.already_quarantined += part.already_quarantined
    into.reasons.update(part.reasons)
    into.registered_symbols.extend(part.registered_symbols)


@dataclass
class Chunk:
    """What a source gives per chunk (`stocker.sources.files.stream.FileChunk` has these)."""

    batch: SourceBatch
    duplicates: Sequence[Reject] = ()
    rows: int = 0


def ingest_chunks(
    uow: SqlUnitOfWork,
    source_name: str,
    chunks: Iterable[Any],
    *,
    today: date,
    total_rows: int | None = None,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    description: str | None = None,
    recent_sessions: int = DEFAULT_RECENT_SESSIONS,
    on_progress: Progress | None = None,
    warnings: Sequence[str] = (),
    symbol: str | None = None,
) -> StreamReport:
    """Land every chunk (each with `.batch`, `.duplicates`, `.rows`) in one transaction.

    `symbol` is added to the raw rows of rejects of a one-symbol file. An exception anywhere
    (a chunk that does not parse, a database error, `on_progress` raising) rolls everything
    back: nothing of the file lands.
    """
    since = publish_since(today, recent_sessions)
    report = StreamReport(source=source_name, warnings=list(warnings), publish_since=since)
    merged: dict[str, TableReport] = {}
    with uow:
        writer: _ChunkWriter | None = None
        for chunk in prefetched(chunks):
            batch = chunk.batch
            if writer is None:
                report.source = batch.source
                writer = _ChunkWriter(
                    uow,
                    since=since,
                    source=batch.source,
                    today=today,
                    jump_threshold=jump_threshold,
                    description=description,
                )
            if symbol is not None:
                batch = with_symbol_on_rejects(batch, symbol)
            check_tables(batch)
            report.warnings.extend(batch.warnings)
            if batch.unknown_symbols:
                report.warnings.append(f"unknown to the source: {', '.join(batch.unknown_symbols)}")
            for spec in TABLES.values():
                part = _land_chunk(writer, spec, batch, chunk.duplicates)
                if part is None:
                    continue
                if spec.name in merged:
                    _merge(merged[spec.name], part)
                else:
                    merged[spec.name] = part
                    report.tables.append(part)
            writer.compact()
            report.chunks += 1
            report.rows += chunk.rows
            if on_progress is not None:
                on_progress(report.rows, total_rows)
        if writer is not None:
            writer.finish(report)
            report.events_withheld = writer.withheld
        uow.commit()
    return report


def _land_chunk(
    writer: BatchWriter, spec: TableSpec, batch: SourceBatch, duplicates: Sequence[Reject]
) -> TableReport | None:
    frame = batch.frames.get(spec.name)
    early = [unparseable(reject) for reject in batch.rejects if reject.table == spec.name]
    early += [reject for reject in duplicates if reject.table == spec.name]
    early.sort(key=lambda reject: reject.row_number or 0)
    if (frame is None or frame.empty) and not early:
        return None
    table_report, _ = writer.land(spec, frame, early)
    return table_report


def fetch_and_ingest_file(
    uow: SqlUnitOfWork,
    source: Source,
    request: FetchRequest,
    *,
    today: date,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    chunk_rows: int | None = None,
    recent_sessions: int = DEFAULT_RECENT_SESSIONS,
    on_progress: Progress | None = None,
) -> StreamReport:
    """Read a file source in chunks and ingest them all in one transaction (the CLI's use case
    for `--file`); a source without chunks is one chunk."""
    request = replace(request, symbols=tuple(checked_symbol(symbol) for symbol in request.symbols))
    file_symbol = given_symbol(source)
    if on_progress is not None:
        on_progress(0, None)
    fetch_chunks = getattr(source, "fetch_chunks", None)
    if fetch_chunks is not None:
        chunks = fetch_chunks(request, chunk_rows=chunk_rows)
    else:
        batch = source.fetch(request)
        chunks = [Chunk(batch, (), sum(len(frame) for frame in batch.frames.values()))]
    total = getattr(chunks, "total_rows", None)
    symbols = ", ".join(request.symbols) or "all symbols"
    description = f"{source.name} {request.interval} {symbols} {request.start}..{request.end}"
    return ingest_chunks(
        uow,
        source.name,
        chunks,
        today=today,
        total_rows=total,
        jump_threshold=jump_threshold,
        description=description[:1000],
        recent_sessions=recent_sessions,
        on_progress=on_progress,
        symbol=file_symbol,
    )
