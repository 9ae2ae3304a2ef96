"""The rules of corporate actions: a symbol, an ex-date, SPLIT or DIVIDEND, a positive value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stocker.core.rules.common import (
    CheckResult,
    column_of,
    outcome,
    row_check,
    rule_allowed_values,
    rule_bad_date,
    rule_duplicate_key,
    symbol_rules,
    to_dates,
    to_float,
    typed_symbols,
)

ACTION_TYPES = ("SPLIT", "DIVIDEND")


def check_corporate_actions(frame: pd.DataFrame) -> CheckResult:
    """Splits and dividends: a symbol, an ex-date, SPLIT or DIVIDEND, and a positive value.

    Ex-dates may lie in the future (dividends are announced ahead); `action_type` comes back
    upper-cased in the typed frame.
    """
    raw = frame.reset_index(drop=True)
    typed = raw.copy()
    typed["symbol"] = typed_symbols(raw)
    typed["date"] = to_dates(column_of(raw, "date"))
    typed["value"] = to_float(column_of(raw, "value"))
    typed["action_type"] = column_of(raw, "action_type").astype(object).astype(str).str.upper()
    value = typed["value"].to_numpy()
    outcomes = [
        *symbol_rules(raw),
        rule_bad_date(column_of(raw, "date"), typed["date"]),
        rule_allowed_values(raw, "action_type", ACTION_TYPES),
        outcome(
            "bad_value",
            ~(np.isfinite(value) & (value > 0)),
            lambda positions: [
                f"value must be a number > 0, got {item!r}"
                for item in column_of(raw, "value").iloc[positions]
            ],
        ),
        rule_duplicate_key(typed, ("symbol", "date", "action_type")),
    ]
    return row_check(raw, typed, outcomes)
