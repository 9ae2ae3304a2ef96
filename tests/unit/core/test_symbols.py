"""Ticker symbols: normalized once, refused with the character named when tickers cannot hold it."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from stocker.core.errors import DataError
from stocker.core.rules.common import rule_symbol_invalid
from stocker.core.symbols import SYMBOL_INVALID, checked_symbol, normalized_symbols


@pytest.mark.parametrize(
    "symbol", ["AAPL", "BRK.B", "BRK/B", "BAJAJ-AUTO", "^GSPC", "EURUSD=X", "M&M", "7203"]
)
def test_checked_symbol_when_real_ticker_returns_it(symbol: str) -> None:
    assert checked_symbol(symbol) == symbol


def test_checked_symbol_when_full_width_or_padded_returns_nfkc_form() -> None:
    assert checked_symbol(" ＡＡＰＬ ") == "AAPL"


@pytest.mark.parametrize(
    ("symbol", "named"),
    [
        ("AAPL\u200b", "U+200B ZERO WIDTH SPACE"),
        ("AA\u00adPL", "U+00AD SOFT HYPHEN"),
        ("AAPL\x07", "U+0007"),
        ("A';--", "U+0027 APOSTROPHE"),
        ("AA PL", "U+0020 SPACE"),
        ("\u0410APL", "U+0410 CYRILLIC CAPITAL LETTER A"),
        ("AAPL\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_checked_symbol_when_character_not_used_by_tickers_names_it(
    symbol: str, named: str
) -> None:
    with pytest.raises(DataError, match=re.escape(named)):
        checked_symbol(symbol)


def test_rule_symbol_invalid_flags_each_bad_row_with_its_reason() -> None:
    raw = pd.DataFrame({"symbol": ["AAPL", "AAPL\u200b", None, "A';--", "ＭＳＦＴ"]})

    outcome = rule_symbol_invalid(raw)

    assert outcome.bad.tolist() == [False, True, False, True, False]
    reasons = outcome.reasons.tolist()
    assert [reason.rule for reason in reasons] == [SYMBOL_INVALID] * 2
    assert "U+200B ZERO WIDTH SPACE" in reasons[0].message
    assert "U+0027 APOSTROPHE" in reasons[1].message


def test_normalized_symbols_keeps_missing_values() -> None:
    values = pd.Series(["ＭＳＦＴ", None, " AAPL"], dtype=object)
    assert normalized_symbols(values).tolist() == ["MSFT", None, "AAPL"]
