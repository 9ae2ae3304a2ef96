"""Keep `prices_daily.adj_close` derived from the stored raw closes and corporate actions.

`adj_close` is derived state: whatever a vendor sent, after `readjust` it is the back-adjusted
close of `stocker.core.adjustment` over the symbol's stored raw closes and its rows in
`corporate_actions`. A new action changes every earlier adjusted price, so `apply_new_actions`
stores actions and re-adjusts the full history of each symbol whose actions changed. Rows are
written back through the bar repository's upsert, so a re-run that changes nothing writes
nothing.

A source that ships adjusted closes but no actions would see them replaced by the raw closes:
load the actions (Yahoo gives them) and use `compare_vendor_adjustment` in the ingest summary to
see where the vendor's adjustment and ours part.

Public functions are use cases (they open the unit of work and commit); the `*_in` functions do
the same work inside a unit of work a caller already opened (ingest, quarantine release).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.adjustment import (
    adjusted_closes,
    adjustment_disagreements,
    stored_price_texts,
)
from stocker.core.errors import DataError
from stocker.core.prices import SMALLEST_PRICE, stored_price
from stocker.data.counts import WriteCounts
from stocker.data.symbols import checked_symbols

if TYPE_CHECKING:
    from stocker.store.bulk import UpsertResult
    from stocker.store.uow import SqlUnitOfWork

SYMBOLS_PER_CHUNK = 250
ACTION_COLUMNS = frozenset({"symbol", "date", "action_type", "value"})


@dataclass(kw_only=True)
class AdjustmentReport(WriteCounts):
    """What `readjust` did: rows compared (`received`) and rewritten (`updated`), and where each
    symbol first changed."""

    symbols: tuple[str, ...]
    first_changed: dict[str, date] = field(default_factory=dict)
    """Earliest date whose adj_close changed, per symbol that changed."""
    pending_actions: int = 0
    """Actions dated after a symbol's last price: they apply once a price on/after them exists."""
    floored: int = 0
    """Adjusted closes that rounded to 0.0000 and were stored as 0.0001 (the column's minimum)."""
    changed_keys: pd.DataFrame | None = None
    """(symbol, date) of every bar whose adj_close was rewritten, so callers can publish them."""

    @property
    def rows(self) -> int:
        """Rows compared."""
        return self.received

    @property
    def changed_symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self.first_changed))


@dataclass
class AppliedActions:
    """The outcome of storing new actions and re-adjusting the symbols they touched."""

    actions: UpsertResult
    adjustment: AdjustmentReport


def _readjust_chunk(uow: SqlUnitOfWork, symbols: Sequence[str], report: AdjustmentReport) -> None:
    """Recompute the chunk's adjusted closes and write back those that change."""
    prices = uow.bars.closes(symbols)
    if prices.empty:
        return
    actions = uow.bars.actions(symbols)
    computed = adjusted_closes(prices, actions).to_numpy()
    report.floored += int((computed < SMALLEST_PRICE / 2).sum())
    report.received += len(prices)
    last = prices.groupby("symbol")["date"].max()
    priced = actions.loc[actions["symbol"].isin(last.index)]
    report.pending_actions += sum(
        day > last[symbol] for symbol, day in zip(priced["symbol"], priced["date"], strict=True)
    )
    new_texts = np.asarray(stored_price_texts(computed), dtype=object)
    differs = new_texts != prices["adj_close"].to_numpy(dtype=object)
    if not differs.any():
        return
    changed = prices.loc[differs]
    for symbol, day in changed.groupby("symbol", sort=False)["date"].first().items():
        report.first_changed[str(symbol)] = day
    result = uow.bars.rewrite_adjusted_closes(
        changed["symbol"].astype(str).tolist(), list(changed["date"]), list(new_texts[differs])
    )
    report.updated += result.updated + result.inserted
    if result.changed is not None and len(result.changed):
        keys = result.changed[["symbol", "date"]]
        report.changed_keys = (
            keys
            if report.changed_keys is None
            else pd.concat([report.changed_keys, keys], ignore_index=True)
        )


def readjust_in(uow: SqlUnitOfWork, symbols: Iterable[str] | None = None) -> AdjustmentReport:
    """`readjust` inside a unit of work the caller opened (and commits)."""
    # actions may arrive before any bar: a named symbol without prices has nothing to re-adjust
    chosen = uow.bars.symbols_with_prices() if symbols is None else checked_symbols(symbols)
    report = AdjustmentReport(symbols=tuple(chosen))
    for start in range(0, len(chosen), SYMBOLS_PER_CHUNK):
        _readjust_chunk(uow, chosen[start : start + SYMBOLS_PER_CHUNK], report)
    report.unchanged = report.rows - report.updated
    return report


def readjust(uow: SqlUnitOfWork, symbols: Iterable[str] | None = None) -> AdjustmentReport:
    """Recompute `adj_close` of the symbols' full history and write back the rows that changed.

    `symbols=None` means every symbol with prices.
    """
    with uow:
        report = readjust_in(uow, symbols)
        uow.commit()
    return report


def apply_new_actions(uow: SqlUnitOfWork, actions: pd.DataFrame) -> AppliedActions:
    """Store corporate actions, then re-adjust every symbol whose actions were new or changed.

    `actions` has the `corporate_actions` columns (`symbol, date, action_type, value`, optionally
    `source, source_hash`); one row per (symbol, ex-date, action type).
    """
    missing = ACTION_COLUMNS - set(actions.columns)
    if missing:
        raise DataError(
            f"actions frame lacks column(s) {sorted(missing)}; expected symbol, date, "
            f"action_type (SPLIT or DIVIDEND) and value"
        )
    with uow:
        stored = uow.bars.upsert_actions(actions)
        changed = stored.changed
        touched = sorted(set(changed["symbol"])) if changed is not None and len(changed) else []
        applied = AppliedActions(actions=stored, adjustment=readjust_in(uow, touched))
        uow.commit()
    return applied


def _under_known_actions(bars: pd.DataFrame, actions: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Which of `rows` have a corporate action of their symbol dated after them (it scales them)."""
    if actions.empty or not rows.any():
        return np.zeros(len(bars), dtype=bool)
    last = actions.groupby(actions["symbol"].astype(str))["date"].max()
    last_dates = pd.to_datetime(bars["symbol"].astype(str).map(last))
    before = (pd.to_datetime(bars["date"]) < last_dates).to_numpy(dtype=bool)  # NaT: False
    return rows & before


def complete_adjusted_closes(
    uow: SqlUnitOfWork, bars: pd.DataFrame, missing: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """`bars` (daily rows about to land) with adj_close derived from the stored and incoming
    closes and the stored actions (incoming closes win on a shared date) where it is `missing`,
    and where the vendor gave one but a known action applies to the bar (ours is kept then, as
    `readjust` would make it; the vendor's is only compared). Returns the bars and which vendor
    values were overruled.

    Computed before the upsert so a reload compares equal and reports nothing changed.
    """
    bars = bars.copy()
    if "adj_close" not in bars.columns:
        bars["adj_close"] = None
    bars["adj_close"] = bars["adj_close"].astype(object)
    given = ~missing
    actions = uow.bars.actions(sorted(set(bars.loc[given, "symbol"].astype(str).unique())))
    overruled = _under_known_actions(bars, actions, given)
    needed = missing | overruled
    if not needed.any():
        return bars, overruled
    symbols = sorted(set(bars.loc[needed, "symbol"].astype(str)))
    stored = uow.bars.closes(symbols)[["symbol", "date", "close"]]
    incoming = bars.loc[bars["symbol"].isin(symbols), ["symbol", "date", "close"]]
    history = pd.concat(
        [incoming.assign(_incoming=1), stored.assign(_incoming=0)], ignore_index=True
    )
    history["close"] = pd.to_numeric(history["close"]).astype("float64")
    history = history.sort_values(["symbol", "date", "_incoming"]).drop_duplicates(
        ["symbol", "date"], keep="last"
    )
    history = history.reset_index(drop=True)
    values = adjusted_closes(history, uow.bars.actions(symbols))
    by_key = dict(zip(zip(history["symbol"], history["date"], strict=True), values, strict=True))
    targets = bars.loc[needed]
    filled = bars["adj_close"].to_numpy(dtype=object).copy()
    filled[needed] = [
        stored_price(by_key[(symbol, day)])
        for symbol, day in zip(targets["symbol"], targets["date"], strict=True)
    ]
    bars["adj_close"] = filled
    return bars, overruled


def computed_adjusted_close_in(
    uow: SqlUnitOfWork, symbol: str, through: date | None = None
) -> pd.Series:
    """`computed_adjusted_close` inside an open unit of work."""
    prices = uow.bars.closes([symbol])
    if through is not None:
        prices = prices[prices["date"] <= through]
    values = adjusted_closes(prices, uow.bars.actions([symbol]))
    return pd.Series(
        values.to_numpy(), index=pd.DatetimeIndex(prices["date"], name="date"), name=symbol
    )


def computed_adjusted_close(
    uow: SqlUnitOfWork, symbol: str, through: date | None = None
) -> pd.Series:
    """The adjusted close of a symbol from its stored raw closes and actions, unrounded.

    With `through`, prices after that date are left out, so the series is scaled to end at the
    raw close of `through` (as a vendor's series fetched that day would be).
    """
    with uow:
        return computed_adjusted_close_in(uow, symbol, through)


def compare_vendor_adjustment_in(
    uow: SqlUnitOfWork,
    symbol: str,
    vendor_adj_close: pd.Series,
    relative_tolerance: float = 1e-3,
) -> pd.DataFrame:
    """`compare_vendor_adjustment` inside an open unit of work."""
    vendor = pd.Series(
        np.asarray(vendor_adj_close, dtype=np.float64),
        index=pd.DatetimeIndex(pd.to_datetime(vendor_adj_close.index), name="date"),
        name=symbol,
    ).dropna()
    if vendor.empty:
        return adjustment_disagreements(pd.Series(dtype=np.float64, name=symbol), vendor)
    ours = computed_adjusted_close_in(uow, symbol, through=vendor.index.max().date())
    return adjustment_disagreements(ours, vendor, relative_tolerance)


def compare_vendor_adjustment(
    uow: SqlUnitOfWork,
    symbol: str,
    vendor_adj_close: pd.Series,
    relative_tolerance: float = 1e-3,
) -> pd.DataFrame:
    """Dates where a vendor's adjusted close of `symbol` differs from ours beyond the tolerance.

    Ours is computed from the stored raw closes and actions up to the vendor's last date, so both
    series are scaled to the same final close. Returns the rows of
    `stocker.core.adjustment.adjustment_disagreements` (`date, symbol, computed, vendor,
    relative_difference`); empty when they agree.
    """
    with uow:
        return compare_vendor_adjustment_in(uow, symbol, vendor_adj_close, relative_tolerance)
