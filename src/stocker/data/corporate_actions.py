"""Keep `prices_daily.adj_close` derived from the stored raw closes and corporate actions.

`adj_close` is derived state: whatever a vendor sent, after `readjust` it is the back-adjusted
close of `stocker.core.adjustment` over the symbol's stored raw closes and its rows in
`corporate_actions`. A new action changes every earlier adjusted price, so `apply_new_actions`
stores actions and re-adjusts the full history of each symbol whose actions changed. Rows are
written back with `stocker.store.bulk.upsert`, so a re-run that changes nothing writes nothing.

A source that ships adjusted closes but no actions would see them replaced by the raw closes:
load the actions (Yahoo gives them) and use `compare_vendor_adjustment` in the ingest summary to
see where the vendor's adjustment and ours part.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from stocker.core.adjustment import adjusted_close, adjustment_disagreements
from stocker.core.errors import DataError
from stocker.store.bulk import UpsertResult, upsert

PRICE_DECIMALS = 4
SMALLEST_PRICE = Decimal(1).scaleb(-PRICE_DECIMALS)
SYMBOLS_PER_CHUNK = 250
PRICE_COLUMNS = (
    "symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source",
    "source_hash",
)  # fmt: skip
# Every NOT NULL column goes back with the new adj_close: PostgreSQL checks NOT NULL on the
# proposed row before it sees the conflict, so a partial row could not update an existing one.

_PRICES_SQL = text(
    f"SELECT {', '.join(PRICE_COLUMNS)} FROM prices_daily "
    "WHERE symbol = ANY(:symbols) ORDER BY symbol, date"
)
_ACTIONS_SQL = text(
    "SELECT symbol, date, action_type, value FROM corporate_actions "
    "WHERE symbol = ANY(:symbols) ORDER BY symbol, date"
)
_ALL_PRICE_SYMBOLS_SQL = text("SELECT DISTINCT symbol FROM prices_daily ORDER BY symbol")


@dataclass
class AdjustmentReport:
    """What `readjust` did: rows compared and rewritten, and where each symbol first changed."""

    symbols: tuple[str, ...]
    rows: int = 0
    updated: int = 0
    unchanged: int = 0
    first_changed: dict[str, date] = field(default_factory=dict)
    """Earliest date whose adj_close changed, per symbol that changed."""
    pending_actions: int = 0
    """Actions dated after a symbol's last price: they apply once a price on/after them exists."""
    floored: int = 0
    """Adjusted closes that rounded to 0.0000 and were stored as 0.0001 (the column's minimum)."""

    @property
    def changed_symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self.first_changed))


@dataclass
class AppliedActions:
    """The outcome of storing new actions and re-adjusting the symbols they touched."""

    actions: UpsertResult
    adjustment: AdjustmentReport


def _symbol_list(conn: Connection, symbols: Iterable[str] | None) -> list[str]:
    if symbols is None:
        return list(conn.execute(_ALL_PRICE_SYMBOLS_SQL).scalars())
    if isinstance(symbols, str):
        raise DataError(f"symbols is the string {symbols!r}; expected a list of symbols")
    return sorted(set(symbols))


def _frame(conn: Connection, statement: text, symbols: Sequence[str]) -> pd.DataFrame:
    result = conn.execute(statement, {"symbols": list(symbols)})
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _actions_for(actions: pd.DataFrame, action_type: str) -> list[tuple[date, float]]:
    chosen = actions[actions["action_type"] == action_type]
    return [(day, float(value)) for day, value in zip(chosen["date"], chosen["value"], strict=True)]


def _stored_prices(values: np.ndarray) -> tuple[list[Decimal], int]:
    """Adjusted closes as the NUMERIC(14, 4) column stores them; zeros raised to the minimum."""
    stored = [Decimal(f"{value:.{PRICE_DECIMALS}f}") for value in values]
    floored = 0
    for position, value in enumerate(stored):
        if value <= 0:
            stored[position] = SMALLEST_PRICE
            floored += 1
    return stored, floored


def _readjust_chunk(
    conn: Connection, symbols: Sequence[str], report: AdjustmentReport
) -> list[pd.DataFrame]:
    prices = _frame(conn, _PRICES_SQL, symbols)
    actions = _frame(conn, _ACTIONS_SQL, symbols)
    actions_by_symbol = dict(tuple(actions.groupby("symbol", sort=False))) if len(actions) else {}
    changed_parts: list[pd.DataFrame] = []
    for symbol, rows in prices.groupby("symbol", sort=False):
        own = actions_by_symbol.get(symbol, actions.iloc[0:0])
        dates = list(rows["date"])
        computed = adjusted_close(
            dates,
            rows["close"].astype(np.float64).to_numpy(),
            _actions_for(own, "SPLIT"),
            _actions_for(own, "DIVIDEND"),
        )
        new_values, floored = _stored_prices(computed)
        report.floored += floored
        report.pending_actions += int((own["date"] > dates[-1]).sum()) if len(own) else 0
        differs = np.fromiter(
            (new != old for new, old in zip(new_values, rows["adj_close"], strict=True)),
            dtype=bool,
            count=len(rows),
        )
        report.rows += len(rows)
        if differs.any():
            changed = rows.loc[differs].copy()
            changed["adj_close"] = [new_values[position] for position in np.flatnonzero(differs)]
            changed_parts.append(changed)
            report.first_changed[str(symbol)] = changed["date"].iloc[0]
    return changed_parts


def readjust(conn: Connection, symbols: Iterable[str] | None = None) -> AdjustmentReport:
    """Recompute `adj_close` of the symbols' full history and write back the rows that changed.

    Runs in the caller's transaction; `symbols=None` means every symbol with prices.
    """
    chosen = _symbol_list(conn, symbols)
    report = AdjustmentReport(symbols=tuple(chosen))
    for start in range(0, len(chosen), SYMBOLS_PER_CHUNK):
        parts = _readjust_chunk(conn, chosen[start : start + SYMBOLS_PER_CHUNK], report)
        if parts:
            result = upsert(conn, "prices_daily", pd.concat(parts, ignore_index=True))
            report.updated += result.updated + result.inserted
    report.unchanged = report.rows - report.updated
    return report


def apply_new_actions(conn: Connection, actions: pd.DataFrame) -> AppliedActions:
    """Store corporate actions, then re-adjust every symbol whose actions were new or changed.

    `actions` has the `corporate_actions` columns (`symbol, date, action_type, value`, optionally
    `source, source_hash`); one row per (symbol, ex-date, action type).
    """
    missing = {"symbol", "date", "action_type", "value"} - set(actions.columns)
    if missing:
        raise DataError(
            f"actions frame lacks column(s) {sorted(missing)}; expected symbol, date, "
            f"action_type (SPLIT or DIVIDEND) and value"
        )
    stored = upsert(conn, "corporate_actions", actions, return_changed=True)
    changed = stored.changed
    touched = sorted(set(changed["symbol"])) if changed is not None and len(changed) else []
    return AppliedActions(actions=stored, adjustment=readjust(conn, touched))


def computed_adjusted_close(
    conn: Connection, symbol: str, through: date | None = None
) -> pd.Series:
    """The adjusted close of a symbol from its stored raw closes and actions, unrounded.

    With `through`, prices after that date are left out, so the series is scaled to end at the
    raw close of `through` (as a vendor's series fetched that day would be).
    """
    prices = _frame(conn, _PRICES_SQL, [symbol])
    if through is not None:
        prices = prices[prices["date"] <= through]
    actions = _frame(conn, _ACTIONS_SQL, [symbol])
    values = adjusted_close(
        list(prices["date"]),
        prices["close"].astype(np.float64).to_numpy(),
        _actions_for(actions, "SPLIT"),
        _actions_for(actions, "DIVIDEND"),
    )
    return pd.Series(values, index=pd.DatetimeIndex(prices["date"], name="date"), name=symbol)


def compare_vendor_adjustment(
    conn: Connection,
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
    vendor = pd.Series(
        np.asarray(vendor_adj_close, dtype=np.float64),
        index=pd.DatetimeIndex(pd.to_datetime(vendor_adj_close.index), name="date"),
        name=symbol,
    ).dropna()
    if vendor.empty:
        return adjustment_disagreements(pd.Series(dtype=np.float64, name=symbol), vendor)
    ours = computed_adjusted_close(conn, symbol, through=vendor.index.max().date())
    return adjustment_disagreements(ours, vendor, relative_tolerance)
