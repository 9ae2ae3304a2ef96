"""Bar rules: each rule on hand-built frames, and properties over generated bars."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocker.core.errors import DataError
from stocker.core.rules.actions import check_corporate_actions
from stocker.core.rules.bars import check_daily_bars
from stocker.core.rules.common import CalendarSessions
from stocker.core.rules.instruments import check_instruments
from stocker.core.rules.intraday import check_intraday_bars, interval_length
from stocker.core.rules.metrics import check_metrics
from stocker.core.rules.sentiment import check_sentiment
from stocker.data.calendars import get_calendar

TODAY = date(2024, 6, 28)
_XNYS = get_calendar("XNYS")


def xnys(start: str = "2023-01-03", end: str = "2024-12-31") -> CalendarSessions:
    schedule = _XNYS.schedule.loc[start:end]
    return CalendarSessions(
        "XNYS",
        pd.DatetimeIndex(schedule.index),
        pd.DatetimeIndex(schedule["open"]),
        pd.DatetimeIndex(schedule["close"]),
    )


SESSIONS = xnys()


def bars(rows: list[tuple], symbol: str = "AAPL") -> pd.DataFrame:
    """Daily bars from (date, open, high, low, close, volume) tuples."""
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame.insert(0, "symbol", symbol)
    return frame


def good_week() -> pd.DataFrame:
    return bars(
        [
            ("2024-01-08", 10.0, 11.0, 9.5, 10.5, 1000),
            ("2024-01-09", 10.5, 11.5, 10.0, 11.0, 1200),
            ("2024-01-10", 11.0, 11.2, 10.4, 10.8, 900),
            ("2024-01-11", 10.8, 11.0, 10.1, 10.2, 1500),
            ("2024-01-12", 10.2, 10.9, 10.0, 10.7, 1100),
        ]
    )


def check(frame: pd.DataFrame, **kwargs):
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("calendars", {symbol: SESSIONS for symbol in frame["symbol"].unique()})
    return check_daily_bars(frame, **kwargs)


def reasons_of(result, position: int) -> tuple[str, ...]:
    """The reasons of a row as stored and shown (``"<rule>: <message>"``)."""
    return tuple(reason.text for reason in result.reasons.get(position, ()))


def rules_of(result, position: int) -> set[str]:
    """The rule codes a row broke, from the reasons' own field (never parsed from text)."""
    rules = {reason.rule for reason in result.reasons.get(position, ())}
    assert rules == {text.split(":", 1)[0] for text in reasons_of(result, position)}
    return rules


def test_check_daily_when_bars_are_clean_flags_nothing():
    result = check(good_week())
    assert not result.bad.any()
    assert result.reasons.empty
    assert len(result.valid) == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.nan, "close is missing"),
        (None, "close is missing"),
        (np.inf, "close is not a finite number: inf"),
        ("abc", "close is not a finite number: 'abc'"),
    ],
)
def test_not_finite_when_close_is_broken_names_column_and_value(value, expected):
    frame = good_week().astype({"close": object})
    frame.loc[2, "close"] = value
    result = check(frame)
    assert result.bad.tolist() == [False, False, True, False, False]
    assert f"not_finite: {expected}" in reasons_of(result, 2)


def test_not_finite_when_volume_is_nan_is_flagged():
    frame = good_week()
    frame["volume"] = frame["volume"].astype(float)
    frame.loc[0, "volume"] = np.nan
    assert "not_finite" in rules_of(check(frame), 0)


def test_non_positive_when_open_is_zero_and_low_negative_collects_both():
    frame = good_week()
    frame.loc[1, ["open", "low"]] = [0.0, -1.0]
    reasons = reasons_of(check(frame), 1)
    assert "non_positive_price: open must be > 0, got 0" in reasons
    assert "non_positive_price: low must be > 0, got -1" in reasons


def test_high_below_open_close_and_low_each_give_a_reason():
    frame = good_week()
    frame.loc[0, ["open", "high", "low", "close"]] = [10.0, 9.0, 9.5, 10.5]
    result = check(frame)
    assert {"high_below_open", "high_below_close", "high_below_low"} <= rules_of(result, 0)
    assert "high_below_close: high 9 is below close 10.5" in reasons_of(result, 0)


def test_low_above_open_and_close_each_give_a_reason():
    frame = good_week()
    frame.loc[3, ["open", "high", "low", "close"]] = [10.0, 12.0, 11.0, 10.5]
    result = check(frame)
    assert {"low_above_open", "low_above_close"} <= rules_of(result, 3)
    assert not ({"low_above_open", "low_above_close"} & rules_of(result, 2))


def test_negative_volume_is_flagged_and_zero_volume_is_not():
    frame = good_week()
    frame.loc[1, "volume"] = -5
    frame.loc[2, "volume"] = 0
    result = check(frame)
    assert "negative_volume: volume must be >= 0, got -5" in reasons_of(result, 1)
    assert not result.bad[2]


def test_duplicate_key_flags_every_copy():
    frame = pd.concat([good_week(), good_week().iloc[[2]]], ignore_index=True)
    result = check(frame)
    assert result.bad.tolist() == [False, False, True, False, False, True]
    assert (
        "duplicate_key: key (symbol, date) = (AAPL, 2024-01-10) appears 2 times in the batch"
        in reasons_of(result, 5)
    )


def test_duplicate_key_when_symbols_differ_is_not_a_duplicate():
    frame = pd.concat([good_week(), good_week().assign(symbol="MSFT")], ignore_index=True)
    assert not check(frame).bad.any()


@pytest.mark.parametrize(
    ("day", "why"),
    [("2024-01-13", "a Saturday"), ("2024-01-15", "Martin Luther King Jr. Day")],
)
def test_not_a_session_when_exchange_closed_is_flagged(day, why):
    frame = bars([(day, 10.0, 11.0, 9.5, 10.5, 1000)])
    result = check(frame)
    assert reasons_of(result, 0) == (f"not_a_session: date {day} is not a session of XNYS",), why


def test_not_a_session_when_symbol_has_no_calendar_is_not_judged():
    frame = bars([("2024-01-13", 10.0, 11.0, 9.5, 10.5, 1000)])
    assert not check(frame, calendars={}).bad.any()


def test_not_a_session_outside_the_given_range_is_not_judged():
    frame = bars([("2025-03-01", 10.0, 11.0, 9.5, 10.5, 1000)])
    result = check(frame, today=date(2026, 1, 1), calendars={"AAPL": xnys(end="2024-12-31")})
    assert not result.bad.any()


def test_future_date_is_flagged_and_today_is_not():
    frame = bars(
        [
            ("2024-06-28", 10.0, 11.0, 9.5, 10.5, 1000),
            ("2024-07-01", 10.5, 11.0, 9.5, 10.0, 1000),
        ]
    )
    result = check(frame)
    assert not result.bad[0]
    assert reasons_of(result, 1) == ("future_date: date 2024-07-01 is after today 2024-06-28",)


def test_stale_when_bar_repeats_previous_in_batch_is_flagged():
    frame = good_week()
    frame.loc[3, ["open", "high", "low", "close", "volume"]] = frame.loc[
        2, ["open", "high", "low", "close", "volume"]
    ].to_numpy()
    result = check(frame)
    assert result.bad.tolist() == [False, False, False, True, False]
    assert reasons_of(result, 3) == (
        "stale_bar: open/high/low/close/volume identical to the previous bar on 2024-01-10",
    )


def test_stale_when_first_bar_repeats_stored_bar_is_flagged():
    stored = bars([("2024-01-05", 10.0, 11.0, 9.5, 10.5, 1000)])
    assert rules_of(check(good_week(), previous=stored), 0) == {"stale_bar"}


def test_stale_when_only_volume_differs_is_not_flagged():
    frame = good_week()
    frame.loc[3, ["open", "high", "low", "close"]] = frame.loc[
        2, ["open", "high", "low", "close"]
    ].to_numpy()
    assert not check(frame).bad.any()


def test_stale_compares_within_each_symbol_only():
    first = good_week()
    second = good_week().assign(symbol="MSFT")
    assert not check(pd.concat([first, second], ignore_index=True)).bad.any()


def test_price_jump_beyond_threshold_without_action_is_flagged():
    frame = good_week()
    frame.loc[2, ["open", "high", "low", "close"]] = [17.0, 17.5, 16.9, 17.0]
    result = check(frame)
    assert "price_jump" in rules_of(result, 2)
    reason = next(r for r in reasons_of(result, 2) if r.startswith("price_jump"))
    assert "+54.5% from 11 on 2024-01-09 to 17" in reason
    # falling back from 17 to 10.2 is -40%: within the limit
    assert not result.bad[3]


def test_price_jump_threshold_is_configurable():
    frame = good_week()
    frame.loc[2, ["open", "high", "low", "close"]] = [13.0, 13.5, 12.9, 13.2]  # +20%
    assert not check(frame).bad.any()
    assert "price_jump" in rules_of(check(frame, jump_threshold=0.1), 2)


def test_price_jump_against_stored_previous_close_is_flagged():
    stored = bars([("2024-01-05", 30.0, 31.0, 29.5, 30.0, 1000)])
    result = check(good_week(), previous=stored)
    assert rules_of(result, 0) == {"price_jump"}


def test_price_jump_explained_by_split_is_accepted():
    frame = good_week()
    frame.loc[2:, ["open", "high", "low", "close"]] /= 4
    actions = pd.DataFrame(
        {"symbol": ["AAPL"], "date": ["2024-01-10"], "action_type": ["SPLIT"], "value": [4.0]}
    )
    assert not check(frame, actions=actions).bad.any()
    assert "price_jump" in rules_of(check(frame), 2)


def test_price_jump_explained_by_large_dividend_is_accepted_and_small_one_is_not():
    frame = good_week()
    frame.loc[2, ["open", "high", "low", "close"]] = [5.0, 5.2, 4.9, 5.0]  # -54.5%
    frame.loc[3:, ["open", "high", "low", "close"]] -= 5.6
    big = pd.DataFrame(
        {"symbol": ["AAPL"], "date": ["2024-01-10"], "action_type": ["DIVIDEND"], "value": [6.0]}
    )
    assert not check(frame, actions=big).bad.any()
    small = big.assign(value=0.1)
    assert "price_jump" in rules_of(check(frame, actions=small), 2)


def test_bad_symbol_and_bad_date_are_flagged():
    frame = good_week().astype({"symbol": object, "date": object})
    frame.loc[0, "symbol"] = ""
    frame.loc[1, "symbol"] = "X" * 21
    frame.loc[2, "date"] = "not-a-date"
    result = check(frame)
    assert reasons_of(result, 0) == ("bad_symbol: symbol is missing",)
    assert "is longer than 20" in reasons_of(result, 1)[0]
    assert reasons_of(result, 2) == ("bad_date: date 'not-a-date' is not a valid date",)


def test_check_accepts_decimal_and_string_values_and_any_index():
    from decimal import Decimal

    frame = good_week().astype(object)
    frame["open"] = [Decimal(str(v)) for v in frame["open"]]
    frame["close"] = [str(v) for v in frame["close"]]
    frame.index = [10, 10, 11, 12, 13]
    assert not check(frame).bad.any()


def test_jump_threshold_must_be_positive():
    with pytest.raises(DataError, match="jump_threshold"):
        check(good_week(), jump_threshold=0)


# --- hypothesis: generated valid bars pass; a corrupted field always yields its reason ---------


@st.composite
def valid_bars(draw) -> pd.DataFrame:
    """A random walk of well-formed bars on consecutive XNYS sessions, for 1-3 symbols."""
    frames = []
    for symbol in draw(st.lists(st.sampled_from(["AAA", "BBB", "CCC"]), min_size=1, unique=True)):
        count = draw(st.integers(min_value=2, max_value=30))
        first = draw(st.integers(min_value=0, max_value=len(SESSIONS.dates) - 60))
        dates = SESSIONS.dates[first : first + count]
        start_price = draw(st.floats(min_value=1.0, max_value=5000.0))
        moves = draw(st.lists(st.floats(-0.2, 0.2), min_size=count, max_size=count))
        close = start_price * np.cumprod(1.0 + np.asarray(moves))
        open_ = np.concatenate([[start_price], close[:-1]])
        spread = draw(st.lists(st.floats(0.001, 0.05), min_size=count, max_size=count))
        high = np.maximum(open_, close) * (1.0 + np.asarray(spread))
        low = np.minimum(open_, close) * (1.0 - np.asarray(spread))
        volume = draw(st.lists(st.integers(0, 10**9), min_size=count, max_size=count, unique=True))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "date": dates,
                    "open": np.round(open_, 4),
                    "high": np.round(high, 4),
                    "low": np.round(low, 4),
                    "close": np.round(close, 4),
                    "volume": volume,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=valid_bars())
def test_property_valid_generated_bars_pass(frame):
    result = check(frame, today=date(2025, 1, 1))
    assert not result.bad.any(), result.reasons.to_dict()


CORRUPTIONS = {
    "nan_close": ("close", lambda v: np.nan, "not_finite"),
    "inf_high": ("high", lambda v: np.inf, "not_finite"),
    "negative_open": ("open", lambda v: -abs(v), "non_positive_price"),
    "high_too_low": ("high", lambda v: v * 0.5, "high_below_low"),
    "low_too_high": ("low", lambda v: v * 2.0, "low_above_close"),
    "negative_volume": ("volume", lambda v: -1 - abs(v), "negative_volume"),
    "weekend": ("date", lambda v: pd.Timestamp("2024-01-13"), "not_a_session"),
    "future": ("date", lambda v: pd.Timestamp("2025-02-03"), "future_date"),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=valid_bars(), kind=st.sampled_from(sorted(CORRUPTIONS)), data=st.data())
def test_property_corrupted_field_always_yields_its_reason(frame, kind, data):
    column, corrupt, rule = CORRUPTIONS[kind]
    position = data.draw(st.integers(0, len(frame) - 1))
    frame = frame.astype({column: object})
    frame.at[position, column] = corrupt(frame.at[position, column])
    result = check(frame, today=date(2025, 1, 1))
    assert result.bad[position]
    assert rule in rules_of(result, position)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=valid_bars(), data=st.data())
def test_property_repeated_bar_is_always_stale(frame, data):
    position = data.draw(st.integers(1, len(frame) - 1))
    if frame.at[position, "symbol"] != frame.at[position - 1, "symbol"]:
        return
    values = ["open", "high", "low", "close", "volume"]
    frame.loc[position, values] = frame.loc[position - 1, values].to_numpy()
    result = check(frame, today=date(2025, 1, 1))
    assert "stale_bar" in rules_of(result, position)


# --- intraday -------------------------------------------------------------------------------------


def minute_bars(timestamps, interval: str = "5m", symbol: str = "AAPL") -> pd.DataFrame:
    count = len(timestamps)
    return pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.DatetimeIndex(timestamps),
            "interval": interval,
            "open": np.full(count, 10.0),
            "high": np.full(count, 10.5),
            "low": np.full(count, 9.5),
            "close": np.full(count, 10.2),
            "volume": np.arange(count) + 100,
        }
    )


def check_intraday(frame, **kwargs):
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("calendars", {"AAPL": SESSIONS})
    return check_intraday_bars(frame, **kwargs)


def test_intraday_when_bars_are_on_the_grid_inside_session_flags_nothing():
    stamps = pd.date_range("2024-01-08 14:30", "2024-01-08 20:55", freq="5min", tz="UTC")
    assert not check_intraday(minute_bars(stamps)).bad.any()


def test_intraday_hourly_grid_is_counted_from_the_session_open():
    on_grid = pd.date_range("2024-01-08 14:30", periods=7, freq="1h", tz="UTC")  # 9:30 ET …
    off_grid = pd.DatetimeIndex(["2024-01-08 15:00"], tz="UTC")  # 10:00 ET
    result = check_intraday(minute_bars(on_grid.append(off_grid), interval="1h"))
    assert result.bad.tolist() == [False] * 7 + [True]
    assert rules_of(result, 7) == {"off_grid"}


def test_intraday_off_grid_5m_bar_is_flagged():
    stamps = pd.DatetimeIndex(["2024-01-08 14:30", "2024-01-08 14:37"], tz="UTC")
    result = check_intraday(minute_bars(stamps))
    assert result.bad.tolist() == [False, True]
    assert reasons_of(result, 1) == (
        "off_grid: timestamp 2024-01-08 14:37:00+00:00 is not on the 5m grid counted from the "
        "XNYS session open",
    )


def test_intraday_outside_session_hours_is_flagged():
    stamps = pd.DatetimeIndex(
        [
            "2024-01-08 14:25",  # 9:25 ET, before the open
            "2024-01-08 21:00",  # 16:00 ET, at the close
            "2024-01-13 15:00",  # a Saturday
            "2024-11-29 18:00",  # 13:00 ET on the day after Thanksgiving, an early close
            "2024-11-29 17:55",  # the last 5 minutes of that half day
        ],
        tz="UTC",
    )
    result = check_intraday(minute_bars(stamps), today=date(2024, 12, 31))
    assert result.bad.tolist() == [True, True, True, True, False]
    assert all(rules_of(result, position) == {"outside_session"} for position in range(4))


def test_intraday_price_rules_interval_and_duplicates_apply():
    stamps = pd.DatetimeIndex(
        ["2024-01-08 14:30", "2024-01-08 14:35", "2024-01-08 14:35", "2024-01-08 14:40"], tz="UTC"
    )
    frame = minute_bars(stamps).astype({"interval": object})
    frame.loc[0, "high"] = 9.0
    frame.loc[3, "interval"] = "7 parsecs"
    result = check_intraday(frame)
    assert "high_below_low" in rules_of(result, 0)
    assert rules_of(result, 1) == {"duplicate_key"} == rules_of(result, 2)
    assert "bad_interval" in rules_of(result, 3)


def test_intraday_future_timestamp_is_flagged():
    stamps = pd.DatetimeIndex(["2024-07-01 14:30"], tz="UTC")
    result = check_intraday(minute_bars(stamps))
    assert "future_date" in rules_of(result, 0)


@pytest.mark.parametrize(
    ("text", "minutes"), [("1m", 1), ("5m", 5), ("15min", 15), ("1h", 60), ("2h", 120)]
)
def test_interval_length_parses_minutes_and_hours(text, minutes):
    assert interval_length(text) == pd.Timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["1d", "0m", "", "five minutes"])
def test_interval_length_rejects_other_text(text):
    with pytest.raises(DataError, match="interval"):
        interval_length(text)


# --- the other tables ---------------------------------------------------------------------------


def test_corporate_actions_rules_flag_type_value_and_duplicates():
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL", "AAPL", "MSFT"],
            "date": ["2024-01-10", "2024-01-11", "2024-01-12", "2024-01-12", "2030-01-01"],
            "action_type": ["split", "MERGER", "DIVIDEND", "DIVIDEND", "DIVIDEND"],
            "value": [4, 1, 0.2, 0.3, -0.5],
        }
    )
    result = check_corporate_actions(frame)
    assert result.bad.tolist() == [False, True, True, True, True]
    assert reasons_of(result, 1) == (
        "bad_action_type: action_type 'MERGER' is not one of SPLIT, DIVIDEND",
    )
    assert rules_of(result, 2) == {"duplicate_key"}
    assert reasons_of(result, 4) == ("bad_value: value must be a number > 0, got -0.5",)
    assert result.frame.loc[0, "action_type"] == "SPLIT"  # future ex-dates are fine


def test_instrument_rules_flag_missing_and_repeated_symbols():
    frame = pd.DataFrame({"symbol": ["AAPL", None, "MSFT", "MSFT"], "name": ["a", "b", "c", "d"]})
    result = check_instruments(frame)
    assert result.bad.tolist() == [False, True, True, True]
    assert rules_of(result, 1) == {"bad_symbol"}


def test_metrics_rules_flag_future_as_of_date_period_and_source():
    frame = pd.DataFrame(
        {
            "symbol": ["AAPL", "AAPL", "AAPL"],
            "as_of_date": ["2024-03-31", "2024-07-01", "2024-03-31"],
            "period_type": ["TTM", "TTM", "WEEKLY"],
            "source": ["vendor", "vendor", None],
        }
    )
    result = check_metrics(frame, today=TODAY)
    assert result.bad.tolist() == [False, True, True]
    assert rules_of(result, 1) == {"future_date"}
    assert rules_of(result, 2) == {"bad_period_type", "missing_source"}


def test_sentiment_rules_flag_score_range_and_market_wide_duplicates():
    frame = pd.DataFrame(
        {
            "symbol": [None, None, "AAPL", "AAPL"],
            "date": ["2024-01-05"] * 4,
            "source": ["news", "news", "news", "social"],
            "sentiment_score": [0.1, 0.2, 1.5, "n/a"],
        }
    )
    result = check_sentiment(frame, today=TODAY)
    assert result.bad.tolist() == [True, True, True, True]
    assert rules_of(result, 0) == {"duplicate_key"}  # two market-wide rows for one source and day
    assert reasons_of(result, 2) == (
        "bad_sentiment_score: sentiment_score 1.5 is not a number in [-1, 1]",
    )
    assert rules_of(result, 3) == {"bad_sentiment_score"}


def test_every_table_spec_keys_requires_and_dates_only_columns_it_lists():
    from stocker.core.tables import INGEST_TABLES, TABLES, spec_of

    assert INGEST_TABLES[:3] == ("instrument_info", "corporate_actions", "prices_daily")
    for name, spec in TABLES.items():
        assert spec_of(name) is spec
        assert set(spec.key) <= set(spec.columns), name
        assert set(spec.required) <= set(spec.columns), name
        assert spec.date_column is None or spec.date_column in spec.columns, name
        assert set(spec.provenance) <= set(spec.columns), name
    with pytest.raises(DataError, match="prices_weekly"):
        spec_of("prices_weekly")


def test_sentiment_article_checks_give_rule_codes_and_keep_their_wording():
    from stocker.core.rules.sentiment import check_articles

    frame = pd.DataFrame(
        {"date": ["2024-03-01", "soon"], "sentiment_score": ["0.5", "2"], "article_count": [1, 1]}
    )
    checked = check_articles(frame, "news")
    (reasons,) = checked.reasons.values()
    assert [(reason.rule, reason.text) for reason in reasons] == [
        ("bad_date", "date: missing or not a date/timestamp"),
        ("bad_sentiment_score", "sentiment_score: outside [-1, 1]"),
    ]
    assert len(checked.valid) == 1
