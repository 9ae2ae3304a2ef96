"""Back-adjustment of raw closes for splits and cash dividends (CRSP/Yahoo style).

Raw closes jump on every split and ex-dividend date; returns, signals and factors need a series
without those jumps. Each price is multiplied by a cumulative factor built backwards from the
latest price, so the latest adjusted close equals the latest raw close:

- a split with ratio ``r`` (2.0 for 2-for-1) on ex-date ``t`` divides every earlier price by ``r``;
- a cash dividend ``D`` on ex-date ``t`` multiplies every earlier price by ``1 - D / close[t-1]``,
  where ``close[t-1]`` is the raw close of the session before the ex-date.

So the adjusted return on an ex-date is ``close[t] * r / (close[t-1] - D) - 1``: the return of a
holder who reinvests the dividend at the ex-dividend reference price ``close[t-1] - D``.

An action whose ex-date is not a date of the price series applies at the next date that is (the
next session with a price); actions on or before the first price date change nothing, and actions
after the last price date are ignored until a price on or after their ex-date exists (so the
latest adjusted close always equals the latest raw close). Several dividends on one session add
up (cash per share that day); several splits multiply. A dividend on the same session as a split
is taken per share as held before the split, like the close it is divided by.

`docs/corporate_actions.md` works through an example by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stocker.core.errors import DataError
from stocker.core.prices import PRICE_DECIMALS, SMALLEST_PRICE, stored_price

FloatArray = npt.NDArray[np.float64]
ActionsLike = Mapping[Any, float] | Iterable[tuple[Any, float]] | None
"""Actions as ``{ex_date: value}``, a Series indexed by ex-date, or (ex_date, value) pairs."""


def _as_days(values: Any, name: str) -> npt.NDArray[np.datetime64]:
    try:
        index = pd.DatetimeIndex(pd.to_datetime(list(values) if np.ndim(values) else []))
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} must be dates; could not parse them: {error}") from error
    if index.tz is not None:
        index = index.tz_convert(None)
    return np.asarray(index.values.astype("datetime64[D]"))


def _as_actions(actions: ActionsLike, name: str) -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    """Ex-dates and values of actions given in any of the accepted shapes."""
    if actions is None:
        return np.array([], dtype="datetime64[D]"), np.array([], dtype=np.float64)
    pairs = list(actions.items()) if hasattr(actions, "items") else list(actions)
    if not pairs:
        return np.array([], dtype="datetime64[D]"), np.array([], dtype=np.float64)
    days = _as_days([pair[0] for pair in pairs], f"{name} ex-dates")
    try:
        values = np.asarray([float(pair[1]) for pair in pairs], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{name} values must be numbers: {error}") from error
    return days, values


def _validate_prices(days: npt.NDArray[np.datetime64], close: FloatArray) -> None:
    if days.shape != close.shape:
        raise DataError(
            f"close has {close.size} values but dates has {days.size}; expected one close per date"
        )
    if days.size > 1:
        steps = np.diff(days).astype(np.int64)
        if (steps <= 0).any():
            position = int(np.argmax(steps <= 0)) + 1
            raise DataError(
                f"dates must be strictly ascending; date {days[position]} at position {position} "
                f"follows {days[position - 1]}"
            )
    bad = ~np.isfinite(close) | (close <= 0)
    if bad.any():
        position = int(np.argmax(bad))
        raise DataError(
            f"close on {days[position]} is {close[position]!r}; expected a positive finite price"
        )


def actions_by_session(
    dates: Any, splits: ActionsLike = None, dividends: ActionsLike = None
) -> tuple[FloatArray, FloatArray]:
    """Split ratio and dividend per share that take effect at each date of the price series.

    Returns two arrays aligned with `dates`: the product of split ratios (1.0 where none) and
    the sum of dividends (0.0 where none) whose ex-date maps to that date. Actions on or before
    the first date and after the last date are dropped (see the module docstring).
    """
    days = _as_days(dates, "dates")
    count = days.size
    split_ratio = np.ones(count, dtype=np.float64)
    dividend = np.zeros(count, dtype=np.float64)
    split_days, ratios = _as_actions(splits, "splits")
    dividend_days, amounts = _as_actions(dividends, "dividends")
    bad_ratio = ~np.isfinite(ratios) | (ratios <= 0)
    if bad_ratio.any():
        position = int(np.argmax(bad_ratio))
        raise DataError(
            f"split ratio on {split_days[position]} is {ratios[position]!r}; "
            f"expected a positive number (2.0 for a 2-for-1 split)"
        )
    bad_amount = ~np.isfinite(amounts) | (amounts < 0)
    if bad_amount.any():
        position = int(np.argmax(bad_amount))
        raise DataError(
            f"dividend on {dividend_days[position]} is {amounts[position]!r}; "
            f"expected a non-negative cash amount per share"
        )
    if count == 0:
        return split_ratio, dividend
    # The session each action lands on: the first price date on or after its ex-date.
    split_at = np.searchsorted(days, split_days, side="left")
    dividend_at = np.searchsorted(days, dividend_days, side="left")
    keep = (split_at > 0) & (split_at < count)
    np.multiply.at(split_ratio, split_at[keep], ratios[keep])
    keep = (dividend_at > 0) & (dividend_at < count)
    np.add.at(dividend, dividend_at[keep], amounts[keep])
    return split_ratio, dividend


def adjustment_factors(
    dates: Any, close: Any, splits: ActionsLike = None, dividends: ActionsLike = None
) -> FloatArray:
    """Cumulative factor per date such that ``adjusted_close = close * factor``.

    The factor is 1 on and after the last action inside the price range.

    Raises
    ------
    DataError
        On unordered dates, non-positive closes or ratios, negative dividends, or a dividend not
        below the close before its ex-date (which would make the factor non-positive).
    """
    days = _as_days(dates, "dates")
    prices = np.asarray(close, dtype=np.float64)
    _validate_prices(days, prices)
    split_ratio, dividend = actions_by_session(days, splits, dividends)
    count = days.size
    if count == 0:
        return np.ones(0, dtype=np.float64)
    previous_close = np.empty(count, dtype=np.float64)
    previous_close[0] = np.nan
    previous_close[1:] = prices[:-1]
    with np.errstate(invalid="ignore"):
        dividend_multiplier = np.where(dividend > 0, 1.0 - dividend / previous_close, 1.0)
    if (dividend_multiplier <= 0).any():
        position = int(np.argmax(dividend_multiplier <= 0))
        raise DataError(
            f"dividend {dividend[position]!r} on ex-date {days[position]} is not below the "
            f"previous close {previous_close[position]!r} on {days[position - 1]}; "
            f"expected a dividend smaller than the price"
        )
    # multiplier[k] applies to every price before position k.
    multiplier = dividend_multiplier / split_ratio
    factors = np.ones(count, dtype=np.float64)
    factors[:-1] = np.cumprod(multiplier[::-1])[::-1][1:]
    return factors


def adjusted_close(
    dates: Any, close: Any, splits: ActionsLike = None, dividends: ActionsLike = None
) -> FloatArray:
    """Raw closes back-adjusted for splits and dividends (see the module docstring)."""
    prices = np.asarray(close, dtype=np.float64)
    return prices * adjustment_factors(dates, prices, splits, dividends)


def _actions_of(actions: pd.DataFrame, action_type: str) -> list[tuple[Any, float]]:
    chosen = actions.loc[actions["action_type"] == action_type]
    return [(day, float(value)) for day, value in zip(chosen["date"], chosen["value"], strict=True)]


def adjusted_closes(prices: pd.DataFrame, actions: pd.DataFrame) -> pd.Series:
    """`adjusted_close` of many symbols at once: one value per row of `prices`, same index.

    `prices` has columns ``symbol, date, close`` with each symbol's rows in ascending date order;
    `actions` has ``symbol, date, action_type`` (SPLIT or DIVIDEND) and ``value``. This is the
    one place stored closes and actions become adjusted closes (ingest fills a missing
    adj_close with it; re-adjustment rewrites history with it).
    """
    values = pd.Series(np.nan, index=prices.index, dtype=np.float64)
    if prices.empty:
        return values
    by_symbol = dict(tuple(actions.groupby("symbol", sort=False))) if len(actions) else {}
    empty = actions.iloc[0:0]
    for symbol, rows in prices.groupby("symbol", sort=False):
        own = by_symbol.get(symbol, empty)
        values.loc[rows.index] = adjusted_close(
            list(rows["date"]),
            rows["close"].to_numpy(dtype=np.float64),
            _actions_of(own, "SPLIT"),
            _actions_of(own, "DIVIDEND"),
        )
    return values


def stored_price_texts(values: Any) -> list[str]:
    """`str(stocker.core.prices.stored_price(v))` for every value, at f-string speed.

    A float's fixed-point text rounds its exact binary value half-even; `stored_price` rounds
    its shortest repr half away from zero. They differ only for values within a few ulps of a
    midpoint of the fourth decimal, so only those (and values below the smallest price) take
    the exact path.
    """
    numbers = np.asarray(values, dtype=np.float64)
    texts = [f"{value:.{PRICE_DECIMALS}f}" for value in numbers]
    scaled = numbers * 10.0**PRICE_DECIMALS
    distance = np.abs(scaled - np.floor(scaled) - 0.5)
    exact = (distance <= 64 * np.spacing(np.abs(scaled))) | (numbers < SMALLEST_PRICE)
    for position in np.flatnonzero(exact):
        texts[position] = str(stored_price(float(numbers[position])))
    return texts


def total_return_index(
    dates: Any, close: Any, splits: ActionsLike = None, dividends: ActionsLike = None
) -> FloatArray:
    """Growth of 1.0 invested at the first close with dividends reinvested, per date.

    Reinvestment happens at the ex-dividend reference price ``close[t-1] - D``, the convention
    the adjusted close embodies, so this is the adjusted close rescaled to start at 1.
    """
    adjusted = adjusted_close(dates, close, splits, dividends)
    if adjusted.size == 0:
        return adjusted
    return adjusted / adjusted[0]


def adjustment_disagreements(
    computed: pd.DataFrame | pd.Series,
    vendor: pd.DataFrame | pd.Series,
    relative_tolerance: float = 1e-3,
) -> pd.DataFrame:
    """Where a vendor's adjusted close differs from ours by more than a relative tolerance.

    Both inputs are (dates x symbols) frames, or one symbol's Series indexed by date; only dates
    and symbols present and non-missing in both are compared. Returns one row per disagreement
    with columns ``date, symbol, computed, vendor, relative_difference`` where the difference is
    ``|vendor - computed| / |computed|``, sorted by symbol and date.
    """
    if not relative_tolerance >= 0:
        raise DataError(
            f"relative_tolerance is {relative_tolerance!r}; expected a non-negative number"
        )
    ours = (
        computed.to_frame(computed.name or "value") if isinstance(computed, pd.Series) else computed
    )
    theirs = vendor.to_frame(ours.columns[0]) if isinstance(vendor, pd.Series) else vendor
    ours, theirs = ours.align(theirs, join="inner")
    ours_long = ours.astype(np.float64).stack()
    theirs_long = theirs.astype(np.float64).stack()
    both = pd.concat({"computed": ours_long, "vendor": theirs_long}, axis=1).dropna()
    both["relative_difference"] = (both["vendor"] - both["computed"]).abs() / both["computed"].abs()
    flagged = both[both["relative_difference"] > relative_tolerance]
    flagged = flagged.rename_axis(["date", "symbol"]).reset_index()
    columns = ["date", "symbol", "computed", "vendor", "relative_difference"]
    return flagged.sort_values(["symbol", "date"], kind="stable")[columns].reset_index(drop=True)
