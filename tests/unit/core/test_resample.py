"""Session-aligned resampling, checked against pandas `resample().agg(...)` in New York time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocker.core.bar_rules import CalendarSessions
from stocker.core.errors import DataError
from stocker.core.resample import OHLCV_AGGREGATION, daily_bars, resample_bars
from stocker.data.calendars import get_calendar

_SCHEDULE = get_calendar("XNYS").schedule.loc["2024-11-20":"2024-12-31"]
XNYS = CalendarSessions(
    "XNYS",
    pd.DatetimeIndex(_SCHEDULE.index),
    pd.DatetimeIndex(_SCHEDULE["open"]),
    pd.DatetimeIndex(_SCHEDULE["close"]),
)
# Thanksgiving week: a full day, the holiday, and the 13:00 early close.
DAYS = ["2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]


def minute_bars(seed: int, symbol: str = "AAA", days=DAYS, drop_fraction: float = 0.0):
    """Every trading minute of `days` as a random walk; optionally with missing minutes."""
    rng = np.random.default_rng(seed)
    minutes = pd.DatetimeIndex(
        np.concatenate(
            [
                pd.date_range(
                    _SCHEDULE.loc[day, "open"], _SCHEDULE.loc[day, "close"], freq="1min",
                    inclusive="left",
                ).as_unit("ns")
                for day in days
            ]
        )
    )  # fmt: skip
    if drop_fraction:
        minutes = minutes[rng.random(len(minutes)) >= drop_fraction]
    count = len(minutes)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))
    open_ = close * (1 + rng.normal(0, 0.0005, count))
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": minutes,
            "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.random(count) * 0.001),
            "low": np.minimum(open_, close) * (1 - rng.random(count) * 0.001),
            "close": close,
            "volume": rng.integers(0, 10_000, count).astype(float),
        }
    )


def pandas_oracle(frame: pd.DataFrame, rule: str, offset: str | None) -> pd.DataFrame:
    """What pandas gives for one symbol, in exchange time, bins offset to the 9:30 open."""
    local = frame.set_index(frame["timestamp"].dt.tz_convert("America/New_York"))
    kwargs = {"offset": offset} if offset else {}
    result = local[list(OHLCV_AGGREGATION)].resample(rule, **kwargs).agg(OHLCV_AGGREGATION)
    return result.dropna(subset=["open"])


@pytest.mark.parametrize(("interval", "rule"), [("5m", "5min"), ("15m", "15min"), ("1h", "1h")])
def test_resample_matches_pandas_resample_agg(interval, rule):
    frame = minute_bars(seed=1)
    ours = resample_bars(frame, {"AAA": XNYS}, interval)
    oracle = pandas_oracle(frame, rule, offset="30min")
    assert (ours["interval"] == interval).all()
    assert ours["timestamp"].tolist() == oracle.index.tz_convert("UTC").tolist()
    for column in OHLCV_AGGREGATION:
        np.testing.assert_allclose(ours[column].to_numpy(), oracle[column].to_numpy(), rtol=1e-12)


def test_resample_hourly_bins_start_at_the_half_hour_and_end_at_the_close():
    ours = resample_bars(minute_bars(seed=2, days=["2024-11-29"]), {"AAA": XNYS}, "1h")
    local = ours["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%H:%M").tolist()
    assert local == ["09:30", "10:30", "11:30", "12:30"]  # early close at 13:00


def test_resample_with_missing_minutes_still_matches_pandas():
    frame = minute_bars(seed=3, drop_fraction=0.3)
    ours = resample_bars(frame, {"AAA": XNYS}, "5m")
    oracle = pandas_oracle(frame, "5min", offset="30min")
    np.testing.assert_allclose(ours["close"].to_numpy(), oracle["close"].to_numpy())
    np.testing.assert_allclose(ours["volume"].to_numpy(), oracle["volume"].to_numpy())


def test_resample_keeps_symbols_apart_and_ignores_input_order():
    first, second = minute_bars(seed=4, symbol="AAA"), minute_bars(seed=5, symbol="BBB")
    shuffled = pd.concat([first, second]).sample(frac=1.0, random_state=0)
    ours = resample_bars(shuffled, {"AAA": XNYS, "BBB": XNYS}, "1h")
    for symbol, frame in (("AAA", first), ("BBB", second)):
        oracle = pandas_oracle(frame, "1h", offset="30min")
        mine = ours.loc[ours["symbol"] == symbol]
        np.testing.assert_allclose(mine["open"].to_numpy(), oracle["open"].to_numpy())
        np.testing.assert_allclose(mine["high"].to_numpy(), oracle["high"].to_numpy())


def test_daily_bars_match_pandas_daily_resample_in_new_york_time():
    frame = minute_bars(seed=6)
    ours = daily_bars(frame, {"AAA": XNYS})
    oracle = pandas_oracle(frame, "1D", offset=None)
    assert ours["date"].dt.strftime("%Y-%m-%d").tolist() == DAYS
    for column in OHLCV_AGGREGATION:
        np.testing.assert_allclose(ours[column].to_numpy(), oracle[column].to_numpy(), rtol=1e-12)


def test_bars_outside_session_hours_are_left_out():
    frame = minute_bars(seed=7, days=["2024-12-02"])
    pre_market = frame.iloc[[0]].assign(
        timestamp=pd.Timestamp("2024-12-02 13:00", tz="UTC"), volume=1e9
    )
    ours = daily_bars(pd.concat([frame, pre_market]), {"AAA": XNYS})
    assert ours["volume"].iloc[0] == frame["volume"].sum()


def test_resample_without_calendar_for_a_symbol_raises():
    with pytest.raises(DataError, match="no calendar"):
        resample_bars(minute_bars(seed=8), {"ZZZ": XNYS}, "5m")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    drop=st.floats(0.0, 0.9),
    minutes=st.sampled_from([2, 3, 5, 10, 15, 30, 60, 120]),
)
def test_property_resample_matches_pandas_for_any_grid(seed, drop, minutes):
    frame = minute_bars(seed=seed, days=DAYS[1:3], drop_fraction=drop)
    interval = f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"
    ours = resample_bars(frame, {"AAA": XNYS}, interval)
    # the oracle: pandas per session day, bins anchored at that day's 9:30 open
    oracle_rule = f"{minutes}min"
    local = frame.set_index(frame["timestamp"].dt.tz_convert("America/New_York"))
    pieces = []
    for _, day in local.groupby(local.index.date):
        session_open = day.index[0].normalize() + pd.Timedelta(hours=9, minutes=30)
        pieces.append(
            day[list(OHLCV_AGGREGATION)]
            .resample(oracle_rule, origin=session_open)
            .agg(OHLCV_AGGREGATION)
            .dropna(subset=["open"])
        )
    oracle = pd.concat(pieces)
    assert ours["timestamp"].tolist() == oracle.index.tz_convert("UTC").tolist()
    np.testing.assert_allclose(ours["low"].to_numpy(), oracle["low"].to_numpy())
    np.testing.assert_allclose(ours["volume"].to_numpy(), oracle["volume"].to_numpy())
