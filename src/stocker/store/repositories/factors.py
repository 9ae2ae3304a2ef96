"""Factor exposures and the per-symbol risk model, per as-of date; and the point-in-time
fundamentals they are computed from (the `fundamentals_snapshot` view)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, text

from stocker.store.bulk import UpsertResult, upsert

SNAPSHOT_NUMERIC = (
    "market_cap", "pe", "pb", "ps", "roe", "roce", "debt_to_equity", "sales_growth_yoy",
    "profit_growth_yoy", "eps_growth_3y", "operating_margin", "net_margin", "interest_coverage",
    "promoter_holding", "fii_holding", "dii_holding",
)  # fmt: skip
SNAPSHOT_TEXT = ("sector", "industry", "period_type", "source")
SNAPSHOT_COLUMNS = ("symbol", "as_of_date", *SNAPSHOT_NUMERIC, *SNAPSHOT_TEXT)
EXPOSURE_COLUMNS = ("value", "quality", "momentum", "low_vol", "size", "composite_score")
RISK_COLUMNS = ("volatility", "beta", "tail_beta", "skew", "kurtosis")

_SELECTED = ", ".join(
    ["symbol", "as_of_date"] + [f"{name}::float8 AS {name}" for name in SNAPSHOT_NUMERIC]
    + list(SNAPSHOT_TEXT)
)  # fmt: skip
_AS_OF_SQL = text(
    f"SELECT DISTINCT ON (symbol) {_SELECTED} FROM fundamentals_snapshot "
    "WHERE symbol = ANY(:symbols) AND as_of_date <= :day ORDER BY symbol, as_of_date DESC"
)
_UNTIL_SQL = text(
    f"SELECT {_SELECTED} FROM fundamentals_snapshot "
    "WHERE symbol = ANY(:symbols) AND as_of_date <= :day "
    "AND (CAST(:since AS date) IS NULL OR as_of_date >= :since) ORDER BY symbol, as_of_date"
)
_LATEST_BEFORE_SQL = text(
    f"SELECT DISTINCT ON (symbol) {_SELECTED} FROM fundamentals_snapshot "
    "WHERE symbol = ANY(:symbols) AND as_of_date < :since ORDER BY symbol, as_of_date DESC"
)
_TABLES = {"factor_exposures": EXPOSURE_COLUMNS, "risk_model": RISK_COLUMNS}


def _snapshots(rows: Sequence[Any]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(SNAPSHOT_COLUMNS))
    for name in SNAPSHOT_NUMERIC:
        frame[name] = frame[name].astype("float64")
    return frame


class FactorRepository:
    """factor_exposures and risk_model, and point-in-time reads of fundamentals_snapshot."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- fundamentals, point in time -------------------------------------------------------------

    def fundamentals_as_of(self, day: dt.date, symbols: Sequence[str]) -> pd.DataFrame:
        """Per symbol, the latest snapshot with ``as_of_date <= day``: what was known on `day`.

        A restatement stored as a later snapshot is invisible here until its own date. Symbols
        without any such snapshot are absent. Columns `SNAPSHOT_COLUMNS`, ordered by symbol.
        """
        rows = self._conn.execute(_AS_OF_SQL, {"symbols": list(symbols), "day": day}).all()
        return _snapshots(rows)

    def fundamentals_between(
        self, start: dt.date, end: dt.date, symbols: Sequence[str]
    ) -> pd.DataFrame:
        """Every snapshot a date of [start, end] can see: the latest before `start` per symbol
        and all those dated in [start, end] (none after `end`), ordered by symbol and date."""
        parameters = {"symbols": list(symbols), "day": end, "since": start}
        before = self._conn.execute(_LATEST_BEFORE_SQL, parameters).all()
        within = self._conn.execute(_UNTIL_SQL, parameters).all()
        frame = _snapshots([*before, *within])
        return frame.sort_values(["symbol", "as_of_date"], kind="stable").reset_index(drop=True)

    # --- factor_exposures and risk_model ---------------------------------------------------------

    def replace_exposures(self, day: dt.date, rows: pd.DataFrame) -> tuple[UpsertResult, int]:
        """Make `rows` (``symbol``, `EXPOSURE_COLUMNS` and optionally ``null_reasons``, a
        field → reason mapping per row) the whole of `day`'s exposures;
        returns the upsert's outcome and how many other rows of `day` were deleted."""
        return self._replace("factor_exposures", day, rows)

    def replace_risk(self, day: dt.date, rows: pd.DataFrame) -> tuple[UpsertResult, int]:
        """Make `rows` (``symbol`` and `RISK_COLUMNS`) the whole of `day`'s risk model."""
        return self._replace("risk_model", day, rows)

    def _replace(self, table: str, day: dt.date, rows: pd.DataFrame) -> tuple[UpsertResult, int]:
        kept = list(rows["symbol"])
        deleted = self._conn.execute(
            text(f"DELETE FROM {table} WHERE as_of_date = :day AND NOT (symbol = ANY(:kept))"),
            {"day": day, "kept": kept},
        )
        reasons = ["null_reasons"] if "null_reasons" in rows.columns else []
        frame = rows[["symbol", *_TABLES[table], *reasons]].copy()
        frame.insert(1, "as_of_date", day)
        return upsert(self._conn, table, frame, key=("symbol", "as_of_date")), int(deleted.rowcount)

    def exposures(
        self, start: dt.date, end: dt.date | None = None, symbols: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Stored exposures of [start, end] (one date when `end` is None): ``symbol,
        as_of_date`` and `EXPOSURE_COLUMNS` (float64, NaN = null), by date then symbol."""
        return self._read("factor_exposures", start, end or start, symbols)

    def risk(
        self, start: dt.date, end: dt.date | None = None, symbols: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Stored risk rows of [start, end]: ``symbol, as_of_date`` and `RISK_COLUMNS`."""
        return self._read("risk_model", start, end or start, symbols)

    def _read(
        self, table: str, start: dt.date, end: dt.date, symbols: Sequence[str] | None
    ) -> pd.DataFrame:
        columns = _TABLES[table]
        selected = ", ".join(f"{name}::float8 AS {name}" for name in columns)
        rows = self._conn.execute(
            text(
                f"SELECT symbol, as_of_date, {selected} FROM {table} "
                "WHERE as_of_date BETWEEN :start AND :end "
                "AND (CAST(:symbols AS text[]) IS NULL OR symbol = ANY(:symbols)) "
                "ORDER BY as_of_date, symbol"
            ),
            {"start": start, "end": end, "symbols": list(symbols) if symbols is not None else None},
        ).all()
        frame = pd.DataFrame(
            [tuple(row) for row in rows], columns=["symbol", "as_of_date", *columns]
        )
        for name in columns:
            frame[name] = frame[name].astype("float64")
        return frame
