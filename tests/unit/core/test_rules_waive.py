"""Waiving judgment rules on a check result, and the symbol/date-only typing of bars."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.rejects import Reason
from stocker.core.rules.bars import typed_bars, typed_symbol_dates
from stocker.core.rules.common import CheckResult, waive
from stocker.core.tables import WAIVABLE_RULES


def _result() -> CheckResult:
    frame = pd.DataFrame({"symbol": ["A", "B", "C", "D"], "close": [1.0, 2.0, 3.0, 4.0]})
    bad = pd.Series([False, True, True, True])
    reasons = pd.Series(
        {
            1: (Reason("price_jump", "up 60%"),),
            2: (Reason("stale_bar", "same bar"), Reason("high_below_low", "high < low")),
            3: (Reason("price_jump", "down 55%"), Reason("not_a_session", "a Sunday")),
        },
        dtype=object,
    )
    return CheckResult(frame, bad, reasons)


def test_waiving_nothing_returns_the_result_itself() -> None:
    result = _result()
    assert waive(result, [], WAIVABLE_RULES) is result


def test_waived_rules_drop_their_reasons_and_rows_left_without_reasons_pass() -> None:
    waived = waive(_result(), ["price_jump", "not_a_session"], WAIVABLE_RULES)
    assert list(waived.bad) == [False, False, True, False]
    assert list(waived.reasons.index) == [2]
    assert waived.reasons[2] == (
        Reason("stale_bar", "same bar"),
        Reason("high_below_low", "high < low"),
    )
    assert list(waived.valid["symbol"]) == ["A", "B", "D"]
    assert waived.frame is _result().frame or waived.frame.equals(_result().frame)


def test_waiving_every_judgment_rule_keeps_only_hard_reasons() -> None:
    waived = waive(_result(), WAIVABLE_RULES, WAIVABLE_RULES)
    assert list(waived.bad) == [False, False, True, False]
    assert waived.reasons[2] == (Reason("high_below_low", "high < low"),)
    one = waive(_result(), ["stale_bar"], WAIVABLE_RULES)
    assert list(one.bad) == [False, True, True, True]
    assert one.reasons[2] == (Reason("high_below_low", "high < low"),)
    assert one.reasons[1] == (Reason("price_jump", "up 60%"),)


def test_only_waivable_rules_can_be_waived_and_the_message_names_them_sorted() -> None:
    with pytest.raises(
        DataError,
        match=(
            r"^rule\(s\) high_below_low, zzz cannot be waived; "
            r"only not_a_session, price_jump, stale_bar$"
        ),
    ):
        waive(_result(), ["zzz", "price_jump", "high_below_low"], WAIVABLE_RULES)


def test_typed_symbol_dates_equal_the_full_typing_of_those_columns() -> None:
    frame = pd.DataFrame(
        {
            "symbol": [" AAPL", "ＭＳＦＴ", None, "XOM "],
            "date": ["2024-01-02", "2024/01/03", "not a date", dt.date(2024, 1, 5)],
            "close": ["1", "x", "3", "4"],
        },
        index=[10, 11, 12, 13],
    )
    ours = typed_symbol_dates(frame)
    assert list(ours.columns) == ["symbol", "date"]
    assert list(ours.index) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(ours, typed_bars(frame)[["symbol", "date"]])
    assert list(ours["symbol"].iloc[[0, 1, 3]]) == ["AAPL", "MSFT", "XOM"]
    assert ours["date"].iloc[0] == pd.Timestamp("2024-01-02")
    assert pd.isna(ours["date"].iloc[2])


def test_typed_symbol_dates_without_the_columns_are_missing() -> None:
    ours = typed_symbol_dates(pd.DataFrame({"close": [1.0, 2.0]}))
    assert ours["symbol"].isna().all()
    assert ours["date"].isna().all()
    assert len(ours) == 2
    assert ours["date"].dtype == np.dtype("datetime64[ns]")
    only_dates = typed_symbol_dates(pd.DataFrame({"date": ["2024-01-02"]}))
    assert only_dates["symbol"].isna().all()
    assert only_dates["date"].iloc[0] == pd.Timestamp("2024-01-02")
    only_symbols = typed_symbol_dates(pd.DataFrame({"symbol": ["A"]}))
    assert list(only_symbols["symbol"]) == ["A"]
    assert only_symbols["date"].isna().all()
