"""Validation rules for price bars, vectorized over a DataFrame of bars.

Every rule looks at a whole frame at once and returns a `RuleOutcome`: a boolean mask of the rows
that break it and one reason per broken row (``"<rule>: <what is wrong, with the values>"``).
`check_daily_bars` / `check_intraday_bars` run every rule and collect all reasons per row, so a
quarantined row says everything that is wrong with it at once. Reason text is only built for the
rows that broke a rule, so a clean batch costs a handful of vector comparisons.

Positions, not labels: frames are checked by position (0-based), so callers may pass any index.
Everything the rules need from the outside world arrives as arguments — exchange sessions per
symbol, "today", the previous stored bar per symbol, corporate actions — so the rules stay pure and
a test can state the world exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from stocker.core.errors import DataError

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
DAILY_KEY = ("symbol", "date")
INTRADAY_KEY = ("symbol", "timestamp", "interval")
DEFAULT_JUMP_THRESHOLD = 0.5
SYMBOL_MAX_LENGTH = 20

_INTERVAL_PATTERN = re.compile(r"^\s*(\d+)\s*(m|min|h)\s*$")

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


# --- helpers -------------------------------------------------------------------------------------


def _outcome(rule: str, bad: pd.Series | np.ndarray, describe: Describe | str) -> RuleOutcome:
    """A mask plus reasons ``"rule: text"``; `describe(positions)` runs only when a row is bad."""
    mask = np.asarray(pd.Series(bad).fillna(False), dtype=bool)
    positions = np.flatnonzero(mask)
    if not len(positions):
        return RuleOutcome(rule, mask, pd.Series([], dtype=object))
    if isinstance(describe, str):
        texts: list[str] = [describe] * len(positions)
    else:
        texts = [str(text) for text in np.asarray(describe(positions), dtype=object)]
    reasons = pd.Series([f"{rule}: {text}" for text in texts], index=positions, dtype=object)
    return RuleOutcome(rule, mask, reasons)


def _number_text(values: Iterable[Any]) -> list[str]:
    """Numbers as short text for messages."""
    return [f"{value:.10g}" if not _is_missing(value) else "missing" for value in values]


def _date_text(values: Iterable[Any]) -> list[str]:
    return [
        "?" if _is_missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d") for value in values
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
    reasons = pd.concat(parts).groupby(level=0, sort=True).agg(tuple)
    return pd.Series(bad), reasons


def interval_length(interval: str) -> pd.Timedelta:
    """'5m' → 5 minutes, '1h' → 1 hour; anything else is a DataError."""
    match = _INTERVAL_PATTERN.match(str(interval))
    if not match or int(match.group(1)) <= 0:
        raise DataError(
            f"interval {interval!r} is not a bar interval; expected like '1m', '5m', '1h'"
        )
    count, unit = int(match.group(1)), match.group(2)
    return pd.Timedelta(minutes=count) if unit in ("m", "min") else pd.Timedelta(hours=count)


def symbols_by_calendar(
    calendars: Mapping[str, CalendarSessions],
) -> dict[str, tuple[CalendarSessions, list[str]]]:
    """Group a symbol → sessions mapping by calendar, so each calendar is checked once."""
    grouped: dict[str, tuple[CalendarSessions, list[str]]] = {}
    for symbol, sessions in calendars.items():
        grouped.setdefault(sessions.name, (sessions, []))[1].append(symbol)
    return grouped


# --- typing the frame ----------------------------------------------------------------------------


def _to_float(values: pd.Series) -> pd.Series:
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


def typed_bars(frame: pd.DataFrame, *, intraday: bool = False) -> pd.DataFrame:
    """The frame on a 0-based index with dates and numbers parsed (bad values → NaN/NaT)."""
    typed = frame.reset_index(drop=True).copy()
    for column in ("symbol", *BAR_VALUE_COLUMNS):
        if column not in typed.columns:
            typed[column] = np.nan
    for column in (*BAR_VALUE_COLUMNS, "adj_close"):
        if column in typed.columns:
            typed[column] = _to_float(typed[column])
    if intraday:
        for column in ("timestamp", "interval"):
            if column not in typed.columns:
                typed[column] = np.nan
        typed["timestamp"] = to_timestamps(typed["timestamp"])
    else:
        if "date" not in typed.columns:
            typed["date"] = np.nan
        typed["date"] = to_dates(typed["date"])
    return typed


def _column(raw: pd.DataFrame, name: str) -> pd.Series:
    return raw[name] if name in raw.columns else pd.Series(np.nan, index=raw.index, dtype=object)


# --- rules on single rows -------------------------------------------------------------------------


def rule_bad_symbol(raw: pd.DataFrame, max_length: int = SYMBOL_MAX_LENGTH) -> RuleOutcome:
    """Symbol missing, blank, or longer than the column allows."""
    symbol = _column(raw, "symbol")
    text = symbol.astype(object).where(symbol.notna(), "").astype(str).str.strip()
    missing = (symbol.isna() | (text == "")).to_numpy()
    too_long = ~missing & (text.str.len() > max_length).to_numpy()

    def describe(positions: np.ndarray) -> list[str]:
        return [
            f"symbol {text.iat[p]!r} is longer than {max_length}" if too_long[p]
            else "symbol is missing"
            for p in positions
        ]  # fmt: skip

    return _outcome("bad_symbol", missing | too_long, describe)


def rule_bad_date(raw: pd.Series, typed: pd.Series, column: str = "date") -> RuleOutcome:
    """A date/timestamp that is missing or cannot be parsed."""

    def describe(positions: np.ndarray) -> list[str]:
        values = raw.iloc[positions]
        return [
            f"{column} is missing" if _is_missing(value)
            else f"{column} {value!r} is not a valid {column}"
            for value in values
        ]  # fmt: skip

    return _outcome(f"bad_{column}", typed.isna(), describe)


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
        source = _column(raw, column)

        def describe(
            positions: np.ndarray, column: str = column, source: pd.Series = source
        ) -> list[str]:
            return [
                f"{column} is missing" if _is_missing(value) else
                f"{column} is not a finite number: {value!r}"
                for value in source.iloc[positions]
            ]  # fmt: skip

        parts.append(_outcome("not_finite", column_bad, describe).reasons)
    reasons = pd.concat(parts) if parts else pd.Series([], dtype=object)
    return RuleOutcome("not_finite", bad, reasons)


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def rule_non_positive(
    typed: pd.DataFrame, columns: Sequence[str] = PRICE_COLUMNS
) -> list[RuleOutcome]:
    """Prices must be strictly positive (one outcome per column)."""
    outcomes = []
    for column in columns:
        values = typed[column].to_numpy()

        def describe(
            positions: np.ndarray, column: str = column, values: np.ndarray = values
        ) -> list[str]:
            return [f"{column} must be > 0, got {text}" for text in _number_text(values[positions])]

        outcomes.append(_outcome("non_positive_price", values <= 0, describe))
    return outcomes


def _comparison(typed: pd.DataFrame, left: str, right: str, relation: str) -> RuleOutcome:
    left_values, right_values = typed[left].to_numpy(), typed[right].to_numpy()
    bad = left_values < right_values if relation == "below" else left_values > right_values

    def describe(positions: np.ndarray) -> list[str]:
        lefts, rights = _number_text(left_values[positions]), _number_text(right_values[positions])
        return [f"{left} {a} is {relation} {right} {b}" for a, b in zip(lefts, rights, strict=True)]

    return _outcome(f"{left}_{relation}_{right}", bad, describe)


def rule_high_low(typed: pd.DataFrame) -> list[RuleOutcome]:
    """High must be the highest price of the bar and low the lowest (one rule per comparison)."""
    return [
        _comparison(typed, "high", "open", "below"),
        _comparison(typed, "high", "close", "below"),
        _comparison(typed, "high", "low", "below"),
        _comparison(typed, "low", "open", "above"),
        _comparison(typed, "low", "close", "above"),
    ]


def rule_negative_volume(typed: pd.DataFrame) -> RuleOutcome:
    volume = typed["volume"].to_numpy()
    return _outcome(
        "negative_volume",
        volume < 0,
        lambda positions: [
            f"volume must be >= 0, got {v}" for v in _number_text(volume[positions])
        ],
    )


def rule_duplicate_key(typed: pd.DataFrame, key: Sequence[str]) -> RuleOutcome:
    """Every row whose key appears more than once in the batch; no copy is preferred."""
    key = list(key)
    complete = typed[key].notna().all(axis=1)
    bad = (complete & typed.duplicated(subset=key, keep=False)).to_numpy()

    def describe(positions: np.ndarray) -> list[str]:
        rows = typed.iloc[positions][key]
        counts = rows.assign(_one=1).groupby(key)["_one"].transform("sum").to_numpy()
        shown = [
            _date_text(rows[column]) if column == "date" else rows[column].astype(str).tolist()
            for column in key
        ]
        return [
            f"key ({', '.join(key)}) = ({', '.join(values)}) appears {count} times in the batch"
            for *values, count in zip(*shown, counts, strict=True)
        ]

    return _outcome("duplicate_key", bad, describe)


def rule_future_date(dates: pd.Series, today: date) -> RuleOutcome:
    """A bar dated after today cannot have happened yet."""
    values = dates.to_numpy()
    return _outcome(
        "future_date",
        dates > pd.Timestamp(today),
        lambda positions: [
            f"date {day} is after today {today.isoformat()}"
            for day in _date_text(values[positions])
        ],
    )


def rule_not_session(
    typed: pd.DataFrame, calendars: Mapping[str, CalendarSessions] | None
) -> RuleOutcome:
    """A daily bar on a date the symbol's exchange was closed (weekend, holiday).

    Symbols missing from `calendars`, and dates outside the range the sessions cover, are not
    judged.
    """
    bad = np.zeros(len(typed), dtype=bool)
    names = np.full(len(typed), "", dtype=object)
    for name, (sessions, symbols) in symbols_by_calendar(calendars or {}).items():
        judged = typed["symbol"].isin(symbols) & sessions.covers(typed["date"])
        closed = (judged & ~typed["date"].isin(sessions.dates)).to_numpy()
        bad |= closed
        names[closed] = name
    dates = typed["date"].to_numpy()
    return _outcome(
        "not_a_session",
        bad,
        lambda positions: [
            f"date {day} is not a session of {name}"
            for day, name in zip(_date_text(dates[positions]), names[positions], strict=True)
        ],
    )


# --- rules that compare a bar with the one before it ---------------------------------------------


def previous_bars(
    typed: pd.DataFrame, previous: pd.DataFrame | None, time_column: str = "date"
) -> pd.DataFrame:
    """Each row's previous bar of the same symbol: the batch row before it, or the stored bar.

    `previous` holds, per symbol, the last stored bar before the batch's first bar of that symbol.
    Returns a frame aligned with `typed` with columns `prev_<time>`, `prev_open`, … (NaN if none).
    A row with the same time as the one before it (a duplicate) gets no previous bar.
    """
    columns = [time_column, *BAR_VALUE_COLUMNS]
    batch = typed.loc[typed[time_column].notna() & typed["symbol"].notna(), ["symbol", *columns]]
    frames = [batch.assign(_position=np.arange(len(typed))[batch.index.to_numpy()], _context=0)]
    if previous is not None and len(previous):
        context = previous.reset_index(drop=True)
        parse = to_dates if time_column == "date" else to_timestamps
        context = context.assign(
            **{column: _to_float(context[column]) for column in BAR_VALUE_COLUMNS},
            **{time_column: parse(context[time_column])},
        )[["symbol", *columns]]
        frames.append(context.assign(_position=-1, _context=-1))
    combined = pd.concat(frames, ignore_index=True)
    combined = combined.sort_values(["symbol", time_column, "_context"], kind="stable")
    shifted = combined.groupby("symbol", sort=False)[columns].shift(1)
    shifted.columns = [f"prev_{column}" for column in columns]
    shifted["_position"] = combined["_position"].to_numpy()
    shifted = shifted.loc[shifted["_position"] >= 0].set_index("_position")
    aligned = shifted.reindex(pd.RangeIndex(len(typed)))
    same_time = (aligned[f"prev_{time_column}"] >= typed[time_column].to_numpy()).to_numpy()
    aligned.loc[same_time] = np.nan
    return aligned


def rule_stale(typed: pd.DataFrame, prior: pd.DataFrame) -> RuleOutcome:
    """Open, high, low, close and volume all equal to the previous bar: a feed that stopped."""
    same = np.ones(len(typed), dtype=bool)
    for column in BAR_VALUE_COLUMNS:
        same &= typed[column].to_numpy() == prior[f"prev_{column}"].to_numpy()
    when = prior["prev_date"].to_numpy()
    return _outcome(
        "stale_bar",
        same,
        lambda positions: [
            f"open/high/low/close/volume identical to the previous bar on {day}"
            for day in _date_text(when[positions])
        ],
    )


def rule_price_jump(
    typed: pd.DataFrame,
    prior: pd.DataFrame,
    actions: pd.DataFrame | None,
    threshold: float = DEFAULT_JUMP_THRESHOLD,
) -> RuleOutcome:
    """A close-to-close move beyond `threshold` (0.5 = 50%) that no corporate action explains.

    A split on the bar's date explains any move; a dividend explains it when adding the dividend
    back brings the move within the threshold.
    """
    if not threshold > 0:
        raise DataError(f"jump_threshold must be > 0, got {threshold}")
    previous_close = prior["prev_close"].to_numpy()
    previous_close = np.where(
        np.isfinite(previous_close) & (previous_close > 0), previous_close, np.nan
    )
    close = typed["close"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        change = close / previous_close - 1.0
        jumped = np.abs(change) > threshold
    if jumped.any() and actions is not None and len(actions):
        jumped &= ~_explained_by_actions(typed, actions, previous_close, threshold, jumped)
    previous_date = prior["prev_date"].to_numpy()
    dates = typed["date"].to_numpy()

    def describe(positions: np.ndarray) -> list[str]:
        return [
            f"close moved {move:+.1%} from {before} on {then} to {after}, beyond the "
            f"{threshold:.0%} limit, with no corporate action on {day}"
            for move, before, then, after, day in zip(
                change[positions],
                _number_text(previous_close[positions]),
                _date_text(previous_date[positions]),
                _number_text(close[positions]),
                _date_text(dates[positions]),
                strict=True,
            )
        ]

    return _outcome("price_jump", jumped, describe)


def _explained_by_actions(
    typed: pd.DataFrame,
    actions: pd.DataFrame,
    previous_close: np.ndarray,
    threshold: float,
    jumped: np.ndarray,
) -> np.ndarray:
    events = pd.DataFrame(
        {
            "symbol": actions["symbol"].astype(str).to_numpy(),
            "date": to_dates(actions["date"]).to_numpy(),
            "action_type": actions["action_type"].astype(str).str.upper().to_numpy(),
            "value": _to_float(actions["value"]).to_numpy(),
        }
    )
    rows = typed.loc[jumped, ["symbol", "date", "close"]].assign(
        previous_close=previous_close[jumped]
    )
    splits = events.loc[events["action_type"] == "SPLIT", ["symbol", "date"]].drop_duplicates()
    dividends = (
        events.loc[events["action_type"] == "DIVIDEND"]
        .groupby(["symbol", "date"], as_index=False)["value"]
        .sum()
    )
    keyed = rows.reset_index().merge(splits.assign(split=True), on=["symbol", "date"], how="left")
    keyed = keyed.merge(dividends, on=["symbol", "date"], how="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        with_dividend = (keyed["close"] + keyed["value"]) / keyed["previous_close"] - 1.0
    explained_rows = keyed["split"].fillna(False).astype(bool) | (with_dividend.abs() <= threshold)
    explained = np.zeros(len(typed), dtype=bool)
    explained[keyed.loc[explained_rows.to_numpy(), "index"].to_numpy()] = True
    return explained


# --- intraday-only rules --------------------------------------------------------------------------


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
    values = _column(raw, "interval")
    return _outcome(
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
        _outcome(
            "outside_session",
            outside,
            lambda positions: [
                f"timestamp {stamp} is outside {name} session hours"
                for stamp, name in zip(stamps_text[positions], names[positions], strict=True)
            ],
        ),
        _outcome(
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
    return _outcome(
        "future_date",
        timestamps >= limit,
        lambda positions: [
            f"timestamp {stamp} is after today {today.isoformat()}" for stamp in stamps[positions]
        ],
    )


# --- the rule sets --------------------------------------------------------------------------------


def _price_rules(raw: pd.DataFrame, typed: pd.DataFrame) -> list[RuleOutcome]:
    outcomes = [
        rule_bad_symbol(raw),
        rule_not_finite(raw, typed, BAR_VALUE_COLUMNS),
        *rule_non_positive(typed),
        *rule_high_low(typed),
        rule_negative_volume(typed),
    ]
    if "adj_close" in typed.columns:
        # a missing adj_close is allowed (it is computed); a given one must be a positive number
        adjusted = typed["adj_close"].to_numpy()
        broken = ~_column(raw, "adj_close").isna().to_numpy() & ~np.isfinite(adjusted)
        outcomes.append(
            _outcome(
                "not_finite",
                broken,
                lambda positions: [
                    f"adj_close is not a finite number: {value!r}"
                    for value in raw["adj_close"].iloc[positions]
                ],
            )
        )
        outcomes.extend(rule_non_positive(typed, ("adj_close",)))
    return outcomes


def check_daily_bars(
    frame: pd.DataFrame,
    *,
    today: date,
    calendars: Mapping[str, CalendarSessions] | None = None,
    previous: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    jump_threshold: float = DEFAULT_JUMP_THRESHOLD,
) -> CheckResult:
    """Run every daily-bar rule over `frame` (columns of `prices_daily`).

    Parameters
    ----------
    today : the last date a bar may carry.
    calendars : symbol → its exchange's sessions; symbols not in it skip the session rule.
    previous : per symbol, the last stored bar before the batch's first bar of that symbol
        (columns symbol, date, open, high, low, close, volume), for the stale and jump rules.
    actions : corporate actions (symbol, date, action_type, value) that may explain a jump.
    jump_threshold : largest close-to-close move accepted without a corporate action (0.5 = 50%).
    """
    raw = frame.reset_index(drop=True)
    typed = typed_bars(frame)
    prior = previous_bars(typed, previous)
    outcomes = [
        *_price_rules(raw, typed),
        rule_bad_date(_column(raw, "date"), typed["date"]),
        rule_duplicate_key(typed, DAILY_KEY),
        rule_future_date(typed["date"], today),
        rule_not_session(typed, calendars),
        rule_stale(typed, prior),
        rule_price_jump(typed, prior, actions, jump_threshold),
    ]
    bad, reasons = collect(outcomes, len(typed))
    return CheckResult(typed, bad, reasons)


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
        *_price_rules(raw, typed),
        rule_bad_date(_column(raw, "timestamp"), typed["timestamp"], column="timestamp"),
        rule_bad_interval(raw, lengths),
        rule_duplicate_key(typed, INTRADAY_KEY),
        rule_future_timestamp(typed["timestamp"], today),
        *rule_intraday_session(typed, lengths, calendars),
    ]
    bad, reasons = collect(outcomes, len(typed))
    return CheckResult(typed, bad, reasons)


# --- the other tables a source can deliver --------------------------------------------------------

ACTION_TYPES = ("SPLIT", "DIVIDEND")
PERIOD_TYPES = ("DAILY", "TTM", "FQ", "FY")


def rule_required_text(raw: pd.DataFrame, column: str) -> RuleOutcome:
    """A text column that must be present and non-blank."""
    values = _column(raw, column)
    blank = values.isna().to_numpy() | (values.astype(object).astype(str).str.strip() == "")
    return _outcome(f"missing_{column}", blank, f"{column} is missing")


def rule_allowed_values(raw: pd.DataFrame, column: str, allowed: Sequence[str]) -> RuleOutcome:
    """A code column whose value (case-insensitive) must be one of `allowed`."""
    values = _column(raw, column)
    normalized = values.astype(object).where(values.notna(), "").astype(str).str.strip().str.upper()
    bad = ~normalized.isin(list(allowed)).to_numpy()
    return _outcome(
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
    source = _column(raw, column)
    values = _to_float(source).to_numpy()
    missing = source.isna().to_numpy()
    finite = np.isfinite(values)
    bad = (~finite & (~missing | required)) | (finite & ((values < low) | (values > high)))

    def describe(positions: np.ndarray) -> list[str]:
        return [
            f"{column} is missing" if _is_missing(value)
            else f"{column} {value!r} is not a number in [{low:g}, {high:g}]"
            for value in source.iloc[positions]
        ]  # fmt: skip

    return _outcome(f"bad_{column}", bad, describe)


def _row_check(raw: pd.DataFrame, typed: pd.DataFrame, outcomes: list[RuleOutcome]) -> CheckResult:
    bad, reasons = collect(outcomes, len(raw))
    return CheckResult(typed, bad, reasons)


def check_corporate_actions(frame: pd.DataFrame) -> CheckResult:
    """Splits and dividends: a symbol, an ex-date, SPLIT or DIVIDEND, and a positive value.

    Ex-dates may lie in the future (dividends are announced ahead); `action_type` comes back
    upper-cased in the typed frame.
    """
    raw = frame.reset_index(drop=True)
    typed = raw.copy()
    typed["date"] = to_dates(_column(raw, "date"))
    typed["value"] = _to_float(_column(raw, "value"))
    typed["action_type"] = _column(raw, "action_type").astype(object).astype(str).str.upper()
    value = typed["value"].to_numpy()
    outcomes = [
        rule_bad_symbol(raw),
        rule_bad_date(_column(raw, "date"), typed["date"]),
        rule_allowed_values(raw, "action_type", ACTION_TYPES),
        _outcome(
            "bad_value",
            ~(np.isfinite(value) & (value > 0)),
            lambda positions: [
                f"value must be a number > 0, got {item!r}"
                for item in _column(raw, "value").iloc[positions]
            ],
        ),
        rule_duplicate_key(typed, ("symbol", "date", "action_type")),
    ]
    return _row_check(raw, typed, outcomes)


def check_instruments(frame: pd.DataFrame) -> CheckResult:
    """Instrument master rows: a valid symbol, once per batch."""
    raw = frame.reset_index(drop=True)
    outcomes = [
        rule_bad_symbol(raw),
        rule_duplicate_key(raw.assign(symbol=_column(raw, "symbol")), ("symbol",)),
    ]
    return _row_check(raw, raw.copy(), outcomes)


def check_metrics(frame: pd.DataFrame, *, today: date) -> CheckResult:
    """Fundamentals: symbol, an as-of date not in the future, a period type and a source."""
    raw = frame.reset_index(drop=True)
    typed = raw.copy()
    typed["as_of_date"] = to_dates(_column(raw, "as_of_date"))
    typed["period_type"] = _column(raw, "period_type").astype(object).astype(str).str.upper()
    outcomes = [
        rule_bad_symbol(raw),
        rule_bad_date(_column(raw, "as_of_date"), typed["as_of_date"], column="as_of_date"),
        rule_future_date(typed["as_of_date"], today),
        rule_allowed_values(raw, "period_type", PERIOD_TYPES),
        rule_required_text(raw, "source"),
        rule_duplicate_key(typed, ("symbol", "as_of_date", "period_type", "source")),
    ]
    return _row_check(raw, typed, outcomes)


def check_sentiment(frame: pd.DataFrame, *, today: date) -> CheckResult:
    """Sentiment: a date not in the future, a source, a score in [-1, 1]; symbol may be empty."""
    raw = frame.reset_index(drop=True)
    typed = raw.copy()
    typed["date"] = to_dates(_column(raw, "date"))
    symbol = _column(raw, "symbol")
    present = symbol.notna().to_numpy()
    outcomes = [
        _outcome(
            "bad_symbol",
            present & (symbol.astype(object).astype(str).str.len() > SYMBOL_MAX_LENGTH).to_numpy(),
            lambda positions: [
                f"symbol {value!r} is longer than {SYMBOL_MAX_LENGTH}"
                for value in symbol.iloc[positions]
            ],
        ),
        rule_bad_date(_column(raw, "date"), typed["date"]),
        rule_future_date(typed["date"], today),
        rule_required_text(raw, "source"),
        rule_range(raw, "sentiment_score", -1.0, 1.0),
        # market-wide rows (no symbol) share one key per date and source
        rule_duplicate_key(
            typed.assign(symbol=symbol.astype(object).where(present, "(market)")),
            ("symbol", "date", "source"),
        ),
    ]
    return _row_check(raw, typed, outcomes)
