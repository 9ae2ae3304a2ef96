"""The rules of daily bars (`prices_daily`), and the price rules intraday bars share.

A daily bar must be a positive, finite OHLCV bar on a session of its exchange, not after today,
once per (symbol, date); it is held for review when it repeats the previous bar exactly (a feed
that stopped) or moves beyond the jump threshold with no corporate action to explain it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.prices import PRICE_DECIMALS, SMALLEST_PRICE
from stocker.core.rules.common import (
    CalendarSessions,
    CheckResult,
    RuleOutcome,
    collect,
    column_of,
    date_text,
    distinct_normalized_symbols,
    number_text,
    outcome,
    rule_bad_date,
    rule_duplicate_key,
    rule_future_date,
    rule_not_finite,
    symbol_rules,
    symbols_by_calendar,
    to_dates,
    to_float,
    to_timestamps,
)

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_VALUE_COLUMNS = (*PRICE_COLUMNS, "volume")
DAILY_KEY = ("symbol", "date")
DEFAULT_JUMP_THRESHOLD = 0.5


def typed_bars(frame: pd.DataFrame, *, intraday: bool = False) -> pd.DataFrame:
    """The frame on a 0-based index with dates and numbers parsed (bad values → NaN/NaT)."""
    typed = frame.reset_index(drop=True)  # a new frame: copy-on-write keeps `frame` as it was
    for column in ("symbol", *BAR_VALUE_COLUMNS):
        if column not in typed.columns:
            typed[column] = np.nan
    for column in (*BAR_VALUE_COLUMNS, "adj_close"):
        if column in typed.columns:
            typed[column] = to_float(typed[column])
    typed["symbol"] = distinct_normalized_symbols(typed["symbol"])
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


def typed_symbol_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Only the `symbol` and `date` columns of `typed_bars(frame)` (what session context needs),
    without parsing every price column."""
    raw = frame.reset_index(drop=True)
    missing = pd.Series(np.nan, index=raw.index)
    symbols = raw["symbol"] if "symbol" in raw.columns else missing
    dates = raw["date"] if "date" in raw.columns else missing
    return pd.DataFrame({"symbol": distinct_normalized_symbols(symbols), "date": to_dates(dates)})


def rule_non_positive(
    typed: pd.DataFrame, columns: Sequence[str] = PRICE_COLUMNS
) -> list[RuleOutcome]:
    """Prices must be strictly positive as stored (one outcome per column): a price below half
    the smallest stored price (0.00005) would be stored as 0.0000."""
    outcomes = []
    smallest = f"{SMALLEST_PRICE:.{PRICE_DECIMALS}f}"
    for column in columns:
        values = typed[column].to_numpy()

        def describe(
            positions: np.ndarray, column: str = column, values: np.ndarray = values
        ) -> list[str]:
            chosen = values[positions]
            return [
                f"{column} must be > 0, got {text}" if value <= 0
                else f"{column} {text} rounds to 0 at {PRICE_DECIMALS} decimals; the smallest "
                f"stored price is {smallest}"
                for value, text in zip(chosen, number_text(chosen), strict=True)
            ]  # fmt: skip

        outcomes.append(outcome("non_positive_price", values < SMALLEST_PRICE / 2, describe))
    return outcomes


def _comparison(typed: pd.DataFrame, left: str, right: str, relation: str) -> RuleOutcome:
    left_values, right_values = typed[left].to_numpy(), typed[right].to_numpy()
    bad = left_values < right_values if relation == "below" else left_values > right_values

    def describe(positions: np.ndarray) -> list[str]:
        lefts, rights = number_text(left_values[positions]), number_text(right_values[positions])
        return [f"{left} {a} is {relation} {right} {b}" for a, b in zip(lefts, rights, strict=True)]

    return outcome(f"{left}_{relation}_{right}", bad, describe)


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
    return outcome(
        "negative_volume",
        volume < 0,
        lambda positions: [f"volume must be >= 0, got {v}" for v in number_text(volume[positions])],
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
    return outcome(
        "not_a_session",
        bad,
        lambda positions: [
            f"date {day} is not a session of {name}"
            for day, name in zip(date_text(dates[positions]), names[positions], strict=True)
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
            **{column: to_float(context[column]) for column in BAR_VALUE_COLUMNS},
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
    return outcome(
        "stale_bar",
        same,
        lambda positions: [
            f"open/high/low/close/volume identical to the previous bar on {day}"
            for day in date_text(when[positions])
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
                number_text(previous_close[positions]),
                date_text(previous_date[positions]),
                number_text(close[positions]),
                date_text(dates[positions]),
                strict=True,
            )
        ]

    return outcome("price_jump", jumped, describe)


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
            "value": to_float(actions["value"]).to_numpy(),
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


def price_rules(raw: pd.DataFrame, typed: pd.DataFrame) -> list[RuleOutcome]:
    outcomes = [
        *symbol_rules(raw),
        rule_not_finite(raw, typed, BAR_VALUE_COLUMNS),
        *rule_non_positive(typed),
        *rule_high_low(typed),
        rule_negative_volume(typed),
    ]
    if "adj_close" in typed.columns:
        # a missing adj_close is allowed (it is computed); a given one must be a positive number
        adjusted = typed["adj_close"].to_numpy()
        broken = ~column_of(raw, "adj_close").isna().to_numpy() & ~np.isfinite(adjusted)
        outcomes.append(
            outcome(
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
        *price_rules(raw, typed),
        rule_bad_date(column_of(raw, "date"), typed["date"]),
        rule_duplicate_key(typed, DAILY_KEY),
        rule_future_date(typed["date"], today),
        rule_not_session(typed, calendars),
        rule_stale(typed, prior),
        rule_price_jump(typed, prior, actions, jump_threshold),
    ]
    bad, reasons = collect(outcomes, len(typed))
    return CheckResult(typed, bad, reasons)
