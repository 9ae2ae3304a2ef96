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

import numpy as np
import pandas as pd
from sqlalchemy import Connection, TextClause, text

from stocker.core.adjustment import adjusted_close, adjustment_disagreements
from stocker.core.errors import DataError
from stocker.store.bulk import UpsertResult, upsert

PRICE_DECIMALS = 4
SMALLEST_PRICE = 10.0**-PRICE_DECIMALS
SYMBOLS_PER_CHUNK = 250
PRICE_COLUMNS = (
    "symbol", "date", "open", "high", "low", "close", "adj_close", "volume", "source",
    "source_hash",
)  # fmt: skip

_PRICES_SQL = text(
    "SELECT symbol, date, close::float8 AS close, adj_close::text AS adj_close FROM prices_daily "
    "WHERE symbol = ANY(:symbols) ORDER BY symbol, date"
)
# Every NOT NULL column goes back with the new adj_close: PostgreSQL checks NOT NULL on the
# proposed row before it sees the conflict, so a partial row could not update an existing one.
_CHANGED_ROWS_SQL = text(
    f"""
SELECT {", ".join("bar." + column for column in PRICE_COLUMNS if column != "adj_close")},
       changed.adj_close
FROM unnest(CAST(:symbols AS text[]), CAST(:dates AS date[]), CAST(:values AS numeric[]))
     AS changed(symbol, date, adj_close)
JOIN prices_daily AS bar ON bar.symbol = changed.symbol AND bar.date = changed.date
ORDER BY bar.symbol, bar.date
"""
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
    changed_keys: pd.DataFrame | None = None
    """(symbol, date) of every bar whose adj_close was rewritten, so callers can publish them."""

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


def _frame(conn: Connection, statement: TextClause, parameters: dict) -> pd.DataFrame:
    result = conn.execute(statement, parameters)
    columns = list(result.keys())
    # Plain tuples: pandas probes each SQLAlchemy Row for namedtuple fields, which is slow.
    return pd.DataFrame([tuple(row) for row in result], columns=columns)


def _actions_for(actions: pd.DataFrame, action_type: str) -> list[tuple[date, float]]:
    chosen = actions[actions["action_type"] == action_type]
    return [(day, float(value)) for day, value in zip(chosen["date"], chosen["value"], strict=True)]


def _as_stored_text(values: np.ndarray) -> tuple[list[str], int]:
    """Adjusted closes as NUMERIC(14, 4) prints them; values rounding to zero raised to the
    column's smallest positive value (its CHECK refuses zero)."""
    texts = [f"{value:.{PRICE_DECIMALS}f}" for value in values]
    floored = 0
    for position, value in enumerate(values):
        if value < SMALLEST_PRICE / 2:
            texts[position] = f"{SMALLEST_PRICE:.{PRICE_DECIMALS}f}"
            floored += 1
    return texts, floored


def _readjust_chunk(
    conn: Connection, symbols: Sequence[str], report: AdjustmentReport
) -> pd.DataFrame | None:
    """Recompute the chunk's adjusted closes; the full rows whose adj_close changes, or None."""
    prices = _frame(conn, _PRICES_SQL, {"symbols": list(symbols)})
    actions = _frame(conn, _ACTIONS_SQL, {"symbols": list(symbols)})
    actions_by_symbol = dict(tuple(actions.groupby("symbol", sort=False))) if len(actions) else {}
    changed_symbols: list[str] = []
    changed_dates: list[date] = []
    changed_values: list[str] = []
    for symbol, rows in prices.groupby("symbol", sort=False):
        own = actions_by_symbol.get(symbol, actions.iloc[0:0])
        dates = list(rows["date"])
        computed = adjusted_close(
            dates,
            rows["close"].to_numpy(dtype=np.float64),
            _actions_for(own, "SPLIT"),
            _actions_for(own, "DIVIDEND"),
        )
        new_texts, floored = _as_stored_text(computed)
        report.floored += floored
        report.pending_actions += int((own["date"] > dates[-1]).sum()) if len(own) else 0
        report.rows += len(rows)
        differs = [
            position
            for position, (new, old) in enumerate(zip(new_texts, rows["adj_close"], strict=True))
            if new != old
        ]
        if differs:
            report.first_changed[str(symbol)] = dates[differs[0]]
            changed_symbols.extend([str(symbol)] * len(differs))
            changed_dates.extend(dates[position] for position in differs)
            changed_values.extend(new_texts[position] for position in differs)
    if not changed_symbols:
        return None
    parameters = {"symbols": changed_symbols, "dates": changed_dates, "values": changed_values}
    return _frame(conn, _CHANGED_ROWS_SQL, parameters)


def readjust(conn: Connection, symbols: Iterable[str] | None = None) -> AdjustmentReport:
    """Recompute `adj_close` of the symbols' full history and write back the rows that changed.

    Runs in the caller's transaction; `symbols=None` means every symbol with prices.
    """
    chosen = _symbol_list(conn, symbols)
    report = AdjustmentReport(symbols=tuple(chosen))
    for start in range(0, len(chosen), SYMBOLS_PER_CHUNK):
        changed = _readjust_chunk(conn, chosen[start : start + SYMBOLS_PER_CHUNK], report)
        if changed is not None:
            result = upsert(conn, "prices_daily", changed, return_changed=True)
            report.updated += result.updated + result.inserted
            if result.changed is not None and len(result.changed):
                keys = result.changed[["symbol", "date"]]
                report.changed_keys = (
                    keys
                    if report.changed_keys is None
                    else pd.concat([report.changed_keys, keys], ignore_index=True)
                )
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
    prices = _frame(conn, _PRICES_SQL, {"symbols": [symbol]})
    if through is not None:
        prices = prices[prices["date"] <= through]
    actions = _frame(conn, _ACTIONS_SQL, {"symbols": [symbol]})
    values = adjusted_close(
        list(prices["date"]),
        prices["close"].to_numpy(dtype=np.float64),
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
