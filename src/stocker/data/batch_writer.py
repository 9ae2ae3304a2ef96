"""Land the tables of one batch in an open unit of work, then do the batch-wide work once.

Per table (dispatching on its `TableSpec`, never on its name):

1. validate the rows (`stocker.data.validation`; context read in this transaction, so instruments
   and corporate actions landed a moment earlier count);
2. register symbols `instrument_info` does not know yet (a minimal row, so foreign keys hold);
3. upsert the valid rows (rejects returned, not raised);
4. quarantine every reject with its raw row and every reason: rows the source could not parse,
   rows a rule refused, rows whose values the column types refused; once per payload, so a
   re-run of the same file keeps nothing twice (`quarantined` counts the rows kept now,
   `already_quarantined` the refused rows it found kept before);
5. record the outcome in `ingest_batches` (one row per table, each with its own batch id).

Then, once per batch (`finish`): adjusted closes are re-derived for symbols whose corporate
actions changed or whose bars came without one (`stocker.data.corporate_actions`), vendor
adjusted closes are compared with ours, and a `MarketBar` event goes to the outbox for every
daily bar that was inserted or changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from stocker.core.messages import MarketBar
from stocker.core.prices import rounded_apart
from stocker.core.rejects import COLUMN_TYPE, UNPARSEABLE, Reason, Reject
from stocker.core.rules.bars import DEFAULT_JUMP_THRESHOLD
from stocker.core.rules.common import distinct_normalized_symbols
from stocker.core.tables import PROVENANCE_COLUMNS, TableSpec
from stocker.data import corporate_actions
from stocker.data.reports import VENDOR_TOLERANCE, IngestReport, TableReport, vendor_warnings
from stocker.data.validation import missing_adj_close, validate_rows

if TYPE_CHECKING:
    from stocker.store.bulk import UpsertResult
    from stocker.store.uow import SqlUnitOfWork


class RowWriter(Protocol):
    """The repository that lands a table's validated rows (`BarRepository`,
    `InstrumentRepository`)."""

    def land(
        self,
        table: str,
        rows: pd.DataFrame,
        *,
        key: Sequence[str],
        return_changed: bool,
        provenance: Sequence[str] = (),
    ) -> UpsertResult: ...


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


def _one_rounding(bars: pd.DataFrame, vendor: np.ndarray) -> pd.DataFrame:
    """`bars` with a vendor's adjusted close that is its close carried to another fifth decimal
    replaced by the close, so both are stored by one rounding and a bar no action touches has
    adj_close == close exactly (not 101.1235 against 101.1234)."""
    if not vendor.any():
        return bars
    same = vendor & rounded_apart(
        pd.to_numeric(bars["close"], errors="coerce"),
        pd.to_numeric(bars["adj_close"], errors="coerce"),
    )
    if not same.any():
        return bars
    bars = bars.copy()
    adjusted = bars["adj_close"].to_numpy(dtype=object).copy()
    adjusted[same] = bars["close"].to_numpy(dtype=object)[same]
    bars["adj_close"] = adjusted
    return bars


class SourceReject(Protocol):
    """A row a source refused while parsing (`stocker.sources.base.RawReject` or a `Reject`)."""

    @property
    def table(self) -> str: ...
    @property
    def raw_row(self) -> Mapping[Any, object]: ...
    @property
    def reasons(self) -> Sequence[str | Reason]: ...
    @property
    def row_number(self) -> int | None: ...


def unparseable(reject: SourceReject) -> Reject:
    """A row a source could not parse as a `Reject`: reasons the source wrote as text are kept in
    its own words under the rule `unparseable`; `Reason`s keep their rule."""
    reasons = tuple(
        reason if isinstance(reason, Reason) else Reason.verbatim(UNPARSEABLE, reason)
        for reason in reject.reasons
    )
    return Reject(reject.table, reject.row_number, reject.raw_row, reasons)


@dataclass
class _BatchState:
    """What the batch-wide work needs, gathered table by table (undone with a table's savepoint)."""

    readjust_symbols: set[str] = field(default_factory=set)
    vendor_adjusted: list[pd.DataFrame] = field(default_factory=list)
    changed_bars: list[pd.DataFrame] = field(default_factory=list)

    def copy(self) -> _BatchState:
        return _BatchState(
            set(self.readjust_symbols), list(self.vendor_adjusted), list(self.changed_bars)
        )


class BatchWriter:
    """Lands tables of one batch in an open unit of work and finishes the batch-wide work.

    `ingest` and the quarantine's `release` both go through here, so a released row meets exactly
    the rules and side effects (symbol registration, adj_close, events) of a freshly ingested one.
    The caller owns the transaction (`with uow: … writer.finish(report); uow.commit()`).
    """

    def __init__(
        self,
        uow: SqlUnitOfWork,
        *,
        source: str,
        today: date,
        jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
        description: str | None = None,
    ) -> None:
        self.uow = uow
        self.source = source
        self.today = today
        self.jump_threshold = jump_threshold
        self.description = description
        self._state = _BatchState()

    def _writer(self, spec: TableSpec) -> RowWriter:
        bars = self.uow.bars
        return bars if spec.name in bars.tables else self.uow.instruments

    # --- one table ------------------------------------------------------------------------------

    def land(
        self,
        spec: TableSpec,
        frame: pd.DataFrame | None,
        early_rejects: Sequence[Reject] = (),
        *,
        keep_rejects: bool = True,
        waived: Iterable[str] = (),
        received: int | None = None,
        source_hash: str | None = None,
    ) -> tuple[TableReport, list[Reject]]:
        """Validate and land `frame` into `spec`'s table; quarantine rejects when `keep_rejects`.

        `early_rejects` are rows refused before validation (by the source, or a pre-step such as
        sentiment's article checks); `received` overrides the count of rows received (default:
        rows of `frame` plus early rejects). `waived` names judgment rules not to hold rows for
        (a reviewer's release); `source_hash` names the payload when the rows do not. Returns
        the report and every reject of `frame` (rule and column type), numbered as positions
        into `frame`.
        """
        frame = self._with_source(spec, frame if frame is not None else pd.DataFrame())
        report = TableReport(table=spec.name)
        report.received = len(frame) + len(early_rejects) if received is None else received
        for early in early_rejects:
            report.reasons.update(early.rules)
        rejects: list[Reject] = []
        if len(frame):
            rejects = self._land_valid(spec, frame, report, waived)
        rejects.sort(key=lambda reject: reject.row_number or 0)
        numbers = _row_numbers(frame)
        numbered = [
            Reject(spec.name, int(numbers[reject.row_number or 0]), reject.raw_row, reject.reasons)
            for reject in rejects
        ]
        payload = source_hash or _common_hash(frame)
        if keep_rejects:
            refused = [*early_rejects, *numbered]
            report.quarantined = self.uow.quarantine.add(
                refused,
                batch_id=report.batch_id,
                table=spec.name,
                source=self.source,
                key=spec.key,
                source_hash=payload,
                skip_kept=True,
            )
            report.already_quarantined = len(refused) - report.quarantined
        self._record(report, payload)
        return report, rejects

    def _land_valid(
        self, spec: TableSpec, frame: pd.DataFrame, report: TableReport, waived: Iterable[str]
    ) -> list[Reject]:
        valid, rejects = validate_rows(
            self.uow, frame, spec, self.today, jump_threshold=self.jump_threshold, waived=waived
        )
        for reject in rejects:
            report.reasons.update(reject.rules)
        if "symbol" in valid.columns and len(valid):
            # stored as the rules compared it: `ＡＡＰＬ` lands as AAPL, not as a look-alike
            valid["symbol"] = distinct_normalized_symbols(valid["symbol"])
        computed = np.zeros(len(valid), dtype=bool)
        overruled = np.zeros(len(valid), dtype=bool)
        vendor_values = pd.Series(np.nan, index=valid.index, dtype=object)
        if spec.derives_adj_close and len(valid):
            computed = missing_adj_close(valid)
            if "adj_close" in valid.columns:
                vendor_values = valid["adj_close"].astype(object)
            valid, overruled = corporate_actions.complete_adjusted_closes(self.uow, valid, computed)
            valid = _one_rounding(valid, ~computed & ~overruled)
        registered = self._register_symbols(spec, valid)
        result = self._writer(spec).land(
            spec.name,
            self._stored_columns(spec, valid).reset_index(drop=True),
            key=spec.key,
            return_changed=spec.publishes_bars or spec.adjusts_prices,
            provenance=spec.provenance,
        )
        positions = valid.index.to_numpy()
        original = frame.reset_index(drop=True)
        for refused in result.rejected:
            position = int(positions[refused.row_number])
            report.reasons[COLUMN_TYPE] += 1
            reasons = tuple(Reason.verbatim(COLUMN_TYPE, text) for text in refused.reasons)
            rejects.append(Reject(spec.name, position, original.iloc[position].to_dict(), reasons))
        landed = np.ones(len(valid), dtype=bool)
        landed[[refused.row_number for refused in result.rejected]] = False
        report.registered_symbols = self._unregister_unused(registered, valid, landed)
        report.inserted, report.updated = result.inserted, result.updated
        report.unchanged = result.unchanged
        given = landed & ~computed & spec.derives_adj_close
        vendor = valid.loc[given, [column for column in spec.key if column in valid]].assign(
            adj_close=vendor_values[given], kept=np.where(overruled[given], "stocker", "vendor")
        )
        self._after_upsert(spec, valid.loc[landed], vendor, result.changed)
        return rejects

    def _with_source(self, spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
        if not spec.source_from_batch or frame.empty:
            return frame
        if "source" not in frame.columns:
            return frame.assign(source=self.source)
        if frame["source"].isna().any():
            return frame.assign(source=frame["source"].astype(object).fillna(self.source))
        return frame

    @staticmethod
    def _stored_columns(spec: TableSpec, valid: pd.DataFrame) -> pd.DataFrame:
        """`valid` without provenance columns the table does not store.

        Sources put `source_hash` on every row, but `instrument_metrics` and `market_sentiment`
        keep no per-row hash: there it stays in the quarantine's raw rows and in `ingest_batches`.
        """
        extra = [c for c in PROVENANCE_COLUMNS if c in valid and c not in spec.provenance]
        return valid.drop(columns=extra) if extra else valid

    def _record(self, report: TableReport, source_hash: str | None) -> None:
        if report.received == 0 and report.quarantined == 0:
            return
        self.uow.quarantine.record_batch(
            report,
            batch_id=report.batch_id,
            source=self.source,
            table=report.table,
            quarantined=report.quarantined,
            source_hash=source_hash,
            description=self.description,
        )

    def _register_symbols(self, spec: TableSpec, valid: pd.DataFrame) -> list[str]:
        if not spec.registers_symbols or valid.empty:
            return []
        symbols = valid["symbol"].astype(str)
        if "source_hash" in valid.columns:
            # The hash of the payload that first named the symbol, so the row is traceable too.
            hashes = valid["source_hash"].astype(object).groupby(symbols).first()
        else:
            hashes = pd.Series(None, index=sorted(set(symbols)), dtype=object)
        return self.uow.instruments.register(
            [str(symbol) for symbol in hashes.index],
            [None if pd.isna(value) else str(value) for value in hashes],
            source=self.source,
        )

    def _unregister_unused(
        self, registered: list[str], valid: pd.DataFrame, landed: np.ndarray
    ) -> list[str]:
        """Drop symbols registered for rows the column types then refused: they hold nothing."""
        if not registered:
            return []
        used = set(valid.loc[landed, "symbol"].astype(str).unique())
        self.uow.instruments.unregister([symbol for symbol in registered if symbol not in used])
        return [symbol for symbol in registered if symbol in used]

    def _after_upsert(
        self,
        spec: TableSpec,
        landed: pd.DataFrame,
        vendor: pd.DataFrame,
        changed: pd.DataFrame | None,
    ) -> None:
        """Note what the batch-wide work needs: symbols to re-adjust, changed bars (events) and
        the vendor's adjusted closes as sent (symbol, date, adj_close, kept: whose value was
        stored) for the comparison."""
        state = self._state
        if spec.adjusts_prices and changed is not None and len(changed):
            state.readjust_symbols.update(changed["symbol"].astype(str))
        if not spec.publishes_bars or landed.empty:
            return
        if changed is not None and len(changed):
            state.changed_bars.append(changed[["symbol", "date"]])
        if spec.derives_adj_close and len(vendor):
            state.vendor_adjusted.append(vendor)

    def land_or_undo(
        self,
        spec: TableSpec,
        frame: pd.DataFrame,
        *,
        waived: Iterable[str] = (),
    ) -> tuple[TableReport | None, list[Reject]]:
        """Land `frame` only if every row passes: otherwise undo its writes (a savepoint) and
        return the rejects. Nothing is quarantined (a reviewer's release)."""
        saved = self._state.copy()
        try:
            with self.uow.savepoint():
                report, rejects = self.land(spec, frame, keep_rejects=False, waived=waived)
                if rejects:
                    raise _UndoTableError(rejects)
        except _UndoTableError as undo:
            self._state = saved
            return None, undo.rejects
        except Exception:
            self._state = saved
            raise
        return report, []

    # --- once per batch -------------------------------------------------------------------------

    def finish(self, report: IngestReport, *, compare_vendor: bool = True) -> None:
        """Re-adjust, compare vendor adjustments, and enqueue events for the changed bars."""
        state = self._state
        state.readjust_symbols.update(self._symbols_with_later_actions())
        if state.readjust_symbols:
            adjustment = corporate_actions.readjust_in(self.uow, sorted(state.readjust_symbols))
            report.adjusted_symbols = adjustment.changed_symbols
            report.adjusted_rows = adjustment.updated
            if adjustment.changed_keys is not None:
                # re-adjusted history changed those bars: consumers hear of them like any other
                state.changed_bars.append(adjustment.changed_keys)
        if compare_vendor and state.vendor_adjusted:
            report.vendor_disagreements = self._vendor_disagreements()
            report.warnings.extend(vendor_warnings(report.vendor_disagreements))
        report.events = self._enqueue_bars()

    def _symbols_with_later_actions(self) -> list[str]:
        """Symbols with a corporate action after their earliest new or changed bar.

        Such an action scales that bar and everything before it, so the stored history must be
        re-derived (this also covers an action stored earlier that only now has prices after
        it). Symbols without later actions keep the vendor's adjusted closes.
        """
        if not self._state.changed_bars:
            return []
        changed = pd.concat(self._state.changed_bars, ignore_index=True)
        firsts = changed.groupby(changed["symbol"].astype(str))["date"].min()
        return self.uow.bars.symbols_with_actions_after(
            {str(symbol): pd.Timestamp(day).date() for symbol, day in firsts.items()}
        )

    def _vendor_disagreements(self) -> pd.DataFrame:
        """Where the vendor's adjusted close and ours differ, on bars new or changed in this
        batch (ours re-derived included): a reload that changes nothing reports nothing again.

        The whole vendor series is compared (ours is scaled to its last date), then only the
        changed bars are kept, with `kept` saying whose value is stored."""
        vendor = pd.concat(self._state.vendor_adjusted, ignore_index=True)
        changed = _bar_keys(self._state.changed_bars)
        parts = []
        for symbol, rows in vendor.groupby("symbol", sort=True):
            series = pd.Series(
                pd.to_numeric(rows["adj_close"]).astype("float64").to_numpy(),
                index=pd.to_datetime(rows["date"]),
            )
            found = corporate_actions.compare_vendor_adjustment_in(
                self.uow, str(symbol), series, VENDOR_TOLERANCE
            )
            if not len(found):
                continue
            kept = dict(zip(pd.to_datetime(rows["date"]).dt.date, rows["kept"], strict=True))
            days = [pd.Timestamp(day).date() for day in found["date"]]
            found = found.assign(kept=[kept.get(day, "stocker") for day in days])
            fresh = [(str(symbol), day) in changed for day in days]
            if any(fresh):
                parts.append(found.loc[fresh])
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def _enqueue_bars(self) -> int:
        if not self._state.changed_bars:
            return 0
        keys = pd.concat(self._state.changed_bars, ignore_index=True)
        # bars landed by the source and bars re-adjusted afterwards overlap: one event per bar
        keys = pd.DataFrame(
            {
                "symbol": keys["symbol"].astype(str),
                "date": [pd.Timestamp(day).date() for day in keys["date"]],
            }
        ).drop_duplicates()
        bars = self.uow.bars.daily_bars(keys["symbol"].tolist(), keys["date"].tolist())
        messages = [
            MarketBar(
                symbol=row.symbol,
                date=row.date,
                open=row.open,
                high=row.high,
                low=row.low,
                close=row.close,
                adj_close=row.adj_close,
                volume=row.volume,
                provider=self.source,
            )
            for row in bars
        ]
        return self.uow.outbox.add_many(messages)


def _bar_keys(frames: Sequence[pd.DataFrame]) -> set[tuple[str, date]]:
    """(symbol, date) of every bar in `frames` (dates as `datetime.date`)."""
    keys: set[tuple[str, date]] = set()
    for frame in frames:
        keys.update(
            (str(symbol), pd.Timestamp(day).date())
            for symbol, day in zip(frame["symbol"], frame["date"], strict=True)
        )
    return keys


class _UndoTableError(Exception):
    """Raised inside a savepoint to roll back a table whose rows did not all pass."""

    def __init__(self, rejects: list[Reject]) -> None:
        super().__init__(f"{len(rejects)} row(s) refused")
        self.rejects = rejects
