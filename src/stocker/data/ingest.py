"""Ingest a source's batch: validate, land the good rows, quarantine the rest — all or nothing.

One `SourceBatch` is one PostgreSQL transaction. Per table, in `INGEST_TABLES` order:

1. validate the rows (`stocker.data.validation`; context read in this transaction, so instruments
   and corporate actions landed a moment earlier count);
2. register symbols `instrument_info` does not know yet (a minimal row, so foreign keys hold);
3. upsert the valid rows (`stocker.store.bulk.upsert`, rejects returned, not raised);
4. quarantine every reject with its raw row and every reason: rows the source could not parse,
   rows a rule refused, rows whose values the column types refused;
5. record the outcome in `ingest_batches` (one row per table, each with its own batch id).

Then, once per batch: adjusted closes are re-derived for symbols whose corporate actions changed
or whose bars came without one (`stocker.data.corporate_actions.readjust`), vendor adjusted closes
are compared with ours, and a `MarketBar` event goes to the outbox for every daily bar that was
inserted or changed. An error anywhere rolls the whole batch back: nothing lands.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, text

from stocker.core.messages import MarketBar
from stocker.store.repositories.outbox import enqueue_many
from stocker.core.adjustment import adjusted_close
from stocker.core.bar_rules import DEFAULT_JUMP_THRESHOLD
from stocker.core.errors import DataError
from stocker.data import corporate_actions
from stocker.sources.base import FetchRequest, RawReject, Source, SourceBatch
from stocker.data.validation import INGEST_TABLES, missing_adj_close, validate_rows
from stocker.store.bulk import RejectedRow, upsert
from stocker.store.quarantine import quarantine, record_batch
from stocker.store.table_info import table_info

FK_SYMBOL_TABLES = frozenset(
    {"corporate_actions", "prices_daily", "prices_intraday", "instrument_metrics"}
)
"""Tables whose `symbol` references `instrument_info`."""
SOURCE_FILLED_TABLES = frozenset(
    {"instrument_info", "corporate_actions", "prices_daily", "prices_intraday"}
)
"""Tables whose `source` column is provenance only: missing values take the batch's source."""
PROVENANCE_COLUMNS = ("source", "source_hash")
"""Columns every source fills; dropped before writing to a table that lacks them."""
PRICE_DECIMALS = 4
SMALLEST_PRICE = 10.0**-PRICE_DECIMALS
VENDOR_TOLERANCE = 1e-3
"""Relative difference beyond which a vendor's adjusted close is reported as disagreeing."""


@dataclass
class TableReport:
    """What became of one table of a batch."""

    table: str
    batch_id: uuid.UUID
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    registered_symbols: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    """How many refused rows broke each rule (`unparseable`: the source could not parse the
    row; `column_type`: the column types refused a value; else the rule code)."""


@dataclass
class IngestReport:
    """The summary of one batch: per-table counts, adjustment work, events and warnings."""

    source: str
    tables: list[TableReport] = field(default_factory=list)
    events: int = 0
    adjusted_symbols: tuple[str, ...] = ()
    adjusted_rows: int = 0
    vendor_disagreements: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Dates where a vendor's adj_close and ours differ (date, symbol, computed, vendor, …)."""
    warnings: list[str] = field(default_factory=list)

    def table(self, name: str) -> TableReport:
        for report in self.tables:
            if report.table == name:
                return report
        raise KeyError(name)

    @property
    def quarantined(self) -> int:
        return sum(report.quarantined for report in self.tables)


TableHook = Callable[[Connection, TableReport], None]


def _rule_of(reason: str) -> str:
    """The rule code a validation reason starts with (``"stale_bar: …"`` → ``stale_bar``)."""
    head, separator, _ = reason.partition(":")
    return head if separator and " " not in head else "other"


def _row_numbers(frame: pd.DataFrame) -> np.ndarray:
    """Row numbers to report per position: the frame's own integer labels when it has unique
    ones (a source may keep its file's row numbers there), else the 0-based position."""
    index = frame.index
    if pd.api.types.is_integer_dtype(index.dtype) and index.is_unique:
        return np.asarray(index, dtype=np.int64)
    return np.arange(len(frame))


def _common_hash(frame: pd.DataFrame | None) -> str | None:
    if frame is None or "source_hash" not in frame.columns:
        return None
    hashes = frame["source_hash"].dropna().unique()
    return str(hashes[0]) if len(hashes) == 1 else None


class BatchWriter:
    """Lands tables of one batch in one transaction and finishes the batch-wide work.

    `ingest` and the quarantine's `release` both go through here, so a released row meets exactly
    the rules and side effects (symbol registration, adj_close, events) of a freshly ingested one.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        source: str,
        today: date,
        jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
        description: str | None = None,
    ) -> None:
        self.conn = conn
        self.source = source
        self.today = today
        self.jump_threshold = jump_threshold
        self.description = description
        self.readjust_symbols: set[str] = set()
        self.vendor_adjusted: list[pd.DataFrame] = []
        self.changed_bars: list[pd.DataFrame] = []

    def snapshot(self) -> tuple[set[str], int, int]:
        """The batch-wide state, to undo one table's effects after rolling back a savepoint."""
        return set(self.readjust_symbols), len(self.vendor_adjusted), len(self.changed_bars)

    def restore(self, saved: tuple[set[str], int, int]) -> None:
        symbols, vendor_count, changed_count = saved
        self.readjust_symbols = set(symbols)
        del self.vendor_adjusted[vendor_count:]
        del self.changed_bars[changed_count:]

    # --- one table ------------------------------------------------------------------------------

    def land(
        self,
        table: str,
        frame: pd.DataFrame | None,
        raw_rejects: Sequence[RawReject] = (),
        *,
        keep_rejects: bool = True,
        waived: Iterable[str] = (),
    ) -> tuple[TableReport, list[RejectedRow]]:
        """Validate and land `frame` into `table`; quarantine rejects when `keep_rejects`.

        `waived` names judgment rules not to hold rows for (a reviewer's release). Returns the
        report and every reject (rule and column-type), positions into `frame`.
        """
        frame = self._with_source(table, frame if frame is not None else pd.DataFrame())
        report = TableReport(table=table, batch_id=uuid.uuid4())
        report.received = len(frame) + len(raw_rejects)
        report.reasons.update("unparseable" for _ in raw_rejects)
        rejects: list[RejectedRow] = []
        if len(frame):
            valid, rejects = validate_rows(
                self.conn,
                frame,
                table,
                self.today,
                jump_threshold=self.jump_threshold,
                waived=waived,
            )
            for reject in rejects:
                report.reasons.update({_rule_of(reason) for reason in reject.reasons})
            computed = np.zeros(len(valid), dtype=bool)
            if table == "prices_daily" and len(valid):
                valid, computed = self._complete_adj_close(valid)
            registered = self._register_symbols(table, valid)
            result = upsert(
                self.conn,
                table,
                self._stored_columns(table, valid).reset_index(drop=True),
                on_reject="return",
                return_changed=table in ("prices_daily", "corporate_actions"),
            )
            positions = valid.index.to_numpy()
            original = frame.reset_index(drop=True)
            for reject in result.rejected:
                position = int(positions[reject.row_number])
                report.reasons["column_type"] += 1
                rejects.append(
                    RejectedRow(position, original.iloc[position].to_dict(), reject.reasons)
                )
            landed = np.ones(len(valid), dtype=bool)
            landed[[reject.row_number for reject in result.rejected]] = False
            report.registered_symbols = self._unregister_unused(table, registered, valid, landed)
            report.inserted, report.updated = result.inserted, result.updated
            report.unchanged = result.unchanged
            self._after_upsert(table, valid.loc[landed], computed[landed], result.changed)
        rejects.sort(key=lambda reject: reject.row_number)
        numbers = _row_numbers(frame)
        numbered = [
            RejectedRow(int(numbers[reject.row_number]), reject.row, reject.reasons)
            for reject in rejects
        ]
        all_rejects: list[RawReject | RejectedRow] = [*raw_rejects, *numbered]
        if keep_rejects:
            report.quarantined = quarantine(
                self.conn,
                batch_id=report.batch_id,
                table=table,
                source=self.source,
                rejects=all_rejects,
                source_hash=_common_hash(frame),
            )
        self._record(report, frame)
        return report, rejects

    def _with_source(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        if table not in SOURCE_FILLED_TABLES or frame.empty:
            return frame
        if "source" not in frame.columns:
            return frame.assign(source=self.source)
        if frame["source"].isna().any():
            return frame.assign(source=frame["source"].astype(object).fillna(self.source))
        return frame

    def _stored_columns(self, table: str, valid: pd.DataFrame) -> pd.DataFrame:
        """`valid` without provenance columns the table does not have.

        Sources put `source_hash` on every row, but `instrument_metrics` and `market_sentiment`
        keep no per-row hash: there it stays in the quarantine's raw rows and in `ingest_batches`.
        """
        columns = table_info(self.conn, table).columns
        extra = [
            column for column in PROVENANCE_COLUMNS if column in valid and column not in columns
        ]
        return valid.drop(columns=extra) if extra else valid

    def _record(self, report: TableReport, frame: pd.DataFrame) -> None:
        if report.received == 0 and report.quarantined == 0:
            return
        record_batch(
            self.conn,
            batch_id=report.batch_id,
            source=self.source,
            table=report.table,
            result=SimpleNamespace(
                received=report.received,
                inserted=report.inserted,
                updated=report.updated,
                unchanged=report.unchanged,
            ),
            quarantined=report.quarantined,
            source_hash=_common_hash(frame),
            description=self.description,
        )

    def _register_symbols(self, table: str, valid: pd.DataFrame) -> list[str]:
        if table not in FK_SYMBOL_TABLES or valid.empty:
            return []
        symbols = valid["symbol"].astype(str)
        if "source_hash" in valid.columns:
            # The hash of the payload that first named the symbol, so the row is traceable too.
            hashes = valid["source_hash"].astype(object).groupby(symbols).first()
        else:
            hashes = pd.Series(None, index=sorted(set(symbols)), dtype=object)
        inserted = self.conn.execute(
            text(
                "INSERT INTO instrument_info (symbol, source, source_hash) "
                "SELECT k.symbol, :source, k.source_hash "
                "FROM unnest(CAST(:symbols AS text[]), CAST(:hashes AS text[])) "
                "AS k(symbol, source_hash) "
                "ON CONFLICT (symbol) DO NOTHING RETURNING symbol"
            ),
            {
                "symbols": [str(symbol) for symbol in hashes.index],
                "hashes": [None if pd.isna(value) else str(value) for value in hashes],
                "source": self.source,
            },
        ).scalars()
        return sorted(inserted)

    def _unregister_unused(
        self, table: str, registered: list[str], valid: pd.DataFrame, landed: np.ndarray
    ) -> list[str]:
        """Drop symbols registered for rows the column types then refused: they hold nothing."""
        if not registered:
            return []
        used = set(valid.loc[landed, "symbol"].astype(str))
        unused = [symbol for symbol in registered if symbol not in used]
        if unused:
            self.conn.execute(
                text("DELETE FROM instrument_info WHERE symbol = ANY(:symbols)"),
                {"symbols": unused},
            )
        return [symbol for symbol in registered if symbol in used]

    def _after_upsert(
        self,
        table: str,
        landed: pd.DataFrame,
        computed: np.ndarray,
        changed: pd.DataFrame | None,
    ) -> None:
        if table == "corporate_actions" and changed is not None and len(changed):
            self.readjust_symbols.update(changed["symbol"].astype(str))
        if table != "prices_daily" or landed.empty:
            return
        if changed is not None and len(changed):
            self.changed_bars.append(changed[["symbol", "date"]])
        vendor = landed.loc[~computed]
        if len(vendor):
            self.vendor_adjusted.append(vendor[["symbol", "date", "adj_close"]])

    # --- adjusted closes ------------------------------------------------------------------------

    def _complete_adj_close(self, valid: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """Fill adj_close where the vendor gave none, from stored + incoming closes and actions.

        Computed before the upsert so a reload compares equal and reports nothing changed.
        Returns the rows and which of them got a computed adj_close.
        """
        missing = missing_adj_close(valid)
        if not missing.any():
            return valid, missing
        valid = valid.copy()
        if "adj_close" not in valid.columns:
            valid["adj_close"] = None
        valid["adj_close"] = valid["adj_close"].astype(object)
        symbols = sorted(set(valid.loc[missing, "symbol"].astype(str)))
        stored = self._frame(
            "SELECT symbol, date, close FROM prices_daily WHERE symbol = ANY(:symbols)", symbols
        )
        actions = self._frame(
            "SELECT symbol, date, action_type, value FROM corporate_actions "
            "WHERE symbol = ANY(:symbols)",
            symbols,
        )
        incoming = valid.loc[valid["symbol"].isin(symbols), ["symbol", "date", "close"]]
        history = pd.concat(
            [incoming.assign(_incoming=1), stored.assign(_incoming=0)], ignore_index=True
        )
        history["close"] = pd.to_numeric(history["close"]).astype("float64")
        history = history.sort_values(["symbol", "date", "_incoming"]).drop_duplicates(
            ["symbol", "date"], keep="last"
        )
        for symbol, rows in history.groupby("symbol", sort=False):
            own = actions.loc[actions["symbol"] == symbol]
            values = adjusted_close(
                list(rows["date"]),
                rows["close"].to_numpy(),
                _pairs(own, "SPLIT"),
                _pairs(own, "DIVIDEND"),
            )
            by_date = dict(zip(rows["date"], values, strict=True))
            targets = missing & (valid["symbol"] == symbol).to_numpy()
            valid.loc[targets, "adj_close"] = [
                _stored_price(by_date[day]) for day in valid.loc[targets, "date"]
            ]
        return valid, missing

    def _frame(self, sql: str, symbols: Sequence[str]) -> pd.DataFrame:
        result = self.conn.execute(text(sql), {"symbols": list(symbols)})
        return pd.DataFrame(result.all(), columns=list(result.keys()))

    # --- once per batch -------------------------------------------------------------------------

    def finish(self, report: IngestReport, *, compare_vendor: bool = True) -> None:
        """Re-adjust, compare vendor adjustments, and enqueue events for the changed bars."""
        self.readjust_symbols.update(self._symbols_with_later_actions())
        if self.readjust_symbols:
            adjustment = corporate_actions.readjust(self.conn, sorted(self.readjust_symbols))
            report.adjusted_symbols = adjustment.changed_symbols
            report.adjusted_rows = adjustment.updated
            if adjustment.changed_keys is not None:
                # re-adjusted history changed those bars: consumers hear of them like any other
                self.changed_bars.append(adjustment.changed_keys)
        if compare_vendor and self.vendor_adjusted:
            report.vendor_disagreements = self._vendor_disagreements()
            if len(report.vendor_disagreements):
                counts = report.vendor_disagreements.groupby("symbol").size()
                report.warnings.extend(
                    f"{symbol}: vendor adj_close differs from ours on {count} date(s)"
                    for symbol, count in counts.items()
                )
        report.events = self._enqueue_bars()

    def _symbols_with_later_actions(self) -> list[str]:
        """Symbols with a corporate action after their earliest new or changed bar.

        Such an action scales that bar and everything before it, so the stored history must be
        re-derived (this also covers an action stored earlier that only now has prices after
        it). Symbols without later actions keep the vendor's adjusted closes.
        """
        if not self.changed_bars:
            return []
        changed = pd.concat(self.changed_bars, ignore_index=True)
        firsts = changed.groupby(changed["symbol"].astype(str))["date"].min()
        return list(
            self.conn.execute(
                text(
                    "SELECT DISTINCT c.symbol FROM corporate_actions c "
                    "JOIN unnest(CAST(:symbols AS text[]), CAST(:firsts AS date[])) "
                    "AS k(symbol, first) ON c.symbol = k.symbol AND c.date > k.first"
                ),
                {
                    "symbols": list(firsts.index),
                    "firsts": [pd.Timestamp(day).date() for day in firsts],
                },
            ).scalars()
        )

    def _vendor_disagreements(self) -> pd.DataFrame:
        vendor = pd.concat(self.vendor_adjusted, ignore_index=True)
        parts = []
        for symbol, rows in vendor.groupby("symbol", sort=True):
            series = pd.Series(
                pd.to_numeric(rows["adj_close"]).astype("float64").to_numpy(),
                index=pd.to_datetime(rows["date"]),
            )
            found = corporate_actions.compare_vendor_adjustment(
                self.conn, str(symbol), series, VENDOR_TOLERANCE
            )
            if len(found):
                parts.append(found)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _enqueue_bars(self) -> int:
        if not self.changed_bars:
            return 0
        keys = pd.concat(self.changed_bars, ignore_index=True)
        # bars landed by the source and bars re-adjusted afterwards overlap: one event per bar
        keys = pd.DataFrame(
            {
                "symbol": keys["symbol"].astype(str),
                "date": [pd.Timestamp(day).date() for day in keys["date"]],
            }
        ).drop_duplicates()
        rows = self.conn.execute(
            text(
                "SELECT p.symbol, p.date, p.open, p.high, p.low, p.close, p.adj_close, p.volume "
                "FROM prices_daily p JOIN unnest(CAST(:symbols AS text[]), CAST(:dates AS date[])) "
                "AS k(symbol, date) ON p.symbol = k.symbol AND p.date = k.date "
                "ORDER BY p.symbol, p.date"
            ),
            {"symbols": keys["symbol"].tolist(), "dates": keys["date"].tolist()},
        ).all()
        messages = [
            MarketBar(
                symbol=row.symbol,
                date=row.date,
                open=row.open,
                high=row.high,
                low=row.low,
                close=row.close,
                adj_close=row.adj_close,
                volume=int(row.volume),
                provider=self.source,
            )
            for row in rows
        ]
        return enqueue_many(self.conn, messages)


def _pairs(actions: pd.DataFrame, action_type: str) -> list[tuple[object, float]]:
    chosen = actions.loc[actions["action_type"] == action_type]
    return [(day, float(value)) for day, value in zip(chosen["date"], chosen["value"], strict=True)]


def _stored_price(value: float) -> Decimal:
    """A computed price as NUMERIC(14, 4) stores it (never below the smallest positive price)."""
    return Decimal(f"{max(float(value), SMALLEST_PRICE):.{PRICE_DECIMALS}f}")


def check_tables(batch: SourceBatch) -> None:
    """Refuse a batch naming a table Stocker does not ingest, before anything is written."""
    named = set(batch.frames) | {reject.table for reject in batch.rejects}
    unknown = sorted(named - set(INGEST_TABLES))
    if unknown:
        raise DataError(
            f"batch from {batch.source!r} has rows for table(s) {', '.join(unknown)}; "
            f"expected only {', '.join(INGEST_TABLES)}"
        )


def ingest(
    engine: Engine,
    batch: SourceBatch,
    *,
    today: date,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    description: str | None = None,
    on_table: TableHook | None = None,
    compare_vendor: bool = True,
) -> IngestReport:
    """Land `batch` in one transaction: valid rows, quarantine, batch rows and outbox events.

    Parameters
    ----------
    today : bars dated after it are refused (the caller's clock, so tests can fix it).
    jump_threshold : close-to-close move (0.5 = 50%) beyond which a bar needs a corporate action.
    on_table : called inside the transaction after each table lands (progress display); an
        exception it raises rolls the whole batch back.
    compare_vendor : compare vendor-supplied adjusted closes with ours and report disagreements.
    """
    check_tables(batch)
    report = IngestReport(source=batch.source, warnings=list(batch.warnings))
    unknown_symbols = getattr(batch, "unknown_symbols", None)
    if unknown_symbols:
        report.warnings.append(f"unknown to the source: {', '.join(unknown_symbols)}")
    with engine.begin() as conn:
        writer = BatchWriter(
            conn,
            source=batch.source,
            today=today,
            jump_threshold=jump_threshold,
            description=description,
        )
        for table in INGEST_TABLES:
            frame = batch.frames.get(table)
            raw_rejects = [reject for reject in batch.rejects if reject.table == table]
            if (frame is None or frame.empty) and not raw_rejects:
                continue
            table_report, _ = writer.land(table, frame, raw_rejects)
            report.tables.append(table_report)
            if on_table is not None:
                on_table(conn, table_report)
        writer.finish(report, compare_vendor=compare_vendor)
    return report


def fetch_and_ingest(
    engine: Engine,
    source: Source,
    request: FetchRequest,
    *,
    today: date,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    on_table: TableHook | None = None,
) -> IngestReport:
    """Fetch `request` from `source` and ingest what it returns (the CLI's one use case)."""
    batch = source.fetch(request)
    symbols = ", ".join(request.symbols) or "all symbols"
    description = f"{source.name} {request.interval} {symbols} {request.start}..{request.end}"
    return ingest(
        engine,
        batch,
        today=today,
        jump_threshold=jump_threshold,
        description=description[:1000],
        on_table=on_table,
    )


def summary_rows(report: IngestReport) -> Iterable[tuple[str, int, int, int, int, int]]:
    """(table, received, inserted, updated, unchanged, quarantined) per table, for display."""
    for table in report.tables:
        yield (
            table.table,
            table.received,
            table.inserted,
            table.updated,
            table.unchanged,
            table.quarantined,
        )
