"""The instrument master (`instrument_info`) and point-in-time reads of `instrument_metrics`.

Instruments are never deleted: a delisted or untradable symbol is deactivated (`active = false`)
so the prices, fills and universes that reference it stay intact.

`metrics_as_of` is the one way research reads fundamentals: for each symbol it returns the latest
row whose `as_of_date` is on or before the requested date, so a backtest on date D never sees a
figure published after D.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, bindparam, text

from stocker.core.errors import DataError
from stocker.sources.base import INSTRUMENT_COLUMNS
from stocker.store.bulk import UpsertResult, upsert
from stocker.store.table_info import table_info

SYMBOLS_LISTED_IN_ERRORS = 20
PERIOD_TYPES = ("DAILY", "TTM", "FQ", "FY")
_METRIC_KEY_COLUMNS = ("symbol", "period_type", "as_of_date")
_NOT_METRICS = frozenset({"id", "symbol", "period_type", "as_of_date", "created_at", "updated_at"})
_NUMERIC_KINDS = frozenset({"numeric", "int2", "int4", "int8", "float4", "float8"})


def upsert_instruments(
    conn: Connection, rows: pd.DataFrame | Sequence[Mapping[str, Any]]
) -> UpsertResult:
    """Register or update instruments by symbol; invalid rows raise `ValidationError`."""
    return upsert(conn, "instrument_info", rows, key=("symbol",))


def list_instruments(
    conn: Connection,
    *,
    symbols: Sequence[str] | None = None,
    include_inactive: bool = False,
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
    result = conn.execute(
        text(f"SELECT {columns} FROM instrument_info {where} ORDER BY symbol"), parameters
    )
    return pd.DataFrame(result.fetchall(), columns=list(INSTRUMENT_COLUMNS))


def unknown_symbols(conn: Connection, symbols: Sequence[str]) -> list[str]:
    """The symbols among `symbols` that `instrument_info` does not have, in input order."""
    wanted = list(dict.fromkeys(symbols))
    if not wanted:
        return []
    known = {
        row[0]
        for row in conn.execute(
            text("SELECT symbol FROM instrument_info WHERE symbol = ANY(:symbols)"),
            {"symbols": wanted},
        )
    }
    return [symbol for symbol in wanted if symbol not in known]


def require_known(conn: Connection, symbols: Sequence[str]) -> None:
    """Raise `DataError` naming every symbol not registered in `instrument_info`."""
    missing = unknown_symbols(conn, symbols)
    if missing:
        shown = ", ".join(missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        raise DataError(
            f"symbol: {shown} not in instrument_info; register it first "
            f"(`stocker data ingest --table instrument_info --file …`, or ingest its prices)"
        )


def set_active(conn: Connection, symbols: Sequence[str], active: bool) -> int:
    """Mark instruments (in)active; returns how many changed. Unknown symbols raise."""
    require_known(conn, symbols)
    result = conn.execute(
        text(
            "UPDATE instrument_info SET active = :active, updated_at = NOW() "
            "WHERE symbol = ANY(:symbols) AND active IS DISTINCT FROM :active"
        ),
        {"symbols": list(symbols), "active": active},
    )
    return int(result.rowcount)


def deactivate(conn: Connection, symbols: Sequence[str]) -> int:
    """Soft-delete instruments (`active = false`); history that references them is kept."""
    return set_active(conn, symbols, False)


def _metric_fields(conn: Connection, fields: Sequence[str] | None) -> list[tuple[str, bool]]:
    """(column, is numeric) for the requested metric columns, checked against the table."""
    columns = table_info(conn, "instrument_metrics").columns
    available = [name for name in columns if name not in _NOT_METRICS]
    chosen = list(fields) if fields is not None else available
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise DataError(
            f"fields: {', '.join(map(repr, unknown))} not in instrument_metrics; "
            f"expected some of {available}"
        )
    return [(name, columns[name].type_name in _NUMERIC_KINDS) for name in chosen]


def metrics_as_of(
    conn: Connection,
    symbols: Sequence[str],
    as_of: dt.date | str,
    period_type: str | None = None,
    fields: Sequence[str] | None = None,
    *,
    source: str | None = None,
) -> pd.DataFrame:
    """Per symbol (and period type), the latest `instrument_metrics` row dated on or before `as_of`.

    Parameters
    ----------
    symbols
        Symbols to read; those without a row on or before `as_of` are absent from the result.
    as_of
        The point in time: rows with ``as_of_date > as_of`` are never returned.
    period_type
        DAILY, TTM, FQ or FY; default one row per symbol per period type present.
    fields
        Metric columns to return (default all); numeric ones come back as float64.
    source
        Read only this source's rows. Otherwise, when sources disagree on the same as-of date,
        the most recently written row wins (then the source name, for a stable choice).

    Returns
    -------
    pandas.DataFrame
        Columns ``symbol, period_type, as_of_date`` and the fields, ordered by symbol.
    """
    if period_type is not None and period_type not in PERIOD_TYPES:
        raise DataError(f"period_type: got {period_type!r}, expected one of {PERIOD_TYPES}")
    try:
        as_of_date = pd.Timestamp(as_of).date()
    except (ValueError, TypeError) as error:
        raise DataError(f"as_of: got {as_of!r}, expected a date like 2024-01-31") from error
    chosen = _metric_fields(conn, fields)
    selected = ", ".join(
        f'"{name}"::float8 AS "{name}"' if numeric else f'"{name}"' for name, numeric in chosen
    )
    conditions = ["symbol = ANY(:symbols)", "as_of_date <= :as_of"]
    parameters: dict[str, Any] = {"symbols": list(symbols), "as_of": as_of_date}
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
    result = conn.execute(statement, parameters)
    names = [*_METRIC_KEY_COLUMNS[:2], "as_of_date", *(name for name, _ in chosen)]
    frame = pd.DataFrame(result.fetchall(), columns=names)
    for name, numeric in chosen:
        if numeric:
            frame[name] = frame[name].astype("float64")
    return frame
