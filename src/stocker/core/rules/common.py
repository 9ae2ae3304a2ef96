"""What every rule set shares: outcomes and results, typed columns, and the rules of any table.

Every rule looks at a whole frame at once and returns a `RuleOutcome`: a boolean mask of the rows
that break it and one `Reason(rule, message)` per broken row. A table's rule set runs every rule
and collects all reasons per row, so a quarantined row says everything that is wrong with it at
once. Reason text is only built for the rows that broke a rule, so a clean batch costs a handful
of vector comparisons.

Positions, not labels: frames are checked by position (0-based), so callers may pass any index.
Everything the rules need from the outside world arrives as arguments — exchange sessions per
symbol, "today", the previous stored bar per symbol, corporate actions — so the rules stay pure and
a test can state the world exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.rejects import Reason
from stocker.core.symbols import (
    SYMBOL_INVALID,
    normalize_symbol,
    normalized_symbols,
    symbol_problems,
)

SYMBOL_MAX_LENGTH = 20

Describe = Callable[[np.ndarray], "pd.Series | np.ndarray | list[str]"]


@dataclass(frozen=True)
class CalendarSessions:
    """The sessions of one exchange calendar over a date range.

    `dates` are tz-naive session dates; `opens` / `closes` (UTC, aligned with `dates`) are only
    needed for intraday rules and resampling. `start` / `end` bound the range the sessions were
    taken from (default: first and last session): dates outside it are not judged.
    """

    name: str
    dates: pd.DatetimeIndex
    opens: pd.DatetimeIndex | None = None
    closes: pd.DatetimeIndex | None = None
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def covers(self, dates: pd.Series) -> pd.Series:
        """Which dates fall inside the range these sessions describe."""
        if len(self.dates) == 0 and (self.start is None or self.end is None):
            return pd.Series(False, index=dates.index)
        start = pd.Timestamp(self.start) if self.start is not None else self.dates.min()
        end = pd.Timestamp(self.end) if self.end is not None else self.dates.max()
        return (dates >= start) & (dates <= end)


@dataclass(frozen=True)
class RuleOutcome:
    """Rows (by position) that break one rule, and why (one reason per bad position)."""

    rule: str
    bad: np.ndarray
    reasons: pd.Series


@dataclass(frozen=True)
class CheckResult:
    """All rules over a frame: the typed frame, which rows are bad and every reason per bad row.

    `frame` is the input with typed columns (dates as datetime64, prices and volume as float64) on
    a 0-based RangeIndex; `bad` is aligned with it; `reasons` maps the position of each bad row to
    the tuple of reasons it collected.
    """

    frame: pd.DataFrame
    bad: pd.Series
    reasons: pd.Series

    @property
    def valid(self) -> pd.DataFrame:
        """The typed rows that broke no rule."""
        return self.frame.loc[~self.bad.to_numpy()]


def outcome(rule: str, bad: pd.Series | np.ndarray, describe: Describe | str) -> RuleOutcome:
    """A mask plus one `Reason(rule, text)` per bad row; `describe(positions)` runs only then."""
    mask = np.asarray(pd.Series(bad).fillna(False), dtype=bool)
    positions = np.flatnonzero(mask)
    if not len(positions):
        return RuleOutcome(rule, mask, pd.Series([], dtype=object))
    if isinstance(describe, str):
        texts: list[str] = [describe] * len(positions)
    else:
        texts = [str(text) for text in np.asarray(describe(positions), dtype=object)]
    reasons = pd.Series([Reason(rule, text) for text in texts], index=positions, dtype=object)
    return RuleOutcome(rule, mask, reasons)


def number_text(values: Iterable[Any]) -> list[str]:
    """Numbers as short text for messages."""
    return [f"{value:.10g}" if not is_missing(value) else "missing" for value in values]


def date_text(values: Iterable[Any]) -> list[str]:
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        # datetime64 (every rule's typed dates): formatted at once, NaT as "?"
        texts = pd.DatetimeIndex(values).strftime("%Y-%m-%d")
        return ["?" if isinstance(text, float) else text for text in texts]
    return [
        "?" if is_missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d") for value in values
    ]


def utc_nanoseconds(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch, UTC (NaT → the int64 minimum)."""
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns").to_numpy().astype(np.int64)


def collect(outcomes: Iterable[RuleOutcome], length: int) -> tuple[pd.Series, pd.Series]:
    """Combine rule outcomes into one mask and a tuple of reasons per bad position."""
    outcomes = list(outcomes)
    bad = np.zeros(length, dtype=bool)
    for outcome in outcomes:
        bad |= outcome.bad
    parts = [outcome.reasons for outcome in outcomes if len(outcome.reasons)]
    if not parts:
        return pd.Series(bad), pd.Series([], dtype=object)
    return pd.Series(bad), _reasons_by_position(pd.concat(parts))


def _reasons_by_position(combined: pd.Series) -> pd.Series:
    """The reasons grouped into one tuple per position (in rule order), sorted by position:
    what `groupby(level=0).agg(tuple)` gives, in one pass instead of a call per bad row."""
    grouped: dict[Any, list[object]] = {}
    for position, reason in zip(combined.index.tolist(), combined.tolist(), strict=True):
        grouped.setdefault(position, []).append(reason)
    positions = sorted(grouped)
    index = pd.Index(positions, dtype=combined.index.dtype, name=combined.index.name)
    values = np.empty(len(positions), dtype=object)
    values[:] = [tuple(grouped[position]) for position in positions]
    return pd.Series(values, index=index, name=combined.name)


def symbols_by_calendar(
    calendars: Mapping[str, CalendarSessions],
) -> dict[str, tuple[CalendarSessions, list[str]]]:
    """Group a symbol → sessions mapping by calendar, so each calendar is checked once."""
    grouped: dict[str, tuple[CalendarSessions, list[str]]] = {}
    for symbol, sessions in calendars.items():
        grouped.setdefault(sessions.name, (sessions, []))[1].append(symbol)
    return grouped


# --- typing the frame ----------------------------------------------------------------------------


def to_float(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return pd.Series(np.nan, index=values.index)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values, errors="coerce").astype("float64")


def to_dates(values: pd.Series) -> pd.Series:
    """Anything date-like → tz-naive datetime64[ns] at midnight; unparseable → NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return parsed.dt.normalize().astype("datetime64[ns]")


def to_timestamps(values: pd.Series) -> pd.Series:
    """Anything timestamp-like → datetime64[ns, UTC]; naive values are taken as UTC."""
    return pd.to_datetime(values, errors="coerce", utc=True, format="mixed").astype(
        "datetime64[ns, UTC]"
    )


def column_of(raw: pd.DataFrame, name: str) -> pd.Series:
    return raw[name] if name in raw.columns else pd.Series(np.nan, index=raw.index, dtype=object)


# --- rules on single rows -------------------------------------------------------------------------


def rule_bad_symbol(raw: pd.DataFrame, max_length: int = SYMBOL_MAX_LENGTH) -> RuleOutcome:
    """Symbol missing, blank, or (normalized) longer than the column allows."""
    symbol = column_of(raw, "symbol")
    present = symbol.notna().to_numpy()
    if pd.api.types.is_string_dtype(symbol.dtype) and symbol.dtype != object:
        texts = symbol  # already text: `str` of each value is the value
    else:
        texts = symbol.astype(object).where(present, "").astype(str)
    # one normalization per distinct value (a chunk has 250,000 rows over a few hundred symbols)
    codes, distinct = pd.factorize(texts)
    normal = np.array([*(normalize_symbol(str(value)) for value in distinct), ""], dtype=object)
    normal[-1] = normalize_symbol("")  # a missing value (code -1) reads as blank
    lengths = np.fromiter(map(len, normal), dtype=np.int64, count=len(normal))
    text = normal[codes]
    missing = ~present | (text == "")
    too_long = ~missing & (lengths[codes] > max_length)

    def describe(positions: np.ndarray) -> list[str]:
        return [
            f"symbol {text[p]!r} is longer than {max_length}" if too_long[p]
            else "symbol is missing"
            for p in positions
        ]  # fmt: skip

    return outcome("bad_symbol", missing | too_long, describe)


def rule_symbol_invalid(raw: pd.DataFrame) -> RuleOutcome:
    """A symbol holding a character tickers do not use (`stocker.core.symbols`): an invisible
    or control character, a space, a quote, a letter of another script."""
    problems = symbol_problems(column_of(raw, "symbol"))
    return outcome(
        SYMBOL_INVALID,
        problems.notna().to_numpy(),
        lambda positions: problems.iloc[positions].tolist(),
    )


def distinct_normalized_symbols(values: pd.Series) -> pd.Series:
    """`normalized_symbols(values)`, normalizing each distinct value once and spreading the
    results back by code (no per-row mapping); a column with missing values takes the general
    path, which keeps them as they are."""
    codes, distinct = pd.factorize(values)
    if not len(distinct) or (codes < 0).any():
        return normalized_symbols(values)
    normal = normalized_symbols(pd.Series(np.asarray(distinct, dtype=object), dtype=object))
    spread = np.asarray(normal.to_numpy(dtype=object)[codes], dtype=object)
    return pd.Series(spread, index=values.index, name=values.name, dtype=object)


def typed_symbols(raw: pd.DataFrame) -> pd.Series:
    """The symbol column as it is stored and compared: NFKC-normalized, without blanks."""
    return normalized_symbols(column_of(raw, "symbol"))


def symbol_rules(raw: pd.DataFrame) -> list[RuleOutcome]:
    """The rules every table with a required symbol column applies to it."""
    return [rule_bad_symbol(raw), rule_symbol_invalid(raw)]


def rule_bad_date(raw: pd.Series, typed: pd.Series, column: str = "date") -> RuleOutcome:
    """A date/timestamp that is missing or cannot be parsed."""

    def describe(positions: np.ndarray) -> list[str]:
        values = raw.iloc[positions]
        return [
            f"{column} is missing" if is_missing(value)
            else f"{column} {value!r} is not a valid {column}"
            for value in values
        ]  # fmt: skip

    return outcome(f"bad_{column}", typed.isna(), describe)


def rule_not_finite(raw: pd.DataFrame, typed: pd.DataFrame, columns: Sequence[str]) -> RuleOutcome:
    """NaN, inf, missing or unparseable values in the given numeric columns (one reason each)."""
    parts: list[pd.Series] = []
    bad = np.zeros(len(typed), dtype=bool)
    for column in columns:
        values = typed[column].to_numpy()
        column_bad = ~np.isfinite(values)
        if not column_bad.any():
            continue
        bad |= column_bad
        source = column_of(raw, column)

        def describe(
            positions: np.ndarray, column: str = column, source: pd.Series = source
        ) -> list[str]:
            return [
                f"{column} is missing" if is_missing(value) else
                f"{column} is not a finite number: {value!r}"
                for value in source.iloc[positions]
            ]  # fmt: skip

        parts.append(outcome("not_finite", column_bad, describe).reasons)
    reasons = pd.concat(parts) if parts else pd.Series([], dtype=object)
    return RuleOutcome("not_finite", bad, reasons)


def is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def rule_duplicate_key(typed: pd.DataFrame, key: Sequence[str]) -> RuleOutcome:
    """Every row whose key appears more than once in the batch; no copy is preferred."""
    key = list(key)
    complete = typed[key].notna().all(axis=1)
    bad = (complete & typed.duplicated(subset=key, keep=False)).to_numpy()

    def describe(positions: np.ndarray) -> list[str]:
        rows = typed.iloc[positions][key]
        counts = rows.assign(_one=1).groupby(key)["_one"].transform("sum").to_numpy()
        shown = [
            date_text(rows[column]) if column == "date" else rows[column].astype(str).tolist()
            for column in key
        ]
        return [
            f"key ({', '.join(key)}) = ({', '.join(values)}) appears {count} times in the batch"
            for *values, count in zip(*shown, counts, strict=True)
        ]

    return outcome("duplicate_key", bad, describe)


def rule_future_date(dates: pd.Series, today: date) -> RuleOutcome:
    """A bar dated after today cannot have happened yet."""
    values = dates.to_numpy()
    return outcome(
        "future_date",
        dates > pd.Timestamp(today),
        lambda positions: [
            f"date {day} is after today {today.isoformat()}" for day in date_text(values[positions])
        ],
    )


def rule_required_text(raw: pd.DataFrame, column: str) -> RuleOutcome:
    """A text column that must be present and non-blank."""
    values = column_of(raw, column)
    blank = values.isna().to_numpy() | (values.astype(object).astype(str).str.strip() == "")
    return outcome(f"missing_{column}", blank, f"{column} is missing")


def rule_allowed_values(raw: pd.DataFrame, column: str, allowed: Sequence[str]) -> RuleOutcome:
    """A code column whose value (case-insensitive) must be one of `allowed`."""
    values = column_of(raw, column)
    normalized = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.upper()
    bad = ~normalized.isin(list(allowed)).to_numpy()
    return outcome(
        f"bad_{column}",
        bad,
        lambda positions: [
            f"{column} {value!r} is not one of {', '.join(allowed)}"
            for value in values.iloc[positions]
        ],
    )


def rule_range(
    raw: pd.DataFrame, column: str, low: float, high: float, *, required: bool = True
) -> RuleOutcome:
    """A number that must be finite and within [low, high] (missing allowed unless required)."""
    source = column_of(raw, column)
    values = to_float(source).to_numpy()
    missing = source.isna().to_numpy()
    finite = np.isfinite(values)
    bad = (~finite & (~missing | required)) | (finite & ((values < low) | (values > high)))

    def describe(positions: np.ndarray) -> list[str]:
        return [
            f"{column} is missing" if is_missing(value)
            else f"{column} {value!r} is not a number in [{low:g}, {high:g}]"
            for value in source.iloc[positions]
        ]  # fmt: skip

    return outcome(f"bad_{column}", bad, describe)


def row_check(raw: pd.DataFrame, typed: pd.DataFrame, outcomes: list[RuleOutcome]) -> CheckResult:
    bad, reasons = collect(outcomes, len(raw))
    return CheckResult(typed, bad, reasons)


def waive(result: CheckResult, rules: Iterable[str], waivable: frozenset[str]) -> CheckResult:
    """The result with reasons of the given rules dropped: rows left without reasons pass.

    Only rules in `waivable` (judgment rules: a real 60% gap, a halted stock's repeated bar, a
    session the calendar does not know) can be waived; others raise `DataError`.
    """
    chosen = set(rules)
    if not chosen:
        return result
    unknown = sorted(chosen - waivable)
    if unknown:
        raise DataError(
            f"rule(s) {', '.join(unknown)} cannot be waived; only {', '.join(sorted(waivable))}"
        )
    kept = result.reasons.map(
        lambda reasons: tuple(reason for reason in reasons if reason.rule not in chosen)
    )
    kept = kept[kept.map(len) > 0]
    bad = pd.Series(False, index=result.bad.index)
    bad.iloc[kept.index.to_numpy(dtype=int)] = True
    return CheckResult(result.frame, bad, kept)
