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
from typing import TYPE_CHECKING, Any

import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rules.metrics import PERIOD_TYPES
from stocker.core.symbols import checked_symbol

if TYPE_CHECKING:
    from stocker.store.bulk import UpsertResult
    from stocker.store.uow import SqlUnitOfWork

SYMBOLS_LISTED_IN_ERRORS = 20


def upsert_instruments(
    uow: SqlUnitOfWork, rows: pd.DataFrame | Sequence[Mapping[str, Any]]
) -> UpsertResult:
    """Register or update instruments by symbol; invalid rows raise `ValidationError`, and a
    symbol tickers cannot have (`stocker.core.symbols`) a `DataError` naming the character."""
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else list(rows)
    for record in records:
        symbol = record.get("symbol")
        if isinstance(symbol, str) and symbol.strip():
            checked_symbol(symbol)
    with uow:
        result = uow.instruments.upsert(rows)
        uow.commit()
    return result


def list_instruments(
    uow: SqlUnitOfWork,
    *,
    symbols: Sequence[str] | None = None,
    include_inactive: bool = False,
) -> pd.DataFrame:
    """Instruments ordered by symbol (active ones only unless `include_inactive`)."""
    with uow:
        return uow.instruments.listed(symbols=symbols, include_inactive=include_inactive)


def unknown_symbols(uow: SqlUnitOfWork, symbols: Sequence[str]) -> list[str]:
    """The symbols among `symbols` that `instrument_info` does not have, in input order."""
    with uow:
        return uow.instruments.unknown(symbols)


def require_known(uow: SqlUnitOfWork, symbols: Sequence[str]) -> None:
    """Raise `DataError` naming every symbol not registered in `instrument_info`.

    Each symbol is first checked as ingestion checks it (`stocker.core.symbols.checked_symbol`):
    one holding a character tickers do not use is refused with the character named, and one
    that Unicode normalization would change (full-width letters) is refused naming the form to
    pass. Runs inside the caller's open unit of work (a check before a write).
    """
    for symbol in symbols:
        normalized = checked_symbol(symbol)
        if normalized != symbol.strip():
            raise DataError(
                f"symbol {symbol!r} is {normalized!r} once Unicode-normalized (NFKC); "
                f"pass {normalized}"
            )
    missing = uow.instruments.unknown(symbols)
    if missing:
        shown = ", ".join(missing[:SYMBOLS_LISTED_IN_ERRORS])
        if len(missing) > SYMBOLS_LISTED_IN_ERRORS:
            shown += f" and {len(missing) - SYMBOLS_LISTED_IN_ERRORS} more"
        raise DataError(
            f"symbol: {shown} not in instrument_info; register it first "
            f"(`stocker data ingest --table instrument_info --file …`, or ingest its prices)"
        )


def set_active(uow: SqlUnitOfWork, symbols: Sequence[str], active: bool) -> int:
    """Mark instruments (in)active; returns how many changed. Unknown symbols raise."""
    with uow:
        require_known(uow, symbols)
        changed = uow.instruments.set_active(symbols, active)
        uow.commit()
    return changed


def deactivate(uow: SqlUnitOfWork, symbols: Sequence[str]) -> int:
    """Soft-delete instruments (`active = false`); history that references them is kept."""
    return set_active(uow, symbols, False)


def metrics_as_of(
    uow: SqlUnitOfWork,
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
    with uow:
        available = uow.instruments.metric_columns()
        chosen = list(fields) if fields is not None else list(available)
        unknown = [name for name in chosen if name not in available]
        if unknown:
            raise DataError(
                f"fields: {', '.join(map(repr, unknown))} not in instrument_metrics; "
                f"expected some of {list(available)}"
            )
        return uow.instruments.metrics_as_of(
            symbols,
            as_of_date,
            fields={name: available[name] for name in chosen},
            period_type=period_type,
            source=source,
        )
