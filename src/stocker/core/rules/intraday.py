"""The rules of intraday bars (`prices_intraday`): the price rules of bars, plus a parseable
interval and a start inside session hours on the interval grid counted from the session open.

Stale and jump rules are daily-only: quiet minutes repeat legitimately.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rules.bars import price_rules, typed_bars
from stocker.core.rules.common import (
    CalendarSessions,
    CheckResult,
    RuleOutcome,
    collect,
    column_of,
    outcome,
    rule_bad_date,
    rule_duplicate_key,
    symbols_by_calendar,
    utc_nanoseconds,
)

INTRADAY_KEY = ("symbol", "timestamp", "interval")

_INTERVAL_PATTERN = re.compile(r"^\s*(\d+)\s*(m|min|h)\s*$")


def interval_length(interval: str) -> pd.Timedelta:
    """'5m' → 5 minutes, '1h' → 1 hour; anything else is a DataError."""
    match = _INTERVAL_PATTERN.match(str(interval))
    if not match or int(match.group(1)) <= 0:
        raise DataError(
            f"interval {interval!r} is not a bar interval; expected like '1m', '5m', '1h'"
        )
    count, unit = int(match.group(1)), match.group(2)
    return pd.Timedelta(minutes=count) if unit in ("m", "min") else pd.Timedelta(hours=count)


def interval_lengths(intervals: pd.Series) -> pd.Series:
    """Interval text → Timedelta (NaT when unparseable), parsed once per distinct value."""
    lengths: dict[object, Any] = {}
    for value in pd.unique(intervals.dropna()):
        try:
            lengths[value] = interval_length(str(value))
        except DataError:
            lengths[value] = pd.NaT
    return intervals.map(lengths).astype("timedelta64[ns]")


def rule_bad_interval(raw: pd.DataFrame, lengths: pd.Series) -> RuleOutcome:
    values = column_of(raw, "interval")
    return outcome(
        "bad_interval",
        lengths.isna(),
        lambda positions: [
            f"interval {value!r} is not like '1m', '5m', '1h'" for value in values.iloc[positions]
        ],
    )


def session_positions(
    timestamps: pd.Series, sessions: CalendarSessions
) -> tuple[np.ndarray, np.ndarray]:
    """For each UTC timestamp, the index of the session it falls in and whether it is inside it.

    A timestamp is inside a session when open <= t < close.
    """
    if sessions.opens is None or sessions.closes is None:
        raise DataError(f"calendar {sessions.name} was given without session open/close times")
    opens = utc_nanoseconds(sessions.opens)
    closes = utc_nanoseconds(sessions.closes)
    values = utc_nanoseconds(timestamps)
    if not len(opens):
        return np.zeros(len(values), dtype=np.int64), np.zeros(len(values), dtype=bool)
    position = np.searchsorted(opens, values, side="right") - 1
    clipped = np.clip(position, 0, len(opens) - 1)
    inside = (position >= 0) & ~timestamps.isna().to_numpy() & (values < closes[clipped])
    return clipped, inside


def rule_intraday_session(
    typed: pd.DataFrame, lengths: pd.Series, calendars: Mapping[str, CalendarSessions] | None
) -> list[RuleOutcome]:
    """Bars must start inside session hours, on the interval grid counted from the session open."""
    outside = np.zeros(len(typed), dtype=bool)
    off_grid = np.zeros(len(typed), dtype=bool)
    names = np.full(len(typed), "", dtype=object)
    for name, (sessions, symbols) in symbols_by_calendar(calendars or {}).items():
        rows = (typed["symbol"].isin(symbols) & typed["timestamp"].notna()).to_numpy()
        if not rows.any():
            continue
        stamps = typed.loc[rows, "timestamp"]
        position, inside = session_positions(stamps, sessions)
        assert sessions.opens is not None
        opens = utc_nanoseconds(sessions.opens)[position]
        step = lengths.loc[rows].to_numpy().astype("timedelta64[ns]").astype("int64")
        usable = inside & ~lengths.loc[rows].isna().to_numpy() & (step > 0)
        elapsed = utc_nanoseconds(stamps) - opens
        outside[rows] = ~inside
        off_grid[rows] = usable & (np.mod(elapsed, np.where(step > 0, step, 1)) != 0)
        names[rows] = name
    stamps_text = typed["timestamp"].astype(str).to_numpy()
    intervals = typed["interval"].astype(str).to_numpy()
    return [
        outcome(
            "outside_session",
            outside,
            lambda positions: [
                f"timestamp {stamp} is outside {name} session hours"
                for stamp, name in zip(stamps_text[positions], names[positions], strict=True)
            ],
        ),
        outcome(
            "off_grid",
            off_grid,
            lambda positions: [
                f"timestamp {stamp} is not on the {interval} grid counted from the {name} "
                "session open"
                for stamp, interval, name in zip(
                    stamps_text[positions], intervals[positions], names[positions], strict=True
                )
            ],
        ),
    ]


def rule_future_timestamp(timestamps: pd.Series, today: date) -> RuleOutcome:
    """An intraday bar starting after the end of `today` (UTC) cannot have happened yet."""
    limit = pd.Timestamp(today, tz="UTC") + pd.Timedelta(days=1)
    stamps = timestamps.astype(str).to_numpy()
    return outcome(
        "future_date",
        timestamps >= limit,
        lambda positions: [
            f"timestamp {stamp} is after today {today.isoformat()}" for stamp in stamps[positions]
        ],
    )


def check_intraday_bars(
    frame: pd.DataFrame,
    *,
    today: date,
    calendars: Mapping[str, CalendarSessions] | None = None,
) -> CheckResult:
    """Run every intraday-bar rule over `frame` (columns of `prices_intraday`).

    `calendars` maps symbol → sessions with open/close times; symbols not in it skip the session
    and grid rules. Stale and jump rules are daily-only: quiet minutes repeat legitimately.
    """
    raw = frame.reset_index(drop=True)
    typed = typed_bars(frame, intraday=True)
    lengths = interval_lengths(typed["interval"])
    outcomes = [
        *price_rules(raw, typed),
        rule_bad_date(column_of(raw, "timestamp"), typed["timestamp"], column="timestamp"),
        rule_bad_interval(raw, lengths),
        rule_duplicate_key(typed, INTRADAY_KEY),
        rule_future_timestamp(typed["timestamp"], today),
        *rule_intraday_session(typed, lengths, calendars),
    ]
    bad, reasons = collect(outcomes, len(typed))
    return CheckResult(typed, bad, reasons)
