"""The rules of the instrument master: a valid symbol, once per batch."""

from __future__ import annotations

import pandas as pd

from stocker.core.rules.common import (
    CheckResult,
    row_check,
    rule_duplicate_key,
    symbol_rules,
    typed_symbols,
)


def check_instruments(frame: pd.DataFrame) -> CheckResult:
    """Instrument master rows: a valid symbol, once per batch."""
    raw = frame.reset_index(drop=True)
    outcomes = [
        *symbol_rules(raw),
        rule_duplicate_key(raw.assign(symbol=typed_symbols(raw)), ("symbol",)),
    ]
    return row_check(raw, raw.copy(), outcomes)
