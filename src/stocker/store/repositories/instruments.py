"""Instruments and what is known about them over time: point-in-time metrics and sentiment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, text

from stocker.core.errors import DataError
from stocker.store.bulk import UpsertResult, upsert
from stocker.store.table_info import table_info

INSTRUMENT_COLUMNS = (
    "symbol", "name", "asset_class", "sector", "industry", "exchange", "currency", "active",
)  # fmt: skip
INSTRUMENT_TABLES = frozenset({"instrument_info", "instrument_metrics", "market_sentiment"})
NUMERIC_KINDS = frozenset({"numeric", "int2", "int4", "int8", "float4", "float8"})
_NOT_METRICS = frozenset({"id", "symbol", "period_type", "as_of_date", "created_at", "updated_at"})

_KNOWN_SQL = text("SELECT symbol FROM instrument_info WHERE symbol = ANY(:symbols)")
_EXCHANGES_SQL = text("SELECT symbol, exchange FROM instrument_info WHERE symbol = ANY(:symbols)")
_REGISTER_SQL = text(
    "INSERT INTO instrument_info (symbol, source, source_hash) "
    "SELECT k.symbol, :source, k.source_hash "
    "FROM unnest(CAST(:symbols AS text[]), CAST(:hashes AS text[])) AS k(symbol, source_hash) "
    "ON CONFLICT (symbol) DO NOTHING RETURNING symbol"
)
_UNREGISTER_SQL = text("DELETE FROM instrument_info WHERE symbol = ANY(:symbols)")
_SET_ACTIVE_SQL = text(
    "UPDATE instrument_info SET active = :active, updated_at = NOW() "
    "WHERE symbol = ANY(:symbols) AND active IS DISTINCT FROM :active"
)


class InstrumentRepository:
    """instrument_info, instrument_metrics and market_sentiment."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # --- writes ----------------------------------------------------------------------------------

    def land(
        self,
        table: str,
        rows: pd.DataFrame,
        *,
        key: Sequence[str],
        return_changed: bool,
        provenance: Sequence[str] = (),
    ) -> UpsertResult:
        """Upsert validated rows of an instrument, metrics or sentiment table; rows the column
        types refuse are returned in `rejected`, not raised. `provenance` columns do not count
        as a change."""
        if table not in INSTRUMENT_TABLES:
            raise ValueError(f"table {table!r} is not one of {sorted(INSTRUMENT_TABLES)}")
        return upsert(
            self._conn,
            table,
            rows,
            key=key,
            on_reject="return",
            return_changed=return_changed,
            provenance=provenance,
        )

    def upsert(self, rows: pd.DataFrame | Sequence[Mapping[str, Any]]) -> UpsertResult:
        """Register or update instruments by symbol; invalid rows raise `ValidationError`."""
        return upsert(self._conn, "instrument_info", rows, key=("symbol",))

    def register(
        self, symbols: Sequence[str], hashes: Sequence[str | None], *, source: str
    ) -> list[str]:
        """Add a minimal row for each symbol not yet known (so foreign keys hold); returns the
        symbols added, sorted. `hashes` is the payload hash that first named each symbol."""
        inserted = self._conn.execute(
            _REGISTER_SQL, {"symbols": list(symbols), "hashes": list(hashes), "source": source}
        ).scalars()
        return sorted(str(symbol) for symbol in inserted)

    def unregister(self, symbols: Sequence[str]) -> None:
        """Remove instruments registered a moment ago that ended up holding nothing."""
        if symbols:
            self._conn.execute(_UNREGISTER_SQL, {"symbols": list(symbols)})

    def set_active(self, symbols: Sequence[str], active: bool) -> int:
        """Mark instruments (in)active; returns how many changed."""
        result = self._conn.execute(_SET_ACTIVE_SQL, {"symbols": list(symbols), "active": active})
        return int(result.rowcount)

    # --- reads -----------------------------------------------------------------------------------

    def listed(
        self, *, symbols: Sequence[str] | None = None, include_inactive: bool = False
    ) -> pd.DataFrame:
        """Instruments ordered by symbol (active ones only unless `include_inactive`)."""
        conditions = []
        parameters: dict[str, Any] = {}
        if not include_inactive:
            conditions.append("active IS NOT FALSE")
        if symbols is not None:
            conditions.append("symbol = ANY(:symbols)")
            parameters["symbols"] = list(symbols)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        columns = ", ".join(INSTRUMENT_COLUMNS)
        result = self._conn.execute(
            text(f"SELECT {columns} FROM instrument_info {where} ORDER BY symbol"), parameters
        )
        return pd.DataFrame(result.fetchall(), columns=list(INSTRUMENT_COLUMNS))

    def unknown(self, symbols: Sequence[str]) -> list[str]:
        """The symbols among `symbols` that `instrument_info` does not have, in input order."""
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return []
        known = {row[0] for row in self._conn.execute(_KNOWN_SQL, {"symbols": wanted})}
        return [symbol for symbol in wanted if symbol not in known]

    def exchanges(self, symbols: Sequence[str]) -> dict[str, str | None]:
        """Symbol → its `exchange` for the known symbols among `symbols`."""
        rows = self._conn.execute(_EXCHANGES_SQL, {"symbols": list(symbols)}).all()
        return {str(row.symbol): row.exchange for row in rows}

    def metric_columns(self) -> dict[str, bool]:
        """Metric column → whether it is numeric, in table order (keys and audit left out)."""
        columns = table_info(self._conn, "instrument_metrics").columns
        return {
            name: info.type_name in NUMERIC_KINDS
            for name, info in columns.items()
            if name not in _NOT_METRICS
        }

    def metrics_as_of(
        self,
        symbols: Sequence[str],
        as_of: dt.date,
        *,
        fields: Mapping[str, bool],
        period_type: str | None = None,
        source: str | None = None,
    ) -> pd.DataFrame:
        """Per symbol and period type, the latest metrics row dated on or before `as_of`.

        `fields` maps each metric column to return to whether it is numeric (returned as
        float64). Among rows of one as-of date the most recently written wins, then the source
        name (a stable choice); see `stocker.data.instruments.metrics_as_of`.
        """
        for name in fields:
            if not name.replace("_", "").isalnum():
                raise DataError(f"fields: {name!r} is not a column name")
        selected = ", ".join(
            f'"{name}"::float8 AS "{name}"' if numeric else f'"{name}"'
            for name, numeric in fields.items()
        )
        conditions = ["symbol = ANY(:symbols)", "as_of_date <= :as_of"]
        parameters: dict[str, Any] = {"symbols": list(symbols), "as_of": as_of}
        if period_type is not None:
            conditions.append("period_type = :period_type")
            parameters["period_type"] = period_type
        if source is not None:
            conditions.append("source = :source")
            parameters["source"] = source
        statement = text(
            "SELECT DISTINCT ON (symbol, period_type) symbol, period_type, as_of_date"
            + (f", {selected}" if selected else "")
            + " FROM instrument_metrics WHERE "
            + " AND ".join(conditions)
            + " ORDER BY symbol, period_type, as_of_date DESC, "
            "COALESCE(updated_at, created_at) DESC NULLS LAST, source"
        ).bindparams(bindparam("symbols"))
        result = self._conn.execute(statement, parameters)
        names = ["symbol", "period_type", "as_of_date", *fields]
        frame = pd.DataFrame(result.fetchall(), columns=names)
        for name, numeric in fields.items():
            if numeric:
                frame[name] = frame[name].astype("float64")
        return frame
