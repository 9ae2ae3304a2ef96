"""Validate a source's rows against the rules of their table (`stocker.core.tables`), with context
from the database: each symbol's exchange calendar, its last stored bar, and corporate actions.

The rules are pure; this module only gathers what they need (in the caller's unit of work, so rows
landed earlier in the same batch — instruments, corporate actions — count) and turns their
verdicts into `Reject`s carrying the raw row exactly as it arrived, for the quarantine. Which
context a table's rules need, and how checked values replace raw ones, is read from its spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rejects import Reject
from stocker.core.rules.bars import (
    BAR_VALUE_COLUMNS,
    DEFAULT_JUMP_THRESHOLD,
    typed_bars,
    typed_symbol_dates,
)
from stocker.core.rules.common import SYMBOL_MAX_LENGTH, CalendarSessions, CheckResult, waive
from stocker.core.tables import WAIVABLE_RULES, RuleContext, TableSpec, spec_of
from stocker.data import calendars

if TYPE_CHECKING:
    from stocker.store.uow import SqlUnitOfWork


@dataclass
class ValidationContext:
    """What the rules were told about the world, kept for reports and tests."""

    calendars: dict[str, CalendarSessions] = field(default_factory=dict)
    previous: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def _require_columns(frame: pd.DataFrame, spec: TableSpec) -> None:
    missing = [column for column in spec.required if column not in frame.columns]
    if missing:
        raise DataError(
            f"{spec.name}: column(s) {', '.join(missing)} missing; got columns "
            f"{', '.join(map(str, frame.columns)) or 'none'}"
        )


def _symbols(values: pd.Series) -> list[str]:
    # distinct values first: a chunk of a large file has 250,000 rows but a few hundred symbols
    present = pd.Series(pd.unique(values.dropna().astype(str)), dtype=object).str.strip()
    return sorted({symbol for symbol in present if 0 < len(symbol) <= SYMBOL_MAX_LENGTH})


def _calendar_names(
    uow: SqlUnitOfWork, symbols: Sequence[str], warnings: list[str]
) -> dict[str, str]:
    """Symbol → calendar code from `instrument_info.exchange` (no row or exchange → XNYS)."""
    exchanges = uow.instruments.exchanges(symbols)
    names: dict[str, str] = {}
    for symbol in symbols:
        try:
            names[symbol] = calendars.calendar_for_exchange(exchanges.get(symbol))
        except DataError as error:
            warnings.append(f"{symbol}: session and grid checks skipped: {error}")
    return names


def _clipped_range(name: str, start: pd.Timestamp, end: pd.Timestamp) -> tuple[date, date] | None:
    first = max(start, calendars.calendar_start(name))
    last = min(end, calendars.get_calendar(name).last_session)
    return (first.date(), last.date()) if first <= last else None


def sessions_for(
    uow: SqlUnitOfWork,
    symbols: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    with_times: bool = False,
    warnings: list[str] | None = None,
) -> dict[str, CalendarSessions]:
    """Symbol → sessions of its exchange from start to end (clipped to what the calendar covers).

    Runs inside the caller's open unit of work (it reads `instrument_info.exchange`).
    """
    warnings = warnings if warnings is not None else []
    names = _calendar_names(uow, symbols, warnings)
    built: dict[str, CalendarSessions] = {}
    for name in sorted(set(names.values())):
        bounds = _clipped_range(name, start, end)
        if bounds is None:
            continue
        if with_times:
            times = calendars.session_times(name, *bounds)
            built[name] = CalendarSessions(
                name,
                pd.DatetimeIndex(times.index),
                pd.DatetimeIndex(times["open"]),
                pd.DatetimeIndex(times["close"]),
                start=pd.Timestamp(bounds[0]),
                end=pd.Timestamp(bounds[1]),
            )
        else:
            built[name] = CalendarSessions(
                name,
                calendars.sessions(name, *bounds),
                start=pd.Timestamp(bounds[0]),
                end=pd.Timestamp(bounds[1]),
            )
    return {symbol: built[name] for symbol, name in names.items() if name in built}


def _session_dates_context(
    uow: SqlUnitOfWork, frame: pd.DataFrame, spec: TableSpec
) -> ValidationContext:
    typed = typed_symbol_dates(frame)
    usable = typed.loc[typed["date"].notna() & typed["symbol"].isin(_symbols(typed["symbol"]))]
    context = ValidationContext()
    if usable.empty:
        return context
    symbols = _symbols(usable["symbol"])
    start, end = usable["date"].min(), usable["date"].max()
    context.calendars = sessions_for(uow, symbols, start, end, warnings=context.warnings)
    if spec.previous_bars:
        firsts = usable.assign(symbol=usable["symbol"].astype(str)).groupby("symbol")["date"].min()
        context.previous = (
            uow.bars.previous_bars({str(s): day.date() for s, day in firsts.items()})
            if len(firsts)
            else pd.DataFrame(columns=["symbol", "date", *BAR_VALUE_COLUMNS])
        )
        context.actions = uow.bars.actions(symbols, start.date(), end.date())
    return context


def _session_times_context(uow: SqlUnitOfWork, frame: pd.DataFrame) -> ValidationContext:
    typed = typed_bars(frame, intraday=True)
    usable = typed.loc[typed["timestamp"].notna()]
    context = ValidationContext()
    symbols = _symbols(usable["symbol"])
    if not symbols:
        return context
    dates = usable["timestamp"].dt.tz_convert(None).dt.normalize()
    start, end = dates.min() - timedelta(days=1), dates.max() + timedelta(days=1)
    context.calendars = sessions_for(
        uow, symbols, start, end, with_times=True, warnings=context.warnings
    )
    return context


def rejects_of(frame: pd.DataFrame, result: CheckResult, table: str) -> list[Reject]:
    """One `Reject` per bad row: its 0-based position, raw values and every reason."""
    positions = [int(position) for position in result.reasons.index]
    if not positions:
        return []
    records = frame.reset_index(drop=True).iloc[positions].to_dict("records")
    return [
        Reject(table, position, record, tuple(reasons))
        for position, record, reasons in zip(
            positions, records, result.reasons.tolist(), strict=True
        )
    ]


def _valid_rows(frame: pd.DataFrame, result: CheckResult, spec: TableSpec) -> pd.DataFrame:
    """The rows that passed, indexed by their original position, with parsed dates/codes.

    Dates go to the database as the rules read them, so a stored date is the date that was checked.
    """
    keep = ~result.bad.to_numpy()
    valid = frame.reset_index(drop=True).loc[keep]  # a new frame (copy-on-write)
    typed = result.frame.loc[keep]
    for column in spec.parse.date_columns:
        days = typed[column]
        valid[column] = (
            days.dt.date.to_numpy()
            if pd.api.types.is_datetime64_dtype(days.dtype)
            else [day.date() for day in days]
        )
    for column in (*spec.parse.timestamp_columns, *spec.parse.code_columns):
        valid[column] = typed[column]
    if spec.parse.strip_symbol and "symbol" in valid.columns:
        valid["symbol"] = valid["symbol"].astype(str).str.strip()
    return valid


def check_table(
    uow: SqlUnitOfWork,
    frame: pd.DataFrame,
    table: str | TableSpec,
    today: date,
    *,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
) -> tuple[CheckResult, ValidationContext]:
    """Run the rules of `table` over `frame` with context read in the open unit of work."""
    spec = table if isinstance(table, TableSpec) else spec_of(table)
    _require_columns(frame, spec)
    if spec.sessions == "dates":
        context = _session_dates_context(uow, frame, spec)
    elif spec.sessions == "times":
        context = _session_times_context(uow, frame)
    else:
        context = ValidationContext()
    rule_context = RuleContext(
        today=today,
        calendars=context.calendars,
        previous=context.previous,
        actions=context.actions,
        jump_threshold=jump_threshold,
    )
    return spec.rules(frame, rule_context), context


def validate_rows(
    uow: SqlUnitOfWork,
    frame: pd.DataFrame,
    table: str | TableSpec,
    today: date,
    *,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
    waived: Iterable[str] = (),
) -> tuple[pd.DataFrame, list[Reject]]:
    """Split `frame` (rows for `table`) into rows fit to land and rejects with every reason.

    The valid frame is indexed by each row's 0-based position in `frame`; reject row numbers are
    those positions too. `waived` names judgment rules (`WAIVABLE_RULES`) not to hold rows for.
    Raises `DataError` when a required column is missing altogether.
    """
    spec = table if isinstance(table, TableSpec) else spec_of(table)
    result, _ = check_table(uow, frame, spec, today, jump_threshold=jump_threshold)
    result = waive(result, waived, WAIVABLE_RULES)
    return _valid_rows(frame, result, spec), rejects_of(frame, result, spec.name)


def missing_adj_close(valid: pd.DataFrame) -> np.ndarray:
    """Which valid daily rows came without an adjusted close (to be computed)."""
    if "adj_close" not in valid.columns:
        return np.ones(len(valid), dtype=bool)
    return np.asarray(valid["adj_close"].isna().to_numpy(), dtype=bool)
