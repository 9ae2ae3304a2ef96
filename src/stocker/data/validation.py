"""Validate a source's rows against the rules in `stocker.core.bar_rules`, with context from the
database: each symbol's exchange calendar, its last stored bar, and corporate actions.

The rules are pure; this module only gathers what they need (in the caller's transaction, so rows
landed earlier in the same batch — instruments, corporate actions — count) and turns their
verdicts into `RejectedRow`s carrying the raw row exactly as it arrived, for the quarantine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from stocker.core import bar_rules
from stocker.core.bar_rules import CalendarSessions, CheckResult
from stocker.core.errors import DataError
from stocker.data import calendars
from stocker.sources.base import INSTRUMENT_METRICS_KEY_COLUMNS, INTRADAY_BAR_FIELDS
from stocker.store.bulk import RejectedRow

INGEST_TABLES = (
    "instrument_info",
    "corporate_actions",
    "prices_daily",
    "prices_intraday",
    "instrument_metrics",
    "market_sentiment",
)
"""Tables a source may deliver, in the order a batch lands them (instruments first for the FKs,
actions before prices so a split explains its price jump)."""

WAIVABLE_RULES = frozenset({"price_jump", "stale_bar", "not_a_session"})
"""Rules that hold a row for a person's judgment rather than forbid it."""

REQUIRED_COLUMNS = {
    "instrument_info": ("symbol",),
    "corporate_actions": ("symbol", "date", "action_type", "value"),
    "prices_daily": ("symbol", "date", "open", "high", "low", "close", "volume"),
    "prices_intraday": INTRADAY_BAR_FIELDS,
    "instrument_metrics": INSTRUMENT_METRICS_KEY_COLUMNS,
    "market_sentiment": ("date", "source", "sentiment_score"),
}


@dataclass
class ValidationContext:
    """What the rules were told about the world, kept for reports and tests."""

    calendars: dict[str, CalendarSessions] = field(default_factory=dict)
    previous: pd.DataFrame | None = None
    actions: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def _require_columns(frame: pd.DataFrame, table: str) -> None:
    if table not in REQUIRED_COLUMNS:
        raise DataError(f"table {table!r} cannot be ingested; expected one of {INGEST_TABLES}")
    missing = [column for column in REQUIRED_COLUMNS[table] if column not in frame.columns]
    if missing:
        raise DataError(
            f"{table}: column(s) {', '.join(missing)} missing; got columns "
            f"{', '.join(map(str, frame.columns)) or 'none'}"
        )


def _symbols(values: pd.Series) -> list[str]:
    present = values.dropna().astype(str).str.strip()
    return sorted({symbol for symbol in present if 0 < len(symbol) <= bar_rules.SYMBOL_MAX_LENGTH})


def _calendar_names(
    conn: Connection, symbols: Sequence[str], warnings: list[str]
) -> dict[str, str]:
    """Symbol → calendar code from `instrument_info.exchange` (no row or exchange → XNYS)."""
    rows = conn.execute(
        text("SELECT symbol, exchange FROM instrument_info WHERE symbol = ANY(:symbols)"),
        {"symbols": list(symbols)},
    ).all()
    exchanges = {row.symbol: row.exchange for row in rows}
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
    conn: Connection,
    symbols: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    *,
    with_times: bool = False,
    warnings: list[str] | None = None,
) -> dict[str, CalendarSessions]:
    """Symbol → sessions of its exchange from start to end (clipped to what the calendar covers)."""
    warnings = warnings if warnings is not None else []
    names = _calendar_names(conn, symbols, warnings)
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


def previous_stored_bars(conn: Connection, firsts: pd.Series) -> pd.DataFrame:
    """Per symbol, the last stored daily bar before `firsts[symbol]` (the batch's first date)."""
    if firsts.empty:
        return pd.DataFrame(columns=["symbol", "date", *bar_rules.BAR_VALUE_COLUMNS])
    result = conn.execute(
        text(
            "SELECT f.symbol, p.date, p.open, p.high, p.low, p.close, p.volume "
            "FROM unnest(CAST(:symbols AS text[]), CAST(:firsts AS date[])) AS f(symbol, first) "
            "CROSS JOIN LATERAL (SELECT date, open, high, low, close, volume FROM prices_daily "
            "  WHERE symbol = f.symbol AND date < f.first ORDER BY date DESC LIMIT 1) AS p"
        ),
        {
            "symbols": [str(symbol) for symbol in firsts.index],
            "firsts": [day.date() for day in firsts],
        },
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def stored_actions(
    conn: Connection, symbols: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Corporate actions of `symbols` with ex-dates from start to end."""
    result = conn.execute(
        text(
            "SELECT symbol, date, action_type, value FROM corporate_actions "
            "WHERE symbol = ANY(:symbols) AND date BETWEEN :start AND :end"
        ),
        {"symbols": list(symbols), "start": start.date(), "end": end.date()},
    )
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def _daily_context(conn: Connection, frame: pd.DataFrame) -> ValidationContext:
    typed = bar_rules.typed_bars(frame)
    usable = typed.loc[typed["date"].notna() & typed["symbol"].isin(_symbols(typed["symbol"]))]
    context = ValidationContext()
    if usable.empty:
        return context
    symbols = _symbols(usable["symbol"])
    start, end = usable["date"].min(), usable["date"].max()
    context.calendars = sessions_for(conn, symbols, start, end, warnings=context.warnings)
    firsts = usable.assign(symbol=usable["symbol"].astype(str)).groupby("symbol")["date"].min()
    context.previous = previous_stored_bars(conn, firsts)
    context.actions = stored_actions(conn, symbols, start, end)
    return context


def _intraday_context(conn: Connection, frame: pd.DataFrame) -> ValidationContext:
    typed = bar_rules.typed_bars(frame, intraday=True)
    usable = typed.loc[typed["timestamp"].notna()]
    context = ValidationContext()
    symbols = _symbols(usable["symbol"])
    if not symbols:
        return context
    dates = usable["timestamp"].dt.tz_convert(None).dt.normalize()
    start, end = dates.min() - timedelta(days=1), dates.max() + timedelta(days=1)
    context.calendars = sessions_for(
        conn, symbols, start, end, with_times=True, warnings=context.warnings
    )
    return context


def _raw_records(frame: pd.DataFrame, positions: Iterable[int]) -> list[dict[str, object]]:
    positions = list(positions)
    if not positions:
        return []
    return frame.iloc[positions].to_dict("records")


def rejects_of(frame: pd.DataFrame, result: CheckResult) -> list[RejectedRow]:
    """One `RejectedRow` per bad row: its 0-based position, raw values and every reason."""
    positions = [int(position) for position in result.reasons.index]
    records = _raw_records(frame.reset_index(drop=True), positions)
    return [
        RejectedRow(row_number=position, row=record, reasons=tuple(result.reasons[position]))
        for position, record in zip(positions, records, strict=True)
    ]


def _valid_rows(frame: pd.DataFrame, result: CheckResult, table: str) -> pd.DataFrame:
    """The rows that passed, indexed by their original position, with parsed dates/codes.

    Dates go to the database as the rules read them, so a stored date is the date that was checked.
    """
    keep = ~result.bad.to_numpy()
    valid = frame.reset_index(drop=True).loc[keep].copy()
    typed = result.frame.loc[keep]
    if table in ("prices_daily", "corporate_actions", "market_sentiment"):
        valid["date"] = [day.date() for day in typed["date"]]
    if table == "instrument_metrics":
        valid["as_of_date"] = [day.date() for day in typed["as_of_date"]]
        valid["period_type"] = typed["period_type"]
    if table == "prices_intraday":
        valid["timestamp"] = typed["timestamp"]
    if table == "corporate_actions":
        valid["action_type"] = typed["action_type"]
    if "symbol" in valid.columns and table != "market_sentiment":
        valid["symbol"] = valid["symbol"].astype(str).str.strip()
    return valid


def check_table(
    conn: Connection,
    frame: pd.DataFrame,
    table: str,
    today: date,
    *,
    jump_threshold: float = bar_rules.DEFAULT_JUMP_THRESHOLD,
) -> tuple[CheckResult, ValidationContext]:
    """Run the rules of `table` over `frame` with context read through `conn`."""
    _require_columns(frame, table)
    if table == "prices_daily":
        context = _daily_context(conn, frame)
        result = bar_rules.check_daily_bars(
            frame,
            today=today,
            calendars=context.calendars,
            previous=context.previous,
            actions=context.actions,
            jump_threshold=jump_threshold,
        )
    elif table == "prices_intraday":
        context = _intraday_context(conn, frame)
        result = bar_rules.check_intraday_bars(frame, today=today, calendars=context.calendars)
    else:
        context = ValidationContext()
        if table == "corporate_actions":
            result = bar_rules.check_corporate_actions(frame)
        elif table == "instrument_info":
            result = bar_rules.check_instruments(frame)
        elif table == "instrument_metrics":
            result = bar_rules.check_metrics(frame, today=today)
        else:
            result = bar_rules.check_sentiment(frame, today=today)
    return result, context


def waive(result: CheckResult, rules: Iterable[str]) -> CheckResult:
    """The result with reasons of the given rules dropped: rows left without reasons pass.

    Only judgment rules (`WAIVABLE_RULES`) can be waived: a real 60% gap, a halted stock's
    repeated bar, a session the calendar does not know.
    """
    rules = set(rules)
    if not rules:
        return result
    unknown = sorted(rules - WAIVABLE_RULES)
    if unknown:
        raise DataError(
            f"rule(s) {', '.join(unknown)} cannot be waived; "
            f"only {', '.join(sorted(WAIVABLE_RULES))}"
        )
    kept = result.reasons.map(
        lambda reasons: tuple(r for r in reasons if r.partition(":")[0] not in rules)
    )
    kept = kept[kept.map(len) > 0]
    bad = pd.Series(False, index=result.bad.index)
    bad.iloc[kept.index.to_numpy(dtype=int)] = True
    return CheckResult(result.frame, bad, kept)


def validate_rows(
    conn: Connection,
    frame: pd.DataFrame,
    table: str,
    today: date,
    *,
    jump_threshold: float = bar_rules.DEFAULT_JUMP_THRESHOLD,
    waived: Iterable[str] = (),
) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """Split `frame` (rows for `table`) into rows fit to land and rejects with every reason.

    The valid frame is indexed by each row's 0-based position in `frame`; reject row numbers are
    those positions too. `waived` names judgment rules not to hold rows for (see `waive`).
    Raises `DataError` when a required column is missing altogether.
    """
    result, _ = check_table(conn, frame, table, today, jump_threshold=jump_threshold)
    result = waive(result, waived)
    return _valid_rows(frame, result, table), rejects_of(frame, result)


def validate_bars(
    conn: Connection,
    frame: pd.DataFrame,
    table: str,
    today: date,
    *,
    jump_threshold: float = bar_rules.DEFAULT_JUMP_THRESHOLD,
) -> tuple[pd.DataFrame, list[RejectedRow]]:
    """`validate_rows` for `prices_daily` / `prices_intraday`."""
    if table not in ("prices_daily", "prices_intraday"):
        raise DataError(f"table {table!r} holds no bars; expected prices_daily or prices_intraday")
    return validate_rows(conn, frame, table, today, jump_threshold=jump_threshold)


def missing_adj_close(valid: pd.DataFrame) -> np.ndarray:
    """Which valid daily rows came without an adjusted close (to be computed)."""
    if "adj_close" not in valid.columns:
        return np.ones(len(valid), dtype=bool)
    return valid["adj_close"].isna().to_numpy()
