"""The rules of the instrument master: a valid symbol, once per batch."""

from __future__ import annotations

import pandas as pd

from stocker.core.rules.common import (
    CheckResult,
    column_of,
    row_check,
    rule_bad_symbol,
    rule_duplicate_key,
)


def check_instruments(frame: pd.DataFrame) -> CheckResult:
    """Instrument master rows: a valid symbol, once per batch."""
    raw = frame.reset_index(drop=True)
    outcomes = [
        rule_bad_symbol(raw),
        rule_duplicate_key(raw.assign(symbol=column_of(raw, "symbol")), ("symbol",)),
    ]
    return row_check(raw, raw.copy(), outcomes)
